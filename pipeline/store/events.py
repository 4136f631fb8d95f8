"""Mail events reported by the provider (delivered, open, click, bounce, ...), kept per
issue and segment for the counts the admin shows. Addresses are stored only hashed.

The counts are kept running (event_counts), added to in the transaction that stores the
events: counting an issue's events on each view took a second at a million recipients."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from .bulk import add_to_counts, insert_ignoring_duplicates
from .schema import event_counts, mail_events

UNIQUE_COUNTED = ("open", "click")  # also counted once per recipient: "open_unique", ...
COUNT_KEY = ("issue_id", "segment", "event")
PEOPLE_PER_QUERY = 1000  # hashes in one IN list (SQLite takes at most 32,766 values)


class MailEvent(NamedTuple):
    """One event to record; event_id is the provider's (sg_event_id), unique forever."""

    event_id: str
    event: str
    issue_id: str | None
    segment: str | None
    email_hash: str
    at: datetime


class EventsMixin:
    engine: Engine

    def record_events(self, events: Sequence[MailEvent], now: datetime) -> int:
        """Store the events not stored before, and count them; returns how many were
        new. An event delivered twice (same id) is stored and counted once."""
        if not events:
            return 0
        try:
            with self.engine.begin() as conn:
                return insert_events(conn, events, now)
        except SQLAlchemyError as e:
            raise StoreError(f"could not record {len(events)} mail events: {e}") from e

    def event_counts(self, issue_id: str) -> dict[str, dict[str, int]]:
        """segment -> {event -> count} for one issue, plus "open_unique" and
        "click_unique": how many different recipients opened or clicked."""
        counts: dict[str, dict[str, int]] = {}
        c = event_counts.c
        with self.engine.connect() as conn:
            for segment, event, total, recipients in conn.execute(
                    select(c.segment, c.event, c.total, c.recipients)
                    .where(c.issue_id == issue_id)):
                of_segment = counts.setdefault(segment, {})
                of_segment[event] = int(total)
                if event in UNIQUE_COUNTED:
                    of_segment[f"{event}_unique"] = int(recipients)
        return counts


def insert_events(conn: Connection, events: Sequence[MailEvent], now: datetime) -> int:
    """record_events in the caller's transaction."""
    rows: dict[str, dict[str, Any]] = {}
    for e in events:  # the first of two with one id wins, as the database would
        rows.setdefault(e.event_id, {**e._asdict(), "segment": e.segment or None,
                                     "received_at": now})
    # RETURNING gives only the rows actually inserted, on both backends, where an
    # executemany's rowcount would not be reliable. In id order: two requests carrying
    # the same events wait for each other rather than deadlock.
    query = insert_ignoring_duplicates(conn, mail_events.c.event_id).returning(
        mail_events.c.event_id)
    inserted = conn.execute(query, [rows[i] for i in sorted(rows)]).scalars()
    new = [rows[event_id] for event_id in inserted]
    _count(conn, new)
    return len(new)


def _count(conn: Connection, new: Sequence[dict[str, Any]]) -> None:
    """Add newly stored events to their issue's counts (events of no issue are not
    counted). Totals first: on PostgreSQL that locks the count rows, so a concurrent
    request with events for the same counts waits here, and its check of who is new
    then sees these events: a person is counted once even when two requests carry
    their first opens at the same moment. (SQLite has one writer at a time anyway.)"""
    counted = [r for r in new if r["issue_id"] is not None]
    totals = Counter((r["issue_id"], r["segment"] or "", r["event"]) for r in counted)
    add_to_counts(conn, event_counts, COUNT_KEY, [
        {"issue_id": issue, "segment": segment, "event": event, "total": n, "recipients": 0}
        for (issue, segment, event), n in totals.items()])
    # Per person: how many of their events (of one issue, segment and kind) are new.
    arrived = Counter((r["issue_id"], r["segment"], r["event"], r["email_hash"])
                      for r in counted if r["event"] in UNIQUE_COUNTED)
    people: dict[tuple[str, str | None, str], list[str]] = {}
    for issue, segment, event, person in arrived:
        people.setdefault((issue, segment, event), []).append(person)
    m = mail_events.c
    for (issue, segment, event), hashes in people.items():
        # Through the (issue, segment, event, hash) index. A person is new when every
        # event of theirs stored is one of these: no earlier one.
        first = 0
        for start in range(0, len(hashes), PEOPLE_PER_QUERY):
            some = hashes[start:start + PEOPLE_PER_QUERY]
            stored: dict[str, int] = dict(conn.execute(
                select(m.email_hash, func.count()).where(
                    m.issue_id == issue,
                    m.segment.is_(None) if segment is None else m.segment == segment,
                    m.event == event, m.email_hash.in_(some))
                .group_by(m.email_hash)).all())
            first += sum(1 for h in some if stored.get(h) == arrived[issue, segment, event, h])
        if first:
            c = event_counts.c
            conn.execute(update(event_counts).where(
                c.issue_id == issue, c.segment == (segment or ""), c.event == event)
                .values(recipients=c.recipients + first))
