"""Events as readers expect them: one time, with its zone, on every page (render/when.py);
all-day dates never moved by a zone; a recurring series listed once; "Register" only for
a registration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.compose import compose_issue
from pipeline.gather.ics import parse_ics
from pipeline.models import Item
from pipeline.render.events import link_label
from pipeline.render.when import event_when, repeat_label

CHICAGO = ZoneInfo("America/Chicago")
PARIS = ZoneInfo("Europe/Paris")
EXAMPLES = Path(__file__).parent.parent / "examples" / "feeds"


def at(*args: int, tz: ZoneInfo = CHICAGO) -> datetime:
    return datetime(*args, tzinfo=tz)


def day(y: int, m: int, d: int) -> datetime:
    """An all-day event's date as gather stores it: midnight UTC."""
    return datetime(y, m, d, tzinfo=UTC)


WHEN = [
    # (start, end, options, expected)
    (at(2026, 12, 10, 18, 0), None, {}, "Thu 10 Dec, 18:00 CST"),
    (at(2026, 12, 10, 18, 0), at(2026, 12, 10, 19, 0), {}, "Thu 10 Dec, 18:00 CST"),
    # the year only when it is not the reader's
    (at(2027, 1, 21, 10, 0), None, {}, "Thu 21 Jan 2027, 10:00 CST"),
    (at(2027, 1, 21, 10, 0), None, {"year": None}, "Thu 21 Jan 2027, 10:00 CST"),
    # DST: the abbreviation follows the date, on either side of the change (1 Nov 2026,
    # 14 Mar 2027 in Chicago; Europe changes on other days, so offsets differ by 6 or 7 h)
    (at(2026, 10, 31, 12, 0), None, {}, "Sat 31 Oct, 12:00 CDT"),
    (at(2026, 11, 2, 12, 0), None, {}, "Mon 2 Nov, 12:00 CST"),
    (at(2027, 3, 15, 9, 0), None, {"year": 2027}, "Mon 15 Mar, 09:00 CDT"),
    # the event's own zone: the newsletter's time first, then theirs when it differs
    (at(2026, 12, 10, 18, 0, tz=PARIS), None, {"zone": "Europe/Paris"},
     "Thu 10 Dec, 11:00 CST (18:00 Paris time)"),
    (at(2027, 3, 20, 8, 0, tz=ZoneInfo("America/New_York")), None,
     {"zone": "America/New_York", "year": 2027}, "Sat 20 Mar, 07:00 CDT (08:00 New York time)"),
    # Paris in summer time, Chicago still in winter time... or the same offset: no repeat
    (at(2026, 10, 29, 18, 0, tz=PARIS), None, {"zone": "Europe/Paris"},
     "Thu 29 Oct, 12:00 CDT (18:00 Paris time)"),
    (at(2026, 12, 10, 18, 0), None, {"zone": "America/Chicago"}, "Thu 10 Dec, 18:00 CST"),
    (at(2026, 12, 10, 18, 0), None, {"zone": "America/Winnipeg"}, "Thu 10 Dec, 18:00 CST"),
    # their day differs: it is named
    (at(2026, 12, 11, 2, 0, tz=PARIS), None, {"zone": "Europe/Paris"},
     "Thu 10 Dec, 19:00 CST (Fri 02:00 Paris time)"),
    # zones that say nothing of a place
    (at(2026, 12, 10, 17, 0, tz=UTC), None, {"zone": "UTC"}, "Thu 10 Dec, 11:00 CST"),
    (at(2026, 12, 10, 17, 0, tz=UTC), None, {"zone": "Etc/GMT-3"},
     "Thu 10 Dec, 11:00 CST (20:00 +03 local time)"),
    (at(2026, 12, 10, 17, 0, tz=UTC), None, {"zone": "Not/AZone"}, "Thu 10 Dec, 11:00 CST"),
    # all day: the date itself, in every zone (midnight UTC is 18:00 the day before here)
    (day(2026, 12, 15), day(2026, 12, 16) - timedelta(seconds=1), {"all_day": True},
     "Tue 15 Dec (all day)"),
    (day(2026, 12, 15), None, {"all_day": True, "zone": "Pacific/Auckland"},
     "Tue 15 Dec (all day)"),
    (day(2026, 12, 14), day(2026, 12, 17) - timedelta(seconds=1), {"all_day": True},
     "Mon 14 – Wed 16 Dec"),
    (day(2026, 11, 30), day(2026, 12, 3) - timedelta(seconds=1), {"all_day": True},
     "Mon 30 Nov – Wed 2 Dec"),
    (day(2026, 12, 31), day(2027, 1, 2) - timedelta(seconds=1), {"all_day": True},
     "Thu 31 Dec 2026 – Fri 1 Jan 2027"),
    (day(2027, 1, 30), day(2027, 2, 2) - timedelta(seconds=1), {"all_day": True},
     "Sat 30 Jan – Mon 1 Feb 2027"),
    # several days with times: the days, and when it starts
    (at(2027, 3, 20, 8, 0, tz=ZoneInfo("America/New_York")),
     at(2027, 3, 24, 17, 0, tz=ZoneInfo("America/New_York")),
     {"zone": "America/New_York", "year": 2027},
     "Sat 20 – Wed 24 Mar, from 07:00 CDT (08:00 New York time)"),
    # ending at midnight ends the day before
    (at(2026, 12, 10, 20, 0), at(2026, 12, 11, 0, 0), {}, "Thu 10 Dec, 20:00 CST"),
    # series
    (at(2026, 12, 10, 18, 0), None, {"repeats": "FREQ=MONTHLY;BYDAY=2TH"},
     "Monthly, next: Thu 10 Dec, 18:00 CST"),
    (day(2026, 12, 15), None, {"all_day": True, "repeats": "FREQ=YEARLY"},
     "Yearly, next: Tue 15 Dec (all day)"),
]


