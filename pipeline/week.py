"""The scheduler's tick: what the editorial week says is due now, performed once.

`tick(config, now)` reads the facts (the issues of this cycle and the next, and which
actions are done), asks `timeline.decide`, and for each action due claims its lease in
the store, performs it, then finishes it (done: never due again) or releases it (to be
tried again from a given time), and writes it to the audit log. Then it decides again:
a draft may make a send or a hold due at once (the one-step `cron`, a machine that was
down over the slots). `insights tick` calls it once (cron, systemd timers, Kubernetes
CronJobs); `insights schedule` calls it every minute (pipeline/schedule.py).

Exactly once across processes and hosts: only the holder of an action's lease performs
it. A lease lasts LEASE_TTL and is renewed every minute while its action runs (a send
may take hours), so a crashed tick's action is taken over within LEASE_TTL; a send so
taken over resumes from its ledger (pipeline/deliver/send.py), which never sends a
batch twice. Leases run on the real clock, the decision on `now` (`--now` may be in the
past: a test, or the demo replaying its week).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from .config import Config
from .errors import InsightsError, StoreUnavailable
from .issue_actions import issue_timeline
from .job import send_scheduled
from .models import Issue
from .notices import editors_told, when
from .publish.workflow import publish_pending
from .states import IssueStatus, RunStatus
from .store.runlock import exclusive_run
from .store.schedule import ActionRecord
from .store.store import Store
from .timeline import (
    Action,
    Cycle,
    Draft,
    Facts,
    Hold,
    IssueFacts,
    Late,
    Remind,
    Send,
    Timeline,
    after_due,
    decide,
    draft_to_make,
    held_draft_key,
    next_cycle,
    next_due,
    previous_cycle,
)

log = logging.getLogger("insights.schedule")

LEASE_TTL = timedelta(minutes=10)  # a crashed tick's action is taken over after this
RENEW_EVERY = 60.0  # seconds between renewals while an action runs
RETRY_HELD_DRAFT = timedelta(hours=1)  # a required source down: try the draft again
# (the editorial's line says "retried hourly")
RETRY_SEND = timedelta(minutes=5)  # a send paused, held or refused part-way
RETRY_BUSY = timedelta(minutes=1)  # `insights run` or `send` had the store
RETRY_FAILED = timedelta(minutes=5)
MAX_ROUNDS = 5  # decide, perform, decide again: a draft, then its send or hold
KINDS = ("draft", "remind", "send", "hold", "late")
ACTOR = "scheduler"  # who the audit log says acted

Outcome = Literal["done", "retry", "busy", "incomplete", "failed"]


@dataclass(frozen=True)
class Performed:
    """One action this tick performed (or tried): `lines[0]` says what it did."""

    action: Action
    outcome: Outcome
    lines: tuple[str, ...]
    retry_at: datetime | None = None  # released: claimable again from then (real time)

    @property
    def failed(self) -> bool:
        return self.outcome in ("incomplete", "failed")


@dataclass(frozen=True)
class Elsewhere:
    """An action due that this tick could not claim: another process holds its lease,
    or it was released to be tried again later."""

    action: Action
    record: ActionRecord | None


@dataclass
class TickReport:
    now: datetime
    tz: ZoneInfo
    performed: list[Performed] = field(default_factory=list)
    elsewhere: list[Elsewhere] = field(default_factory=list)
    next: tuple[datetime, list[Action]] | None = None  # if nothing changes meanwhile
    # Sent issues published now that a send of an earlier tick left without their
    # public copy (a crash between the two): pipeline/publish/workflow.publish_pending.
    archive: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(p.failed for p in self.performed)


def default_owner() -> str:
    """Who holds a lease: this host and process (as the send lock names its holder)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _real_now() -> datetime:
    return datetime.now(UTC)


def tick(config: Config, now: datetime, *, owner: str | None = None) -> TickReport:
    """Perform what is due at `now`, each action once across every process ticking."""
    store = Store.open(config.store_url)
    try:
        return Tick(config, store, now.astimezone(UTC), owner or default_owner()).run()
    finally:
        store.close()


def draft_now(config: Config, now: datetime, *, anyway: bool = False, actor: str = "cli",
              owner: str | None = None) -> TickReport:
    """`insights draft`: the draft the scheduler would make next (`timeline.draft_to_make`)
    made now, under its lease and in the audit log as the tick does it, so no tick drafts
    it again. One waiting for its hourly retry (a required source down), or skipped
    earlier as nothing new, is drafted at once; `anyway`: without the failed source."""
    store = Store.open(config.store_url)
    try:
        run = Tick(config, store, now.astimezone(UTC), owner or default_owner(), actor,
                   anyway)
        report = TickReport(run.now, config.newsletter.tz)
        action = draft_to_make(run.timeline, run.facts(), run.now)
        if store.get_issue(action.period) is not None:  # said so; its lease left as it is
            report.performed.append(run.draft(action))
        elif (store.make_due(action.key, _real_now())
              and store.claim_action(action.key, run.owner, _real_now(), LEASE_TTL)):
            report.performed.append(run.carry_out(action))
        else:  # a tick is drafting it this moment
            report.elsewhere.append(Elsewhere(action, run.record(action.key)))
        report.next = next_due(run.timeline, run.facts(), run.now)
        return report
    finally:
        store.close()


