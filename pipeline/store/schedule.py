"""The scheduler's leases (one row per action key), the issues' timeline fields and the
audit log. A lease is claimed atomically on SQLite and PostgreSQL alike: by the INSERT of
its row (the primary key refuses a second), or by an UPDATE that matches only a row whose
lease ran out and that is not done (one UPDATE wins: the other matches nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from .schema import audit_log, issues, schedule_actions


@dataclass(frozen=True)
class ActionRecord:
    key: str
    owner: str | None
    claimed_at: datetime
    lease_until: datetime
    done_at: datetime | None
    outcome: str | None
    attempts: int


@dataclass(frozen=True)
class StopRequest:
    """An editor asked the issue's send to stop: paused (until Resume) or cancelled."""

    cancelled: bool
    by: str | None

    @property
    def reason(self) -> str:
        return f"{'cancelled' if self.cancelled else 'paused'} by {self.by or 'an editor'}"


class IssueSchedule(NamedTuple):
    """An issue's fields that the scheduler's decision reads (see issues_for)."""

    id: str
    status: str
    send_at: datetime | None
    paused: bool
    approved_at: datetime | None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    issue_id: str | None
    action: str
    detail: str


class ScheduleMixin:
    engine: Engine

    # -- leases ------------------------------------------------------------------------

    def claim_action(self, key: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease on `key` for `ttl`; False when another holds it or it is done."""
        until = now + ttl
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(schedule_actions).values(
                    key=key, owner=owner, claimed_at=now, lease_until=until, attempts=1))
            return True
        except IntegrityError:
            pass  # the row exists: take it over only if its lease ran out
        with self.engine.begin() as conn:
            taken = conn.execute(update(schedule_actions).where(
                schedule_actions.c.key == key, schedule_actions.c.done_at.is_(None),
                schedule_actions.c.lease_until <= now,
            ).values(owner=owner, claimed_at=now, lease_until=until,
                     attempts=schedule_actions.c.attempts + 1)).rowcount
        return bool(taken)

    def renew_action(self, key: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Extend a lease this owner holds (while a long action runs); False if lost."""
        with self.engine.begin() as conn:
            return bool(conn.execute(update(schedule_actions).where(
                schedule_actions.c.key == key, schedule_actions.c.owner == owner,
                schedule_actions.c.done_at.is_(None),
            ).values(lease_until=now + ttl)).rowcount)

    def finish_action(self, key: str, owner: str, now: datetime, outcome: str) -> None:
        """Performed: never due again."""
        with self.engine.begin() as conn:
            conn.execute(update(schedule_actions).where(
                schedule_actions.c.key == key, schedule_actions.c.owner == owner,
            ).values(owner=None, done_at=now, lease_until=now, outcome=outcome))

    def release_action(self, key: str, owner: str, retry_at: datetime, outcome: str) -> None:
        """Not done (a send paused, a required source down): anyone may claim it again
        from `retry_at`."""
        with self.engine.begin() as conn:
            conn.execute(update(schedule_actions).where(
                schedule_actions.c.key == key, schedule_actions.c.owner == owner,
            ).values(owner=None, lease_until=retry_at, outcome=outcome))

    def make_due(self, key: str, now: datetime) -> bool:
        """An editor's "Send now" or "Resume": the action is claimable from `now`, not
        only when a released lease said to retry (a send paused minutes ago), and is
        due again if it was done. One held now is left to its owner; False then."""
        with self.engine.begin() as conn:
            conn.execute(schedule_actions.delete().where(
                schedule_actions.c.key == key, schedule_actions.c.done_at.is_not(None)))
            conn.execute(update(schedule_actions).where(
                schedule_actions.c.key == key, schedule_actions.c.owner.is_(None),
            ).values(lease_until=now))
            owned = conn.execute(select(func.count()).select_from(schedule_actions).where(
                schedule_actions.c.key == key, schedule_actions.c.owner.is_not(None))).scalar()
        return not owned

    def done_actions(self, keys: Iterable[str] | None = None) -> frozenset[str]:
        query = select(schedule_actions.c.key).where(schedule_actions.c.done_at.is_not(None))
        if keys is not None:
            query = query.where(schedule_actions.c.key.in_(list(keys)))
        with self.engine.connect() as conn:
            return frozenset(conn.execute(query).scalars())

    def actions(self, limit: int = 20) -> list[ActionRecord]:
        """The newest actions first (for `insights status`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(schedule_actions).order_by(
                schedule_actions.c.claimed_at.desc()).limit(limit))
            return [ActionRecord(r.key, r.owner, r.claimed_at, r.lease_until, r.done_at,
                                 r.outcome, r.attempts) for r in rows]

    # -- the issue's own timeline --------------------------------------------------------

    def set_send_at(self, issue_id: str, when: datetime | None, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(issues).where(issues.c.id == issue_id).values(
                send_at=when, updated_at=now))

    def set_paused(self, issue_id: str, editor: str | None, now: datetime) -> bool:
        """Pause (editor) or resume (None) an issue's send; False if nothing changed."""
        with self.engine.begin() as conn:
            query = update(issues).where(issues.c.id == issue_id)
            query = (query.where(issues.c.paused_at.is_(None)) if editor else
                     query.where(issues.c.paused_at.is_not(None)))
            return bool(conn.execute(query.values(
                paused_at=now if editor else None, paused_by=editor, updated_at=now)).rowcount)

    def cancel_send(self, issue_id: str, editor: str, now: datetime) -> bool:
        """An editor cancels the issue's send: it becomes 'cancelled' and stopped (a
        running send reads this at its heartbeat, see stop_request); False when it was
        not being sent. What was not sent is recorded by deliver.send.cancel_rest."""
        with self.engine.begin() as conn:
            return bool(conn.execute(update(issues).where(
                issues.c.id == issue_id, issues.c.status == "sending",
            ).values(status="cancelled", paused_at=func.coalesce(issues.c.paused_at, now),
                     paused_by=editor, updated_at=now)).rowcount)

    def stop_request(self, issue_id: str) -> StopRequest | None:
        """Whether editors asked the issue's send to stop (what a running send checks at
        its heartbeat)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(issues.c.status, issues.c.paused_at,
                                      issues.c.paused_by).where(issues.c.id == issue_id)).first()
        if row is None or (row.paused_at is None and row.status != "cancelled"):
            return None
        return StopRequest(row.status == "cancelled", row.paused_by)

    def issues_for(self, issue_ids: Iterable[str]) -> list[IssueSchedule]:
        """These issues (and any being sent) as `decide` reads them."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(issues.c.id, issues.c.status, issues.c.send_at,
                                       issues.c.paused_at, issues.c.approved_at).where(
                or_(issues.c.id.in_(list(issue_ids)), issues.c.status == "sending")))
            return [IssueSchedule(r.id, r.status, r.send_at, r.paused_at is not None,
                                  r.approved_at) for r in rows]

    # -- audit log -----------------------------------------------------------------------

    def audit(self, actor: str, issue_id: str | None, action: str, detail: str,
              now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(audit_log).values(at=now, actor=actor, issue_id=issue_id,
                                                  action=action, detail=detail))

    def audit_entries(self, issue_id: str | None = None, limit: int = 200) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if issue_id is not None:
            query = query.where(audit_log.c.issue_id == issue_id)
        with self.engine.connect() as conn:
            return [AuditEntry(r.at, r.actor, r.issue_id, r.action, r.detail)
                    for r in conn.execute(query)]
