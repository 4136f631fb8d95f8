"""Audience records and the small pure helpers around them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

STATUSES = ("unconfirmed", "confirmed", "unsubscribed")
SUPPRESSION_REASONS = ("unsubscribed", "bounce", "complaint", "manual", "forgotten")
LIST_ATTRIBUTES = ("interests",)  # attributes that hold several values


def email_key(email: str) -> str:
    """What makes two addresses the same person: case never does."""
    return email.strip().casefold()


def email_hash(email: str) -> str:
    return hashlib.sha256(email_key(email).encode("utf-8")).hexdigest()


def normalise_email(raw: str) -> str:
    """A syntactically valid address (no DNS look-up), or ValueError saying why not."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as e:
        raise ValueError(f"invalid email {raw.strip()!r}: {e}") from None


def first_name(name: str) -> str:
    return name.split()[0] if name.strip() else ""


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
    errors: list[tuple[int, str]] = field(default_factory=list)

    def line(self) -> str:
        return (f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                f"skipped {self.skipped}, invalid {self.invalid}")
