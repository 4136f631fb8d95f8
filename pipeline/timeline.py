"""The editorial week as data, and what the scheduler does now: `decide`, a pure function.

A week is a *cycle*: its send slot (the `[schedule] send` crontab, in the newsletter's
zone), the draft slot before it (`draft`), a reminder `remind` before the send slot and a
deadline `late_by` after it. The issue of a cycle is the issue of the ISO week its send
slot falls in (its id, "2026-W49", is the period's).

`decide(timeline, facts, now)` looks at the cycle whose send slot is the latest one not
after `now` and at the next one, and says which actions are due: draft, remind, send,
hold (not approved at the slot: the editors are alerted with the deadline), late (past
the deadline: never sent automatically). Each action has a key; an action whose key is in
`facts.done` has been performed and is not due again, so a second tick at the same moment
does nothing. The shells (`insights tick`, `insights schedule`) claim each key as a lease
in the store before performing it, so two schedulers perform it once (pipeline/week.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from .compose import period_for
from .states import IssueStatus

Approval = Literal["required", "optional"]
# How far back to look for the latest slot: a week and the longest deadline we allow.
_LOOKBACK = timedelta(days=8)


@dataclass(frozen=True)
class Timeline:
    draft: str  # crontab of the draft slot; == send for the old one-step `cron`
    send: str  # crontab of the send slot
    tz: ZoneInfo
    approval: Approval = "required"
    late_by: timedelta = timedelta(hours=24)
    remind: timedelta = timedelta(hours=12)

    @property
    def one_step(self) -> bool:
        """The old `[schedule] cron`: the draft is made at the send slot."""
        return self.draft == self.send


@dataclass(frozen=True)
class Cycle:
    period: str  # the issue's id: the ISO week of the send slot
    begins: datetime  # the start of that week: nothing is sent for it before
    draft_at: datetime
    send_at: datetime  # the slot (an editor's "Send at" moves an issue's own, see IssueFacts)

    def deadline(self, timeline: Timeline, send_at: datetime | None = None) -> datetime:
        return (send_at or self.send_at) + timeline.late_by


@dataclass(frozen=True)
class IssueFacts:
    """What `decide` needs to know of an issue (read from the store by the shell)."""

    id: str
    status: IssueStatus
    send_at: datetime | None = None  # an editor's "Send now" / "Send at ...": the issue's slot
    paused: bool = False  # an editor paused its send
    approved_at: datetime | None = None  # approved by the deadline: it goes, if late


@dataclass(frozen=True)
class Facts:
    issues: Mapping[str, IssueFacts] = field(default_factory=dict)  # by id (period)
    done: frozenset[str] = frozenset()  # keys of actions performed


# -- actions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """Gather, compose, render and store the cycle's issue; tell the editors."""

    period: str
    slot: datetime  # the send slot the draft is for

    @property
    def key(self) -> str:
        return f"draft:{self.period}"


def held_draft_key(period: str) -> str:
    """The key done once the editors were told the draft of `period` is held (a required
    source failed): the draft's own key stays released, retried hourly, until it is made."""
    return f"draft-held:{period}"


@dataclass(frozen=True)
class Remind:
    """The send slot is `remind` away and the draft is not approved."""

    issue: str
    slot: datetime

    @property
    def key(self) -> str:
        return f"remind:{self.issue}"


@dataclass(frozen=True)
class Send:
    """Deliver the issue (or resume delivering it)."""

    issue: str
    slot: datetime

    @property
    def key(self) -> str:
        return f"send:{self.issue}"


@dataclass(frozen=True)
class Hold:
    """Not approved at its slot: held, and the editors told the deadline."""

    issue: str
    slot: datetime
    deadline: datetime

    @property
    def key(self) -> str:
        return f"hold:{self.issue}"


@dataclass(frozen=True)
class Late:
    """Past its deadline unsent: never sent automatically; the editors are told."""

    issue: str
    deadline: datetime
    approved: bool

    @property
    def key(self) -> str:
        return f"late:{self.issue}"


Action = Draft | Remind | Send | Hold | Late


# -- slots ---------------------------------------------------------------------------


