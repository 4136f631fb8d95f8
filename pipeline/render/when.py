"""When an event is, in words: one function for every page that shows it (the email's
HTML and text parts, the web version, the admin and the .ics we serve). Pure.

Decisions (see README, "Events"):
- Times are shown in the newsletter's zone with its abbreviation ("Thu 10 Dec, 11:00
  CST"): every reader of one issue sees one time. When the event's own zone has another
  offset at that moment, its wall-clock time follows ("(18:00 Paris time)"), since that
  is what the organiser announces.
- An all-day event is a date, not an instant: stored as midnight UTC of that date, it is
  read back in UTC and never converted, so 10 Dec is 10 Dec in every zone.
- The year is left out when it is the reader's (`year`), as people write dates.
- A series says how it repeats and gives the next session ("Monthly, next: ...").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..models import Item

_FREQUENCIES = {"DAILY": ("Daily", "days"), "WEEKLY": ("Weekly", "weeks"),
                "MONTHLY": ("Monthly", "months"), "YEARLY": ("Yearly", "years")}
# Zones a calendar names when it has none of its own (times written with "Z").
_NO_OWN_ZONE = {"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z"}


def repeat_label(rule: str | None) -> str:
    """An RRULE in words: "FREQ=MONTHLY;BYDAY=2TH" -> "Monthly"; INTERVAL=2 on a weekly
    rule -> "Every 2 weeks"; anything else that repeats -> "Repeats"."""
    parts = dict(p.partition("=")[::2] for p in (rule or "").upper().split(";") if p)
    frequency = _FREQUENCIES.get(parts.get("FREQ", ""))
    if frequency is None:
        return "Repeats"
    interval = parts.get("INTERVAL", "1")
    if interval.isdigit() and int(interval) > 1:
        return f"Every {int(interval)} {frequency[1]}"
    return frequency[0]


def _day(day: date, year: int | None, month: bool = True) -> str:
    text = f"{day:%a} {day.day}"
    if month:
        text += f" {day:%b}"
        if day.year != year:
            text += f" {day.year}"
    return text


def _days(first: date, last: date, year: int | None) -> str:
    """"Tue 15 Dec"; "Mon 14 – Wed 16 Dec"; "Mon 30 Nov – Wed 2 Dec";
    "Thu 31 Dec 2026 – Fri 1 Jan 2027"."""
    if last <= first:
        return _day(first, year)
    if (first.year, first.month) == (last.year, last.month):
        return f"{_day(first, year, month=False)} – {_day(last, year)}"
    if first.year == last.year:
        return f"{_day(first, last.year)} – {_day(last, year)}"
    return f"{_day(first, None)} – {_day(last, None)}"


def _own_zone(name: str | None) -> ZoneInfo | None:
    if not name or name in _NO_OWN_ZONE:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _zone_place(zone: ZoneInfo) -> str | None:
    """"Europe/Paris" -> "Paris"; "America/Indiana/Indianapolis" -> "Indianapolis"."""
    area, _, place = zone.key.rpartition("/")
    return place.replace("_", " ") if area and area != "Etc" else None


def _their_time(start: datetime, shown: datetime, zone: ZoneInfo | None) -> str:
    """The event's own wall-clock time, when it differs from the one shown."""
    if zone is None:
        return ""
    theirs = start.astimezone(zone)
    if theirs.utcoffset() == shown.utcoffset():
        return ""
    day = f"{theirs:%a} " if theirs.date() != shown.date() else ""
    place = _zone_place(zone)
    where = f"{place} time" if place else f"{theirs:%Z} local time"
    return f" ({day}{theirs:%H:%M} {where})"


def event_dates(start: datetime, end: datetime | None, all_day: bool,
                tz: ZoneInfo) -> tuple[date, date]:
    """The first and last day the event takes, as its readers count them."""
    if all_day:  # a date: read back in UTC, where it was stored, never converted
        first = start.astimezone(UTC).date()
        return first, end.astimezone(UTC).date() if end else first
    first = start.astimezone(tz).date()
    if end is None or end <= start:
        return first, first
    # An event ending at midnight ends the day before.
    return first, (end - timedelta(microseconds=1)).astimezone(tz).date()


def event_when(start: datetime, end: datetime | None = None, *, tz: ZoneInfo,
               all_day: bool = False, zone: str | None = None, year: int | None = None,
               repeats: str | None = None) -> str:
    """"Thu 10 Dec, 11:00 CST (18:00 Paris time)", "Tue 15 Dec (all day)",
    "Sat 20 – Wed 24 Mar 2027, from 07:00 CDT (08:00 New York time)",
    "Monthly, next: Thu 10 Dec, 11:00 CST". `zone` is the event's own (IANA) zone,
    `year` the reader's (left out of dates in it), `repeats` the series' RRULE ("" for
    one without a rule) or None for a single event."""
    first, last = event_dates(start, end, all_day, tz)
    if all_day:
        text = _days(first, last, year) + (" (all day)" if last <= first else "")
    else:
        local = start.astimezone(tz)
        clock = f"{local:%H:%M} {local:%Z}" + _their_time(start, local, _own_zone(zone))
        if last > first:
            text = f"{_days(first, last, year)}, from {clock}"
        else:
            text = f"{_day(first, year)}, {clock}"
    if repeats is not None:
        return f"{repeat_label(repeats)}, next: {text}"
    return text


def item_when(item: Item, tz: ZoneInfo, year: int | None = None, *,
              series: bool = True) -> str:
    """event_when for a stored event; `series=False` for this session alone (a calendar
    entry is one session, not "next: ...")."""
    assert item.event_start is not None
    repeats = (item.event_recurrence or "") if series and item.event_series else None
    return event_when(item.event_start, item.event_end, tz=tz, all_day=item.event_all_day,
                      zone=item.event_timezone, year=year, repeats=repeats)


def item_day(item: Item, tz: ZoneInfo) -> date:
    """The (first) day of a stored event, for a calendar-style badge."""
    assert item.event_start is not None
    return event_dates(item.event_start, item.event_end, item.event_all_day, tz)[0]
