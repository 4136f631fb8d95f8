"""The send ledger: batches and their recipients, written before each request so a
crash can always be resumed without sending anything twice."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    String,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ..errors import StoreError
from ..states import BatchState
from .bulk import insert_new
from .records import Batch
from .schema import issues, send_batches, send_recipients
from .send_totals import BY_BATCH, OUTCOME, count_batch, recounting
from .types import UTCDateTime

STALE_AFTER = timedelta(minutes=10)


def _alive_here(owner: str) -> bool | None:
    """Whether a lock owner "host:pid" is a live process on this machine; None when it
    is on another host, where only its heartbeat can tell."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


RECORD_TRIES = 5


def _insert_batch(conn: Connection, issue_id: str, segment: str, size: int,
                  now: datetime) -> tuple[int, int]:
    """A new pending batch numbered after the segment's last, in one statement (so two
    processes cannot take the same number on SQLite; on PostgreSQL the unique key turns
    a clash into an IntegrityError, and the caller tries again). (id, seq)."""
    row = conn.execute(_NEW_BATCH, {"issue_id": issue_id, "segment": segment, "size": size,
                                    "now": now}).one()
    return row.id, row.seq


# The statements run once per batch are built once: building one costs about what
# running it does. Claiming a batch (and releasing it) moves it between states that
# send_totals counts alike, so those change no total; a new batch is counted with
# send_totals.count_batch, any other change of a batch's state or size is made inside
# send_totals.recounting.
_c = send_batches.c
_NEW_BATCH = insert(send_batches).from_select(
    ["issue_id", "segment", "seq", "state", "size", "created_at", "updated_at"],
    select(bindparam("issue_id", type_=String), bindparam("segment", type_=String),
           func.coalesce(func.max(_c.seq), 0) + 1, literal("pending"),
           bindparam("size", type_=Integer), bindparam("now", type_=UTCDateTime),
           bindparam("now", type_=UTCDateTime))
    .where(_c.issue_id == bindparam("issue_id"), _c.segment == bindparam("segment")),
).returning(_c.id, _c.seq)
_CLAIM = update(send_batches).where(
    _c.id == bindparam("b_id"), _c.state.in_(["pending", "failed", "unknown"])).values(
    state="in_flight", updated_at=bindparam("now"))
_CLAIM_PENDING = update(send_batches).where(
    _c.id == bindparam("b_id"), _c.state == "pending").values(
    state="in_flight", updated_at=bindparam("now"))
_r = send_recipients.c
_HELD_OR_REFUSED = select(_r.state, func.count()).where(
    _r.batch_id == bindparam("b_id"), _r.state.in_(["unknown", "failed"])
).group_by(_r.state)
_FINISH = update(send_batches).where(_c.id == bindparam("b_id")).values(
    state=bindparam("state"), updated_at=bindparam("now"), message_id=bindparam("message_id"),
    error=bindparam("error"))
