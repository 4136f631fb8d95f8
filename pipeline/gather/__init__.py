"""Gather: fetch every source, parse it, store what is new, record each source's health.

One failing source never stops the run: its failure is recorded and reported.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..config import Config, Source
from ..errors import SourceError, StoreError
from ..models import Item, SourceReport
from ..store.store import Store
from .feeds import parse_feed
from .fetch import fetch_http, fetch_local, make_client
from .ics import parse_ics

# A source failing this many runs in a row is flagged in the report.
FLAG_AFTER_FAILURES = 3


def parse_source(source: Source, body: bytes, url: str, now: datetime, horizon_days: int,
                 content_type: str | None = None) -> tuple[list[Item], list[str]]:
    if source.kind == "ics":
        return parse_ics(source.name, body, now, now + timedelta(days=horizon_days))
    return parse_feed(source.name, source.section, body, url, content_type)


def gather(config: Config, store: Store, now: datetime) -> list[SourceReport]:
    reports = []
    with make_client() as client:
        for source in config.sources:
            if source.enabled:
                reports.append(_gather_one(config, store, client, source, now))
    return reports


def _gather_one(config: Config, store: Store, client, source: Source,
                now: datetime) -> SourceReport:
    report = SourceReport(name=source.name)
    location = config.source_location(source)
    state = store.source_state(source.name)
    try:
        if location.startswith(("http://", "https://")):
            fetched = fetch_http(
                client, source.name, location,
                etag=state.etag if state else None,
                last_modified=state.last_modified if state else None,
            )
        else:
            fetched = fetch_local(source.name, location)
        if fetched.body is None:
            report.not_modified = True
            etag, modified = fetched.etag, fetched.last_modified
        else:
            found, report.warnings = parse_source(
                source, fetched.body, fetched.url, now, config.compose.horizon_days,
                fetched.content_type,
            )
            saved = store.save_items(found, now)
            report.new, report.seen = len(saved.new), saved.seen
            etag, modified = fetched.etag, fetched.last_modified
        state = store.record_source_result(source.name, now, etag=etag, last_modified=modified)
    except (SourceError, StoreError) as e:
        report.failed = True
        report.error = e.reason if isinstance(e, SourceError) else str(e)
        state = store.record_source_result(source.name, now, error=report.error)
    report.consecutive_failures = state.consecutive_failures
    return report
