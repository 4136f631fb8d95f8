"""What importing a chunk of rows does, decided without the database: which people are
new, whose name or attributes change, who joins or leaves the list, who is suppressed,
and the summary's counts and report lines. `importer` reads what `classify` needs
(`Known`) and writes the `ChunkPlan` it returns.

Rules: nobody suppressed, or unsubscribed from the list, is ever resubscribed; a row whose
file says unsubscribed, bounced or blocklisted is recorded, never subscribed; the same
file twice changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from .formats import Invalid, Row, export_too_large
from .model import email_key

# Statuses a file can carry that suppress the address everywhere; "unsubscribed" in a
# file only ends membership of the list being imported.
SUPPRESS_FOR = {"bounced": "bounce", "blocklisted": "manual"}

DUPLICATE = "duplicate address in the file"
SUPPRESSED = "suppressed (unsubscribed, bounced or complained)"
UNSUBSCRIBED = "previously unsubscribed from this list"


class Existing(NamedTuple):
    """A stored subscriber whose address is in the chunk."""

    id: int
    email_key: str
    name: str
    attributes: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Known:
    """What the store holds for a chunk's addresses (keyed by email_key)."""

    existing: Mapping[str, Existing]
    suppressed: frozenset[str]  # the addresses on the suppression list
    memberships: Mapping[int, str]  # subscriber id -> status on the list being imported
    hashes: Mapping[str, str]  # email_key -> email_hash, for every address in the chunk


@dataclass(frozen=True)
class Screened:
    """A chunk's valid rows, one per address (the first), and what was set aside."""

    rows: Mapping[str, Row]  # email_key -> row
    errors: Sequence[tuple[int, str]]  # (line, why invalid)
    notes: Sequence[tuple[int, str]]  # (line, why skipped)
    duplicates: int


class NewPerson(NamedTuple):
    key: str
    email_hash: str
    row: Row
    membership: str  # their status on the list


class Join(NamedTuple):
    subscriber_id: int
    row: Row  # where the consent (time, IP) comes from
    membership: str


class Change(NamedTuple):
    subscriber_id: int
    name: str
    attributes: dict[str, Any]


class Suppression(NamedTuple):
    email_hash: str
    reason: str


@dataclass(frozen=True)
class ChunkPlan:
    """The writes for one chunk, in the order they are made, and its share of the
    summary. People in `new` join the list once they have an id."""

    new: Sequence[NewPerson]
    changes: Sequence[Change]
    joins: Sequence[Join]
    leaves: Sequence[int]  # subscriber ids whose membership ends
    suppressions: Sequence[Suppression]
    added: int
    updated: int
    unchanged: int
    errors: Sequence[tuple[int, str]]  # (line, why invalid)
    notes: Sequence[tuple[int, str]]  # (line, why skipped)
    skip_reasons: Mapping[str, int]


def screen(chunk: Sequence[Row | Invalid]) -> Screened:
    """Set aside invalid rows and repeats of an address earlier in the chunk."""
    rows: dict[str, Row] = {}
    errors: list[tuple[int, str]] = []
    notes: list[tuple[int, str]] = []
    for row in chunk:
        if isinstance(row, Invalid):
            errors.append((row.line, row.reason))
            continue
        key = email_key(row.email)
        if key in rows:
            notes.append((row.line, f"{row.email}: duplicate of line {rows[key].line}, "
                                    "skipped"))
            continue
        rows[key] = row
    return Screened(rows, errors, notes, len(chunk) - len(rows) - len(errors))


def classify(screened: Screened, known: Known, status: str, now: datetime) -> ChunkPlan:
    """The plan for a screened chunk: `status` is a new member's (confirmed, or
    unconfirmed on a double opt-in list); `now` is this import's time, which marks
    people it added from an earlier chunk."""
    reasons: Counter[str] = Counter()
    if screened.duplicates:
        reasons[DUPLICATE] = screened.duplicates
    errors = list(screened.errors)
    new: list[NewPerson] = []
    changes: list[Change] = []
    joins: list[Join] = []
    leaves: list[int] = []
    suppressions: list[Suppression] = []
    added = updated = unchanged = 0
    existing, suppressed, member, hashes = (known.existing, known.suppressed,
                                            known.memberships, known.hashes)
    for key, row in screened.rows.items():
        found = existing.get(key)
        if key in suppressed:
            reasons[SUPPRESSED] += 1
            continue
        if row.status is not None:
            # The file says this person left or bounced: record it, never subscribe.
            reasons[f"{row.status} in the file"] += 1
            if row.status in SUPPRESS_FOR:
                suppressions.append(Suppression(hashes[key], SUPPRESS_FOR[row.status]))
            if found is None:
                if row.status == "unsubscribed":  # kept, so no later import re-adds them
                    new.append(NewPerson(key, hashes[key], row, "unsubscribed"))
            elif member.get(found.id, "unsubscribed") != "unsubscribed":
                leaves.append(found.id)
            elif found.id not in member and row.status == "unsubscribed":
                joins.append(Join(found.id, row, "unsubscribed"))
            continue
        if found is None:
            new.append(NewPerson(key, hashes[key], row, status))
            added += 1
            continue
        if found.created_at == now:  # added earlier in this same import
            reasons[DUPLICATE] += 1
            continue
        if member.get(found.id) == "unsubscribed":
            reasons[UNSUBSCRIBED] += 1
            continue
        merged = {**(found.attributes or {}), **row.attributes}
        name = row.name or found.name
        changed = merged != (found.attributes or {}) or name != found.name
        if changed and (too_large := export_too_large(row.email, name, merged)):
            errors.append((row.line, too_large))  # with what they have, export would fail
            continue
        if changed:
            changes.append(Change(found.id, name, merged))
        if found.id not in member:
            joins.append(Join(found.id, row, status))
        if changed or found.id not in member:
            updated += 1
        else:
            unchanged += 1
    return ChunkPlan(new, changes, joins, leaves, suppressions, added, updated, unchanged,
                     errors, screened.notes, dict(reasons))
