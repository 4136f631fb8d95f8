"""Audience records and the small pure helpers around them."""

from __future__ import annotations

import functools
import hashlib
import re
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
