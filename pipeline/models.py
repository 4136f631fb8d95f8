"""Records passed between the stages. Frozen: a stage returns new records, never edits."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

SECTIONS = ("news", "research", "events")
SECTION_TITLES = {
    "news": "Society news",
    "research": "Research highlights",
    "events": "Upcoming events",
}


def canonical_url(url: str | None) -> str | None:
    """A URL reduced to what identifies the page: no fragment, no tracking query, no case."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    query = "&".join(
        q for q in parts.query.split("&") if q and not q.lower().startswith(("utm_", "fbclid"))
    )
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", parts.netloc.lower().removeprefix("www."), path, query, ""))


@dataclass(frozen=True)
class Item:
    """One entry from one source: a news post, a paper or an event."""

    source: str
    guid: str
    section: str
    title: str
    link: str | None = None
    summary_html: str = ""
    authors: tuple[str, ...] = ()
    journal: str | None = None
    doi: str | None = None
    pmid: str | None = None
    published_at: datetime | None = None
    event_start: datetime | None = None
    event_end: datetime | None = None
    event_all_day: bool = False
    event_timezone: str | None = None
    event_location: str | None = None
    # A recurring event's occurrences share a series (the calendar's UID) and its repeat
    # rule (an iCalendar RRULE such as "FREQ=MONTHLY;BYDAY=2TH"): an issue lists one.
    event_series: str | None = None
    event_recurrence: str | None = None
    topics: tuple[str, ...] = ()
    id: int | None = None
    first_seen_at: datetime | None = None

    @property
    def canonical_url(self) -> str | None:
        return canonical_url(self.link)

    @property
    def content_hash(self) -> str:
        payload = [self.title, self.link, self.summary_html, list(self.authors), self.journal,
                   self.event_start.isoformat() if self.event_start else None,
                   self.event_location]
        if self.event_series:  # only then: every other item keeps the hash it was stored with
            payload += [self.event_series, self.event_recurrence]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


@dataclass(frozen=True)
class Period:
    """One schedule period: the ISO week in the newsletter's time zone."""

    id: str  # "2026-W48"
    start: datetime  # aware, local midnight Monday
    end: datetime


@dataclass(frozen=True)
class IssueContent:
    """What an issue holds, section by section, before any segment tailoring."""

    sections: dict[str, tuple[Item, ...]]
    new_item_ids: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Issue:
    id: str
    number: int
    period_start: datetime
    period_end: datetime
    status: str
    editor_note: str = ""
    created_at: datetime | None = None
    sent_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    # sha256 of the variants as approved, and their subjects and texts (for the diff an
    # editor sees after a later change returned the issue to draft)
    approved_hash: str | None = None
    approved_content: dict[str, Any] | None = None
    dropped: frozenset[int] = frozenset()  # editors' overrides (see variants.Overrides)
    pinned: tuple[int, ...] = ()
    send_at: datetime | None = None  # an editor's "Send now" / "Send at ...": its own slot
    paused_at: datetime | None = None  # an editor paused its send
    paused_by: str | None = None
    # Editors' content (see pipeline/content_edits.py): the lead story, the sections'
    # order, the subject and preheader for this issue (None: not overridden).
    lead_item_id: int | None = None
    section_order: tuple[str, ...] = ()
    subject: str | None = None
    preheader: str | None = None
    archive_hidden: bool = False  # an editor hid it from the public archive


# Items an editor added by hand are stored as items of this source (never a feed's name:
# source names come from the config, where this one is refused by its colon).
EDITOR_SOURCE = "editor:"


@dataclass(frozen=True)
class ItemEdit:
    """What editors gave one item of one issue: their headline and teaser (Markdown)
    instead of the feed's (None: the feed's; "" teaser: none), and for the items they
    added, an image and whether it is a sponsor's block."""

    title: str | None = None
    teaser: str | None = None
    image_url: str | None = None
    image_alt: str | None = None
    sponsored: bool = False
    added: bool = False  # added by hand (source EDITOR_SOURCE), not from a feed


@dataclass(frozen=True)
class RenderedVariant:
    segment: str
    subject: str
    html: str
    text: str

    @property
    def html_bytes(self) -> int:
        return len(self.html.encode("utf-8"))


class Recipient(NamedTuple):
    """One person in one send. (A NamedTuple: a send may make a million.)"""

    subscriber_id: int
    email: str
    first_name: str
    segment: str
    lists: tuple[str, ...] = ()
    # The backend's per-recipient part of a request, when the process that resolved the
    # audience worked it out (see Backend.preparer): a send builds it off this core.
    prepared: bytes | None = None


@dataclass
class SourceReport:
    name: str
    new: int = 0
    seen: int = 0
    failed: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    not_modified: bool = False
    consecutive_failures: int = 0
    last_success_at: datetime | None = None
    flagged: bool = False  # failing for `gather.flag_after_failures` runs in a row


@dataclass
class SegmentReport:
    segment: str
    recipients: int
    subject: str
    html_bytes: int
    items: int


@dataclass
class RunReport:
    now: datetime
    period: str
    sources: list[SourceReport] = field(default_factory=list)
    segments: list[SegmentReport] = field(default_factory=list)
    issue_id: str | None = None
    issue_number: int | None = None
    status: str = ""  # built|already-sent|skipped|awaiting-approval|sent
    message: str = ""
    output: str | None = None
    delivered: int = 0
    archive: str = ""  # what publishing said after the send completed (pipeline/publish)
