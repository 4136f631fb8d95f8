"""Records the store hands out, and the row-to-record conversions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..models import Issue, Item


@dataclass(frozen=True)
class SaveResult:
    new: tuple[Item, ...]
    seen: int


@dataclass(frozen=True)
class SourceState:
    name: str
    etag: str | None
    last_modified: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None


@dataclass(frozen=True)
class Batch:
    id: int
    issue_id: str
    segment: str
    seq: int
    state: str
    size: int
    message_id: str | None
    error: str | None
    # When it last changed state; for a batch in flight or held as unknown, when its
    # request went out (holding it keeps that time: see LedgerMixin.hold_batch).
    updated_at: datetime | None = None


def _item_from_row(row: Any) -> Item:
    return Item(
        id=row.id, source=row.source, guid=row.guid, section=row.section, title=row.title,
        link=row.link, summary_html=row.summary_html, authors=tuple(row.authors or ()),
        journal=row.journal, doi=row.doi, pmid=row.pmid, published_at=row.published_at,
        event_start=row.event_start, event_end=row.event_end,
        event_all_day=bool(row.event_all_day), event_timezone=row.event_timezone,
        event_location=row.event_location, event_series=row.event_series,
        event_recurrence=row.event_recurrence, topics=tuple(row.topics or ()),
        first_seen_at=row.first_seen_at,
    )


def _issue_from_row(row: Any) -> Issue:
    return Issue(
        id=row.id, number=row.number, period_start=row.period_start, period_end=row.period_end,
        status=row.status, editor_note=row.editor_note, created_at=row.created_at,
        sent_at=row.sent_at, approved_by=row.approved_by, approved_at=row.approved_at,
        approved_hash=row.approved_hash,
        approved_content=getattr(row, "approved_content", None),
        dropped=frozenset((row.overrides or {}).get("dropped", ())),
        pinned=tuple((row.overrides or {}).get("pinned", ())),
        send_at=row.send_at, paused_at=row.paused_at, paused_by=row.paused_by,
        lead_item_id=row.lead_item_id, section_order=tuple(row.section_order or ()),
        subject=row.subject, preheader=row.preheader,
        archive_hidden=bool(row.archive_hidden),
    )
