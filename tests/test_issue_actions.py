"""An issue's timeline as the admin shows it, and what an editor may do with it when:
pipeline.issue_actions.issue_timeline as a table. The week of issue 2026-W49 runs from
Mon 30 Nov 2026 00:00 in Chicago (06:00 UTC); its send slot is Mon 07:00 CST (13:00
UTC), its deadline 24 h later."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.issue_actions import (
    ACTIONS,
    DraftOffer,
    check_send_at,
    datetime_local,
    draft_offer,
    issue_timeline,
    parse_local,
)
from pipeline.models import Issue
from pipeline.states import IssueStatus
from pipeline.timeline import Facts, IssueFacts, Timeline

CHICAGO = ZoneInfo("America/Chicago")
TIMELINE = Timeline(draft="0 9 * * thu", send="0 7 * * mon", tz=CHICAGO)
OPTIONAL = Timeline(draft="0 9 * * thu", send="0 7 * * mon", tz=CHICAGO, approval="optional")
BEGINS = datetime(2026, 11, 30, 0, 0, tzinfo=CHICAGO)
SLOT = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)


def chicago(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


def issue(status: str, *, send_at: datetime | None = None, paused: bool = False) -> Issue:
    return Issue("2026-W49", 2, BEGINS.astimezone(UTC),
                 (BEGINS + timedelta(days=7)).astimezone(UTC), status, send_at=send_at,
                 paused_at=chicago(30, 8) if paused else None,
                 paused_by="ed@example.org" if paused else None)


THURSDAY, MON_6, MON_8 = chicago(26, 10), chicago(30, 6), chicago(30, 8)
TUE_8, WED, NEXT_MON = chicago(1, 8, month=12), chicago(2, 12, month=12), chicago(7, 8, month=12)
OPEN = {"send-now", "send-at", "skip"}

CASES = [
    # status, send_at, paused, now, timeline -> state, allowed
    ("draft", None, False, THURSDAY, TIMELINE, "draft", {"send-at", "skip"}),
    ("approved", None, False, THURSDAY, TIMELINE, "approved", {"send-at", "skip"}),
    ("approved", None, False, MON_6, TIMELINE, "approved", OPEN),
    ("draft", None, False, MON_8, TIMELINE, "held", {"send-at", "skip"}),
    ("approved", None, False, MON_8, TIMELINE, "due", OPEN),
    ("draft", None, False, MON_8, OPTIONAL, "due", OPEN),
    ("draft", None, False, TUE_8, TIMELINE, "late", {"send-at", "skip"}),
    ("approved", None, False, WED, TIMELINE, "late", OPEN),
    # an editor moved it to Thursday: before then it is simply approved, and in time
    ("approved", chicago(3, 10, month=12), False, WED, TIMELINE, "approved", OPEN),
    ("draft", chicago(3, 10, month=12), False, WED, TIMELINE, "draft", {"send-at", "skip"}),
    # the week is over: only skipping is left
    ("approved", None, False, NEXT_MON, TIMELINE, "late", {"skip"}),
    ("sending", None, False, MON_8, TIMELINE, "sending", {"pause", "cancel"}),
    ("sending", None, True, MON_8, TIMELINE, "paused", {"resume", "cancel"}),
    ("sending", None, True, NEXT_MON, TIMELINE, "paused", {"resume", "cancel"}),
    ("sent", None, False, MON_8, TIMELINE, "sent", set()),
    ("skipped", None, False, MON_8, TIMELINE, "skipped", set()),
    ("cancelled", None, True, MON_8, TIMELINE, "cancelled", set()),
]


@pytest.mark.parametrize(("status", "send_at", "paused", "now", "timeline", "state",
                          "allowed"), CASES)
def test_state_and_allowed_actions(status, send_at, paused, now, timeline, state, allowed):
    plan = issue_timeline(timeline, issue(status, send_at=send_at, paused=paused), now)
    assert plan.state == state
    assert plan.allowed == allowed
    for action in ACTIONS:  # every action refused says why
        assert (plan.why_not(action) is None) == (action in allowed)


def test_approved_by_its_deadline_is_due_after_it():
    """As timeline.decide: approved by the deadline, the first tick after it sends it."""
    approved = issue("approved")
    deadline = SLOT + timedelta(hours=24)
    in_time = replace(approved, approved_at=deadline - timedelta(minutes=1))
    too_late = replace(approved, approved_at=deadline + timedelta(minutes=1))
    after = deadline + timedelta(minutes=4)
    assert issue_timeline(TIMELINE, in_time, after).state == "due"
    assert issue_timeline(TIMELINE, too_late, after).state == "late"


def test_slot_deadline_and_a_moved_send():
    plan = issue_timeline(TIMELINE, issue("approved"), THURSDAY)
    assert plan.slot == plan.send_at == SLOT and not plan.moved
    assert plan.deadline == SLOT + timedelta(hours=24)
    assert plan.earliest == BEGINS  # before the week: its first minute
    moved = issue_timeline(TIMELINE, issue("approved", send_at=chicago(3, 10, month=12)), WED)
    assert moved.moved and moved.slot == SLOT
    assert moved.deadline == chicago(4, 10, month=12)
    assert moved.earliest == WED


@pytest.mark.parametrize(("status", "now", "why"), [
    ("draft", MON_8, "is not approved, and approval is required"),
    ("approved", THURSDAY, "has not begun, and nothing is sent before it"),
    ("approved", NEXT_MON, "the week of issue 2026-W49 is over"),
    ("sent", MON_8, "issue 2026-W49 is sent"),
])
def test_why_send_now_is_not_offered(status, now, why):
    assert why in issue_timeline(TIMELINE, issue(status), now).why_not("send-now")


@pytest.mark.parametrize("status", list(IssueStatus))
@pytest.mark.parametrize("now", [THURSDAY, MON_8, TUE_8, NEXT_MON])
def test_a_refusal_is_one_clause_after_the_actions_name(status, now):
    """The page says "Send now is not offered: <why>." and the flash "Send now: <why>.":
    a colon in the why would make it read "...: ...: ..."."""
    plan = issue_timeline(TIMELINE, issue(status, paused=status == "sending"), now)
    for action in ACTIONS:
        assert ":" not in (plan.why_not(action) or ""), action


def test_pause_and_resume_outside_a_send_say_why():
    plan = issue_timeline(TIMELINE, issue("approved"), MON_8)
    assert plan.why_not("pause") == "the issue is not being sent"
    paused = issue_timeline(TIMELINE, issue("sending", paused=True), MON_8)
    assert paused.why_not("pause") == "the send is already paused"
    assert issue_timeline(TIMELINE, issue("sending"), MON_8).why_not("resume") == \
        "the send is not paused"


@pytest.mark.parametrize(("value", "now", "problem"), [
    ("2026-12-03T10:00", MON_8, None),
    ("2026-11-30T08:00", MON_8, None),  # this very minute
    ("2026-11-30T07:59", MON_8, "is in the past"),
    ("2026-11-29T23:59", THURSDAY, "is outside the issue's week (Mon 30 Nov 00:00 – "
                                   "Sun 06 Dec 2026 23:59 CST)"),
    ("2026-12-07T00:00", MON_8, "is outside the issue's week"),
    ("2026-12-06T23:59", MON_8, None),
])
def test_send_at_within_the_week_and_not_in_the_past(value, now, problem):
    plan = issue_timeline(TIMELINE, issue("approved"), now)
    found = check_send_at(plan, parse_local(value, CHICAGO), CHICAGO)
    assert found is None if problem is None else problem in found


def test_send_at_is_refused_when_the_week_is_over():
    plan = issue_timeline(TIMELINE, issue("approved"), NEXT_MON)
    assert check_send_at(plan, NEXT_MON, CHICAGO) == "the week of issue 2026-W49 is over"


@pytest.mark.parametrize(("value", "problem"), [
    ("tomorrow", "is not a date and time"),
    ("2026-11-30T09:00+00:00", "without a zone"),
    ("2027-03-14T02:30", "does not exist in America/Chicago"),  # spring forward
])
def test_a_send_at_value_that_is_no_time_here(value, problem):
    with pytest.raises(ValueError, match=problem):
        parse_local(value, CHICAGO)


def test_send_at_fields_are_in_the_newsletters_zone():
    assert datetime_local(SLOT, CHICAGO) == "2026-11-30T07:00"
    # the hour repeated in the fall is the first one (CDT) by default
    assert parse_local("2026-11-01T01:30", CHICAGO) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


# -- before the issue exists: "Draft now", "Draft anyway" -------------------------------

W48_SENT = {"2026-W48": IssueFacts("2026-W48", IssueStatus.SENT)}
W49_DRAFT_AT = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # Thu 09:00 CST
HELD = frozenset({"draft-held:2026-W49"})


@pytest.mark.parametrize(("now", "issues", "done", "offer"), [
    # ahead of the draft slot: Draft now
    (chicago(23, 8), W48_SENT, frozenset(), "draft-now"),
    # its slot came: the next tick drafts it; nothing to offer
    (chicago(26, 9, 30), W48_SENT, frozenset(), None),
    # a required source held it (the editors were told): Draft anyway
    (chicago(26, 9, 30), W48_SENT, HELD, "draft-anyway"),
    # held ahead of its slot (a Draft now that failed): still Draft anyway
    (chicago(24, 9), W48_SENT, HELD, "draft-anyway"),
    # held, then made (anyway, or the source came back): nothing
    (chicago(26, 11), {**W48_SENT, "2026-W49": IssueFacts("2026-W49", IssueStatus.DRAFT)},
     HELD, None),
    # skipped as nothing new after it was held: nothing
    (chicago(27, 9), W48_SENT, HELD | {"draft:2026-W49"}, None),
])
def test_draft_offer(now, issues, done, offer):
    got = draft_offer(TIMELINE, Facts(issues, done), now)
    if offer is None:
        assert got is None
    else:
        assert got == DraftOffer(offer, "2026-W49", W49_DRAFT_AT, SLOT)
