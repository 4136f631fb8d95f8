"""Idempotent, streaming upsert of import rows into one list.

Rules a real list depends on: the same file twice changes nothing; nobody who
unsubscribed or is suppressed is ever resubscribed; a bad row is reported with its line
and the good ones still import; memory stays bounded whatever the file's size; names are
stored cleaned (model.clean_name), and nobody is stored whose export would not re-import.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from pipeline.store.bulk import bulk_insert, select_in

from .formats import Invalid, Row, export_too_large
from .model import ImportSummary, clean_name, email_hash, email_key
from .schema import consent_events, memberships, subscribers, suppressions

# Rows per transaction: fewer commits and lookups; a chunk is still only a few MB.
CHUNK = 5000
# Statuses a file can carry that suppress the address everywhere; "unsubscribed" in a
# file only ends membership of the list being imported.
SUPPRESS_FOR = {"bounced": "bounce", "blocklisted": "manual"}


class Existing(NamedTuple):
    id: int
    email_key: str
    name: str
    attributes: dict[str, Any]
    created_at: datetime


def chunked(rows: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def import_rows(engine: Engine, rows: Iterable[Row | Invalid], list_name: str, *,
                status: str, source: str, now: datetime) -> ImportSummary:
    return import_chunks(engine, chunked(rows), list_name, status=status,
                         source=source, now=now)


def import_chunks(engine: Engine, chunks: Iterable[list[Row | Invalid]], list_name: str, *,
                  status: str, source: str, now: datetime) -> ImportSummary:
    """Like import_rows, from rows already in chunks (see formats.parsed_chunks)."""
    summary = ImportSummary()
    reasons: Counter[str] = Counter()
    for chunk in chunks:
        valid: dict[str, Row] = {}
        for row in chunk:
            if isinstance(row, Invalid):
                summary.invalid += 1
                summary.errors.append((row.line, row.reason))
                continue
            key = email_key(row.email)
            if key in valid:
                reasons["duplicate address in the file"] += 1
                summary.notes.append((row.line, f"{row.email}: duplicate of line "
                                                f"{valid[key].line}, skipped"))
                continue
            name = clean_name(row.name)
            if name is not row.name:
                row = row._replace(name=name)
            valid[key] = row
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # The email index of a million-subscriber list stays in memory instead of
                # being re-read page by page.
                conn.exec_driver_sql("PRAGMA cache_size=-65536")
            _import_chunk(conn, valid, list_name, status, source, now, summary, reasons)
    if engine.dialect.name == "sqlite":
        # Give the large import cache back: the pooled connection lives on.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-16384")
            conn.exec_driver_sql("PRAGMA shrink_memory")
    summary.skipped = sum(reasons.values())
    summary.skip_reasons = dict(reasons)
    return summary


def _import_chunk(conn: Connection, rows: dict[str, Row], list_name: str, status: str,
                  source: str, now: datetime, summary: ImportSummary,
                  reasons: Counter[str]) -> None:
    keys = list(rows)
    hashes = {email_hash(k): k for k in keys}
    c = subscribers.c
    existing = {r.email_key: r for r in map(Existing._make, select_in(
        conn, [c.id, c.email_key, c.name, c.attributes, c.created_at], c.email_key, keys))}
    suppressed = {hashes[h] for (h,) in select_in(
        conn, [suppressions.c.email_hash], suppressions.c.email_hash, list(hashes))}
    member = {r.subscriber_id: r.status for r in conn.execute(
        select(memberships.c.subscriber_id, memberships.c.status).where(
            memberships.c.subscriber_id.in_([r.id for r in existing.values()]),
            memberships.c.list_name == list_name))}

    new_people, updates, joins, leaves, suppress = [], [], [], [], []
    for key, row in rows.items():
        found = existing.get(key)
        if key in suppressed:
            reasons["suppressed (unsubscribed, bounced or complained)"] += 1
            continue
        if row.status is not None:
            # The file says this person left or bounced: record it, never subscribe.
            reasons[f"{row.status} in the file"] += 1
            if row.status in SUPPRESS_FOR:
                suppress.append((key, SUPPRESS_FOR[row.status]))
            if found is None:
                if row.status == "unsubscribed":  # kept, so no later import re-adds them
                    new_people.append((key, row))
            elif member.get(found.id, "unsubscribed") != "unsubscribed":
                leaves.append(found.id)
            elif found.id not in member and row.status == "unsubscribed":
                joins.append((found.id, row))
            continue
        if found is None:
            new_people.append((key, row))
            summary.added += 1
            continue
        if found.created_at == now:  # added earlier in this same import
            reasons["duplicate address in the file"] += 1
            continue
        if member.get(found.id) == "unsubscribed":
            reasons["previously unsubscribed from this list"] += 1
            continue
        merged = {**(found.attributes or {}), **row.attributes}
        name = row.name or found.name
        changed = merged != (found.attributes or {}) or name != found.name
        if changed and (too_large := export_too_large(row.email, name, merged)):
            summary.invalid += 1  # with what they have already, their export would fail
            summary.errors.append((row.line, too_large))
            continue
        if changed:
            updates.append({"b_id": found.id, "b_name": name, "b_attributes": merged,
                            "b_now": now})
        if found.id not in member:
            joins.append((found.id, row))
        if changed or found.id not in member:
            summary.updated += 1
        else:
            summary.unchanged += 1

    if new_people:
        # Constants go in .values() so they are bound once per statement, not per row;
        # plain executemany (no RETURNING) is the fast path on both backends.
        hash_of = {k: h for h, k in hashes.items()}
        bulk_insert(conn, subscribers,
                    [{"email": r.email, "email_key": k, "email_hash": hash_of[k],
                      "name": r.name, "attributes": r.attributes} for k, r in new_people],
                    created_at=now, updated_at=now)
        ids = dict(select_in(conn, [c.email_key, c.id], c.email_key, [k for k, _ in new_people]))
        joins.extend((ids[k], r) for k, r in new_people)
    if updates:
        conn.execute(
            update(subscribers).where(subscribers.c.id == bindparam("b_id")).values(
                name=bindparam("b_name"), attributes=bindparam("b_attributes"),
                updated_at=bindparam("b_now")),
            updates)
    if joins:
        plain = [(sid, row) for sid, row in joins if row.consent_at is None]
        dated = [(sid, row) for sid, row in joins if row.consent_at is not None]
        if plain:
            bulk_insert(conn, memberships,
                        [{"subscriber_id": sid, "consent_ip": row.consent_ip,
                          "status": "unsubscribed" if row.status == "unsubscribed" else status}
                         for sid, row in plain],
                        list_name=list_name, changed_at=now, consent_source=source,
                        consent_at=now)
        if dated:
            bulk_insert(conn, memberships,
                        [{"subscriber_id": sid, "consent_ip": row.consent_ip,
                          "consent_at": row.consent_at,
                          "status": "unsubscribed" if row.status == "unsubscribed" else status}
                         for sid, row in dated],
                        list_name=list_name, changed_at=now, consent_source=source)
    if leaves:
        conn.execute(update(memberships).where(
            memberships.c.subscriber_id.in_(leaves), memberships.c.list_name == list_name)
            .values(status="unsubscribed", changed_at=now))
        conn.execute(insert(consent_events), [
            {"subscriber_id": sid, "list_name": list_name, "action": "unsubscribed",
             "source": source, "at": now} for sid in leaves])
    if suppress:
        fresh: dict[str, str] = {}
        for key, reason in suppress:
            fresh.setdefault(email_hash(key), reason)
        known = set(conn.execute(select(suppressions.c.email_hash).where(
            suppressions.c.email_hash.in_(list(fresh)))).scalars())
        rows_ = [{"email_hash": h, "reason": r, "note": source, "at": now}
                 for h, r in fresh.items() if h not in known]
        if rows_:
            conn.execute(insert(suppressions), rows_)
