"""What an editor types, checked before it is stored: it is data, never markup or
headers. Headlines and subjects are one line (the subject becomes a mail header), links
are http(s), images https, and every field has a length a reader would still read.
Pure: each check returns the clean value or raises InsightsError saying what to fix."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from .errors import InsightsError
from .gather.sanitize import safe_url
from .models import SECTIONS

TITLE_CHARS = 200
TEASER_CHARS = 2000
ALT_CHARS = 200
SUBJECT_CHARS = 150
PREHEADER_CHARS = 200


class EditorInputError(InsightsError):
    """A field an editor filled in that cannot go into an issue as it is."""

    exit_code = 2


def one_line(value: str, field: str, limit: int, *, required: bool = True) -> str:
    """`value` stripped; refused when empty (if required), over `limit` characters or
    holding a line break or another control character."""
    value = value.strip()
    if required and not value:
        raise EditorInputError(f"{field}: write something (it is empty)")
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise EditorInputError(f"{field}: one line please (no line breaks or tabs)")
    if len(value) > limit:
        raise EditorInputError(f"{field}: {len(value)} characters, at most {limit}")
    return value


def _web_address(value: str) -> str | None:
    """An absolute http(s) URL (sanitize.safe_url) that urlsplit can read, else None."""
    url = safe_url(value)
    try:
        return url if url is not None and urlsplit(url).hostname else None
    except ValueError:  # "https://[::1/": an unclosed IPv6 bracket
        return None


def link(value: str) -> str:
    url = _web_address(value)
    if url is None or len(url) > 2000:
        raise EditorInputError("link: a web address starting with https:// or http:// "
                               f"(got {value.strip()[:80]!r})")
    return url


def image_url(value: str) -> str:
    url = _web_address(value)
    if url is None or not url.lower().startswith("https://") or len(url) > 2000:
        raise EditorInputError("image: an address starting with https:// (mail clients "
                               f"block images over http; got {value.strip()[:80]!r})")
    return url


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but tab, CR and LF


def note(value: str) -> str:
    """The editor's note (Markdown), as typed: only characters a reader can see, and
    the line breaks and tabs Markdown uses (a NUL would not even reach PostgreSQL)."""
    if _CONTROL.search(value):
        raise EditorInputError("note: no control characters (only line breaks and tabs)")
    return value


def teaser(value: str) -> str:
    """Markdown; rendered later with raw HTML off and through the sanitiser."""
    value = value.replace("\r\n", "\n").strip()
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", value):  # line breaks and tabs are Markdown's
        raise EditorInputError("teaser: no control characters (only line breaks and tabs)")
    if len(value) > TEASER_CHARS:
        raise EditorInputError(f"teaser: {len(value)} characters, at most {TEASER_CHARS}")
    return value


def section(value: str) -> str:
    if value not in SECTIONS:
        raise EditorInputError(f"section: one of {', '.join(SECTIONS)} (got {value!r})")
    return value


def section_order(names: Sequence[str]) -> tuple[str, ...]:
    """Every section once, in the order given."""
    if sorted(names) != sorted(SECTIONS):
        raise EditorInputError(f"sections: each of {', '.join(SECTIONS)} once, in the "
                               f"order wanted (got {' '.join(names) or 'none'})")
    return tuple(names)


def moved(order: Sequence[str], name: str, step: int) -> tuple[str, ...]:
    """`order` with `name` one place earlier (-1) or later (+1); the same at an end."""
    out = list(order)
    at = out.index(section(name))
    to = at + step
    if 0 <= to < len(out):
        out[at], out[to] = out[to], out[at]
    return tuple(out)