class LedgerMixin:
    engine: Engine

    def acquire_send_lock(self, issue_id: str, owner: str, now: datetime) -> None:
        """Become the only process sending this issue, or raise naming who is.

        Taken over when the holder is a dead process on this host (killed or crashed) or,
        on another host, has not made progress for STALE_AFTER (a host that went away).
        A live process here is never taken over: a long rate-limit wait is not death."""
        stale = now - STALE_AFTER
        with self.engine.begin() as conn:
            row = conn.execute(select(issues.c.send_lock, issues.c.send_heartbeat)
                               .where(issues.c.id == issue_id)).first()
            holder: str | None = row.send_lock if row else None
            beat: datetime | None = row.send_heartbeat if row else None
            alive = _alive_here(holder) if holder else False
            if holder and holder != owner and (alive or alive is None and (
                    beat is None or beat > stale)):
                # A lock can hold no heartbeat (one set by hand, or by an older version).
                progress = (f"last progress {beat:%Y-%m-%d %H:%M:%S} UTC" if beat is not None
                            else "no progress recorded")
                raise StoreError(f"issue {issue_id} is being sent by {holder} ({progress}); "
                                 "wait for it to finish")
            query = update(issues).where(issues.c.id == issue_id)
            query = query.where(issues.c.send_lock == holder) if holder else query.where(
                issues.c.send_lock.is_(None))
            if conn.execute(query.values(send_lock=owner, send_heartbeat=now)).rowcount != 1:
                raise StoreError(f"issue {issue_id}: another process took the send lock")

    def heartbeat(self, issue_id: str, owner: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(issues).where(issues.c.id == issue_id,
                                              issues.c.send_lock == owner)
                         .values(send_heartbeat=now))

    def release_send_lock(self, issue_id: str, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(issues).where(issues.c.id == issue_id,
                                              issues.c.send_lock == owner)
                         .values(send_lock=None))

    def sends_to(self, email_key: str) -> list[dict[str, Any]]:
        """Every issue this address was put in (for `subscribers show`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_r.issue_id, _r.segment, OUTCOME.label("state"),
                                       _r.note).select_from(BY_BATCH)
                                .where(_r.email_key == email_key).order_by(_r.issue_id))
            return [dict(r._mapping) for r in rows]

    def forget_address(self, email_key: str, email_hash: str) -> int:
        """Replace an address in the send history by its hash (right to erasure): the
        history still counts them, and still stops a second copy of the same issue."""
        with self.engine.begin() as conn:
            return conn.execute(update(send_recipients).where(
                send_recipients.c.email_key == email_key).values(
                email_key="sha256:" + email_hash, email="(erased)", first_name="")).rowcount

    def claim_batch(self, batch_id: int, now: datetime, *, only_pending: bool = False) -> bool:
        """pending/failed/unknown (or, `only_pending`, pending only) -> in_flight,
        atomically: False if another worker or process already has it (defence in depth
        behind the send lock)."""
        claim = _CLAIM_PENDING if only_pending else _CLAIM
        with self.engine.begin() as conn:
            return conn.execute(claim, {"b_id": batch_id, "now": now}).rowcount == 1

    # -- send ledger ---------------------------------------------------------------------

    def record_batch(self, issue_id: str, segment: str, recipients: Sequence[Any],
                     now: datetime) -> tuple[Batch, list[Any]] | None:
        """Write a pending batch with its recipients before anything is sent.

        Recipients already in the issue's ledger are dropped here, in the same
        transaction, so nobody can be put in two batches. Returns the batch and the
        recipients recorded in it, or None when every one was already recorded.
        """
        # Several sending processes record at once: a clash on a batch number (or an
        # address) is a reason to look again, not to fail the send.
        for _ in range(RECORD_TRIES - 1):
            try:
                return self._record_batch(issue_id, segment, recipients, now)
            except IntegrityError:
                continue
        return self._record_batch(issue_id, segment, recipients, now)  # the last try raises

    def _record_batch(self, issue_id: str, segment: str, recipients: Sequence[Any],
                      now: datetime) -> tuple[Batch, list[Any]] | None:
        with self.engine.begin() as conn:
            batch_id, seq = _insert_batch(conn, issue_id, segment, len(recipients), now)
            # Only addresses not yet in the issue's ledger go in (the primary key decides,
            # in the same statement), so nobody can be put in two batches.
            inserted = insert_new(
                conn, send_recipients, ("email_key", "email", "first_name", "subscriber_id"),
                [(r.email.casefold(), r.email, r.first_name, r.subscriber_id)
                 for r in recipients],
                issue_id=issue_id, segment=segment, batch_id=batch_id, state="queued")
            fresh = recipients
            if inserted < len(recipients):  # a resumed send, or an address twice
                ours = {(key, sid) for key, sid in conn.execute(
                    select(send_recipients.c.email_key, send_recipients.c.subscriber_id)
                    .where(send_recipients.c.batch_id == batch_id))}
                fresh = []
                for r in recipients:
                    stored = (r.email.casefold(), r.subscriber_id)
                    if stored in ours:
                        fresh.append(r)
                        ours.discard(stored)  # an address twice: its first is stored
                if not fresh:
                    conn.execute(delete(send_batches).where(send_batches.c.id == batch_id))
                    return None
                conn.execute(update(send_batches).where(send_batches.c.id == batch_id)
                             .values(size=len(fresh)))
            count_batch(conn, issue_id, segment, BatchState.PENDING, len(fresh))
        batch = Batch(batch_id, issue_id, segment, seq, "pending", len(fresh), None, None)
        return batch, list(fresh)

    def set_batch_state(self, batch_id: int, state: str, now: datetime, *,
                        message_id: str | None = None, error: str | None = None) -> None:
        with self.engine.begin() as conn, recounting(conn, batch_id):
            conn.execute(update(send_batches).where(send_batches.c.id == batch_id).values(
                state=state, updated_at=now, message_id=message_id, error=error))

    def hold_batch(self, batch_id: int, error: str) -> None:
        """in_flight -> unknown: the request went out and no answer is known. The time
        it went out (set when it was claimed) is kept, for the operator's report."""
        with self.engine.begin() as conn, recounting(conn, batch_id):
            conn.execute(update(send_batches).where(send_batches.c.id == batch_id).values(
                state="unknown", error=error))

    def release_batch(self, batch_id: int, now: datetime, why: str) -> bool:
        """in_flight -> pending: the provider answered that it did not take the request
        (a 5xx, a 429), so while the sender waits to try again the batch is not in
        flight, and a kill in the wait leaves it to be sent by the next run. False if
        it was not this worker's to release."""
        with self.engine.begin() as conn:
            return conn.execute(update(send_batches).where(
                send_batches.c.id == batch_id, send_batches.c.state == "in_flight").values(
                state="pending", updated_at=now, error=why)).rowcount == 1

    def batches(self, issue_id: str, states: Sequence[str] | None = None) -> list[Batch]:
        query = select(send_batches).where(send_batches.c.issue_id == issue_id)
        if states:
            query = query.where(send_batches.c.state.in_(list(states)))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(send_batches.c.id))
            return [Batch(r.id, r.issue_id, r.segment, r.seq, r.state, r.size, r.message_id,
                          r.error, r.updated_at) for r in rows]

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

    def move_recipients(self, batch_id: int, to_state: str,
                        from_states: Sequence[str] = ("in_flight", "unknown")) -> int:
        """The batch's recipients in `from_states` go to `to_state`; how many did. Those
        left in flight by a crash are held ('unknown') or, once held, moved as the
        operator says; refused ones (from 'failed') are queued for --retry-failed."""
        with self.engine.begin() as conn:
            return conn.execute(update(send_recipients).where(
                send_recipients.c.batch_id == batch_id,
                send_recipients.c.state.in_(list(from_states))).values(
                state=to_state)).rowcount

    def finish_batch(self, batch_id: int, now: datetime, message_id: str | None, *,
                     note: str | None = None) -> str:
        """Accepted: the batch, and with it its queued recipients (see OUTCOME). A
        batch that still holds recipients of unknown outcome stays 'unknown'; one with
        recipients the server refused (per-recipient backends) is 'failed'. `message_id`
        is the provider's id for the request; `note`, kept as an accepted batch's error,
        says why it counts as accepted without one. Returns the batch's state."""
        with self.engine.begin() as conn:
            counts: dict[str, int] = dict(conn.execute(_HELD_OR_REFUSED, {"b_id": batch_id}).all())
            held, refused = counts.get("unknown", 0), counts.get("failed", 0)
            state = "unknown" if held else "failed" if refused else "accepted"
            error = (f"{held} recipient(s) of unknown outcome" if held else
                     f"{refused} recipient(s) refused by the server" if refused else note)
            with recounting(conn, batch_id):
                conn.execute(_FINISH, {"b_id": batch_id, "state": state, "now": now,
                                       "message_id": message_id, "error": error})
        return state

    def split_batch(self, batch: Batch, now: datetime) -> list[Batch]:
        """Move a batch's queued recipients into two new pending batches (after HTTP 413)."""
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(send_recipients.c.email_key).where(
                send_recipients.c.batch_id == batch.id, send_recipients.c.state == "queued")
                .order_by(send_recipients.c.email_key)).scalars())
            if len(ids) < 2:
                return []
            halves = [ids[: len(ids) // 2], ids[len(ids) // 2:]]
            made = []
            with recounting(conn, batch.id):
                for half in halves:
                    new_id, seq = _insert_batch(conn, batch.issue_id, batch.segment,
                                                len(half), now)
                    conn.execute(update(send_recipients).where(
                        send_recipients.c.issue_id == batch.issue_id,
                        send_recipients.c.email_key.in_(half)).values(batch_id=new_id))
                    count_batch(conn, batch.issue_id, batch.segment, BatchState.PENDING,
                                len(half))
                    made.append(Batch(new_id, batch.issue_id, batch.segment, seq, "pending",
                                      len(half), None, None))
                conn.execute(update(send_batches).where(send_batches.c.id == batch.id).values(
                    state="split", updated_at=now,
                    error=f"split into {made[0].id}, {made[1].id}"))
        return made

    def cancel_unsent(self, issue_id: str, now: datetime) -> int:
        """An editor cancelled the send (the caller holds the send lock): its pending
        batches and their waiting recipients become 'cancelled', never sent; a batch
        left in flight by a crash is held (its request may have gone). How many
        recipients were cancelled."""
        # pending -> cancelled and in_flight -> unknown: states send_totals counts alike.
        waiting = select(send_batches.c.id).where(send_batches.c.issue_id == issue_id,
                                                  send_batches.c.state == "pending")
        with self.engine.begin() as conn:
            cancelled = conn.execute(update(send_recipients).where(
                send_recipients.c.batch_id.in_(waiting),
                send_recipients.c.state.in_(["queued", "in_flight"]),
            ).values(state="cancelled", note="the send was cancelled")).rowcount
            conn.execute(update(send_batches).where(
                send_batches.c.issue_id == issue_id, send_batches.c.state == "pending",
            ).values(state="cancelled", updated_at=now, error="the send was cancelled"))
            conn.execute(update(send_batches).where(
                send_batches.c.issue_id == issue_id, send_batches.c.state == "in_flight",
            ).values(state="unknown", error="in flight when the send was cancelled"))
        return int(cancelled)

    def record_cancelled(self, issue_id: str, segment: str, recipients: Sequence[Any],
                         now: datetime) -> int:
        """Record recipients the cancelled send never reached, as 'cancelled' (so the
        report counts them and nothing can send them later); how many were new."""
        made = self.record_batch(issue_id, segment, recipients, now)
        if made is None:
            return 0
        batch, fresh = made
        with self.engine.begin() as conn:  # pending -> cancelled: no total changes
            conn.execute(update(send_recipients).where(send_recipients.c.batch_id == batch.id)
                         .values(state="cancelled", note="the send was cancelled"))
            conn.execute(update(send_batches).where(send_batches.c.id == batch.id).values(
                state="cancelled", updated_at=now, error="the send was cancelled"))
        return len(fresh)

    def held_recipients(self, batch_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(send_recipients.c.email).where(
                send_recipients.c.batch_id == batch_id,
                send_recipients.c.state == "unknown")).scalars())
