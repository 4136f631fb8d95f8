"""Issues, the items placed in them, and their rendered variants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..models import Issue, Item, RenderedVariant
from .records import _issue_from_row, _item_from_row
from .schema import (
    issue_items,
    issues,
    items,
    variants,
)


class IssuesMixin:
    engine: Engine

    # -- issues --------------------------------------------------------------------------

    def get_issue(self, issue_id: str) -> Issue | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(issues).where(issues.c.id == issue_id)).first()
        return _issue_from_row(row) if row else None

    def list_issues(self, *, with_approved_content: bool = True) -> list[Issue]:
        """Newest first. Without `with_approved_content` each issue's approved_content
        (every variant's approved texts, for the approval diff) is left unread: None."""
        columns = [c for c in issues.c
                   if with_approved_content or c.name != "approved_content"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(*columns).order_by(issues.c.number.desc()))
            return [_issue_from_row(r) for r in rows]

    def issue_counts(self) -> dict[str, tuple[int, int]]:
        """issue -> (items placed, variants rendered), counted in SQL: the issues list
        reads no item and no variant's HTML."""
        with self.engine.connect() as conn:
            placed: dict[str, int] = dict(conn.execute(select(issue_items.c.issue_id, func.count())
                                       .group_by(issue_items.c.issue_id)).all())
            rendered: dict[str, int] = dict(conn.execute(select(variants.c.issue_id, func.count())
                                         .group_by(variants.c.issue_id)).all())
        return {issue: (int(placed.get(issue, 0)), int(rendered.get(issue, 0)))
                for issue in placed.keys() | rendered.keys()}

    def latest_open_issue(self, begun_by: datetime | None = None) -> Issue | None:
        """The newest issue not yet sent, superseded nor cancelled (what `preview` and
        `send` work on); with `begun_by`, the newest whose week had begun by then."""
        query = select(issues).where(issues.c.status.not_in(["sent", "skipped", "cancelled"]))
        if begun_by is not None:
            query = query.where(issues.c.period_start <= begun_by)
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(issues.c.number.desc()).limit(1)).first()
        return _issue_from_row(row) if row else None

    def create_issue(
        self, issue_id: str, period_start: datetime, period_end: datetime,
        sections: Mapping[str, Sequence[Item]], new_ids: frozenset[int], now: datetime,
    ) -> Issue:
        try:
            with self.engine.begin() as conn:
                number = (conn.execute(select(func.max(issues.c.number))).scalar() or 0) + 1
                conn.execute(insert(issues).values(
                    id=issue_id, number=number, period_start=period_start,
                    period_end=period_end, status="draft", editor_note="",
                    created_at=now, updated_at=now,
                ))
                rows = [
                    {"issue_id": issue_id, "item_id": item.id, "section": section,
                     "position": pos, "is_new": item.id in new_ids}
                    for section, entries in sections.items()
                    for pos, item in enumerate(entries)
                ]
                if rows:
                    conn.execute(insert(issue_items), rows)
        except SQLAlchemyError as e:
            raise StoreError(f"could not create issue {issue_id}: {e}") from e
        issue = self.get_issue(issue_id)
        assert issue is not None
        return issue

    def supersede_unsent(self, newer_than: int, now: datetime) -> list[str]:
        """Drafts and approved issues older than issue `newer_than` that never began
        sending: their items are in the newer issue, so they become "skipped" (never
        sent later, which would repeat those items)."""
        with self.engine.begin() as conn:
            stale = list(conn.execute(select(issues.c.id).where(
                issues.c.number < newer_than,
                issues.c.status.in_(["draft", "approved"]))).scalars())
            if stale:
                conn.execute(update(issues).where(issues.c.id.in_(stale))
                             .values(status="skipped", updated_at=now))
        return stale

    def issue_sections(self, issue_id: str) -> dict[str, list[Item]]:
        query = (
            select(items, issue_items.c.section.label("placed_in"))
            .join(issue_items, issue_items.c.item_id == items.c.id)
            .where(issue_items.c.issue_id == issue_id)
            .order_by(issue_items.c.section, issue_items.c.position)
        )
        out: dict[str, list[Item]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                out.setdefault(row.placed_in, []).append(_item_from_row(row))
        return out

    def item_in_issue(self, item_id: int, statuses: Sequence[str]) -> bool:
        """Whether an issue in one of `statuses` carries the item."""
        query = (select(issue_items.c.item_id)
                 .join(issues, issues.c.id == issue_items.c.issue_id)
                 .where(issue_items.c.item_id == item_id, issues.c.status.in_(list(statuses)))
                 .limit(1))
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def set_issue_status(self, issue_id: str, status: str, now: datetime,
                         *, expect: Sequence[str] | None = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "sent":
            values["sent_at"] = now
        query = update(issues).where(issues.c.id == issue_id)
        if expect:
            query = query.where(issues.c.status.in_(list(expect)))
        with self.engine.begin() as conn:
            changed = conn.execute(query.values(**values)).rowcount
        if expect and changed != 1:
            raise StoreError(
                f"issue {issue_id} is not in state {' or '.join(expect)}; refusing to mark {status}"
            )

    def approve_issue(self, issue_id: str, approver: str, now: datetime, content_hash: str,
                      content: dict[str, Any]) -> None:
        """Record who approved which content (see pipeline.editing.approve). An approved
        issue may be approved again: its content may have been re-rendered since."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(issues).where(issues.c.id == issue_id,
                                     issues.c.status.in_(["draft", "approved"]))
                .values(status="approved", approved_by=approver, approved_at=now,
                        approved_hash=content_hash, approved_content=content, updated_at=now)
            ).rowcount
        if changed != 1:
            issue = self.get_issue(issue_id)
            state = f"is {issue.status}" if issue else "does not exist"
            raise StoreError(f"issue {issue_id} {state}; only a draft can be approved")

    def _edit(self, conn: Connection, issue_id: str, now: datetime, **values: Any) -> None:
        """Apply an editor's change. Any change returns an approved issue to draft: what
        was approved is no longer what would be sent. The approved content is kept, so
        the editor can see what changed since."""
        changed = conn.execute(
            update(issues).where(issues.c.id == issue_id,
                                 issues.c.status.in_(["draft", "approved"]))
            .values(**values, status="draft", approved_by=None, approved_at=None,
                    updated_at=now)
        ).rowcount
        if changed != 1:
            issue = self.get_issue(issue_id)
            state = f"is {issue.status}" if issue else "does not exist"
            raise StoreError(f"issue {issue_id} {state}; only a draft or approved issue "
                             "can be edited")

    def set_editor_note(self, issue_id: str, note: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            self._edit(conn, issue_id, now, editor_note=note)

    def set_overrides(self, issue_id: str, dropped: Iterable[int], pinned: Sequence[int],
                      now: datetime) -> None:
        with self.engine.begin() as conn:
            self._edit(conn, issue_id, now,
                       overrides={"dropped": sorted(set(dropped)), "pinned": list(pinned)})

    def move_item(self, issue_id: str, item_id: int, step: int, now: datetime) -> bool:
        """Move an item one place up (-1) or down (+1) within its section; False when it
        is already first or last there."""
        with self.engine.begin() as conn:
            row = conn.execute(select(issue_items.c.section, issue_items.c.position).where(
                issue_items.c.issue_id == issue_id, issue_items.c.item_id == item_id)).first()
            if row is None:
                raise StoreError(f"item {item_id} is not in issue {issue_id}")
            placed = [r.item_id for r in conn.execute(
                select(issue_items.c.item_id).where(issue_items.c.issue_id == issue_id,
                                                    issue_items.c.section == row.section)
                .order_by(issue_items.c.position))]
            at = placed.index(item_id)
            to = at + step
            if not 0 <= to < len(placed):
                return False
            placed[at], placed[to] = placed[to], placed[at]
            for position, moved in enumerate(placed):
                conn.execute(update(issue_items).where(
                    issue_items.c.issue_id == issue_id, issue_items.c.item_id == moved)
                    .values(position=position))
            self._edit(conn, issue_id, now)
        return True

    # -- variants ------------------------------------------------------------------------

    def save_variants(self, issue_id: str, rendered: Sequence[RenderedVariant],
                      now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(variants.delete().where(variants.c.issue_id == issue_id))
            if rendered:
                conn.execute(insert(variants), [
                    {"issue_id": issue_id, "segment": v.segment, "subject": v.subject,
                     "html": v.html, "text": v.text, "rendered_at": now} for v in rendered
                ])

    def variant_subjects(self) -> dict[str, dict[str, str]]:
        """issue -> segment -> its variant's subject (segments in order): the issues
        list's subjects without reading any variant's HTML or text."""
        out: dict[str, dict[str, str]] = {}
        with self.engine.connect() as conn:
            for issue_id, segment, subject in conn.execute(
                    select(variants.c.issue_id, variants.c.segment, variants.c.subject)
                    .order_by(variants.c.issue_id, variants.c.segment)):
                out.setdefault(issue_id, {})[segment] = subject
        return out

    def get_variants(self, issue_id: str) -> list[RenderedVariant]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(variants).where(variants.c.issue_id == issue_id)
                                .order_by(variants.c.segment))
            return [RenderedVariant(r.segment, r.subject, r.html, r.text) for r in rows]
