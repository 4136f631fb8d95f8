"""What a page shows of one event: when (see when.py), where, its badge and which words
its link gets. Pure."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ..models import Item
from .when import item_day, item_when

REGISTER = "Register"
DETAILS = "Details"
ONLINE = ("online", "virtual", "webinar")
# A link that says it signs people up: a path or query word, or a ticketing site.
_SIGN_UP = re.compile(r"(?<![a-z])(register|registration|signup|sign-up|enrol|enroll|"
                      r"enrolment|enrollment|rsvp|tickets?|book|booking)(?![a-z])")
_TICKETING = ("eventbrite.", "ti.to", "tickettailor.", "meetup.com")


def link_label(url: str | None, configured: str | None = None) -> str:
    """"Register" only for a registration link: the source's `link_label` when set, else
    "Register" when the URL says it signs people up, else "Details"."""
    if configured:
        return configured
    if not url:
        return DETAILS
    parts = urlsplit(url.lower())
    if any(t in parts.netloc + parts.path for t in _TICKETING):
        return REGISTER
    return REGISTER if _SIGN_UP.search(f"{parts.path}?{parts.query}") else DETAILS


def event_view(item: Item, tz: ZoneInfo, base_url: str, year: int | None = None,
               label: str | None = None) -> dict[str, Any]:
    """`year`: the issue's (dates in it are written without it); `label`: the source's
    configured link label, if any."""
    day = item_day(item, tz)
    location = item.event_location or ("" if item.event_all_day else "Online")
    return {
        "month": f"{day:%b}".upper(),
        "day": str(day.day),
        "when": item_when(item, tz, year),
        "location": location,
        "online": location.strip().casefold() in ONLINE,
        "link_label": link_label(item.link, label),
        "ics_url": f"{base_url}/events/{item.id}.ics" if item.id is not None else None,
    }
