"""Editors' content in an issue: items added by hand, per-issue headlines and teasers,
the lead story, the sections' order, the subject and the preheader. Every change goes
through IssuesMixin._edit: it returns an approved issue to draft."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from ..errors import StoreError
from ..models import EDITOR_SOURCE, Item, ItemEdit
from .bulk import new_id
from .issues import IssuesMixin
from .items import ItemsMixin
from .schema import editor_items, issue_items, issues, items


class ContentMixin(IssuesMixin):

    def issue_edits(self, issue_id: str) -> dict[int, ItemEdit]:
        """item id -> what editors gave it in this issue (only items with something)."""
        query = (
            select(issue_items.c.item_id, issue_items.c.title, issue_items.c.teaser,
                   editor_items.c.image_url, editor_items.c.image_alt,
                   editor_items.c.sponsored, editor_items.c.item_id.label("added"))
            .outerjoin(editor_items, editor_items.c.item_id == issue_items.c.item_id)
            .where(issue_items.c.issue_id == issue_id)
        )
        out: dict[int, ItemEdit] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                if row.title is None and row.teaser is None and row.added is None:
                    continue
                out[row.item_id] = ItemEdit(
                    title=row.title, teaser=row.teaser, image_url=row.image_url,
                    image_alt=row.image_alt, sponsored=bool(row.sponsored),
                    added=row.added is not None)
        return out

    def add_editor_item(self, issue_id: str, item: Item, *, teaser: str,
                        image_url: str | None, image_alt: str | None, sponsored: bool,
                        added_by: str, now: datetime) -> int:
        """Store an item written by an editor and place it first in its section."""
        stored = Item(source=EDITOR_SOURCE, guid=f"{issue_id}:{uuid.uuid4().hex}",
                      section=item.section, title=item.title, link=item.link,
                      event_start=item.event_start, event_location=item.event_location)
        with self.engine.begin() as conn:
            self._edit(conn, issue_id, now)
            item_id = new_id(conn.execute(insert(items).values(
                source=stored.source, guid=stored.guid, first_seen_at=now, updated_at=now,
                **ItemsMixin._item_values(stored))))
            first = conn.execute(select(func.min(issue_items.c.position)).where(
                issue_items.c.issue_id == issue_id,
                issue_items.c.section == item.section)).scalar()
            conn.execute(insert(issue_items).values(
                issue_id=issue_id, item_id=item_id, section=item.section,
                position=(first - 1) if first is not None else 0, is_new=True,
                teaser=teaser))
            conn.execute(insert(editor_items).values(
                item_id=item_id, issue_id=issue_id, image_url=image_url, image_alt=image_alt,
                sponsored=sponsored, added_by=added_by, added_at=now))
        return item_id

    def remove_editor_item(self, issue_id: str, item_id: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            added = conn.execute(select(editor_items.c.item_id).where(
                editor_items.c.issue_id == issue_id, editor_items.c.item_id == item_id)).first()
            if added is None:
                raise StoreError(f"item {item_id} was not added by an editor to issue "
                                 f"{issue_id}: drop it instead")
            self._edit(conn, issue_id, now)
            conn.execute(update(issues).where(issues.c.id == issue_id,
                                              issues.c.lead_item_id == item_id)
                         .values(lead_item_id=None))
            conn.execute(delete(editor_items).where(editor_items.c.item_id == item_id))
            conn.execute(delete(issue_items).where(issue_items.c.item_id == item_id))
            conn.execute(delete(items).where(items.c.id == item_id))

    def set_item_text(self, issue_id: str, item_id: int, title: str | None,
                      teaser: str | None, now: datetime) -> None:
        """This issue's headline and teaser for the item (None: the feed's again)."""
        with self.engine.begin() as conn:
            self._placed(conn, issue_id, item_id)
            self._edit(conn, issue_id, now)
            conn.execute(update(issue_items).where(issue_items.c.issue_id == issue_id,
                                                   issue_items.c.item_id == item_id)
                         .values(title=title, teaser=teaser))

    def set_lead(self, issue_id: str, item_id: int | None, now: datetime) -> None:
        with self.engine.begin() as conn:
            if item_id is not None:
                self._placed(conn, issue_id, item_id)
            self._edit(conn, issue_id, now, lead_item_id=item_id)

    def set_section_order(self, issue_id: str, order: Sequence[str], now: datetime) -> None:
        with self.engine.begin() as conn:
            self._edit(conn, issue_id, now, section_order=list(order) or None)

    def set_headers(self, issue_id: str, subject: str | None, preheader: str | None,
                    now: datetime) -> None:
        """This issue's subject and preheader (None: the configured ones)."""
        with self.engine.begin() as conn:
            self._edit(conn, issue_id, now, subject=subject, preheader=preheader)

    @staticmethod
    def _placed(conn: Connection, issue_id: str, item_id: int) -> None:
        if conn.execute(select(issue_items.c.item_id).where(
                issue_items.c.issue_id == issue_id,
                issue_items.c.item_id == item_id)).first() is None:
            raise StoreError(f"item {item_id} is not in issue {issue_id}")
