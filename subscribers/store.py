"""The audience store: the only code that reads or writes the subscriber tables."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from pipeline.models import Recipient

from .model import ImportSummary, Subscriber, email_hash, email_key, first_name
from .schema import consent_events, memberships, subscribers, suppressions
from .segments import Rule, Subject, assign_segment

CHUNK = 1000


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


class Audience:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- import --------------------------------------------------------------------------

    def import_rows(
        self, rows: Iterable[Any], list_name: str, *, status: str, source: str, now: datetime,
    ) -> ImportSummary:
        """Upsert rows (Row or (line, error)) into `list_name`, a chunk per transaction.

        Idempotent: the same rows again change nothing. Never resubscribes anyone who
        unsubscribed from the list or is suppressed. Invalid rows are counted and kept
        with their line number; valid ones still import.
        """
        summary = ImportSummary()
        for chunk in _chunks(rows, CHUNK):
            valid = []
            for row in chunk:
                if isinstance(row, tuple):
                    summary.invalid += 1
                    summary.errors.append(row)
                else:
                    valid.append(row)
            # A file may list one person twice (in different case): the last row wins.
            by_key = {email_key(r.email): r for r in valid}
            summary.unchanged += len(valid) - len(by_key)
            with self.engine.begin() as conn:
                self._import_chunk(conn, by_key, list_name, status, source, now, summary)
        return summary

    def _import_chunk(self, conn: Any, by_key: dict[str, Any], list_name: str, status: str,
                      source: str, now: datetime, summary: ImportSummary) -> None:
        keys = list(by_key)
        existing = {r.email_key: r for r in conn.execute(
            select(subscribers.c.id, subscribers.c.email_key, subscribers.c.name,
                   subscribers.c.attributes, subscribers.c.email)
            .where(subscribers.c.email_key.in_(keys)))}
        hashes = {email_hash(k): k for k in keys}
        suppressed = {hashes[h] for h in conn.execute(
            select(suppressions.c.email_hash).where(suppressions.c.email_hash.in_(list(hashes)))
        ).scalars()}
        ids = [r.id for r in existing.values()]
        member = {r.subscriber_id: r.status for r in conn.execute(
            select(memberships.c.subscriber_id, memberships.c.status).where(
                memberships.c.subscriber_id.in_(ids), memberships.c.list_name == list_name))}
        new_rows, updates, new_members, events = [], [], [], []
        for key, row in by_key.items():
            if key in suppressed:
                summary.skipped += 1
                continue
            found = existing.get(key)
            if found is None:
                new_rows.append({"email": row.email, "email_key": key, "name": row.name,
                                 "attributes": row.attributes, "created_at": now,
                                 "updated_at": now})
                continue
            if member.get(found.id) == "unsubscribed":
                summary.skipped += 1
                continue
            merged = {**(found.attributes or {}), **row.attributes}
            name = row.name or found.name
            changed = merged != found.attributes or name != found.name
            if changed:
                updates.append({"b_id": found.id, "name": name, "attributes": merged,
                                "updated_at": now})
            if found.id not in member:
                new_members.append(found.id)
                events.append(found.id)
            if changed or found.id not in member:
                summary.updated += 1
            else:
                summary.unchanged += 1
        if new_rows:
            conn.execute(insert(subscribers), new_rows)
            added = conn.execute(select(subscribers.c.id).where(
                subscribers.c.email_key.in_([r["email_key"] for r in new_rows]))).scalars().all()
            new_members.extend(added)
            events.extend(added)
            summary.added += len(new_rows)
        if updates:
            from sqlalchemy import bindparam
            conn.execute(
                update(subscribers).where(subscribers.c.id == bindparam("b_id"))
                .values(name=bindparam("name"), attributes=bindparam("attributes"),
                        updated_at=bindparam("updated_at")),
                updates,
            )
        if new_members:
            conn.execute(insert(memberships), [
                {"subscriber_id": i, "list_name": list_name, "status": status, "changed_at": now}
                for i in new_members])
            conn.execute(insert(consent_events), [
                {"subscriber_id": i, "list_name": list_name, "action": "imported",
                 "source": source, "at": now} for i in events])

    # -- queries -------------------------------------------------------------------------

    def get(self, email: str) -> Subscriber | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(
                subscribers.c.email_key == email_key(email))).first()
            if row is None:
                return None
            lists = dict(conn.execute(select(memberships.c.list_name, memberships.c.status)
                                      .where(memberships.c.subscriber_id == row.id)).all())
        return Subscriber(row.id, row.email, row.name, dict(row.attributes or {}), lists,
                          row.created_at)

    def count(self, list_name: str | None = None, status: str = "confirmed") -> int:
        query = select(func.count(func.distinct(memberships.c.subscriber_id))).where(
            memberships.c.status == status)
        if list_name:
            query = query.where(memberships.c.list_name == list_name)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def is_suppressed(self, email: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(suppressions.c.email_hash).where(
                suppressions.c.email_hash == email_hash(email))).first() is not None

    # -- changes of consent --------------------------------------------------------------

    def unsubscribe(self, email: str, list_name: str | None, *, source: str,
                    now: datetime) -> bool:
        """Unsubscribe from one list, or from everything (and suppress) when list is None."""
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers.c.id).where(
                subscribers.c.email_key == email_key(email))).first()
            if list_name is None:
                self._suppress(conn, email, "unsubscribed", source, now)
            if row is None:
                return list_name is None
            query = update(memberships).where(memberships.c.subscriber_id == row.id,
                                              memberships.c.status != "unsubscribed")
            if list_name is not None:
                query = query.where(memberships.c.list_name == list_name)
            conn.execute(query.values(status="unsubscribed", changed_at=now))
            conn.execute(insert(consent_events).values(
                subscriber_id=row.id, list_name=list_name or "*", action="unsubscribed",
                source=source, at=now))
            return True

    def suppress(self, email: str, reason: str, note: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            self._suppress(conn, email, reason, note, now)

    @staticmethod
    def _suppress(conn: Any, email: str, reason: str, note: str, now: datetime) -> None:
        h = email_hash(email)
        if conn.execute(select(suppressions.c.email_hash)
                        .where(suppressions.c.email_hash == h)).first() is None:
            conn.execute(insert(suppressions).values(email_hash=h, reason=reason, note=note,
                                                     at=now))

    # -- resolution for a send -------------------------------------------------------------

    def resolve(
        self, lists: Sequence[str], segments: Sequence[tuple[str, Rule]],
        default_segment: str | None, batch_size: int = 2000,
    ) -> Iterator[Recipient]:
        """Every eligible subscriber once, with their segment, streamed in id order.

        Eligible: confirmed on at least one of `lists` and not suppressed. Someone whom
        no segment matches and no default takes is left out (and counted by the caller).
        """
        last_id = 0
        while True:
            with self.engine.connect() as conn:
                people = conn.execute(
                    select(subscribers.c.id, subscribers.c.email, subscribers.c.name,
                           subscribers.c.attributes)
                    .where(subscribers.c.id > last_id, subscribers.c.id.in_(
                        select(memberships.c.subscriber_id).where(and_(
                            memberships.c.list_name.in_(list(lists)),
                            memberships.c.status == "confirmed"))))
                    .order_by(subscribers.c.id).limit(batch_size)
                ).all()
                if not people:
                    return
                last_id = people[-1].id
                ids = [p.id for p in people]
                confirmed: dict[int, set[str]] = {}
                for sid, name in conn.execute(
                    select(memberships.c.subscriber_id, memberships.c.list_name).where(
                        memberships.c.subscriber_id.in_(ids), memberships.c.status == "confirmed")
                ):
                    confirmed.setdefault(sid, set()).add(name)
                hashes = {email_hash(p.email): p.id for p in people}
                blocked = {hashes[h] for h in conn.execute(
                    select(suppressions.c.email_hash)
                    .where(suppressions.c.email_hash.in_(list(hashes)))).scalars()}
            for p in people:
                if p.id in blocked:
                    continue
                member_of = confirmed.get(p.id, set())
                subject = Subject(attributes=p.attributes or {}, lists=frozenset(member_of))
                segment = assign_segment(subject, segments) or default_segment
                if segment:
                    yield Recipient(p.id, p.email, first_name(p.name), segment,
                                    tuple(sorted(member_of & set(lists))))
