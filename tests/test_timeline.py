"""`decide(timeline, facts, now)` as a table: each slot, late slots, a machine down over
a slot, DST in the newsletter's zone, approval before and after the slot, inside and past
`late_by`, editors' "Send at", pauses, and what was already done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.states import IssueStatus as S
from pipeline.timeline import (
    Draft,
    Facts,
    Hold,
    IssueFacts,
    Late,
    Remind,
    Send,
    Timeline,
    decide,
    draft_to_make,
    fire_times,
    issue_slot,
    next_cycle,
    next_due,
    previous_cycle,
)

CHI = ZoneInfo("America/Chicago")
WEEK = Timeline("0 9 * * thu", "0 7 * * mon", CHI, "required", timedelta(hours=24),
                timedelta(hours=12))
OPTIONAL = Timeline("0 9 * * thu", "0 7 * * mon", CHI, "optional", timedelta(hours=24),
                    timedelta(hours=12))
ONE_STEP = Timeline("0 7 * * mon", "0 7 * * mon", CHI, "optional", timedelta(hours=24),
                    timedelta(hours=12))
# A Friday slot: an editor's "Send at" earlier in the week can pass its deadline first.
FRIDAY = Timeline("0 9 * * mon", "0 7 * * fri", CHI, "required", timedelta(hours=24),
                  timedelta(hours=12))
W49_SLOT = datetime(2026, 11, 30, 7, 0, tzinfo=CHI)  # Monday; drafted Thu 26 Nov 09:00


def at(local: str, tz: ZoneInfo = CHI) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=tz)


def facts(*issues: IssueFacts, done: tuple[str, ...] = ()) -> Facts:
    return Facts({i.id: i for i in issues}, frozenset(done))


DRAFT = IssueFacts("2026-W49", S.DRAFT)
APPROVED = IssueFacts("2026-W49", S.APPROVED)
DEADLINE = W49_SLOT + timedelta(hours=24)

CASES = [
    # (name, timeline, facts, now local, expected)
    ("before the draft slot: nothing", WEEK, facts(), "2026-11-26T08:59", []),
    ("at the draft slot: draft", WEEK, facts(), "2026-11-26T09:00",
     [Draft("2026-W49", W49_SLOT)]),
    ("draft already done (nothing new: skipped)", WEEK, facts(done=("draft:2026-W49",)),
     "2026-11-26T09:05", []),
    ("drafted, before the reminder: nothing", WEEK, facts(DRAFT), "2026-11-29T18:59", []),
    ("12 h before the slot, not approved: remind", WEEK, facts(DRAFT), "2026-11-29T19:00",
     [Remind("2026-W49", W49_SLOT)]),
    ("reminded already", WEEK, facts(DRAFT, done=("remind:2026-W49",)), "2026-11-29T20:00",
     []),
    ("approved before the reminder: no reminder", WEEK, facts(APPROVED), "2026-11-29T19:00",
     []),
    ("approved, a minute before the slot: nothing yet", WEEK, facts(APPROVED),
     "2026-11-30T06:59", []),
    ("approved, at the slot: send", WEEK, facts(APPROVED), "2026-11-30T07:00",
     [Send("2026-W49", W49_SLOT)]),
    ("not approved at the slot: hold with the deadline", WEEK, facts(DRAFT),
     "2026-11-30T07:00", [Hold("2026-W49", W49_SLOT, DEADLINE)]),
    ("held already: nothing more", WEEK, facts(DRAFT, done=("hold:2026-W49",)),
     "2026-11-30T07:05", []),
    ("approved after the slot, within late_by: send", WEEK,
     facts(APPROVED, done=("hold:2026-W49",)), "2026-11-30T09:00",
     [Send("2026-W49", W49_SLOT)]),
    ("approved, at the deadline exactly: still sends", WEEK, facts(APPROVED),
     "2026-12-01T07:00", [Send("2026-W49", W49_SLOT)]),
    ("approved past late_by: never automatically", WEEK,
     facts(APPROVED, done=("hold:2026-W49",)), "2026-12-02T09:00",
     [Late("2026-W49", DEADLINE, True)]),
    ("approved a minute before the deadline, first tick after it: still sends", WEEK,
     facts(IssueFacts("2026-W49", S.APPROVED, approved_at=DEADLINE - timedelta(minutes=1)),
           done=("hold:2026-W49",)), "2026-12-01T07:04", [Send("2026-W49", W49_SLOT)]),
    ("approved a minute after the deadline: late, never automatically", WEEK,
     facts(IssueFacts("2026-W49", S.APPROVED, approved_at=DEADLINE + timedelta(minutes=1)),
           done=("hold:2026-W49",)), "2026-12-01T07:04", [Late("2026-W49", DEADLINE, True)]),
    ("never approved, past late_by: late", WEEK, facts(DRAFT, done=("hold:2026-W49",)),
     "2026-12-01T07:01", [Late("2026-W49", DEADLINE, False)]),
    ("late told already", WEEK, facts(DRAFT, done=("hold:2026-W49", "late:2026-W49")),
     "2026-12-01T09:00", []),
    ("optional approval: the draft goes as it stands", OPTIONAL, facts(DRAFT),
     "2026-11-30T07:00", [Send("2026-W49", W49_SLOT)]),
    ("optional approval: no reminder", OPTIONAL, facts(DRAFT), "2026-11-29T19:00", []),
    ("machine down over the draft slot, up before the send: draft", WEEK, facts(),
     "2026-11-28T12:00", [Draft("2026-W49", W49_SLOT)]),
    ("machine down over both slots, up within late_by: draft (then hold or send)", WEEK,
     facts(), "2026-11-30T15:00", [Draft("2026-W49", W49_SLOT)]),
    ("machine down past the deadline: that week is not drafted", WEEK, facts(),
     "2026-12-01T07:01", []),
    ("sending (a crash, or paused by the provider): resume", WEEK,
     facts(IssueFacts("2026-W49", S.SENDING)), "2026-12-02T10:00",
     [Send("2026-W49", W49_SLOT)]),
    ("paused by an editor: nothing", WEEK, facts(IssueFacts("2026-W49", S.SENDING, paused=True)),
     "2026-11-30T08:00", []),
    ("sent: nothing", WEEK, facts(IssueFacts("2026-W49", S.SENT)), "2026-11-30T08:00", []),
    ("skipped this week: nothing", WEEK, facts(IssueFacts("2026-W49", S.SKIPPED)),
     "2026-11-30T08:00", []),
    ("cancelled: nothing", WEEK, facts(IssueFacts("2026-W49", S.CANCELLED)),
     "2026-11-30T08:00", []),
    ("next week's draft made early is never sent before its week", WEEK,
     facts(IssueFacts("2026-W50", S.APPROVED)), "2026-12-03T09:30", []),
    ("next week's draft is due on Thursday, this week's issue sent", WEEK,
     facts(IssueFacts("2026-W49", S.SENT)), "2026-12-03T09:00",
     [Draft("2026-W50", at("2026-12-07T07:00"))]),
    ("Send at later this week: nothing at the slot", WEEK,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-11-30T10:00"))),
     "2026-11-30T07:00", []),
    ("Send at later this week: sends at that time", WEEK,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-11-30T10:00"))),
     "2026-11-30T10:00", [Send("2026-W49", at("2026-11-30T10:00"))]),
    ("Send at: late_by counts from the new time", WEEK,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-12-02T10:00"))),
     "2026-12-03T09:59", [Send("2026-W49", at("2026-12-02T10:00")),
                          Draft("2026-W50", at("2026-12-07T07:00"))]),
    ("Send now during the week, before the slot", WEEK,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-11-30T06:00"))),
     "2026-11-30T06:00", [Send("2026-W49", at("2026-11-30T06:00"))]),
    ("Send at before the week has begun: waits for the week", WEEK,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-11-27T10:00"))),
     "2026-11-27T10:00", []),
    ("Send now after the deadline (the admin's explicit send): sends", WEEK,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-12-02T09:00")),
           done=("hold:2026-W49", "late:2026-W49")), "2026-12-02T09:00",
     [Send("2026-W49", at("2026-12-02T09:00"))]),
    ("Send at earlier than a Friday slot, machine down past its deadline: late", FRIDAY,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-12-01T09:00"))),
     "2026-12-03T12:00", [Late("2026-W49", at("2026-12-02T09:00"), True)]),
    ("Send at earlier than a Friday slot, approved after its deadline: late", FRIDAY,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-12-01T09:00"),
                      approved_at=at("2026-12-03T09:00"))),
     "2026-12-03T12:00", [Late("2026-W49", at("2026-12-02T09:00"), True)]),
    ("Send at earlier than a Friday slot, approved by its deadline: sends", FRIDAY,
     facts(IssueFacts("2026-W49", S.APPROVED, send_at=at("2026-12-01T09:00"),
                      approved_at=at("2026-12-02T08:00"))),
     "2026-12-03T12:00", [Send("2026-W49", at("2026-12-01T09:00"))]),
    ("Send at later, not approved, reminder before it", WEEK,
     facts(IssueFacts("2026-W49", S.DRAFT, send_at=at("2026-11-30T20:00"))),
     "2026-11-30T08:00", [Remind("2026-W49", at("2026-11-30T20:00"))]),
    ("one-step cron at the slot: draft (then send)", ONE_STEP, facts(), "2026-11-30T07:00",
     [Draft("2026-W49", W49_SLOT)]),
    ("one-step cron before the slot: nothing", ONE_STEP, facts(), "2026-11-30T06:59", []),
    ("one-step cron, drafted: send", ONE_STEP, facts(DRAFT), "2026-11-30T07:00",
     [Send("2026-W49", W49_SLOT)]),
]


@pytest.mark.parametrize(("name", "timeline", "given", "now", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_decide(name: str, timeline: Timeline, given: Facts, now: str,
                expected: list[object]) -> None:
    assert decide(timeline, given, at(now)) == expected


def test_a_second_decision_with_the_actions_done_is_empty() -> None:
    now = at("2026-11-30T07:00")
    first = decide(WEEK, facts(APPROVED), now)
    assert decide(WEEK, facts(APPROVED, done=tuple(a.key for a in first)), now) == []


# -- DST: America/Chicago springs forward on 8 March 2026 (02:00 -> 03:00) and falls back on
# 1 November 2026 (02:00 -> 01:00). Slots at 02:30 (missing in spring) and 01:30 (twice in
# autumn), on a Sunday, both as draft and as send slot.

SPRING_SEND = Timeline("30 2 * * fri", "30 2 * * sun", CHI, "required",
                       timedelta(hours=24), timedelta(hours=12))
SPRING_DRAFT = Timeline("30 2 * * sun", "0 7 * * mon", CHI, "required",
                        timedelta(hours=24), timedelta(hours=12))
FALL_SEND = Timeline("30 1 * * fri", "30 1 * * sun", CHI, "required",
                     timedelta(hours=24), timedelta(hours=12))
FALL_DRAFT = Timeline("30 1 * * sun", "0 7 * * mon", CHI, "required",
                      timedelta(hours=24), timedelta(hours=12))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DST_CASES = [
    # Spring: 02:30 does not exist on 8 March; the slot is when the clock has passed it,
    # 03:30 CDT (08:30 UTC), once.
    ("spring send slot, an hour before it", SPRING_SEND,
     facts(IssueFacts("2026-W10", S.APPROVED)), utc("2026-03-08T08:29"), []),
    ("spring send slot, once the clock passed 02:30", SPRING_SEND,
     facts(IssueFacts("2026-W10", S.APPROVED)), utc("2026-03-08T08:30"),
     [Send("2026-W10", utc("2026-03-08T08:30"))]),
    ("spring draft slot: before", SPRING_DRAFT, facts(), utc("2026-03-08T08:29"), []),
    ("spring draft slot: at 03:30 CDT", SPRING_DRAFT, facts(), utc("2026-03-08T08:30"),
     [Draft("2026-W11", utc("2026-03-09T12:00"))]),
    # Autumn: 01:30 happens at 06:30 UTC (CDT) and again at 07:30 UTC (CST); the first is
    # the slot, and the second is not a second slot.
    ("fall send slot, first 01:30", FALL_SEND, facts(IssueFacts("2026-W44", S.APPROVED)),
     utc("2026-11-01T06:30"), [Send("2026-W44", utc("2026-11-01T06:30"))]),
    ("fall send slot, second 01:30 after the send: nothing", FALL_SEND,
     facts(IssueFacts("2026-W44", S.SENT)), utc("2026-11-01T07:30"), []),
    ("fall send slot, not approved: the deadline is 24 h of real time", FALL_SEND,
     facts(IssueFacts("2026-W44", S.DRAFT)), utc("2026-11-01T07:30"),
     [Hold("2026-W44", utc("2026-11-01T06:30"), utc("2026-11-02T06:30"))]),
    ("fall draft slot, first 01:30: draft", FALL_DRAFT, facts(), utc("2026-11-01T06:30"),
     [Draft("2026-W45", utc("2026-11-02T13:00"))]),
    ("fall draft slot, second 01:30 after drafting: nothing", FALL_DRAFT,
     facts(IssueFacts("2026-W45", S.DRAFT)), utc("2026-11-01T07:30"), []),
]


@pytest.mark.parametrize(("name", "timeline", "given", "now", "expected"), DST_CASES,
                         ids=[c[0] for c in DST_CASES])
def test_decide_across_dst(name: str, timeline: Timeline, given: Facts, now: datetime,
                           expected: list[object]) -> None:
    assert decide(timeline, given, now) == expected


def test_a_repeated_wall_clock_time_is_one_slot() -> None:
    times = fire_times("30 1 * * *", CHI, utc("2026-10-31T00:00"), utc("2026-11-02T00:00"))
    assert [t.astimezone(UTC) for t in times] == [utc("2026-10-31T06:30"),
                                                  utc("2026-11-01T06:30")]


def test_cycles_around_a_slot() -> None:
    assert previous_cycle(WEEK, W49_SLOT).period == "2026-W49"  # type: ignore[union-attr]
    assert next_cycle(WEEK, W49_SLOT).period == "2026-W50"
    assert next_cycle(WEEK, W49_SLOT - timedelta(seconds=1)).send_at == W49_SLOT
    assert next_cycle(WEEK, W49_SLOT).draft_at == at("2026-12-03T09:00")


# -- what comes next (`insights status`, the scheduler's "next run at") ----------------

NEXT_CASES = [
    # (name, facts, now local, expected moment local, expected actions)
    ("before the draft: the draft", facts(), "2026-11-25T12:00", "2026-11-26T09:00",
     [Draft("2026-W49", W49_SLOT)]),
    ("drafted: the reminder", facts(DRAFT, done=("draft:2026-W49",)), "2026-11-26T09:00",
     "2026-11-29T19:00", [Remind("2026-W49", W49_SLOT)]),
    ("approved: the send", facts(APPROVED), "2026-11-27T10:00", "2026-11-30T07:00",
     [Send("2026-W49", W49_SLOT)]),
    ("reminded, still a draft: the hold at the slot",
     facts(DRAFT, done=("remind:2026-W49",)), "2026-11-29T20:00", "2026-11-30T07:00",
     [Hold("2026-W49", W49_SLOT, DEADLINE)]),
    ("held: late, a second past the deadline", facts(DRAFT, done=("hold:2026-W49",)),
     "2026-11-30T08:00", "2026-12-01T07:00:01", [Late("2026-W49", DEADLINE, False)]),
    ("sent: next week's draft", facts(IssueFacts("2026-W49", S.SENT)), "2026-11-30T08:00",
     "2026-12-03T09:00", [Draft("2026-W50", at("2026-12-07T07:00"))]),
    ("Send at later this week: then", facts(IssueFacts(
        "2026-W49", S.APPROVED, send_at=at("2026-12-01T10:00"))), "2026-11-30T08:00",
     "2026-12-01T10:00", [Send("2026-W49", at("2026-12-01T10:00"))]),
]


@pytest.mark.parametrize(("name", "given", "now", "moment", "expected"), NEXT_CASES,
                         ids=[c[0] for c in NEXT_CASES])
def test_next_due(name: str, given: Facts, now: str, moment: str,
                  expected: list[object]) -> None:
    assert next_due(WEEK, given, at(now)) == (at(moment), expected)


def test_an_issues_slot_is_its_weeks_or_its_own() -> None:
    monday = at("2026-11-30T00:00")
    assert issue_slot(WEEK, monday) == (W49_SLOT, DEADLINE)
    own = at("2026-12-02T10:00")
    assert issue_slot(WEEK, monday, own) == (own, own + timedelta(hours=24))


W50_SLOT = datetime(2026, 12, 7, 7, 0, tzinfo=CHI)
DRAFT_CASES = [
    # (name, facts, now local, the draft `insights draft` makes)
    ("ahead of the draft slot: the next week's", facts(), "2026-11-24T10:00",
     Draft("2026-W49", W49_SLOT)),
    ("at the draft slot: the one due", facts(), "2026-11-26T09:00",
     Draft("2026-W49", W49_SLOT)),
    ("a machine down over the draft slot: the one due, after its slot", facts(),
     "2026-11-30T08:00", Draft("2026-W49", W49_SLOT)),
    ("skipped as nothing new: that week's again", facts(done=("draft:2026-W49",)),
     "2026-11-27T10:00", Draft("2026-W49", W49_SLOT)),
    ("drafted already: that week's (the command says it exists)", facts(DRAFT),
     "2026-11-27T10:00",
     Draft("2026-W49", W49_SLOT)),
    ("this week's sent: the next week's, ahead", facts(IssueFacts("2026-W49", S.SENT)),
     "2026-11-30T09:00", Draft("2026-W50", W50_SLOT)),
    ("past the deadline undrafted: the next week's", facts(), "2026-12-01T08:00",
     Draft("2026-W50", W50_SLOT)),
]


@pytest.mark.parametrize(("name", "given", "now", "expected"), DRAFT_CASES,
                         ids=[c[0] for c in DRAFT_CASES])
def test_the_draft_an_editor_asks_for(name: str, given: Facts, now: str,
                                      expected: Draft) -> None:
    assert draft_to_make(WEEK, given, at(now)) == expected
