"""The pipeline's storage interface: items, source state, issues, variants, send ledger.

Everything above this module talks to `Store`; nothing else writes SQL for these tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..models import Issue, Item, RenderedVariant
from . import db
from .bulk import bulk_insert, select_in
from .schema import (
    issue_items,
    issues,
    items,
    send_batches,
    send_recipients,
    source_state,
    variants,
)

ISSUE_STATUSES = ("draft", "approved", "sending", "sent")


@dataclass(frozen=True)
class SaveResult:
    new: tuple[Item, ...]
    seen: int


@dataclass(frozen=True)
class SourceState:
    name: str
    etag: str | None
    last_modified: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None


@dataclass(frozen=True)
class Batch:
    id: int
    issue_id: str
    segment: str
    seq: int
    state: str
    size: int
    message_id: str | None
    error: str | None


def _item_from_row(row: Any) -> Item:
    return Item(
        id=row.id, source=row.source, guid=row.guid, section=row.section, title=row.title,
        link=row.link, summary_html=row.summary_html, authors=tuple(row.authors or ()),
        journal=row.journal, doi=row.doi, pmid=row.pmid, published_at=row.published_at,
        event_start=row.event_start, event_end=row.event_end,
        event_all_day=bool(row.event_all_day), event_timezone=row.event_timezone,
        event_location=row.event_location, topics=tuple(row.topics or ()),
        first_seen_at=row.first_seen_at,
    )


def _issue_from_row(row: Any) -> Issue:
    return Issue(
        id=row.id, number=row.number, period_start=row.period_start, period_end=row.period_end,
        status=row.status, editor_note=row.editor_note, created_at=row.created_at,
        sent_at=row.sent_at,
    )


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = db.make_engine(url)
        if migrate:
            db.upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- items ---------------------------------------------------------------------------

    def save_items(self, batch: Sequence[Item], now: datetime) -> SaveResult:
        """Insert what is new; an entry already stored (same source and guid, or the same
        paper or page from another source) is counted as seen. Edited text updates the
        stored copy but does not make the entry new again."""
        new: list[Item] = []
        seen = 0
        try:
            with self.engine.begin() as conn:
                for item in batch:
                    existing = conn.execute(
                        select(items.c.id, items.c.content_hash).where(
                            items.c.source == item.source, items.c.guid == item.guid
                        )
                    ).first()
                    if existing is not None:
                        seen += 1
                        if existing.content_hash != item.content_hash:
                            conn.execute(
                                update(items).where(items.c.id == existing.id)
                                .values(**self._item_values(item), updated_at=now)
                            )
                        continue
                    if self._duplicate_elsewhere(conn, item):
                        seen += 1
                        continue
                    row_id = conn.execute(
                        insert(items).values(
                            source=item.source, guid=item.guid, first_seen_at=now,
                            updated_at=now, **self._item_values(item),
                        )
                    ).inserted_primary_key[0]
                    new.append(replace(item, id=row_id, first_seen_at=now))
        except SQLAlchemyError as e:
            raise StoreError(f"could not save items: {e}") from e
        return SaveResult(new=tuple(new), seen=seen)

    @staticmethod
    def _item_values(item: Item) -> dict[str, Any]:
        return dict(
            section=item.section, title=item.title, link=item.link,
            canonical_url=item.canonical_url, summary_html=item.summary_html,
            authors=list(item.authors), journal=item.journal, doi=item.doi, pmid=item.pmid,
            published_at=item.published_at, event_start=item.event_start,
            event_end=item.event_end, event_all_day=item.event_all_day,
            event_timezone=item.event_timezone, event_location=item.event_location,
            topics=list(item.topics), content_hash=item.content_hash,
        )

    @staticmethod
    def _duplicate_elsewhere(conn: Any, item: Item) -> bool:
        keys = []
        if item.doi:
            keys.append(items.c.doi == item.doi)
        if item.pmid:
            keys.append(items.c.pmid == item.pmid)
        if item.canonical_url and item.section != "events":
            # Recurring events share one URL across occurrences; only pages dedupe by URL.
            keys.append(items.c.canonical_url == item.canonical_url)
        if not keys:
            return False
        query = select(items.c.id).where(items.c.source != item.source, or_(*keys)).limit(1)
        return conn.execute(query).first() is not None

    def unissued_items(self, sections: Iterable[str], since: datetime) -> list[Item]:
        """Items of `sections` never placed in an issue, dated (or first seen) since `since`."""
        in_issue = select(issue_items.c.item_id)
        dated = func.coalesce(items.c.published_at, items.c.first_seen_at)
        query = (
            select(items)
            .where(items.c.section.in_(list(sections)), items.c.id.not_in(in_issue), dated >= since)
            .order_by(dated.desc(), items.c.id)
        )
        with self.engine.connect() as conn:
            return [_item_from_row(r) for r in conn.execute(query)]

    def upcoming_events(self, start: datetime, end: datetime) -> list[Item]:
        query = (
            select(items)
            .where(items.c.section == "events", items.c.event_start >= start,
                   items.c.event_start < end)
            .order_by(items.c.event_start, items.c.id)
        )
        with self.engine.connect() as conn:
            return [_item_from_row(r) for r in conn.execute(query)]

    def issued_item_ids(self) -> set[int]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(issue_items.c.item_id)).scalars())

    # -- source state --------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(source_state).where(source_state.c.name == name)).first()
        return SourceState(**row._mapping) if row else None

    def all_source_states(self) -> list[SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_state).order_by(source_state.c.name))
            return [SourceState(**r._mapping) for r in rows]

    def record_source_result(
        self, name: str, now: datetime, *, error: str | None = None,
        etag: str | None = None, last_modified: str | None = None,
    ) -> SourceState:
        return self.record_source_results([(name, error, etag, last_modified)], now)[name]

    def record_source_results(
        self, results: Sequence[tuple[str, str | None, str | None, str | None]], now: datetime,
    ) -> dict[str, SourceState]:
        """Record each source's outcome (name, error, etag, last_modified) in one
        transaction; a failure increments its consecutive failures, a success resets."""
        names = [r[0] for r in results]
        with self.engine.begin() as conn:
            previous = {row.name: row for row in conn.execute(
                select(source_state).where(source_state.c.name.in_(names)))}
            for name, error, etag, last_modified in results:
                values: dict[str, Any] = {"last_attempt_at": now}
                if error is None:
                    values.update(last_success_at=now, consecutive_failures=0, last_error=None,
                                  etag=etag, last_modified=last_modified)
                else:
                    failures = previous[name].consecutive_failures if name in previous else 0
                    values.update(consecutive_failures=failures + 1, last_error=error)
                if name in previous:
                    conn.execute(update(source_state).where(source_state.c.name == name)
                                 .values(**values))
                else:
                    conn.execute(insert(source_state).values(name=name, **values))
            rows = conn.execute(select(source_state).where(source_state.c.name.in_(names)))
            return {row.name: SourceState(**row._mapping) for row in rows}

    # -- issues --------------------------------------------------------------------------

    def get_issue(self, issue_id: str) -> Issue | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(issues).where(issues.c.id == issue_id)).first()
        return _issue_from_row(row) if row else None

    def list_issues(self) -> list[Issue]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(issues).order_by(issues.c.number.desc()))
            return [_issue_from_row(r) for r in rows]

    def latest_open_issue(self) -> Issue | None:
        """The newest issue not yet sent (what `preview` and `send` work on)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(issues).where(issues.c.status != "sent")
                .order_by(issues.c.number.desc()).limit(1)
            ).first()
        return _issue_from_row(row) if row else None

    def last_sent_issue(self) -> Issue | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(issues).where(issues.c.status == "sent")
                .order_by(issues.c.number.desc()).limit(1)
            ).first()
        return _issue_from_row(row) if row else None

    def create_issue(
        self, issue_id: str, period_start: datetime, period_end: datetime,
        sections: dict[str, Sequence[Item]], new_ids: frozenset[int], now: datetime,
    ) -> Issue:
        try:
            with self.engine.begin() as conn:
                number = (conn.execute(select(func.max(issues.c.number))).scalar() or 0) + 1
                conn.execute(insert(issues).values(
                    id=issue_id, number=number, period_start=period_start,
                    period_end=period_end, status="draft", editor_note="",
                    created_at=now, updated_at=now,
                ))
                rows = [
                    {"issue_id": issue_id, "item_id": item.id, "section": section,
                     "position": pos, "is_new": item.id in new_ids}
                    for section, entries in sections.items()
                    for pos, item in enumerate(entries)
                ]
                if rows:
                    conn.execute(insert(issue_items), rows)
        except SQLAlchemyError as e:
            raise StoreError(f"could not create issue {issue_id}: {e}") from e
        issue = self.get_issue(issue_id)
        assert issue is not None
        return issue

    def issue_sections(self, issue_id: str) -> dict[str, list[Item]]:
        query = (
            select(items, issue_items.c.section.label("placed_in"))
            .join(issue_items, issue_items.c.item_id == items.c.id)
            .where(issue_items.c.issue_id == issue_id)
            .order_by(issue_items.c.section, issue_items.c.position)
        )
        out: dict[str, list[Item]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                out.setdefault(row.placed_in, []).append(_item_from_row(row))
        return out

    def set_issue_status(self, issue_id: str, status: str, now: datetime,
                         *, expect: Sequence[str] | None = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "sent":
            values["sent_at"] = now
        query = update(issues).where(issues.c.id == issue_id)
        if expect:
            query = query.where(issues.c.status.in_(list(expect)))
        with self.engine.begin() as conn:
            changed = conn.execute(query.values(**values)).rowcount
        if expect and changed != 1:
            raise StoreError(
                f"issue {issue_id} is not in state {' or '.join(expect)}; refusing to mark {status}"
            )

    def approve_issue(self, issue_id: str, approver: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(issues).where(issues.c.id == issue_id, issues.c.status == "draft")
                .values(status="approved", approved_by=approver, approved_at=now, updated_at=now)
            ).rowcount
        if changed != 1:
            issue = self.get_issue(issue_id)
            state = f"is {issue.status}" if issue else "does not exist"
            raise StoreError(f"issue {issue_id} {state}; only a draft can be approved")

    def set_editor_note(self, issue_id: str, note: str, now: datetime) -> None:
        """Change the editor's note. Any change returns an approved issue to draft: what
        was approved is no longer what would be sent."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(issues).where(issues.c.id == issue_id,
                                     issues.c.status.in_(["draft", "approved"]))
                .values(editor_note=note, status="draft", approved_by=None, approved_at=None,
                        updated_at=now)
            ).rowcount
        if changed != 1:
            issue = self.get_issue(issue_id)
            state = f"is {issue.status}" if issue else "does not exist"
            raise StoreError(f"issue {issue_id} {state}; only a draft or approved issue "
                             "can be edited")

    # -- variants ------------------------------------------------------------------------

    def save_variants(self, issue_id: str, rendered: Sequence[RenderedVariant],
                      now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(variants.delete().where(variants.c.issue_id == issue_id))
            if rendered:
                conn.execute(insert(variants), [
                    {"issue_id": issue_id, "segment": v.segment, "subject": v.subject,
                     "html": v.html, "text": v.text, "rendered_at": now} for v in rendered
                ])

    def get_variants(self, issue_id: str) -> list[RenderedVariant]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(variants).where(variants.c.issue_id == issue_id)
                                .order_by(variants.c.segment))
            return [RenderedVariant(r.segment, r.subject, r.html, r.text) for r in rows]

    # -- send ledger ---------------------------------------------------------------------

    def record_batch(self, issue_id: str, segment: str, recipients: Sequence[Any],
                     now: datetime) -> tuple[Batch, list[Any]] | None:
        """Write a pending batch with its recipients before anything is sent.

        Recipients already in the issue's ledger are dropped here, in the same
        transaction, so nobody can be put in two batches. Returns the batch and the
        recipients recorded in it, or None when every one was already recorded.
        """
        with self.engine.begin() as conn:
            keys = [r.email.casefold() for r in recipients]
            already = {k for (k,) in select_in(
                conn, [send_recipients.c.email_key], send_recipients.c.email_key, keys,
                where={"issue_id": issue_id})}
            fresh, fresh_keys = [], set()
            for r, key in zip(recipients, keys, strict=True):
                if key not in already and key not in fresh_keys:
                    fresh.append(r)
                    fresh_keys.add(key)
            if not fresh:
                return None
            seq = (conn.execute(
                select(func.max(send_batches.c.seq)).where(
                    send_batches.c.issue_id == issue_id, send_batches.c.segment == segment)
            ).scalar() or 0) + 1
            batch_id = conn.execute(insert(send_batches).values(
                issue_id=issue_id, segment=segment, seq=seq, state="pending", size=len(fresh),
                created_at=now, updated_at=now,
            )).inserted_primary_key[0]
            bulk_insert(conn, send_recipients,
                        [{"email_key": r.email.casefold(), "email": r.email,
                          "first_name": r.first_name, "subscriber_id": r.subscriber_id}
                         for r in fresh],
                        issue_id=issue_id, segment=segment, batch_id=batch_id, state="queued")
        batch = Batch(batch_id, issue_id, segment, seq, "pending", len(fresh), None, None)
        return batch, fresh

    def set_batch_state(self, batch_id: int, state: str, now: datetime, *,
                        message_id: str | None = None, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(send_batches).where(send_batches.c.id == batch_id).values(
                state=state, updated_at=now, message_id=message_id, error=error))

    def batches(self, issue_id: str, states: Sequence[str] | None = None) -> list[Batch]:
        query = select(send_batches).where(send_batches.c.issue_id == issue_id)
        if states:
            query = query.where(send_batches.c.state.in_(list(states)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(send_batches.c.id))
            return [Batch(r.id, r.issue_id, r.segment, r.seq, r.state, r.size, r.message_id,
                          r.error) for r in rows]

    def batch_recipients(self, batch_id: int, state: str | None = "queued") -> list[dict[str, Any]]:
        query = select(send_recipients).where(send_recipients.c.batch_id == batch_id)
        if state is not None:
            query = query.where(send_recipients.c.state == state)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(send_recipients.c.email_key))
            return [dict(r._mapping) for r in rows]

    def set_recipients_state(self, batch_id: int, state: str, *,
                             subscriber_ids: Sequence[int] | None = None,
                             note: str | None = None) -> None:
        query = update(send_recipients).where(send_recipients.c.batch_id == batch_id,
                                              send_recipients.c.state.in_(["queued",
                                                                           "in_flight"]))
        if subscriber_ids is not None:
            if not subscriber_ids:
                return
            query = query.where(send_recipients.c.subscriber_id.in_(list(subscriber_ids)))
        with self.engine.begin() as conn:
            conn.execute(query.values(state=state, note=note))

    def set_recipient(self, batch_id: int, subscriber_id: int, state: str,
                      note: str | None) -> None:
        """One recipient's outcome (backends that deliver one message at a time)."""
        with self.engine.begin() as conn:
            conn.execute(update(send_recipients).where(
                send_recipients.c.batch_id == batch_id,
                send_recipients.c.subscriber_id == subscriber_id).values(state=state, note=note))

    def requeue_unknown_recipients(self, batch_id: int, to_state: str) -> int:
        """Recipients left in_flight by a crash: 'unknown' (held), or as the operator says."""
        with self.engine.begin() as conn:
            return conn.execute(update(send_recipients).where(
                send_recipients.c.batch_id == batch_id,
                send_recipients.c.state.in_(["in_flight", "unknown"])).values(
                state=to_state)).rowcount

    def finish_batch(self, batch_id: int, now: datetime, message_id: str | None) -> None:
        """Accepted: the batch and its queued recipients, in one transaction. A batch
        that still holds recipients of unknown outcome stays 'unknown'."""
        with self.engine.begin() as conn:
            held = conn.execute(select(func.count()).where(
                send_recipients.c.batch_id == batch_id,
                send_recipients.c.state == "unknown")).scalar()
            conn.execute(update(send_batches).where(send_batches.c.id == batch_id).values(
                state="unknown" if held else "accepted", updated_at=now,
                message_id=message_id,
                error=f"{held} recipient(s) of unknown outcome" if held else None))
            conn.execute(update(send_recipients).where(
                send_recipients.c.batch_id == batch_id,
                send_recipients.c.state.in_(["queued", "in_flight"])
            ).values(state="sent"))

    def split_batch(self, batch: Batch, now: datetime) -> list[Batch]:
        """Move a batch's queued recipients into two new pending batches (after HTTP 413)."""
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(send_recipients.c.email_key).where(
                send_recipients.c.batch_id == batch.id, send_recipients.c.state == "queued")
                .order_by(send_recipients.c.email_key)).scalars())
            if len(ids) < 2:
                return []
            halves = [ids[: len(ids) // 2], ids[len(ids) // 2:]]
            seq = conn.execute(select(func.max(send_batches.c.seq)).where(
                send_batches.c.issue_id == batch.issue_id,
                send_batches.c.segment == batch.segment)).scalar() or 0
            made = []
            for half in halves:
                seq += 1
                new_id = conn.execute(insert(send_batches).values(
                    issue_id=batch.issue_id, segment=batch.segment, seq=seq, state="pending",
                    size=len(half), created_at=now, updated_at=now)).inserted_primary_key[0]
                conn.execute(update(send_recipients).where(
                    send_recipients.c.issue_id == batch.issue_id,
                    send_recipients.c.email_key.in_(half)).values(batch_id=new_id))
                made.append(Batch(new_id, batch.issue_id, batch.segment, seq, "pending",
                                  len(half), None, None))
            conn.execute(update(send_batches).where(send_batches.c.id == batch.id).values(
                state="split", updated_at=now, error=f"split into {made[0].id}, {made[1].id}"))
        return made

    def held_recipients(self, batch_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(send_recipients.c.email).where(
                send_recipients.c.batch_id == batch_id,
                send_recipients.c.state == "unknown")).scalars())

    def send_progress(self, issue_id: str) -> dict[str, int]:
        """Recipients by state (queued, sent, skipped) for one issue."""
        query = (select(send_recipients.c.state, func.count())
                 .where(send_recipients.c.issue_id == issue_id)
                 .group_by(send_recipients.c.state))
        with self.engine.connect() as conn:
            return {state: int(n) for state, n in conn.execute(query)}

    def delivered_count(self, issue_id: str) -> dict[str, int]:
        """Recipients the provider accepted, by segment."""
        query = (
            select(send_recipients.c.segment, func.count())
            .where(and_(send_recipients.c.issue_id == issue_id,
                        send_recipients.c.state == "sent"))
            .group_by(send_recipients.c.segment)
        )
        with self.engine.connect() as conn:
            return {seg: int(n) for seg, n in conn.execute(query)}