@pytest.mark.parametrize(("start", "end", "options", "expected"), WHEN)
def test_event_when(start, end, options, expected):
    options = {"year": 2026, **options}
    assert event_when(start, end, tz=CHICAGO, **options) == expected


@pytest.mark.parametrize(("rule", "expected"), [
    ("FREQ=MONTHLY;BYDAY=2TH", "Monthly"), ("FREQ=WEEKLY", "Weekly"), ("FREQ=DAILY", "Daily"),
    ("FREQ=YEARLY;BYMONTH=3", "Yearly"), ("FREQ=WEEKLY;INTERVAL=2", "Every 2 weeks"),
    ("INTERVAL=3;FREQ=MONTHLY", "Every 3 months"), ("freq=weekly;interval=1", "Weekly"),
    ("FREQ=HOURLY", "Repeats"), ("", "Repeats"), (None, "Repeats"), ("garbage", "Repeats"),
])
def test_repeat_label(rule, expected):
    assert repeat_label(rule) == expected


@pytest.mark.parametrize(("url", "configured", "expected"), [
    ("https://www.example.org/events/tumor-board/register", None, "Register"),
    ("https://www.example.org/meeting/2027/registration", None, "Register"),
    ("https://example.org/e?action=rsvp", None, "Register"),
    ("https://www.eventbrite.com/e/ablation-123", None, "Register"),
    ("https://example.org/events/42/tickets", None, "Register"),
    ("https://www.example.org/meeting/2027/abstracts", None, "Details"),
    ("https://example.org/registry-of-outcomes", None, "Details"),  # not a registration
    ("https://example.org/bookshop", None, "Details"),
    (None, None, "Details"),
    ("https://www.example.org/meeting/2027/abstracts", "Submit", "Submit"),  # per source
    ("https://example.org/events/register", "Programme", "Programme"),
])
def test_link_label(url, configured, expected):
    assert link_label(url, configured) == expected


WINDOW = (datetime(2026, 11, 23, 13, tzinfo=UTC), datetime(2027, 3, 23, tzinfo=UTC))


def test_gather_marks_each_session_of_a_series():
    items, warnings = parse_ics("society-events", (EXAMPLES / "events.ics").read_bytes(),
                                *WINDOW)
    assert not warnings
    board = [i for i in items if i.title.startswith("IO Tumor Board")]
    assert [i.event_start for i in board] == [  # 14 January is an EXDATE
        datetime(2026, 12, 10, 17, tzinfo=UTC), datetime(2027, 2, 11, 17, tzinfo=UTC),
        datetime(2027, 3, 11, 17, tzinfo=UTC)]
    assert {(i.event_series, i.event_recurrence) for i in board} == {
        ("ios-event-tumor-board-monthly@example.org", "FREQ=MONTHLY;BYDAY=2TH")}
    single = [i for i in items if i not in board]
    assert single and all(i.event_series is None and i.event_recurrence is None
                          for i in single)
    [deadline] = [i for i in items if i.event_all_day]
    assert deadline.event_start == day(2026, 12, 15)


def test_an_issue_lists_a_series_once_by_its_next_session():
    items, _ = parse_ics("society-events", (EXAMPLES / "events.ics").read_bytes(), *WINDOW)
    items = [Item(**{**i.__dict__, "id": n}) for n, i in enumerate(items, 1)]
    content = compose_issue([], items, set(), 8)
    assert content is not None
    titles = [(i.title, i.event_start.date().isoformat()) for i in content.sections["events"]]
    assert titles.count(("IO Tumor Board (monthly, online)", "2026-12-10")) == 1
    assert sum(t.startswith("IO Tumor Board") for t, _ in titles) == 1
    assert len(titles) == 6
    # another calendar's series with the same UID is another series
    other = [Item(**{**i.__dict__, "source": "other", "title": "Regional board",
                     "id": i.id + 100}) for i in items if i.event_series]
    content = compose_issue([], items + other, set(), 20)
    assert content is not None
    assert [i.source for i in content.sections["events"] if i.event_series] == [
        "society-events", "other"]


def test_a_source_names_its_links(tmp_path):
    from .helpers import copy_project, edit_config, first_run

    project = copy_project(tmp_path)
    edit_config(project, 'kind = "ics"', 'kind = "ics"\nlink_label = "Programme"')
    _config, report = first_run(project)
    text = (project / "outbox" / report.issue_id / "general.txt").read_text()
    assert "Programme: https://www.example.org/meeting/2027/abstracts" in text
    assert "Register:" not in text and "Details:" not in text
