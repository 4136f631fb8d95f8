"""An issue's own timeline, as the admin's issue page shows it, and what an editor may do
with it now: `issue_timeline(timeline, issue, now)`, a pure function of the issue, the
newsletter's timeline and the time (tested as a table in tests/test_issue_actions.py);
and before there is an issue, `draft_offer`: "Draft anyway" for a draft held by a failed
required source, "Draft now" for the next one ahead of its draft slot.

The page's handlers only read it, then call the store: "Send now" and "Send at ..." set
the issue's `send_at` (the scheduler's next tick sends it: pipeline/timeline.py reads
it), "Skip this week" marks it skipped, "Pause" / "Resume" / "Cancel" act on its send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from . import notices
from .models import Issue
from .states import IssueStatus
from .timeline import (
    Facts,
    Timeline,
    approved_in_time,
    cycle_for_period,
    cycle_of,
    draft_to_make,
    held_draft_key,
)

IssueAction = Literal["send-now", "send-at", "skip", "pause", "resume", "cancel"]
# Each action's button, in the order the page offers them.
ACTIONS: dict[IssueAction, str] = {
    "send-now": "Send now",
    "send-at": "Send at ...",
    "skip": "Skip this week",
    "pause": "Pause",
    "resume": "Resume",
    "cancel": "Cancel the send",
}
# What the page says about the scheduler, wherever a time depends on its next tick.
NEXT_TICK = ("at the scheduler's next tick (every 5 minutes with cron, every minute with "
             "`insights schedule`)")
# What the page calls each state an issue can be in on its timeline.
State = Literal["draft", "approved", "held", "due", "late", "sending", "paused", "sent",
                "skipped", "cancelled"]


@dataclass(frozen=True)
class IssueTimeline:
    """When the issue goes, where it stands, and what an editor may do now. Times UTC."""

    begins: datetime  # its week, in the newsletter's zone: nothing goes before
    ends: datetime  # (exclusive) nor after, unless a send already began
    slot: datetime  # the week's send slot (`[schedule] send`)
    send_at: datetime  # when it goes: an editor's "Send at" / "Send now", else the slot
    moved: bool  # an editor chose `send_at`
    deadline: datetime  # send_at + late_by: never sent automatically after it
    ready: bool  # approved, or approval is optional and it is a draft
    state: State
    allowed: frozenset[IssueAction]
    refused: Mapping[IssueAction, str]  # why each action not allowed is not (one line)
    earliest: datetime  # the earliest time "Send at ..." accepts: the week's start, or now

    def why_not(self, action: IssueAction) -> str | None:
        """None when `action` is allowed now, else why not (the handler's error)."""
        if action in self.allowed:
            return None
        return self.refused.get(action, f"{ACTIONS[action]} is not possible now")


def issue_timeline(timeline: Timeline, issue: Issue, now: datetime) -> IssueTimeline:
    now = now.astimezone(UTC)
    begins, ends = issue.period_start.astimezone(UTC), issue.period_end.astimezone(UTC)
    cycle = cycle_for_period(timeline, begins)
    # An issue made outside the timeline (no send slot in its week) goes from its start.
    slot = cycle.send_at if cycle else begins
    send_at = (issue.send_at or slot).astimezone(UTC)
    deadline = send_at + timeline.late_by
    status = issue.status
    ready = status == IssueStatus.APPROVED or (
        timeline.approval == "optional" and status == IssueStatus.DRAFT)
    state = _state(issue, ready, send_at, deadline, now)
    allowed: set[IssueAction] = set()
    refused: dict[IssueAction, str] = {}
    if status in (IssueStatus.DRAFT, IssueStatus.APPROVED):
        allowed.add("skip")
        if now < ends:
            allowed.add("send-at")
        else:
            refused["send-at"] = f"the week of issue {issue.id} is over"
        if not ready:
            # No colon in a refusal: the page and the flash say "Send now ...: <why>".
            refused["send-now"] = (f"issue {issue.id} is not approved, and approval is "
                                   "required before it can be sent")
        elif now < begins:
            refused["send-now"] = (f"the week of issue {issue.id} has not begun, and nothing "
                                   "is sent before it (choose a time in it with Send at ...)")
        elif now >= ends:
            refused["send-now"] = f"the week of issue {issue.id} is over"
        else:
            allowed.add("send-now")
    elif status == IssueStatus.SENDING:
        allowed.add("cancel")
        allowed.add("resume" if issue.paused_at is not None else "pause")
    done = f"issue {issue.id} is {status}"
    for action in ACTIONS:
        if action not in allowed:
            refused.setdefault(action, _refusal(action, status, issue.paused_at is not None,
                                                done))
    earliest = max(begins, now.replace(second=0, microsecond=0))
    return IssueTimeline(begins, ends, slot, send_at, issue.send_at is not None, deadline,
                         ready, state, frozenset(allowed), refused, earliest)


def _state(issue: Issue, ready: bool, send_at: datetime, deadline: datetime,
           now: datetime) -> State:
    status = issue.status
    if status == IssueStatus.SENDING:
        return "paused" if issue.paused_at is not None else "sending"
    if status not in (IssueStatus.DRAFT, IssueStatus.APPROVED):
        return "sent" if status == IssueStatus.SENT else (
            "cancelled" if status == IssueStatus.CANCELLED else "skipped")
    if now < send_at:
        return "approved" if status == IssueStatus.APPROVED else "draft"
    if now > deadline and not approved_in_time(status, issue.approved_at, deadline):
        return "late"
    return "due" if ready else "held"


def _refusal(action: IssueAction, status: str, paused: bool, done: str) -> str:
    if action == "pause" and paused:
        return "the send is already paused"
    if action == "resume" and status == IssueStatus.SENDING:
        return "the send is not paused"
    if action in ("pause", "resume", "cancel") and status in (IssueStatus.DRAFT,
                                                              IssueStatus.APPROVED):
        return "the issue is not being sent"
    return done


# -- "Send at ..." ----------------------------------------------------------------------


def parse_local(value: str, tz: ZoneInfo) -> datetime:
    """A datetime-local field's value ("2026-11-24T09:30") as a time in `tz`; ValueError
    with the reason when it is not one, or names a time the clocks skip."""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
    if naive.tzinfo is not None:
        raise ValueError("give the time without a zone: it is read in the newsletter's")
    local = naive.replace(tzinfo=tz)
    try:
        back = local.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    except OverflowError:  # year 9999 in a zone behind UTC: past what a datetime holds
        raise ValueError(f"{value!r} is not a date and time this week") from None
    if back != naive:
        raise ValueError(f"{naive:%d %b %Y %H:%M} does not exist in {tz.key} (the clocks "
                         "go forward then); choose another time")
    return local.astimezone(UTC)


def check_send_at(plan: IssueTimeline, when: datetime, tz: ZoneInfo) -> str | None:
    """None when "Send at `when`" is acceptable, else why not: within the issue's week
    and not in the past (the minute now is still accepted: the field has no seconds)."""
    refused = plan.why_not("send-at")
    if refused:
        return refused
    if not plan.begins <= when < plan.ends:
        last = plan.ends - timedelta(minutes=1)
        return (f"{notices.when(when, tz)} is outside the issue's week "
                f"({plan.begins.astimezone(tz):%a %d %b %H:%M} – "
                f"{last.astimezone(tz):%a %d %b %Y %H:%M %Z}); choose a time in it")
    if when < plan.earliest:
        return f"{notices.when(when, tz)} is in the past; choose a later time"
    return None


def datetime_local(when: datetime, tz: ZoneInfo) -> str:
    """`when` as a datetime-local field's value in `tz`."""
    return when.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


# -- before the issue exists: "Draft now", "Draft anyway" -------------------------------

DraftAction = Literal["draft-now", "draft-anyway"]
DRAFT_ACTIONS: dict[DraftAction, str] = {"draft-now": "Draft now",
                                         "draft-anyway": "Draft anyway"}


@dataclass(frozen=True)
class DraftOffer:
    """The draft an editor may make now, from the issues list. Times UTC."""

    action: DraftAction
    period: str  # the issue it makes
    draft_at: datetime  # its draft slot
    send_at: datetime  # its send slot


def draft_offer(timeline: Timeline, facts: Facts, now: datetime) -> DraftOffer | None:
    """"Draft anyway" when the draft the scheduler would make next is held (a required
    source failed: the editors were told, the draft is retried hourly, no issue yet);
    "Draft now" when it is the next week's, ahead of its draft slot; else None (made,
    due at the next tick, or skipped as nothing new). Pure: `facts` must carry the held
    keys (pipeline.week.read_facts does)."""
    draft = draft_to_make(timeline, facts, now)
    if draft.period in facts.issues:
        return None
    cycle = cycle_of(timeline, draft.slot)
    if held_draft_key(draft.period) in facts.done and draft.key not in facts.done:
        return DraftOffer("draft-anyway", draft.period, cycle.draft_at, cycle.send_at)
    if now.astimezone(UTC) < cycle.draft_at:
        return DraftOffer("draft-now", draft.period, cycle.draft_at, cycle.send_at)
    return None
