"""What to check before approval, and what each answer means. Pure: no network.

The links are the variants' `href`s, once each (a link in five variants is asked once),
in the order they first appear. Not checked: our own per-reader links (still
placeholders in a stored variant, and filled per recipient at send), other
placeholders, mail and phone links, in-page anchors, and anything not http(s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

from ..models import RenderedVariant
from ..render.placeholders import ANY_MARKER, LEGACY


@dataclass(frozen=True)
class LinkTarget:
    url: str  # without its #fragment: the server never sees that
    segments: tuple[str, ...]  # the variants that carry it


class Verdict(StrEnum):
    OK = "ok"
    BROKEN = "broken"  # the server answered 4xx/5xx
    UNREACHABLE = "unreachable"  # no answer: DNS, connection, timeout, redirect loop
    REFUSED = "refused"  # not asked: a private address, or a redirect we do not follow


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.found.extend(value for name, value in attrs if name == "href" and value)


@lru_cache(maxsize=64)
def hrefs(html: str) -> tuple[str, ...]:
    """The anchors' links in `html`, kept for the last few variants: the issue page
    lists its links on every view, and parsing six variants' HTML took about half of
    the page's time. (A variant's HTML is its whole input: an edit makes a new one.)"""
    parser = _Hrefs()
    parser.feed(html)
    parser.close()
    return tuple(parser.found)


def worth_checking(href: str, own_links: Sequence[str] = ()) -> str | None:
    """The URL to ask for `href`, or None when it is not ours to check (see the module's
    docstring). `own_links`: prefixes of the app's per-reader pages (unsubscribe,
    preferences), skipped even when filled in."""
    href = href.strip()
    if ANY_MARKER.search(href) or any(legacy in href for legacy in LEGACY):
        return None
    url, _fragment = urldefrag(href)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(url.startswith(prefix) for prefix in own_links):
        return None
    return url


def links_to_check(variants: Sequence[RenderedVariant],
                   own_links: Sequence[str] = ()) -> list[LinkTarget]:
    carried: dict[str, list[str]] = {}
    for variant in variants:
        for href in hrefs(variant.html):
            url = worth_checking(href, own_links)
            if url is None:
                continue
            segments = carried.setdefault(url, [])
            if variant.segment not in segments:
                segments.append(variant.segment)
    return [LinkTarget(url, tuple(segments)) for url, segments in carried.items()]


def verdict_of(status: int) -> Verdict:
    return Verdict.OK if status < 400 else Verdict.BROKEN


def head_refused(status: int) -> bool:
    """Whether a HEAD's answer says nothing of the page, so the link is asked with GET:
    405 and 501 (no HEAD here), and the 403/404 some servers give HEAD alone."""
    return status in (403, 404, 405, 501)
