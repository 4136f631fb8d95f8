"""How a public page is served over HTTP: its validators (ETag, Last-Modified), the
conditional GET that answers 304 when a reader, a feed reader or a CDN already holds
the bytes (RFC 9110 §13, which replaced RFC 7232), and which other sites may frame the
embeddable sign-up form.

The ETag is a strong one made from the bytes alone, so the served page, the static
export and the WebSub "did this feed change" check all agree on it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from .model import Page

CACHE_CONTROL = "public, max-age=300"  # five minutes: a new issue shows soon enough
OK, NOT_MODIFIED = 200, 304
# An entity-tag: an optional W/, then a quoted string of etagc (RFC 9110 §8.8.3).
_ENTITY_TAG = re.compile(r'(?:W/)?("[\x21\x23-\x7e\x80-\xff]*")')
_OWS = " \t"


def etag_of(body: bytes) -> str:
    """The strong ETag of `body`: its sha256, hex, in quotes."""
    return f'"{hashlib.sha256(body).hexdigest()}"'


def _utc(at: datetime) -> datetime:
    """`at` in UTC to the second, as HTTP dates go (a naive time is taken as UTC)."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def http_date(at: datetime) -> str:
    """`at` as an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT")."""
    return format_datetime(_utc(at), usegmt=True)


def _etags(value: str) -> list[str] | None:
    """The opaque tags of an If-None-Match list (weak ones too, W/ dropped; empty list
    elements skipped, as RFC 9110 §5.6.1 asks); None when the value is not such a
    list, and then it matches nothing."""
    tags: list[str] = []
    at, end = 0, len(value)
    while True:
        while at < end and value[at] in _OWS + ",":
            at += 1
        if at == end:
            return tags or None
        found = _ENTITY_TAG.match(value, at)
        if not found:
            return None
        tags.append(found.group(1))
        at = found.end()
        while at < end and value[at] in _OWS:
            at += 1
        if at < end and value[at] != ",":
            return None


def _parse_http_date(value: str) -> datetime | None:
    try:
        return _utc(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by name, whatever its case (Starlette's Headers already are)."""
    if name in headers:
        return headers[name]
    return next((v for k, v in headers.items() if k.lower() == name), None)


def conditional(request_headers: Mapping[str, str], page: Page) -> int:
    """200, or 304 when the client's copy is `page`'s: If-None-Match lists its ETag
    (weak comparison, so W/"x" matches "x") or is "*"; only without If-None-Match, an
    If-Modified-Since at or after its Last-Modified (to the second, as HTTP dates go).
    For GET and HEAD: the only methods the public pages answer."""
    none_match = _header(request_headers, "if-none-match")
    if none_match is not None:  # it wins over If-Modified-Since (RFC 9110 §13.1.3)
        if none_match.strip() == "*":
            return NOT_MODIFIED
        tags = _etags(none_match)
        return NOT_MODIFIED if tags and etag_of(page.body) in tags else OK
    since = _header(request_headers, "if-modified-since")
    if since is None or page.last_modified is None:
        return OK
    at = _parse_http_date(since)
    if at is None:  # not an HTTP date: ignored, as the RFC says
        return OK
    return NOT_MODIFIED if _utc(page.last_modified) <= at else OK


def page_headers(page: Page) -> dict[str, str]:
    """The validators and caching a public page is served with (on 200 and 304 alike)."""
    headers = {"etag": etag_of(page.body), "cache-control": CACHE_CONTROL}
    if page.last_modified is not None:
        headers["last-modified"] = http_date(page.last_modified)
    return headers


def page_response(request: Request, page: Page) -> Response:
    """`page` as the answer to `request`: its bytes with ETag, Last-Modified and
    Cache-Control, or 304 with no body when the client already holds them."""
    headers = page_headers(page)
    if request.method in ("GET", "HEAD") and conditional(request.headers, page) == NOT_MODIFIED:
        return Response(status_code=NOT_MODIFIED, headers=headers)
    return Response(page.body, media_type=page.content_type, headers=headers)


# -- who may frame the embeddable sign-up form ----------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")


def embed_origin(value: object) -> str:
    """`value` as an origin a CSP frame-ancestors list may name ("https://host[:port]",
    lower case, a trailing "/" dropped), or ValueError saying what is wrong. Only https,
    a DNS name (IDNs in their xn-- form) and a port: no path, query, user, wildcard,
    space, quote or semicolon, each of which would change the policy it is written into."""
    if not isinstance(value, str):
        raise ValueError("an origin is text, such as \"https://www.example.org\"")
    text = value.strip()
    if not text.isascii() or any(c in text for c in " \t\r\n\"';,*\\"):
        raise ValueError(f"{value!r} is not an origin: write only https://host (IDNs as "
                         "xn--...), no spaces, quotes, commas, semicolons or wildcards")
    parts = urlsplit(text)
    if parts.scheme.lower() != "https":
        raise ValueError(f"{value!r} is not an https origin: other sites may embed the "
                         "sign-up form only over https (write https://host)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in text or "#" in text:
        raise ValueError(f"{value!r} has a path, query or fragment: an origin is only "
                         "https://host[:port]")
    if "@" in parts.netloc:
        raise ValueError(f"{value!r} has a user name: an origin is only https://host[:port]")
    host, _, port = parts.netloc.lower().partition(":")
    if not _HOST.fullmatch(host):
        raise ValueError(f"{value!r}: {host!r} is not a host name")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{value!r}: {port!r} is not a port")
    return f"https://{host}:{port}" if port and port != "443" else f"https://{host}"