def read_facts(store: Store, timeline: Timeline, now: datetime) -> Facts:
    """What `decide` needs: the issues of the cycle whose slot passed last and of the
    next one (and any issue being sent), and which of their actions are done."""
    periods = {c.period for c in (previous_cycle(timeline, now), next_cycle(timeline, now))
               if c is not None}
    issues = {r.id: IssueFacts(r.id, IssueStatus(r.status), r.send_at, r.paused, r.approved_at)
              for r in store.issues_for(periods)}
    keys = {f"{kind}:{period}" for kind in KINDS for period in periods | issues.keys()}
    keys |= {held_draft_key(period) for period in periods}  # for the admin's "Draft anyway"
    return Facts(issues, store.done_actions(keys))


@dataclass
class Tick:
    """One tick: its collaborators held once, its rounds, and how each action is done."""

    config: Config
    store: Store
    now: datetime  # the decision's moment (UTC)
    owner: str
    actor: str = ACTOR  # who the audit log says acted
    anyway: bool = False  # draft although a required source failed (an editor's word)

    @property
    def timeline(self) -> Timeline:
        return self.config.timeline

    def run(self) -> TickReport:
        report = TickReport(self.now, self.config.newsletter.tz)
        tried: set[str] = set()  # released ones wait for their retry time, not this tick
        for _ in range(MAX_ROUNDS):
            due = [a for a in decide(self.timeline, self.facts(), self.now)
                   if a.key not in tried]
            if not due:
                break
            for action in due:
                tried.add(action.key)
                if self.store.claim_action(action.key, self.owner, _real_now(), LEASE_TTL):
                    report.performed.append(self.carry_out(action))
                else:
                    report.elsewhere.append(Elsewhere(action, self.record(action.key)))
        report.archive = publish_pending(self.config, self.store, _real_now())
        report.next = next_due(self.timeline, self.facts(), self.now)
        return report

    def facts(self) -> Facts:
        return read_facts(self.store, self.timeline, self.now)

    def record(self, key: str) -> ActionRecord | None:
        return next((r for r in self.store.actions(200) if r.key == key), None)

    def carry_out(self, action: Action) -> Performed:
        """Perform a claimed action, then finish or release its lease and audit it."""
        try:
            with self.renewed(action.key):
                done = self.perform(action)
        except StoreUnavailable as e:  # `insights run` or `send` holds the store
            done = Performed(action, "busy", (f"{_name(action)}: waiting: {e}",),
                             _real_now() + RETRY_BUSY)
        except InsightsError as e:
            done = Performed(action, "failed", (f"{_name(action)}: FAILED: {e}",),
                             _real_now() + RETRY_FAILED)
        except Exception as e:  # a bug must not leave the lease held for LEASE_TTL
            log.exception("%s failed", action.key)
            done = Performed(action, "failed",
                             (f"{_name(action)}: FAILED ({type(e).__name__}): {e}",),
                             _real_now() + RETRY_FAILED)
        if done.retry_at is None:
            self.store.finish_action(action.key, self.owner, _real_now(), done.lines[0][:500])
        else:
            self.store.release_action(action.key, self.owner, done.retry_at,
                                      f"{done.outcome}: {done.lines[0]}"[:500])
        self.store.audit(self.actor, _issue_id(action), action.key.split(":")[0],
                         "\n".join(done.lines), self.now)
        return done

    @contextmanager
    def renewed(self, key: str) -> Iterator[None]:
        """The lease renewed every RENEW_EVERY while inside (a thread: a send may sit in
        a provider's rate limit for long without returning here)."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(RENEW_EVERY):
                if not self.store.renew_action(key, self.owner, _real_now(), LEASE_TTL):
                    log.warning("lost the lease on %s (it expired and another process "
                                "took it over)", key)
                    return

        thread = threading.Thread(target=renew, name=f"lease {key}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # -- each kind of action ---------------------------------------------------------

    def perform(self, action: Action) -> Performed:
        match action:
            case Draft():
                with exclusive_run(self.store.engine):  # not while `insights run` drafts
                    return self.draft(action)
            case Send():
                with exclusive_run(self.store.engine):  # nor while `insights send` sends
                    return self.send(action)
            case Remind() | Hold() | Late():
                return self.tell_editors(action)
        raise AssertionError(action)

    def draft(self, action: Draft) -> Performed:
        from .editorial import draft_for_slot

        result = draft_for_slot(self.config, self.store, action.period, action.slot, self.now,
                                anyway=self.anyway)
        lines = tuple(result.lines) or (f"draft {action.period}: {result.kind}",)
        if result.kind == "held":  # a required source failed: it tells the editors once
            return Performed(action, "retry", lines, _real_now() + RETRY_HELD_DRAFT)
        return Performed(action, "done", lines)

    def send(self, action: Send) -> Performed:
        report = send_scheduled(self.config, self.store, action.issue, self.now)
        lines = tuple(report.message.splitlines()) or (f"send {action.issue}",)
        if report.output:
            lines += (f"output: {report.output}",)
        if report.archive:
            lines += (report.archive,)
        if report.status == RunStatus.SENT and report.segments:
            lines += ("by segment: " + ", ".join(f"{s.segment} {s.recipients}"
                                                 for s in report.segments),)
        match report.status:
            case RunStatus.SENT:
                issue = self.store.get_issue(action.issue)
                if issue is not None:
                    lines += (self.notify_sent(issue, report.delivered, report.message),)
                return Performed(action, "done", lines)
            case RunStatus.ALREADY_SENT | RunStatus.SKIPPED:
                return Performed(action, "done", lines)
            case RunStatus.AWAITING_APPROVAL:
                # Changed after it was approved: not sent; the editors are told once
                # (the hold's key), and the send is looked at again in a few minutes
                # (approved again within the deadline, it goes).
                return Performed(action, "retry", lines + self.hold_changed(action),
                                 _real_now() + RETRY_SEND)
            case RunStatus.INCOMPLETE if (stop := self.store.stop_request(action.issue)):
                # An editor's pause or cancel is not a failure: a cancelled send is over;
                # a paused one waits for Resume (which makes its send due at once).
                return Performed(action, "done" if stop.cancelled else "retry", lines,
                                 None if stop.cancelled else _real_now() + RETRY_SEND)
            case RunStatus.INCOMPLETE:
                return Performed(action, "incomplete", lines + (
                    f"the send resumes at the next tick from {self.show(_real_now() + RETRY_SEND)}"
                    " (or with `insights send`)",), _real_now() + RETRY_SEND)
        return Performed(action, "retry", lines, _real_now() + RETRY_SEND)  # too early

    def hold_changed(self, action: Send) -> tuple[str, ...]:
        hold = Hold(action.issue, action.slot, action.slot + self.timeline.late_by)
        if not self.store.claim_action(hold.key, self.owner, _real_now(), LEASE_TTL):
            return ()
        line = self.tell_editors(hold).lines[0]
        self.store.finish_action(hold.key, self.owner, _real_now(), line[:500])
        self.store.audit(ACTOR, hold.issue, "hold", line, self.now)
        return (line,)

    def tell_editors(self, action: Remind | Hold | Late) -> Performed:
        from .editorial import HeldAtSlot, PastDeadline, Reminder, notify_editors

        issue = self.issue(action.issue)
        match action:
            case Remind(slot=slot):
                deadline = slot + self.timeline.late_by
                told = notify_editors(self.config, self.store,
                                      Reminder(issue, slot, deadline), self.now)
                summary = (f"reminded the editors: issue {issue.id} is not approved; it goes "
                           f"at {self.show(slot)} once approved; {editors_told(told)}")
            case Hold(slot=slot, deadline=deadline):
                told = notify_editors(self.config, self.store,
                                      HeldAtSlot(issue, slot, deadline), self.now)
                summary = (f"held issue {issue.id}: not approved at its slot "
                           f"{self.show(slot)}; approved by {self.show(deadline)} it goes at "
                           f"the next tick; {editors_told(told)}")
            case Late(deadline=deadline, approved=approved):
                told = notify_editors(self.config, self.store,
                                      PastDeadline(issue, deadline, approved), self.now)
                summary = (f"issue {issue.id} passed its deadline {self.show(deadline)} "
                           f"unsent: not sent automatically (the admin's \"Send now\" sends "
                           f"it); {editors_told(told)}")
        return Performed(action, "done", (summary,))

    def notify_sent(self, issue: Issue, delivered: int, message: str) -> str:
        from .editorial import Sent, notify_editors

        told = notify_editors(self.config, self.store, Sent(issue, delivered, message),
                              self.now)
        return f"the editors were told it went ({editors_told(told)})"

    def issue(self, issue_id: str) -> Issue:
        issue = self.store.get_issue(issue_id)
        if issue is None:
            raise InsightsError(f"no issue {issue_id!r}")
        return issue

    def show(self, moment: datetime) -> str:
        return when(moment, self.config.newsletter.tz)


def _issue_id(action: Action) -> str:
    return action.period if isinstance(action, Draft) else action.issue


def _name(action: Action) -> str:
    """"send 2026-W49": the action's kind and issue, as the tick's lines start."""
    return f"{action.key.split(':')[0]} {_issue_id(action)}"


def next_line(report_next: tuple[datetime, list[Action]] | None, tz: ZoneInfo) -> str:
    """"next: draft 2026-W50 at Thu 03 Dec 09:00 CST (15:00 UTC)"."""
    if report_next is None:
        return "next: nothing scheduled (every issue ahead is settled)"
    moment, actions = report_next
    return f"next: {'; '.join(plan(a) for a in actions)} at {when(moment, tz)}"


def plan(action: Action) -> str:
    """What the scheduler will do, in a few words."""
    match action:
        case Draft(period=period):
            return f"draft {period}"
        case Remind(issue=issue):
            return f"remind the editors to approve {issue}"
        case Send(issue=issue):
            return f"send {issue}"
        case Hold(issue=issue):
            return f"send {issue} if approved, else hold it"
        case Late(issue=issue):
            return f"tell the editors {issue} missed its deadline unless approved before"
    raise AssertionError(action)


# -- `insights status` ---------------------------------------------------------------


@dataclass(frozen=True)
class IssueLine:
    """One cycle in `insights status`: its issue (if made), state, slot and deadline."""

    cycle: Cycle
    issue: Issue | None
    state: str
    slot: datetime
    deadline: datetime


@dataclass(frozen=True)
class WeekStatus:
    now: datetime
    timeline: Timeline
    next_draft: datetime
    next_send: datetime
    cycles: list[IssueLine]
    due: list[Action]  # due now: the next tick performs them
    next: tuple[datetime, list[Action]] | None  # after those due now are done
    actions: list[ActionRecord]  # the newest first
    deprecated: str | None


def week_status(config: Config, now: datetime, *, recent: int = 8) -> WeekStatus:
    """The next slots, this cycle's and the next cycle's issue, what is due and what
    comes next: what `insights status` shows."""
    timeline = config.timeline
    now = now.astimezone(UTC)
    store = Store.open(config.store_url)
    try:
        facts = read_facts(store, timeline, now)
        cycles = [c for c in (previous_cycle(timeline, now), next_cycle(timeline, now))
                  if c is not None]
        if len(cycles) == 2 and cycles[0].period == cycles[1].period:
            cycles = cycles[1:]
        lines = [_issue_line(timeline, c, store.get_issue(c.period), facts, now)
                 for c in cycles]
        upcoming = next_cycle(timeline, now)
        next_draft = upcoming.draft_at if upcoming.draft_at > now else next_cycle(
            timeline, upcoming.send_at).draft_at
        due = decide(timeline, facts, now)
        return WeekStatus(now, timeline, next_draft, upcoming.send_at, lines, due,
                          next_due(timeline, after_due(facts, due), now),
                          store.actions(recent), config.deprecated)
    finally:
        store.close()


def _issue_line(timeline: Timeline, cycle: Cycle, issue: Issue | None, facts: Facts,
                now: datetime) -> IssueLine:
    slot = (issue.send_at if issue is not None and issue.send_at else None) or cycle.send_at
    deadline = slot + timeline.late_by
    return IssueLine(cycle, issue, issue_state(timeline, cycle, issue, facts, now), slot,
                     deadline)


def issue_state(timeline: Timeline, cycle: Cycle, issue: Issue | None, facts: Facts,
                now: datetime) -> str:
    """"held: not approved", "approved by ...", "paused by ...": an issue's state in the
    week, for people: the admin's (issue_actions.issue_timeline), in words. Pure."""
    period = cycle.period
    if issue is None:
        if f"draft:{period}" in facts.done:
            return "skipped (nothing new to send)"
        if now > cycle.deadline(timeline):  # decide drafts no issue too late to go
            return "not drafted: its deadline passed (no issue this week)"
        return "not drafted yet" if now < cycle.draft_at else "due to be drafted"
    state = issue_timeline(timeline, issue, now).state
    approved = issue.status == IssueStatus.APPROVED
    who = f"approved by {issue.approved_by}" if approved else "draft, not approved"
    match state:
        case "paused":
            return f"paused by {issue.paused_by or 'an editor'}"
        case "sent":
            return f"sent {issue.sent_at:%Y-%m-%d %H:%M} UTC" if issue.sent_at else "sent"
        case "sending" | "skipped" | "cancelled":
            return state
        case "late":
            return f"{who}; past its deadline: not sent automatically"
        case "held":
            return "held: not approved at its slot"
    if not approved and timeline.approval == "optional":
        return "draft (goes as it stands at its slot: approval optional)"
    return who