def fire_times(crontab: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The crontab's fire times in [start, end], each wall-clock time once.

    APScheduler fires twice at a wall-clock time that occurs twice (the hour repeated
    when summer time ends); the first is the slot. A time that does not exist (skipped
    when summer time begins) fires when the clock has moved past it, an hour later.
    """
    trigger = _trigger(crontab, tz)
    times: list[datetime] = []
    seen: set[datetime] = set()
    t = trigger.get_next_fire_time(None, start)
    while t is not None and t <= end:
        wall = t.astimezone(tz).replace(tzinfo=None, fold=0)
        if wall not in seen:
            seen.add(wall)
            # In UTC from here on: aware datetimes that share a zone add and compare by
            # the wall clock, so "24 h later" would be 25 h of real time across a change.
            times.append(t.astimezone(UTC))
        # Step on in UTC: from a local time in the repeated hour, APScheduler 3 would
        # find the same fire time again and again.
        t = trigger.get_next_fire_time(None, t.astimezone(UTC) + timedelta(seconds=1))
    return times


@lru_cache(maxsize=16)
def _trigger(crontab: str, tz: ZoneInfo) -> CronTrigger:
    """The parsed crontab: parsing took a fifth of the issues list's time (CronTrigger's
    get_next_fire_time keeps no state, so one serves every caller and thread)."""
    return CronTrigger.from_crontab(crontab, timezone=tz)


def cycle_of(timeline: Timeline, send_at: datetime) -> Cycle:
    """The cycle whose send slot is `send_at`: its draft slot is the latest draft fire
    time not after the send slot (the send slot itself for the one-step schedule)."""
    if timeline.one_step:
        draft_at = send_at
    else:
        drafts = fire_times(timeline.draft, timeline.tz, send_at - _LOOKBACK, send_at)
        draft_at = drafts[-1] if drafts else send_at
    period = period_for(send_at, timeline.tz)
    return Cycle(period.id, period.start.astimezone(UTC), draft_at, send_at)


def previous_cycle(timeline: Timeline, now: datetime) -> Cycle | None:
    """The cycle whose send slot is the latest one not after `now`."""
    slots = fire_times(timeline.send, timeline.tz, now - _LOOKBACK - timeline.late_by, now)
    return cycle_of(timeline, slots[-1]) if slots else None


def next_cycle(timeline: Timeline, now: datetime) -> Cycle:
    """The cycle whose send slot is the first one after `now`."""
    trigger = _trigger(timeline.send, timeline.tz)
    slot = trigger.get_next_fire_time(None, now.astimezone(UTC) + timedelta(seconds=1))
    assert slot is not None  # a crontab always fires again
    return cycle_of(timeline, slot.astimezone(UTC))


# -- the decision --------------------------------------------------------------------


def decide(timeline: Timeline, facts: Facts, now: datetime) -> list[Action]:
    """The actions due at `now`, in the order to perform them. Pure: the same inputs
    give the same answer, so it is tested as a table (tests/test_timeline.py)."""
    now = now.astimezone(UTC)
    actions: list[Action] = []
    previous = previous_cycle(timeline, now)
    if previous is not None:
        actions += _past_slot(timeline, facts, previous, now)
    upcoming = next_cycle(timeline, now)
    if previous is None or upcoming.period != previous.period:
        actions += _before_slot(timeline, facts, upcoming, now)
    return [a for a in actions if a.key not in facts.done]


def draft_to_make(timeline: Timeline, facts: Facts, now: datetime) -> Draft:
    """The draft an editor asks for now (`insights draft`): the one due, as the tick
    would make it (its slot came, or a required source held it), else the next cycle's,
    ahead of its draft slot (also one skipped earlier as nothing new: drafted again)."""
    due = [a for a in decide(timeline, facts, now) if isinstance(a, Draft)]
    if due:
        return due[0]
    cycle = next_cycle(timeline, now)
    return Draft(cycle.period, cycle.send_at)


def _approved(timeline: Timeline, issue: IssueFacts) -> bool:
    return issue.status == IssueStatus.APPROVED or (
        timeline.approval == "optional" and issue.status == IssueStatus.DRAFT)


def _past_slot(timeline: Timeline, facts: Facts, cycle: Cycle, now: datetime) -> list[Action]:
    """The cycle whose send slot has come: send, hold or say it is late."""
    issue = facts.issues.get(cycle.period)
    if issue is None:
        # The machine was down over the draft slot (or it is the one-step schedule):
        # draft now if the issue can still go out in time; `decide` runs again after it.
        return [Draft(cycle.period, cycle.send_at)] if now <= cycle.deadline(timeline) else []
    if issue.status == IssueStatus.SENDING:
        return [] if issue.paused else [Send(issue.id, issue.send_at or cycle.send_at)]
    if issue.status not in (IssueStatus.DRAFT, IssueStatus.APPROVED):
        return []  # sent, skipped, cancelled
    slot = issue.send_at or cycle.send_at
    if now < slot:  # an editor moved the send later this week
        return _reminder(timeline, issue, cycle, slot, now)
    return _slot_came(timeline, issue, slot, now)


def approved_in_time(status: str, approved_at: datetime | None, deadline: datetime) -> bool:
    """Approved by the deadline: it still goes though the first tick after the approval
    came after the deadline (the notices promise "approve it by ...")."""
    return (status == IssueStatus.APPROVED and approved_at is not None
            and approved_at <= deadline)


def _slot_came(timeline: Timeline, issue: IssueFacts, slot: datetime,
               now: datetime) -> list[Action]:
    """The issue's slot (its week's, or an editor's "Send at") has come: send, hold, or
    past the deadline say it is late."""
    deadline = slot + timeline.late_by
    approved = _approved(timeline, issue)
    if now > deadline:
        if approved_in_time(issue.status, issue.approved_at, deadline):
            return [Send(issue.id, slot)]
        return [Late(issue.id, deadline, approved)]
    if approved:
        return [Send(issue.id, slot)]
    return [Hold(issue.id, slot, deadline)]


def _before_slot(timeline: Timeline, facts: Facts, cycle: Cycle, now: datetime) -> list[Action]:
    """The next cycle: draft once its draft slot has come; remind before the send slot;
    an editor's "Send at" earlier than the slot, once the issue's week has begun."""
    issue = facts.issues.get(cycle.period)
    if issue is None:
        return [Draft(cycle.period, cycle.send_at)] if now >= cycle.draft_at else []
    if issue.status == IssueStatus.SENDING:
        return [] if issue.paused else [Send(issue.id, issue.send_at or cycle.send_at)]
    if issue.status not in (IssueStatus.DRAFT, IssueStatus.APPROVED):
        return []
    if issue.send_at is not None and issue.send_at <= now and now >= cycle.begins:
        return _slot_came(timeline, issue, issue.send_at, now)
    return _reminder(timeline, issue, cycle, issue.send_at or cycle.send_at, now)


def _reminder(timeline: Timeline, issue: IssueFacts, cycle: Cycle, slot: datetime,
              now: datetime) -> list[Action]:
    remind_at = slot - timeline.remind
    # A reminder due before the draft was even made would repeat the draft's notice.
    if (timeline.remind and not _approved(timeline, issue) and remind_at > cycle.draft_at
            and now >= remind_at):
        return [Remind(issue.id, slot)]
    return []


@lru_cache(maxsize=4096)
def cycle_for_period(timeline: Timeline, period_start: datetime) -> Cycle | None:
    """The cycle of the issue whose week begins at `period_start` (its first send slot
    in that week); None if the send crontab never fires in it.

    Kept once worked out (a pure function of frozen values): the issues list asks it for
    every issue on every view, and finding a hundred weeks' slots through the crontab
    took about 100 ms of each."""
    begins = period_start.astimezone(UTC)
    slots = fire_times(timeline.send, timeline.tz, begins, begins + timedelta(days=7))
    return cycle_of(timeline, slots[0]) if slots else None


def issue_slot(timeline: Timeline, period_start: datetime,
               send_at: datetime | None = None) -> tuple[datetime, datetime]:
    """An issue's send slot (an editor's "Send at", else its week's slot) and deadline."""
    cycle = cycle_for_period(timeline, period_start)
    slot = send_at or (cycle.send_at if cycle else period_start.astimezone(UTC))
    return slot, slot + timeline.late_by


