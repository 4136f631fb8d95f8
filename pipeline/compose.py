"""Compose: decide what goes into this period's issue. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .models import SECTIONS, IssueContent, Item, Period


def period_for(now: datetime, tz: ZoneInfo) -> Period:
    """The ISO week containing `now` in the newsletter's time zone."""
    local = now.astimezone(tz)
    monday = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    year, week, _ = local.isocalendar()
    # Adding days to an aware datetime keeps the wall clock, so DST changes are harmless.
    return Period(id=f"{year}-W{week:02d}", start=monday, end=monday + timedelta(days=7))


def compose_issue(
    unissued: Iterable[Item],
    upcoming_events: Iterable[Item],
    issued_ids: set[int],
    max_per_section: int,
) -> IssueContent | None:
    """The issue's sections, or None when nothing is new (the issue is skipped).

    News and research: what no earlier issue carried, newest first. Events: every
    upcoming one within the horizon, soonest first, whether new or carried over, because
    readers need the reminder; but carried-over events alone never make an issue. A
    recurring event is listed once, by its next session.
    """
    by_section: dict[str, list[Item]] = {name: [] for name in SECTIONS}
    for item in unissued:
        if item.section in ("news", "research"):
            by_section[item.section].append(item)
    for section in ("news", "research"):
        by_section[section].sort(key=_newest_first)
        del by_section[section][max_per_section:]
    events = sorted(_dedupe_events(upcoming_events), key=lambda i: (i.event_start, i.title))
    events = _next_of_each_series(events)
    by_section["events"] = events[:max_per_section]
    new_ids = frozenset(
        item.id for section in by_section.values() for item in section
        if item.id is not None and item.id not in issued_ids
    )
    if not new_ids:
        return None
    return IssueContent(
        sections={k: tuple(v) for k, v in by_section.items() if v}, new_item_ids=new_ids
    )


def _newest_first(item: Item) -> tuple[float, str]:
    when = item.published_at or item.first_seen_at
    return (-(when.timestamp() if when else 0.0), item.title)


def _dedupe_events(events: Iterable[Item]) -> Sequence[Item]:
    """One occurrence per (title, start): the same meeting listed by two calendars."""
    seen: set[tuple[str, datetime | None]] = set()
    out = []
    for event in events:
        key = (event.title.casefold(), event.event_start)
        if key not in seen:
            seen.add(key)
            out.append(event)
    return out


def events_only(content: IssueContent) -> bool:
    """No news and no research: only reminders of events (skipped unless
    `compose.events_only_issues`)."""
    return not content.sections.get("news") and not content.sections.get("research")


def _next_of_each_series(events: Sequence[Item]) -> list[Item]:
    """The first of each recurring series' sessions (`events` soonest first): a monthly
    tumour board is one entry, "Monthly, next: ...", not one per month."""
    seen: set[tuple[str, str]] = set()
    out = []
    for event in events:
        if event.event_series:
            key = (event.source, event.event_series)
            if key in seen:
                continue
            seen.add(key)
        out.append(event)
    return out
