"""What the public side is made of, as data: the site, the public copy of an issue and
of each item it carried, a page's bytes, and the two narrow interfaces the pages,
feeds and export read through. Pure: no I/O.

An issue is public when it was sent, its public copy was kept (pipeline/publish/snapshot)
and no editor hid it. Drafts, approved or cancelled issues and test sends never are.
Permalinks are the feeds' ids: built from the issue's id and the item's id only, never
from a title, a date or the content, so they stay the same when a copy is edited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

ISSUES_PER_PAGE = 20  # /archive/ and /archive/page/<n>/
FEED_ISSUES = 20  # entries in the issue feeds, newest first
FEED_ITEMS = 100  # entries in the item feeds, newest first
ARCHIVE = "/archive/"


@dataclass(frozen=True)
class Site:
    """The newsletter as the public pages and feeds name it."""

    base_url: str  # no trailing slash
    name: str
    society: str
    description: str
    language: str
    logo_url: str | None = None  # absolute
    websub_hub: str | None = None

    def url(self, path: str) -> str:
        """The absolute URL of a site path ("/archive/" -> "https://.../archive/")."""
        return self.base_url + path


def issue_path(issue_id: str) -> str:
    return f"{ARCHIVE}{issue_id}/"


def item_anchor(item_id: int) -> str:
    return f"item-{item_id}"


def item_path(issue_id: str, item_id: int) -> str:
    """Where an item is on its issue's public page (the item feeds' id and link)."""
    return f"{issue_path(issue_id)}#{item_anchor(item_id)}"


def archive_page_path(page: int) -> str:
    return ARCHIVE if page <= 1 else f"{ARCHIVE}page/{page}/"


@dataclass(frozen=True)
class PublicItem:
    """One news, research or event item as a sent issue carried it (the headline and
    teaser an editor gave it for that issue, if any). Untrusted text: escape it."""

    id: int
    issue_id: str
    section: str  # "news" | "research" | "events"
    title: str
    link: str | None  # the item's own link (the article, the paper, the event page)
    summary: str  # plain text
    published: datetime  # the issue's sent time, UTC
    updated: datetime
    doi: str | None = None
    journal: str | None = None
    authors: tuple[str, ...] = ()
    event_start: datetime | None = None
    event_when: str | None = None  # the time as the issue showed it, zone included


@dataclass(frozen=True)
class PublicIssue:
    """The public copy of one sent issue: the default variant (or
    `[syndication] public_variant`), with no personal link and "Subscribe" where the
    email said "Unsubscribe"."""

    id: str  # "2026-W48"
    number: int
    title: str  # the subject it went with
    summary: str  # its preheader (else its first headlines)
    published: datetime  # sent_at, UTC
    updated: datetime  # the last time the public copy changed
    body_html: str  # the article: sanitised markup, no script, no placeholder
    image_url: str | None = None  # the lead story's image (social cards)
    items: tuple[PublicItem, ...] = ()


@dataclass(frozen=True)
class Page:
    """A public file: what is served at its path and what the static export writes."""

    body: bytes
    content_type: str  # "text/html; charset=utf-8", "application/atom+xml", ...
    last_modified: datetime | None = None


class PublicArchive(Protocol):
    """What the public side reads from the store: visible issues only (sent, kept,
    not hidden), newest first."""

    def public_issues(self, limit: int, offset: int = 0) -> list[PublicIssue]: ...

    def public_issue(self, issue_id: str) -> PublicIssue | None: ...

    def public_issue_count(self) -> int: ...

    def public_issue_list(self) -> list[PublicIssue]:
        """Every visible issue without its body and items (body_html "", items ()):
        what the lists, the neighbours and the sitemap need, at a fraction of the bytes."""
        ...

    def public_items(self, limit: int) -> list[PublicItem]: ...

    def archive_version(self) -> str:
        """Changes whenever anything public changes (a cache key, an export's stamp)."""
        ...


class SitePages(Protocol):
    """Every public path and its bytes: the web app serves `render(path)`, the static
    export writes every `paths()`; so the two are the same bytes."""

    def paths(self) -> list[str]: ...

    def render(self, path: str) -> Page | None: ...