def next_due(timeline: Timeline, facts: Facts,
             now: datetime) -> tuple[datetime, list[Action]] | None:
    """When something is next due after `now` if nothing changes meanwhile (nobody
    approves, nothing is drafted), and what: for `insights status` and the scheduler's
    "next run at". Pure: `decide` asked at each moment a slot, reminder, deadline or
    week boundary of the cycles ahead could change its answer."""
    now = now.astimezone(UTC)
    cycles = [c for c in (previous_cycle(timeline, now),) if c is not None]
    cycles.append(next_cycle(timeline, now))
    cycles.append(next_cycle(timeline, cycles[-1].send_at))
    moments: set[datetime] = set()
    for cycle in cycles:
        slots = [cycle.send_at]
        issue = facts.issues.get(cycle.period)
        if issue is not None and issue.send_at is not None:
            slots.append(issue.send_at)
        moments.update((cycle.draft_at, cycle.begins))
        for slot in slots:
            # Late is due once the deadline has passed: a second after it.
            moments.update((slot - timeline.remind, slot,
                            slot + timeline.late_by + timedelta(seconds=1)))
    for moment in sorted(m for m in moments if m > now):
        actions = decide(timeline, facts, moment)
        if actions:
            return moment, actions
    return None  # every issue of the cycles ahead is already made and approved, or sent


def after_due(facts: Facts, due: Sequence[Action]) -> Facts:
    """The facts once the actions `due` now are done as planned: a draft made (the usual
    outcome; nothing new skips it), a send finished, the editors told. Pure: what
    `insights status` asks `next_due` with, so its "Next" is not the action due now
    again, at a later moment."""
    issues = dict(facts.issues)
    for action in due:
        match action:
            case Draft(period=period) if period not in issues:
                issues[period] = IssueFacts(period, IssueStatus.DRAFT)
            case Send(issue=issue) if issue in issues:
                issues[issue] = replace(issues[issue], status=IssueStatus.SENT)
    return Facts(issues, facts.done | {a.key for a in due})
