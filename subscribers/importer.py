"""Idempotent, streaming upsert of import rows into one list.

Rules a real list depends on: the same file twice changes nothing; nobody who
unsubscribed or is suppressed is ever resubscribed; a bad row is reported with its line
and the good ones still import; memory stays bounded whatever the file's size; names are
stored cleaned (model.clean_name), and nobody is stored whose export would not re-import.

Each chunk is read (`read_known`), decided without the database (import_plan.screen and
classify) and written (`write_plan`), in one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, insert, select, update

from pipeline.store.bulk import bulk_insert, select_in

from .formats import Invalid, Row
from .import_plan import ChunkPlan, Existing, Known, classify, screen
from .members import count_new, recounting
from .model import ImportSummary, clean_name, email_hash
from .schema import consent_events, memberships, subscribers, suppressions

# Rows per transaction: fewer commits and lookups; a chunk is still only a few MB.
CHUNK = 5000


def chunked(rows: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def import_rows(engine: Engine, rows: Iterable[Row | Invalid], list_name: str, *,
                status: str, source: str, now: datetime) -> ImportSummary:
    return import_chunks(engine, chunked(map(_clean_name, rows)), list_name, status=status,
                         source=source, now=now)


def _clean_name(row: Row | Invalid) -> Row | Invalid:
    if isinstance(row, Invalid):
        return row
    name = clean_name(row.name)
    return row if name is row.name else row._replace(name=name)


def import_chunks(engine: Engine, chunks: Iterable[list[Row | Invalid]], list_name: str, *,
                  status: str, source: str, now: datetime) -> ImportSummary:
    """Like import_rows, from rows as formats reads them: in chunks (see
    formats.parsed_chunks), their names already cleaned."""
    summary = ImportSummary()
    reasons: Counter[str] = Counter()
    for chunk in chunks:
        screened = screen(chunk)
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # The email index of a million-subscriber list stays in memory instead of
                # being re-read page by page.
                conn.exec_driver_sql("PRAGMA cache_size=-65536")
            plan = classify(screened, read_known(conn, list(screened.rows), list_name),
                            status, now)
            write_plan(conn, plan, list_name, source, now)
        summary.added += plan.added
        summary.updated += plan.updated
        summary.unchanged += plan.unchanged
        summary.invalid += len(plan.errors)
        summary.errors.extend(plan.errors)
        summary.notes.extend(plan.notes)
        reasons.update(plan.skip_reasons)
    if engine.dialect.name == "sqlite":
        # Give the large import cache back: the pooled connection lives on.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-16384")
            conn.exec_driver_sql("PRAGMA shrink_memory")
    summary.skipped = sum(reasons.values())
    summary.skip_reasons = dict(reasons)
    return summary


def read_known(conn: Connection, keys: Sequence[str], list_name: str) -> Known:
    """What the store holds for these addresses (email_keys) and the list."""
    hashes = {email_hash(k): k for k in keys}
    c = subscribers.c
    existing = {r.email_key: r for r in map(Existing._make, select_in(
        conn, [c.id, c.email_key, c.name, c.attributes, c.created_at], c.email_key, keys))}
    suppressed = frozenset(hashes[h] for (h,) in select_in(
        conn, [suppressions.c.email_hash], suppressions.c.email_hash, list(hashes)))
    member = {r.subscriber_id: r.status for r in conn.execute(
        select(memberships.c.subscriber_id, memberships.c.status).where(
            memberships.c.subscriber_id.in_([r.id for r in existing.values()]),
            memberships.c.list_name == list_name))}
    return Known(existing, suppressed, member, {k: h for h, k in hashes.items()})


def write_plan(conn: Connection, plan: ChunkPlan, list_name: str, source: str,
               now: datetime) -> None:
    c = subscribers.c
    # (subscriber id, row, status) as plain tuples: a million new people make as many.
    joins: list[tuple[int, Row, str]] = list(plan.joins)
    if plan.new:
        # Constants go in .values() so they are bound once per statement, not per row;
        # plain executemany (no RETURNING) is the fast path on both backends.
        bulk_insert(conn, subscribers,
                    [{"email": row.email, "email_key": key, "email_hash": hash_,
                      "name": row.name, "attributes": row.attributes}
                     for key, hash_, row, _ in plan.new],
                    created_at=now, updated_at=now)
        ids = dict(select_in(conn, [c.email_key, c.id], c.email_key, [p.key for p in plan.new]))
        joins.extend((ids[key], row, s) for key, _, row, s in plan.new)
    if plan.changes:
        conn.execute(
            update(subscribers).where(subscribers.c.id == bindparam("b_id")).values(
                name=bindparam("b_name"), attributes=bindparam("b_attributes"),
                updated_at=bindparam("b_now")),
            [{"b_id": sid, "b_name": name, "b_attributes": attributes, "b_now": now}
             for sid, name, attributes in plan.changes])
    if joins:
        count_new(conn, list_name, Counter(s for _, _, s in joins))
        plain = [(sid, row, s) for sid, row, s in joins if row.consent_at is None]
        dated = [(sid, row, s) for sid, row, s in joins if row.consent_at is not None]
        if plain:
            bulk_insert(conn, memberships,
                        [{"subscriber_id": sid, "consent_ip": row.consent_ip, "status": s}
                         for sid, row, s in plain],
                        list_name=list_name, changed_at=now, consent_source=source,
                        consent_at=now)
        if dated:
            bulk_insert(conn, memberships,
                        [{"subscriber_id": sid, "consent_ip": row.consent_ip,
                          "consent_at": row.consent_at, "status": s}
                         for sid, row, s in dated],
                        list_name=list_name, changed_at=now, consent_source=source)
    if plan.leaves:
        leaving = and_(memberships.c.subscriber_id.in_(plan.leaves),
                       memberships.c.list_name == list_name)
        with recounting(conn, leaving):
            conn.execute(update(memberships).where(leaving)
                         .values(status="unsubscribed", changed_at=now))
        conn.execute(insert(consent_events), [
            {"subscriber_id": sid, "list_name": list_name, "action": "unsubscribed",
             "source": source, "at": now} for sid in plan.leaves])
    if plan.suppressions:
        fresh = dict(plan.suppressions)
        known = set(conn.execute(select(suppressions.c.email_hash).where(
            suppressions.c.email_hash.in_(list(fresh)))).scalars())
        rows = [{"email_hash": h, "reason": r, "note": source, "at": now}
                for h, r in fresh.items() if h not in known]
        if rows:
            conn.execute(insert(suppressions), rows)
