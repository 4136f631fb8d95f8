"""The public archive's storage: the public copy of each sent issue, the issues editors
hid from it, and which feed bytes the WebSub hub was last told of.

Visible (on every public page, feed and export) means: the issue was sent, its public
copy is kept here, and no editor hid it. Everything the public side reads goes through
`visible`, so no query can forget one of the three."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import StoreError
from ..publish.model import PublicIssue, PublicItem
from ..states import IssueStatus
from .schema import audit_log, feed_pings, issues, public_issues

# Issues read at a time while collecting the item feeds' newest items.
_ITEMS_PAGE = 8


def visible(*columns: Any) -> Select[Any]:
    """SELECT `columns` FROM the public copies of the issues the archive shows."""
    return (select(*columns)
            .join_from(public_issues, issues, issues.c.id == public_issues.c.issue_id)
            .where(issues.c.status == IssueStatus.SENT, issues.c.archive_hidden.is_(False)))


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(public_issues.c.published_at.desc(), public_issues.c.number.desc())


def _item_json(item: PublicItem) -> dict[str, Any]:
    """An item as kept in public_issues.items: its issue's times are the row's own."""
    return {"id": item.id, "section": item.section, "title": item.title, "link": item.link,
            "summary": item.summary, "doi": item.doi, "journal": item.journal,
            "authors": list(item.authors),
            "event_start": item.event_start.isoformat() if item.event_start else None,
            "event_when": item.event_when}


def _item(data: dict[str, Any], row: Any) -> PublicItem:
    start = data.get("event_start")
    return PublicItem(
        id=int(data["id"]), issue_id=row.issue_id, section=str(data["section"]),
        title=str(data["title"]), link=data.get("link"), summary=str(data.get("summary", "")),
        published=row.published_at, updated=row.updated_at, doi=data.get("doi"),
        journal=data.get("journal"), authors=tuple(data.get("authors") or ()),
        event_start=datetime.fromisoformat(start) if start else None,
        event_when=data.get("event_when"))


def _issue(row: Any) -> PublicIssue:
    return PublicIssue(
        id=row.issue_id, number=row.number, title=row.title, summary=row.summary,
        published=row.published_at, updated=row.updated_at, body_html=row.body_html,
        image_url=row.image_url, items=tuple(_item(i, row) for i in row._mapping["items"] or ()))


class ArchiveMixin:
    engine: Engine

    # -- what the public side reads (publish.model.PublicArchive) ------------------------

    def public_issues(self, limit: int, offset: int = 0) -> list[PublicIssue]:
        """The visible issues' public copies, newest first."""
        query = _newest_first(visible(public_issues)).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_issue(row) for row in conn.execute(query)]

    def public_issue(self, issue_id: str) -> PublicIssue | None:
        """The issue's public copy; None when it is not visible (a draft, hidden...)."""
        with self.engine.connect() as conn:
            row = conn.execute(visible(public_issues).where(
                public_issues.c.issue_id == issue_id)).first()
        return _issue(row) if row else None

    def public_issue_list(self) -> list[PublicIssue]:
        """Every visible issue, newest first, without its body or items: the archive's
        lists read 500 issues' titles, not their 500 bodies."""
        listed = [public_issues.c[name] for name in (
            "issue_id", "number", "title", "summary", "published_at", "updated_at", "image_url")]
        with self.engine.connect() as conn:
            return [PublicIssue(
                id=row.issue_id, number=row.number, title=row.title, summary=row.summary,
                published=row.published_at, updated=row.updated_at, body_html="",
                image_url=row.image_url) for row in conn.execute(_newest_first(visible(*listed)))]

    def public_issue_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(visible(func.count())).scalar() or 0)

    def public_items(self, limit: int) -> list[PublicItem]:
        """The newest `limit` items of the visible issues: issue by issue, newest first,
        each issue's items in the order it showed them."""
        return list(islice(self._items_newest_first(), limit))

    def _items_newest_first(self) -> Iterator[PublicItem]:
        columns = [public_issues.c.issue_id, public_issues.c["items"],
                   public_issues.c.published_at, public_issues.c.updated_at]
        offset = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(_newest_first(visible(*columns))
                                    .limit(_ITEMS_PAGE).offset(offset)).all()
            for row in rows:
                yield from (_item(data, row) for data in row._mapping["items"] or ())
            if len(rows) < _ITEMS_PAGE:
                return
            offset += _ITEMS_PAGE

    def archive_version(self) -> str:
        """A fingerprint of everything public: which issues are visible and each one's
        content. One query over the kept copies' ids, hashes and hidden flags (no
        bodies): a few hundred small rows for a decade of weekly issues."""
        query = (select(public_issues.c.issue_id, public_issues.c.content_hash,
                        issues.c.archive_hidden)
                 .join_from(public_issues, issues, issues.c.id == public_issues.c.issue_id)
                 .where(issues.c.status == IssueStatus.SENT)
                 .order_by(public_issues.c.issue_id))
        digest = hashlib.sha256()
        count = 0
        with self.engine.connect() as conn:
            for issue_id, content, hidden in conn.execute(query):
                if not hidden:
                    count += 1
                    digest.update(f"{issue_id}:{content};".encode())
        return f"{count}-{digest.hexdigest()[:16]}"

    # -- what publishing writes ------------------------------------------------------

    def save_public_issue(self, issue: PublicIssue, content_hash: str) -> bool:
        """Keep `issue` as its issue's public copy; True when it is new or its content
        changed (`content_hash`). Its published time stays the first copy's; its updated
        time becomes `issue.updated` only when the content changed."""
        values = {"number": issue.number, "title": issue.title, "summary": issue.summary,
                  "body_html": issue.body_html, "image_url": issue.image_url,
                  "items": [_item_json(i) for i in issue.items],
                  "updated_at": issue.updated, "content_hash": content_hash}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(public_issues).values(
                    issue_id=issue.id, published_at=issue.published, **values))
            return True
        except IntegrityError:
            pass  # kept already (or by another process this moment): update if changed
        with self.engine.begin() as conn:
            return bool(conn.execute(update(public_issues).where(
                public_issues.c.issue_id == issue.id,
                public_issues.c.content_hash != content_hash).values(**values)).rowcount)

    def unpublished_sent_issue_ids(self) -> list[str]:
        """Sent issues without a public copy (oldest first): what the next publish
        keeps. One query; empty on every tick but the one after a send."""
        query = (select(issues.c.id)
                 .outerjoin(public_issues, public_issues.c.issue_id == issues.c.id)
                 .where(issues.c.status == IssueStatus.SENT, public_issues.c.issue_id.is_(None))
                 .order_by(issues.c.number))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def sent_issue_ids(self) -> list[str]:
        """Every sent issue, oldest first (what `insights publish --refresh` renders)."""
        query = (select(issues.c.id).where(issues.c.status == IssueStatus.SENT)
                 .order_by(issues.c.number))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def set_archive_hidden(self, issue_id: str, hidden: bool, by: str, now: datetime) -> bool:
        """Hide the issue from the public archive (or show it again), with an entry in
        the audit log; False (and no entry) when it already was so."""
        action = "archive-hide" if hidden else "archive-show"
        detail = "hidden from the public archive" if hidden else "shown in the public archive"
        with self.engine.begin() as conn:
            changed = conn.execute(update(issues).where(
                issues.c.id == issue_id, issues.c.archive_hidden.is_(not hidden),
            ).values(archive_hidden=hidden)).rowcount
            if changed:
                conn.execute(insert(audit_log).values(at=now, actor=by, issue_id=issue_id,
                                                      action=action, detail=detail))
            elif conn.execute(select(issues.c.id).where(issues.c.id == issue_id)).first() is None:
                raise StoreError(f"no issue {issue_id!r}")
        return bool(changed)

    def feed_etags(self) -> dict[str, str]:
        """Feed path -> the ETag of the bytes the hub was last told of."""
        with self.engine.connect() as conn:
            return {path: etag for path, etag in conn.execute(
                select(feed_pings.c.path, feed_pings.c.etag))}

    def record_feed_ping(self, path: str, etag: str, now: datetime) -> None:
        """The hub was told of the feed at `path` with these bytes."""
        change = update(feed_pings).where(feed_pings.c.path == path).values(
            etag=etag, pinged_at=now)
        try:
            with self.engine.begin() as conn:
                if not conn.execute(change).rowcount:
                    conn.execute(insert(feed_pings).values(path=path, etag=etag,
                                                           pinged_at=now))
        except IntegrityError:  # another process recorded it first: ours is as new
            with self.engine.begin() as conn:
                conn.execute(change)
