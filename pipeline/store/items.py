"""Items and source state: what gathering stores and composing reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..models import EDITOR_SOURCE, Item
from .bulk import new_id
from .records import SaveResult, SourceState, _item_from_row
from .schema import (
    issue_items,
    issues,
    items,
    source_state,
)


class ItemsMixin:
    engine: Engine

    # -- items ---------------------------------------------------------------------------

    def save_items(self, batch: Sequence[Item], now: datetime) -> SaveResult:
        """Insert what is new; an entry already stored (same source and guid, or the same
        paper or page from another source) is counted as seen. Edited text updates the
        stored copy but does not make the entry new again."""
        new: list[Item] = []
        seen = 0
        try:
            with self.engine.begin() as conn:
                for item in batch:
                    existing = conn.execute(
                        select(items.c.id, items.c.content_hash).where(
                            items.c.source == item.source, items.c.guid == item.guid
                        )
                    ).first()
                    if existing is not None:
                        seen += 1
                        if existing.content_hash != item.content_hash:
                            conn.execute(
                                update(items).where(items.c.id == existing.id)
                                .values(**self._item_values(item), updated_at=now)
                            )
                        continue
                    if self._duplicate_elsewhere(conn, item):
                        seen += 1
                        continue
                    row_id = new_id(conn.execute(
                        insert(items).values(
                            source=item.source, guid=item.guid, first_seen_at=now,
                            updated_at=now, **self._item_values(item),
                        )
                    ))
                    new.append(replace(item, id=row_id, first_seen_at=now))
        except SQLAlchemyError as e:
            raise StoreError(f"could not save items: {e}") from e
        return SaveResult(new=tuple(new), seen=seen)

    @staticmethod
    def _item_values(item: Item) -> dict[str, Any]:
        return dict(
            section=item.section, title=item.title, link=item.link,
            canonical_url=item.canonical_url, summary_html=item.summary_html,
            authors=list(item.authors), journal=item.journal, doi=item.doi, pmid=item.pmid,
            published_at=item.published_at, event_start=item.event_start,
            event_end=item.event_end, event_all_day=item.event_all_day,
            event_timezone=item.event_timezone, event_location=item.event_location,
            event_series=item.event_series, event_recurrence=item.event_recurrence,
            topics=list(item.topics), content_hash=item.content_hash,
        )

    @staticmethod
    def _duplicate_elsewhere(conn: Any, item: Item) -> bool:
        keys = []
        if item.doi:
            keys.append(items.c.doi == item.doi)
        if item.pmid:
            keys.append(items.c.pmid == item.pmid)
        if item.canonical_url and item.section != "events":
            # Recurring events share one URL across occurrences; only pages dedupe by URL.
            keys.append(items.c.canonical_url == item.canonical_url)
        if not keys:
            return False
        # An editor's item for one issue is no feed's copy: the feed's own page still comes.
        query = select(items.c.id).where(items.c.source != item.source,
                                         items.c.source != EDITOR_SOURCE, or_(*keys)).limit(1)
        return conn.execute(query).first() is not None

    def unissued_items(self, sections: Iterable[str], since: datetime) -> list[Item]:
        """Items of `sections` no sent (or sending) issue carried, dated (or first seen)
        since `since`. Items left out of a full issue, or in a draft that was never sent,
        stay available for the next one."""
        in_issue = self._delivered_item_ids()
        dated = func.coalesce(items.c.published_at, items.c.first_seen_at)
        query = (
            select(items)
            .where(items.c.section.in_(list(sections)), items.c.id.not_in(in_issue), dated >= since,
                   items.c.source != EDITOR_SOURCE)  # written for one issue, never composed
            .order_by(dated.desc(), items.c.id)
        )
        with self.engine.connect() as conn:
            return [_item_from_row(r) for r in conn.execute(query)]

    def get_item(self, item_id: int) -> Item | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(items).where(items.c.id == item_id)).first()
        return _item_from_row(row) if row else None

    def upcoming_events(self, start: datetime, end: datetime) -> list[Item]:
        query = (
            select(items)
            .where(items.c.section == "events", items.c.event_start >= start,
                   items.c.event_start < end, items.c.source != EDITOR_SOURCE)
            .order_by(items.c.event_start, items.c.id)
        )
        with self.engine.connect() as conn:
            return [_item_from_row(r) for r in conn.execute(query)]

    @staticmethod
    def _delivered_item_ids() -> Any:
        return (select(issue_items.c.item_id)
                .join(issues, issues.c.id == issue_items.c.issue_id)
                .where(issues.c.status.in_(["sending", "sent"])))

    def issued_item_ids(self) -> set[int]:
        """Items readers have been sent (or are being sent)."""
        with self.engine.connect() as conn:
            return set(conn.execute(self._delivered_item_ids()).scalars())

    # -- source state --------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(source_state).where(source_state.c.name == name)).first()
        return SourceState(**row._mapping) if row else None

    def all_source_states(self) -> list[SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_state).order_by(source_state.c.name))
            return [SourceState(**r._mapping) for r in rows]

    def record_source_result(
        self, name: str, now: datetime, *, error: str | None = None,
        etag: str | None = None, last_modified: str | None = None,
    ) -> SourceState:
        return self.record_source_results([(name, error, etag, last_modified)], now)[name]

    def record_source_results(
        self, results: Sequence[tuple[str, str | None, str | None, str | None]], now: datetime,
    ) -> dict[str, SourceState]:
        """Record each source's outcome (name, error, etag, last_modified) in one
        transaction; a failure increments its consecutive failures, a success resets."""
        names = [r[0] for r in results]
        with self.engine.begin() as conn:
            previous = {row.name: row for row in conn.execute(
                select(source_state).where(source_state.c.name.in_(names)))}
            for name, error, etag, last_modified in results:
                values: dict[str, Any] = {"last_attempt_at": now}
                if error is None:
                    values.update(last_success_at=now, consecutive_failures=0, last_error=None,
                                  etag=etag, last_modified=last_modified)
                else:
                    failures = previous[name].consecutive_failures if name in previous else 0
                    values.update(consecutive_failures=failures + 1, last_error=error)
                if name in previous:
                    conn.execute(update(source_state).where(source_state.c.name == name)
                                 .values(**values))
                else:
                    conn.execute(insert(source_state).values(name=name, **values))
            rows = conn.execute(select(source_state).where(source_state.c.name.in_(names)))
            return {row.name: SourceState(**row._mapping) for row in rows}
