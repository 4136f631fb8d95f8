"""Mail events reported by the provider (delivered, open, click, bounce, ...), kept per
issue and segment for the counts the admin shows. Addresses are stored only hashed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from .bulk import insert_ignoring_duplicates
from .schema import mail_events

UNIQUE_COUNTED = ("open", "click")  # also counted once per recipient: "open_unique", ...


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
        """Store the events not stored before; returns how many were new."""
        rows: dict[str, dict[str, Any]] = {}
        for e in events:  # the first of two with one id wins, as the database would
            rows.setdefault(e.event_id, {**e._asdict(), "received_at": now})
        if not rows:
            return 0
        try:
            with self.engine.begin() as conn:
                # RETURNING gives only the rows actually inserted, on both backends, where
                # an executemany's rowcount would not be reliable.
                query = insert_ignoring_duplicates(conn, mail_events.c.event_id).returning(
                    mail_events.c.event_id)
                return len(conn.execute(query, list(rows.values())).all())
        except SQLAlchemyError as e:
            raise StoreError(f"could not record {len(rows)} mail events: {e}") from e

    def event_counts(self, issue_id: str) -> dict[str, dict[str, int]]:
        """segment -> {event -> count} for one issue, plus "open_unique" and
        "click_unique": how many different recipients opened or clicked."""
        of_issue = mail_events.c.issue_id == issue_id
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for segment, event, n in conn.execute(
                    select(mail_events.c.segment, mail_events.c.event, func.count())
                    .where(of_issue)
                    .group_by(mail_events.c.segment, mail_events.c.event)):
                counts.setdefault(segment or "", {})[event] = int(n)
            for segment, event, n in conn.execute(
                    select(mail_events.c.segment, mail_events.c.event,
                           func.count(func.distinct(mail_events.c.email_hash)))
                    .where(of_issue, mail_events.c.event.in_(UNIQUE_COUNTED))
                    .group_by(mail_events.c.segment, mail_events.c.event)):
                counts.setdefault(segment or "", {})[f"{event}_unique"] = int(n)
        return counts
