"""What the "view in browser" and "add to calendar" links in an issue open.

/issues/<issue>/<segment>: the variant as sent, with neutral values where each reader's
copy has their own (name, unsubscribe and preference links): a web version can be
forwarded and shared, so it must carry nobody's personal links.
/events/<item>.ics: one event as an iCalendar file.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..config import Config
from ..gather.sanitize import html_to_text
from ..models import Item
from ..ports import PublishedIssues
from ..render.placeholders import PLACEHOLDERS, fill
from ..render.sentences import shorten
from ..render.when import item_when
from .common import web
from .links import message

# "sending" too: the first readers open the link while later batches are still going.
PUBLISHED = ("sending", "sent")
MAX_ITEM_ID = 2**31 - 1  # an integer column: larger ids cannot exist (and upset PostgreSQL)
DESCRIPTION_CHARS = 2000


def neutral_values(config: Config) -> dict[str, str]:
    """Placeholder values for a copy that belongs to nobody in particular."""
    manage = f"{config.newsletter.base_url}/manage"
    return {
        PLACEHOLDERS["first_name"]: "colleague",  # what a reader without a name sees
        PLACEHOLDERS["first_name_html"]: "colleague",
        PLACEHOLDERS["unsubscribe_url"]: manage,
        PLACEHOLDERS["preferences_url"]: manage,
        PLACEHOLDERS["email"]: "",
    }


def published_html(store: PublishedIssues, issue_id: str, segment: str) -> str | None:
    """The variant's HTML as sent, or None when no published issue has it."""
    issue = store.get_issue(issue_id)
    if issue is None or issue.status not in PUBLISHED:
        return None
    variant = next((v for v in store.get_variants(issue_id) if v.segment == segment), None)
    return variant.html if variant else None


async def issue_web_version(request: Request) -> Response:
    w = web(request)
    html = await run_in_threadpool(published_html, w.store, request.path_params["issue_id"],
                                   request.path_params["segment"])
    if html is None:
        return message(request, "Issue not found",
                       "There is no published issue at this address.", 404)
    # The email's own HTML (rendered by us from sanitised content), as its own document.
    return HTMLResponse(fill(html, neutral_values(w.config)))


def event_calendar(config: Config, item: Item, now: datetime) -> bytes:
    """One event as a calendar file (pure). Times in UTC, which every calendar converts;
    an all-day event as dates (its stored end is inclusive, iCalendar's is exclusive).
    The description opens with the time as the issue showed it, zone included."""
    assert item.event_start is not None
    nl = config.newsletter
    host = nl.base_url.split("://", 1)[1].split("/", 1)[0]
    calendar = Calendar()
    calendar.add("prodid", f"-//{nl.society or nl.name}//{nl.name}//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"event-{item.id}@{host}")  # stable: adding it twice updates one entry
    event.add("dtstamp", now)
    if item.event_all_day:
        start = item.event_start.date()
        end = ((item.event_end + timedelta(seconds=1)).date() if item.event_end
               else start + timedelta(days=1))
        event.add("dtstart", start)
        event.add("dtend", max(end, start + timedelta(days=1)))
    else:
        event.add("dtstart", item.event_start)
        event.add("dtend", item.event_end if item.event_end and item.event_end > item.event_start
                  else item.event_start + timedelta(hours=1))
    event.add("summary", item.title)
    if item.link:
        event.add("url", item.link)
    if item.event_location:
        event.add("location", item.event_location)
    # The time as the email gave it (the newsletter's zone), above the organiser's text.
    when = item_when(item, nl.tz, series=False)
    description = f"{when}\n\n{shorten(html_to_text(item.summary_html), DESCRIPTION_CHARS)}"
    if item.link:
        description = f"{description}\n\n{item.link}".strip()
    event.add("description", description.strip())
    calendar.add_component(event)
    return calendar.to_ical()


def published_item(store: PublishedIssues, item_id: int) -> Item | None:
    """The item, if a published issue carried it: the ids count up, and a draft's events
    (or any item gathered but never sent) are not ours to publish yet."""
    if item_id > MAX_ITEM_ID or not store.item_in_issue(item_id, PUBLISHED):
        return None
    return store.get_item(item_id)


async def event_ics(request: Request) -> Response:
    w = web(request)
    item = await run_in_threadpool(published_item, w.store, request.path_params["item_id"])
    if item is None or item.section != "events" or item.event_start is None:
        return message(request, "Event not found", "There is no event at this address.", 404)
    return Response(event_calendar(w.config, item, w.clock()), media_type="text/calendar",
                    headers={"content-disposition": f'attachment; filename="event-{item.id}.ics"'})
