"""The audience store: the only code that reads or writes the subscriber tables.

`Audience` is the narrow interface the pipeline, the CLI and the web app use. Every name
it stores goes through model.clean_name (imports, `subscribers add`, sign-up forms, the
preferences centre).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from pipeline.errors import AudienceError
from pipeline.models import Recipient
from pipeline.store.bulk import insert_ignoring_duplicates, new_id

from . import importer, resolve
from .formats import Invalid, Row, parsed_chunks, read_file
from .members import count_new, recounting
from .model import (
    ImportSummary,
    Subscriber,
    clean_name,
    email_hash,
    email_key,
    normalise_email,
)
from .resolve import Candidate
from .schema import consent_events, list_members, memberships, subscribers, suppressions
from .segments import Rule

PARALLEL_FROM_BYTES = 4 * 1024 * 1024


class Audience:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- bulk ------------------------------------------------------------------------------

    def import_rows(self, rows: Iterable[Row | Invalid], list_name: str, *, status: str,
                    source: str, now: datetime) -> ImportSummary:
        return importer.import_rows(self.engine, rows, list_name, status=status,
                                    source=source, now=now)

    def import_file(self, path: Path, fmt: str, list_name: str, *, status: str,
                    now: datetime, parallel_from: int = PARALLEL_FROM_BYTES,
                    ) -> tuple[str, ImportSummary]:
        """Import a file; returns (format, summary). A large file is parsed on another
        core while this one writes; a small one is not worth starting a process for."""
        if path.stat().st_size >= parallel_from:
            detected, chunks = parsed_chunks(path, fmt, importer.CHUNK)
        else:
            reader = read_file(path, fmt)
            detected, chunks = reader.format, importer.chunked(reader.rows)
        summary = importer.import_chunks(self.engine, chunks, list_name, status=status,
                                         source=f"import:{detected}:{path.name}", now=now)
        return detected, summary

    def resolve(self, lists: Sequence[str], segments: Sequence[tuple[str, Rule]],
                default_segment: str | None, *,
                parallel_from: int | None = resolve.PARALLEL_FROM,
                id_range: tuple[int | None, int | None] | None = None,
                share: float = resolve.PARENT_SHARE,
                prepare: resolve.Prepare | None = None) -> Iterator[Recipient]:
        """Every eligible subscriber once, with their segment (see resolve.resolve)."""
        return resolve.resolve(self.engine, lists, segments, default_segment,
                               parallel_from=parallel_from, id_range=id_range, share=share,
                               prepare=prepare)

    def split_ids(self, parts: int) -> list[tuple[int | None, int | None]]:
        """Id ranges sharing the audience between `parts` sending processes."""
        return resolve.split_ids(self.engine, parts)

    def candidates(self, lists: Sequence[str],
                   segments: Sequence[tuple[str, Rule]]) -> Iterator[Candidate]:
        return resolve.candidates(self.engine, lists, segments)

    def no_longer_eligible(self, subscriber_ids: Sequence[int],
                           lists: Sequence[str]) -> set[int]:
        """Which of these people may not be mailed any more: deleted, no longer
        confirmed on any of the lists, or suppressed. Asked right before each batch
        goes, so an unsubscribe made during a long send is honoured by the next batch.

        It names those who left rather than those who stay: usually nobody, so no rows
        come back. (SQLite's driver lets other threads run at each row it steps
        through; a thousand rows per batch were a thousand thread switches in a send.)
        """
        if not subscriber_ids:
            return set()
        with self.engine.connect() as conn:
            # Hand-written SQL: SQLAlchemy renders a thousand-value list parameter by
            # parameter, which cost more than the query itself (once per batch).
            marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            ids = ", ".join([f"({marker})"] * len(subscriber_ids))
            names = ", ".join([marker] * len(lists))
            sql = (f"WITH asked(id) AS (VALUES {ids}) SELECT asked.id FROM asked "
                   "WHERE NOT EXISTS (SELECT 1 FROM subscribers s JOIN memberships m "
                   "ON m.subscriber_id = s.id AND m.status = 'confirmed' "
                   f"AND m.list_name IN ({names}) WHERE s.id = asked.id "
                   "AND s.email_hash NOT IN (SELECT email_hash FROM suppressions))")
            return set(conn.exec_driver_sql(sql, (*subscriber_ids, *lists)).scalars().all())

    def export(self, list_name: str | None) -> Iterator[dict[str, Any]]:
        """Everyone (on a list), with name, attributes and list statuses, in id order;
        streamed in pages so memory stays flat."""
        last_id = 0
        while True:
            query = select(subscribers).where(subscribers.c.id > last_id)
            if list_name:
                query = query.where(subscribers.c.id.in_(
                    select(memberships.c.subscriber_id)
                    .where(memberships.c.list_name == list_name)))
            with self.engine.connect() as conn:
                page = conn.execute(query.order_by(subscribers.c.id).limit(5000)).all()
                if not page:
                    return
                ids = [p.id for p in page]
                statuses: dict[int, dict[str, str]] = {}
                for sid, name, status in conn.execute(
                        select(memberships.c.subscriber_id, memberships.c.list_name,
                               memberships.c.status)
                        .where(memberships.c.subscriber_id.in_(ids))):
                    statuses.setdefault(sid, {})[name] = status
            last_id = page[-1].id
            for p in page:
                yield {"email": p.email, "name": p.name, "attributes": dict(p.attributes or {}),
                       "lists": statuses.get(p.id, {})}

    # -- one person ------------------------------------------------------------------------

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

    def show(self, email: str) -> dict[str, Any]:
        """Everything stored about one address (for a subject-access request)."""
        key = email_key(email)
        with self.engine.connect() as conn:
            person = conn.execute(select(subscribers).where(
                subscribers.c.email_key == key)).first()
            suppression = conn.execute(select(suppressions).where(
                suppressions.c.email_hash == email_hash(email))).first()
            out: dict[str, Any] = {
                "email": email, "subscriber": None, "memberships": [], "consent_events": [],
                "suppression": dict(suppression._mapping) if suppression else None,
            }
            if person is None:
                return out
            out["subscriber"] = {k: v for k, v in person._mapping.items()
                                 if k not in ("email_key", "email_hash")}
            out["memberships"] = [dict(r._mapping) for r in conn.execute(
                select(memberships).where(memberships.c.subscriber_id == person.id))]
            out["consent_events"] = [dict(r._mapping) for r in conn.execute(
                select(consent_events).where(consent_events.c.subscriber_id == person.id)
                .order_by(consent_events.c.id))]
        return out

    def count(self, list_name: str | None = None, status: str = "confirmed") -> int:
        """People on `list_name` (on any list: counted once) in `status`. A list's count
        is kept running (subscribers/members.py); everyone's is counted, people once."""
        if list_name:
            query = select(list_members.c.members).where(
                list_members.c.list_name == list_name, list_members.c.status == status)
        else:
            query = select(func.count(func.distinct(memberships.c.subscriber_id))).where(
                memberships.c.status == status)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def is_suppressed(self, email: str) -> bool:
        with self.engine.connect() as conn:
            return _suppressed(conn, email)

    def suppression_reason(self, email: str) -> str | None:
        """Why an address is suppressed (unsubscribed, bounce, complaint, manual,
        forgotten), or None. Only "unsubscribed" can be undone, by the person's own act."""
        with self.engine.connect() as conn:
            return conn.execute(select(suppressions.c.reason).where(
                suppressions.c.email_hash == email_hash(email))).scalar()

    # -- changes of consent ----------------------------------------------------------------

    def add(self, email: str, list_name: str, *, status: str, source: str, now: datetime,
            name: str = "", attributes: dict[str, Any] | None = None,
            ip: str | None = None) -> tuple[Subscriber, str]:
        """Subscribe one person to a list. Returns the subscriber and what happened:
        "added", "already" (a member already), or "refused" (suppressed or unsubscribed
        people are only resubscribed by their own confirmation, never by us)."""
        try:
            email = normalise_email(email)
        except ValueError as e:
            raise AudienceError(str(e)) from None
        name = clean_name(name)
        with self.engine.begin() as conn:
            if _suppressed(conn, email):
                outcome = "refused"
            else:
                sid = _ensure_subscriber(conn, email, name, attributes or {}, now)
                current = conn.execute(select(memberships.c.status).where(
                    memberships.c.subscriber_id == sid,
                    memberships.c.list_name == list_name)).scalar()
                if current is None:
                    conn.execute(insert(memberships).values(
                        subscriber_id=sid, list_name=list_name, status=status, changed_at=now,
                        consent_source=source, consent_at=now, consent_ip=ip))
                    conn.execute(insert(consent_events).values(
                        subscriber_id=sid, list_name=list_name, action="subscribed",
                        source=source, ip=ip, at=now))
                    count_new(conn, list_name, Counter([status]))
                    outcome = "added"
                else:
                    outcome = "refused" if current == "unsubscribed" else "already"
        person = self.get(email)
        if person is None:  # refused and never stored
            person = Subscriber(0, email, name, attributes or {}, {})
        return person, outcome

    def sign_up(self, email: str, list_name: str, *, source: str, now: datetime,
                name: str = "", attributes: dict[str, Any] | None = None,
                ip: str | None = None) -> str:
        """Someone asks to join a list from an unverified address (a web form): nothing
        is mailed until their confirmation click (`confirm`). Returns "confirm" (send a
        confirmation), "confirmed" (already a member: nothing to do) or "refused"
        (bounced, complained, blocked or erased: never mailed again).

        A new person is stored with the name and attributes given; a known person's are
        left alone (anyone can type anyone's address into a form). A list they had left
        stays left until they confirm: the click is what brings them back."""
        try:
            email = normalise_email(email)
        except ValueError as e:
            raise AudienceError(str(e)) from None
        with self.engine.begin() as conn:
            reason = conn.execute(select(suppressions.c.reason).where(
                suppressions.c.email_hash == email_hash(email))).scalar()
            if reason is not None and reason != "unsubscribed":
                return "refused"
            sid = _ensure_subscriber(conn, email, name, attributes or {}, now)
            current = conn.execute(select(memberships.c.status).where(
                memberships.c.subscriber_id == sid,
                memberships.c.list_name == list_name)).scalar()
            if current == "confirmed" and reason is None:
                return "confirmed"
            if current == "confirmed":
                # Left everything yet still marked a member: unconfirmed (no difference
                # while suppressed), so their click goes through `confirm`, which lifts it.
                membership = and_(memberships.c.subscriber_id == sid,
                                  memberships.c.list_name == list_name)
                with recounting(conn, membership):
                    conn.execute(update(memberships).where(membership)
                                 .values(status="unconfirmed", changed_at=now))
            elif current is None:
                conn.execute(insert(memberships).values(
                    subscriber_id=sid, list_name=list_name, status="unconfirmed",
                    changed_at=now, consent_source=source, consent_at=now, consent_ip=ip))
                conn.execute(insert(consent_events).values(
                    subscriber_id=sid, list_name=list_name, action="subscribed",
                    source=source, ip=ip, at=now))
                count_new(conn, list_name, Counter(["unconfirmed"]))
            return "confirm"

    def update_profile(self, email: str, *, name: str | None, attributes: dict[str, Any],
                       now: datetime) -> bool:
        """The person's own changes (preferences centre): a new name when not None, and
        these attributes set (None removes one); others are kept. False if unknown."""
        with self.engine.begin() as conn:
            row = conn.execute(select(subscribers.c.id, subscribers.c.attributes).where(
                subscribers.c.email_key == email_key(email))).first()
            if row is None:
                return False
            merged = dict(row.attributes or {})
            for key, value in attributes.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            values: dict[str, Any] = {"attributes": merged, "updated_at": now}
            if name is not None:
                values["name"] = clean_name(name)
            conn.execute(update(subscribers).where(subscribers.c.id == row.id).values(**values))
        return True

    def confirm(self, email: str, list_name: str, *, source: str, now: datetime,
                ip: str | None = None) -> bool:
        """Double opt-in confirmation: the person's own act, so it also lifts an earlier
        unsubscribe from this list (but never a bounce or complaint suppression)."""
        with self.engine.begin() as conn:
            sid = conn.execute(select(subscribers.c.id).where(
                subscribers.c.email_key == email_key(email))).scalar()
            if sid is None:
                return False
            membership = and_(memberships.c.subscriber_id == sid,
                              memberships.c.list_name == list_name)
            with recounting(conn, membership):
                changed = conn.execute(update(memberships).where(
                    membership, memberships.c.status != "confirmed").values(
                    status="confirmed", changed_at=now, consent_source=source,
                    consent_at=now, consent_ip=ip)).rowcount
            if changed:
                conn.execute(delete(suppressions).where(
                    suppressions.c.email_hash == email_hash(email),
                    suppressions.c.reason == "unsubscribed"))
                conn.execute(insert(consent_events).values(
                    subscriber_id=sid, list_name=list_name, action="confirmed", source=source,
                    ip=ip, at=now))
            return bool(changed)

    def unsubscribe(self, email: str, list_name: str | None, *, source: str,
                    now: datetime, ip: str | None = None) -> bool:
        """Leave one list, or everything (which also suppresses) when list_name is None.
        Idempotent."""
        with self.engine.begin() as conn:
            sid = conn.execute(select(subscribers.c.id).where(
                subscribers.c.email_key == email_key(email))).scalar()
            if list_name is None:
                _suppress(conn, email, "unsubscribed", source, now)
            if sid is None:
                return list_name is None
            theirs = memberships.c.subscriber_id == sid
            if list_name is not None:
                theirs = and_(theirs, memberships.c.list_name == list_name)
            with recounting(conn, theirs):
                left = conn.execute(update(memberships).where(
                    theirs, memberships.c.status != "unsubscribed").values(
                    status="unsubscribed", changed_at=now)).rowcount
            if left:
                conn.execute(insert(consent_events).values(
                    subscriber_id=sid, list_name=list_name or "*", action="unsubscribed",
                    source=source, ip=ip, at=now))
            return True

    def suppress(self, email: str, reason: str, note: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            _suppress(conn, email, reason, note, now)

    def forget(self, email: str, now: datetime) -> bool:
        """Erase a person's data, keeping only a hashed suppression entry so that no
        import or form can ever mail them again. Returns whether anything was stored."""
        key = email_key(email)
        with self.engine.begin() as conn:
            sid = conn.execute(select(subscribers.c.id).where(
                subscribers.c.email_key == key)).scalar()
            conn.execute(delete(suppressions).where(suppressions.c.email_hash == email_hash(key)))
            conn.execute(insert(suppressions).values(email_hash=email_hash(key),
                                                     reason="forgotten", note="", at=now))
            if sid is None:
                return False
            conn.execute(delete(consent_events).where(consent_events.c.subscriber_id == sid))
            theirs = memberships.c.subscriber_id == sid
            with recounting(conn, theirs):
                conn.execute(delete(memberships).where(theirs))
            conn.execute(delete(subscribers).where(subscribers.c.id == sid))
        return True


def _suppressed(conn: Connection, email: str) -> bool:
    return conn.execute(select(suppressions.c.email_hash).where(
        suppressions.c.email_hash == email_hash(email))).first() is not None


def _suppress(conn: Connection, email: str, reason: str, note: str, now: datetime) -> None:
    """Idempotent, also when two requests (a webhook retry, a double click) race. A
    bounce or complaint replaces an earlier "unsubscribed": that one a person may lift by
    confirming again, these never."""
    conn.execute(insert_ignoring_duplicates(conn, suppressions.c.email_hash).values(
        email_hash=email_hash(email), reason=reason, note=note, at=now))
    if reason in ("bounce", "complaint"):
        conn.execute(update(suppressions).where(
            suppressions.c.email_hash == email_hash(email),
            suppressions.c.reason == "unsubscribed").values(reason=reason, note=note, at=now))


def _ensure_subscriber(conn: Connection, email: str, name: str, attributes: dict[str, Any],
                       now: datetime) -> int:
    sid = conn.execute(select(subscribers.c.id).where(
        subscribers.c.email_key == email_key(email))).scalar()
    if sid is not None:
        return int(sid)
    return new_id(conn.execute(insert(subscribers).values(
        email=email, email_key=email_key(email), email_hash=email_hash(email),
        name=clean_name(name),
        attributes=attributes, created_at=now, updated_at=now)))
