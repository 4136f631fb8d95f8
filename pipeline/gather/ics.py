"""iCalendar bytes -> event Items; recurring events expanded within the horizon."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import recurring_ical_events
from icalendar import Calendar

from ..errors import SourceError
from ..models import Item
from .sanitize import plain, safe_url, text_to_html


def parse_ics(
    name: str, body: bytes, start: datetime, end: datetime
) -> tuple[list[Item], list[str]]:
    """Event occurrences starting in [start, end), one Item per occurrence."""
    try:
        calendar = Calendar.from_ical(body)
    except (ValueError, IndexError, KeyError) as e:
        raise SourceError(name, f"not an iCalendar file: {' '.join(str(e).split())[:200]}") from e
    warnings: list[str] = []
    try:
        occurrences = recurring_ical_events.of(calendar).between(start, end)
    except Exception as e:  # the library raises many kinds on bad RRULEs; report, don't crash
        raise SourceError(name, f"cannot expand events: {' '.join(str(e).split())[:200]}") from e
    rules = _repeat_rules(calendar)
    out = []
    for event in occurrences:
        try:
            item = _event_to_item(name, event, rules)
        except (ValueError, TypeError, KeyError) as e:
            warnings.append(f"event {event.get('UID', '?')} skipped: {e}")
            continue
        if item.event_start and start <= item.event_start < end:
            out.append(item)
    return out, warnings


def _repeat_rules(calendar: Calendar) -> dict[str, str]:
    """UID -> RRULE of each recurring event. The expanded occurrences no longer carry
    the rule, and without it every session of a series looks like a separate event."""
    rules = {}
    for event in calendar.walk("VEVENT"):
        uid = str(event.get("UID") or "").strip()
        rule = event.get("RRULE")
        if uid and rule is not None:
            rules[uid] = rule.to_ical().decode("ascii", "replace")
        elif uid and event.get("RDATE") is not None:
            rules.setdefault(uid, "")  # repeats on listed dates: a series without a rule
    return rules


def _as_utc(value: Any) -> tuple[datetime, bool, str | None]:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # "floating" time: treat as UTC rather than guess
            return value.replace(tzinfo=UTC), False, None
        return value.astimezone(UTC), False, str(value.tzinfo)
    if isinstance(value, date):
        return datetime.combine(value, time(0), UTC), True, None
    raise ValueError(f"unsupported date value {value!r}")


def _event_to_item(name: str, event: Any, rules: dict[str, str]) -> Item:
    uid = str(event.get("UID") or "").strip()
    dtstart = event.get("DTSTART")
    if dtstart is None:
        raise ValueError("no DTSTART")
    start, all_day, zone = _as_utc(dtstart.dt)
    dtend = event.get("DTEND")
    end = _as_utc(dtend.dt)[0] if dtend is not None else None
    if all_day and end is not None:
        end = end - timedelta(seconds=1)  # DTEND of an all-day event is exclusive
    summary = plain(str(event.get("SUMMARY") or ""))
    description = str(event.get("DESCRIPTION") or "")
    location = plain(str(event.get("LOCATION") or "")) or None
    return Item(
        source=name,
        guid=f"{uid or summary}@{start.isoformat()}",
        section="events",
        title=summary or "(untitled event)",
        link=safe_url(str(event.get("URL") or "")) or None,
        summary_html=text_to_html(description),
        published_at=None,
        event_start=start,
        event_end=end,
        event_all_day=all_day,
        event_timezone=zone,
        event_location=location,
        event_series=uid if uid in rules else None,
        event_recurrence=rules.get(uid) or None,
    )
