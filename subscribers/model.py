"""Audience records and the small pure helpers around them."""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

LIST_ATTRIBUTES = ("interests", "tags")  # attributes that hold several values
KNOWN_ATTRIBUTES = ("role", "interests", "region", "organisation")


def email_key(email: str) -> str:
    """What makes two addresses the same person: case never does."""
    return email.strip().casefold()


def email_hash(email: str) -> str:
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


# RFC 5322 dot-atom in ASCII: the local parts almost every real address has. For these,
# email-validator's verdict depends only on the domain, which repeats across a list, so
# the domain is validated once and cached. Anything else takes the full path.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@functools.lru_cache(maxsize=65536)
def _domain(domain: str) -> str:
    """The normalised domain, or ValueError, by asking email-validator about a stand-in."""
    return validate_email("x@" + domain, check_deliverability=False).domain


def normalise_email(raw: str) -> str:
    """A syntactically valid address (email-validator's rules, no DNS look-up), or
    ValueError saying why not."""
    address = raw.strip()
    local, at, domain = address.rpartition("@")
    try:
        if at and len(local) <= 64 and len(address) <= 254 and _DOT_ATOM.fullmatch(local):
            return f"{local}@{_domain(domain)}"
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise ValueError(f"invalid email {address!r}: {e}") from None


NAME_MAX_CHARS = 100
# Control characters that separate words: a space. Other controls (NUL...) go.
_CONTROL_SPACES = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85")
# Format characters with meaning inside a word (emoji sequences, Persian, Indic
# scripts): kept between letters, dropped at a word's edge. Every other format
# character goes: bidi overrides, embeddings, isolates and marks, zero-width spaces,
# soft hyphens, invisible operators, tags.
_JOINERS = "\u200c\u200d"
_EDGE_JOINERS = re.compile(f"(?:^|(?<=\\s))[{_JOINERS}]+|[{_JOINERS}]+(?=\\s|$)")
# Letters that show as nothing (Hangul fillers): used to make a name look empty.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")
_HAS_FILLER = re.compile("[\u115f\u1160\u3164\uffa0]")


def clean_name(raw: str) -> str:
    """A person's name as we store it: one line of visible text, NFC, at most
    NAME_MAX_CHARS characters. Controls (NUL, CR, LF, tab...) and other separators are
    spaces or go, bidi controls and invisible format characters go, runs of spaces are
    one, and a long name is cut where a character (with its accents and joiners) ends.

    Plain names (printable, NFC, tidy spaces: almost all) come back as they are."""
    if (raw.isprintable() and len(raw) <= NAME_MAX_CHARS and "  " not in raw
            and raw[:1] != " " and raw[-1:] != " "
            and (raw.isascii() or (unicodedata.is_normalized("NFC", raw)
                                   and not _HAS_FILLER.search(raw)))):
        return raw  # printable: no control, format, separator (but " ") or surrogate
    kept = []
    for c in raw:
        if c.isprintable():
            if c not in _FILLERS:
                kept.append(c)
            continue
        category = unicodedata.category(c)
        if category in ("Zs", "Zl", "Zp") or c in _CONTROL_SPACES:
            kept.append(" ")
        elif category == "Cf" and c in _JOINERS or category in ("Co", "Cn"):
            kept.append(c)  # private use and unassigned (a newer emoji) are shown
        # else: another control, format character or lone surrogate: dropped
    name = unicodedata.normalize("NFC", "".join(kept))
    if _JOINERS[0] in name or _JOINERS[1] in name:
        name = _EDGE_JOINERS.sub("", name)
    name = " ".join(name.split())
    if len(name) > NAME_MAX_CHARS:
        name = name[:_grapheme_cut(name, NAME_MAX_CHARS)].rstrip(" " + _JOINERS)
    return name


def _continues(c: str) -> bool:
    """Whether `c` belongs to the character before it (an accent, a joiner, a variation
    selector or an emoji skin tone)."""
    return (unicodedata.category(c) in ("Mn", "Mc", "Me") or c in _JOINERS
            or "\U0001f3fb" <= c <= "\U0001f3ff")


def _grapheme_cut(text: str, limit: int) -> int:
    """Where to cut `text` to at most `limit` characters without splitting what shows
    as one character: a letter and its accents, an emoji sequence, a flag, an Indic
    conjunct (Python strings hold code points: no surrogate pair can be cut)."""
    cut = limit
    while cut > 0 and (_continues(text[cut]) or text[cut - 1] == _JOINERS[1]
                       or unicodedata.combining(text[cut - 1]) == 9):  # a virama joins
        cut -= 1
    if cut == 0:  # one letter with a hundred accents: cut among its accents
        return limit
    flags = 0  # regional indicators pair up into flags: never keep half of one
    while cut - flags > 0 and "\U0001f1e6" <= text[cut - flags - 1] <= "\U0001f1ff":
        flags += 1
    if flags % 2 and "\U0001f1e6" <= text[cut] <= "\U0001f1ff":
        cut -= 1
    return cut


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str
    attributes: dict[str, Any]
    lists: dict[str, str] = field(default_factory=dict)  # list name -> status
    created_at: datetime | None = None


@dataclass
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # unsubscribed or suppressed: never resubscribed by an import
    invalid: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, why invalid)
    notes: list[tuple[int, str]] = field(default_factory=list)  # (line, why skipped)
    skip_reasons: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                f"skipped {self.skipped}, invalid {self.invalid}")

    def counts(self) -> tuple[int, int, int, int, int]:
        return (self.added, self.updated, self.unchanged, self.skipped, self.invalid)


# A cell a spreadsheet would run as a formula starts with one of these (OWASP's list).
FORMULA_STARTS = frozenset("=+-@\t\r")


def neutralise(cell: str) -> str:
    """A cell for our CSV export that no spreadsheet runs: one starting with a formula
    character gets a leading "'", and so does one that already starts with quotes and
    then such a character, so that `restore` gives back exactly the value."""
    if cell and (cell[0] in FORMULA_STARTS
                 or cell[0] == "'" and cell.lstrip("'")[:1] in FORMULA_STARTS):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """The value of a cell written by `neutralise` (or by a tool following the same
    convention): one leading "'" before quotes and a formula character is dropped."""
    if cell[:1] == "'" and cell.lstrip("'")[:1] in FORMULA_STARTS:
        return cell[1:]
    return cell
