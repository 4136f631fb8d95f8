"""The one map of public paths to bytes: the landing page, the archive's pages, each
issue's page, the feeds, the sitemap and robots.txt. The web app serves `render(path)`
and the static export writes every `paths()`, so a path's bytes are the same in both.

Nothing in a body depends on the request or the clock: the same archive gives the same
bytes (no CSRF token, no session, no "now"). Rendered pages are kept in memory per
`archive_version()`, so a request costs one cheap version query while nothing changed."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ..config import Config
from ..signup import HONEYPOT_FIELD
from . import feeds, seo
from .model import (
    ARCHIVE,
    FEED_ISSUES,
    FEED_ITEMS,
    ISSUES_PER_PAGE,
    Page,
    PublicArchive,
    PublicIssue,
    Site,
    archive_page_path,
    issue_path,
    item_path,
)

WEB_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "web"
HTML = "text/html; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
JSON_FEED = "application/feed+json; charset=utf-8"
XML = "application/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
LANDING = "/"
ISSUES_ATOM = f"{ARCHIVE}feed.xml"
ISSUES_JSON = f"{ARCHIVE}feed.json"
ITEMS_ATOM = f"{ARCHIVE}items.xml"
ITEMS_JSON = f"{ARCHIVE}items.json"
SITEMAP = "/sitemap.xml"
ROBOTS = "/robots.txt"
FEEDS = (ISSUES_ATOM, ISSUES_JSON, ITEMS_ATOM, ITEMS_JSON)
LANDING_HEADLINES = 5  # the latest issue's first headlines on the landing page
# Pages kept rendered: the landing page, the first archive pages and the issues being
# read now; an old version's pages fall out as the new ones come in.
CACHED_PAGES = 64


def site_of(config: Config) -> Site:
    """The newsletter as its public pages and feeds name it."""
    nl = config.newsletter
    syndication = config.syndication
    return Site(
        base_url=nl.base_url.rstrip("/"), name=nl.name, society=nl.society or nl.name,
        description=syndication.description,
        language=nl.language,
        # Config makes a logo path ("/static/logo.png") absolute on base_url already.
        logo_url=nl.logo_url,
        websub_hub=syndication.websub_hub or None)


@dataclass(frozen=True)
class ListChoice:
    name: str
    title: str


@dataclass(frozen=True)
class SignupForm:
    """What the sign-up form on the public pages offers: the same fields as /subscribe
    (pipeline/web/subscription.py reads them), posted there; no per-request token."""

    lists: tuple[ListChoice, ...]
    interests: tuple[tuple[str, str], ...] = ()  # (value, label)
    honeypot: str = HONEYPOT_FIELD

    @property
    def blank(self) -> dict[str, Any]:
        """The form's values before anyone types: the first list chosen."""
        return {"email": "", "name": "", "list": self.lists[0].name if self.lists else "",
                "interests": []}


def signup_form_of(config: Config) -> SignupForm:
    return SignupForm(lists=tuple(ListChoice(e.name, e.title) for e in config.lists),
                      interests=tuple(config.interest_choices.items()))


def public_templates(directory: Path = WEB_TEMPLATES) -> Environment:
    """The web templates, for pages that leave the app (no request in their context)."""
    return Environment(loader=FileSystemLoader(directory), autoescape=select_autoescape(
        default=True), undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def archive_pages(config: Config, archive: PublicArchive) -> ArchivePages:
    """The public pages of `config`'s newsletter over `archive`: what the web app serves
    and what `insights publish --out` writes (both call this, so both are the same)."""
    return ArchivePages(site_of(config), archive, public_templates(),
                        tz=config.newsletter.tz, signup=signup_form_of(config))


def date_label(moment: datetime, tz: ZoneInfo) -> str:
    """'30 November 2026': an issue's date as its email shows it (render/context.py)."""
    local = moment.astimezone(tz)
    return f"{local.day} {local:%B %Y}"


def page_count(issues: int) -> int:
    """Archive pages for `issues` public issues (an empty archive still has its first)."""
    return max(1, math.ceil(issues / ISSUES_PER_PAGE))


def archive_page_number(path: str) -> int | None:
    """2 for "/archive/page/2/"; 1 for "/archive/"; None for anything else (page/1/ and
    page/02/ included: each page has one path)."""
    if path == ARCHIVE:
        return 1
    prefix = f"{ARCHIVE}page/"
    digits = path[len(prefix):-1] if path.startswith(prefix) and path.endswith("/") else ""
    if not digits.isascii() or not digits.isdigit() or str(int(digits)) != digits:
        return None
    number = int(digits)
    return number if number >= 2 else None


def issue_id_of(path: str) -> str | None:
    """"2026-W48" for "/archive/2026-W48/"; None when the path is no issue's."""
    if not (path.startswith(ARCHIVE) and path.endswith("/")):
        return None
    issue_id = path[len(ARCHIVE):-1]
    if not issue_id or "/" in issue_id or issue_id == "page":
        return None
    return issue_id


@dataclass(frozen=True)
class Meta:
    """What a page says about itself to search engines and link previews."""

    title: str  # the page's own title (og:title); <title> adds the newsletter's name
    description: str
    path: str  # canonical
    kind: str = "website"  # og:type: "article" for an issue
    image: str | None = None  # the issue's lead image
    published: datetime | None = None
    modified: datetime | None = None


class ArchivePages:
    """model.SitePages over a PublicArchive: every public path and its bytes."""

    def __init__(self, site: Site, archive: PublicArchive, templates: Environment, *,
                 tz: ZoneInfo, signup: SignupForm) -> None:
        self.site, self.archive, self.templates = site, archive, templates
        self.tz, self.signup = tz, signup
        self._lock = threading.Lock()
        self._pages: OrderedDict[tuple[str, str], Page] = OrderedDict()
        self._index: tuple[str, tuple[PublicIssue, ...]] | None = None

    # -- the map --------------------------------------------------------------------

    def paths(self) -> list[str]:
        issues = self._issues(self.archive.archive_version())
        return [LANDING, *(archive_page_path(n) for n in range(1, page_count(len(issues)) + 1)),
                *(issue_path(issue.id) for issue in issues), *FEEDS, SITEMAP, ROBOTS]

    def render(self, path: str) -> Page | None:
        """The bytes at `path`, or None: an unknown path, a page past the last, an issue
        that is hidden or not public."""
        version = self.archive.archive_version()
        key = (path, version)
        with self._lock:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
        page = self._render(path, version)
        if page is not None:  # not the misses: any path may be asked for
            with self._lock:
                self._pages[key] = page
                while len(self._pages) > CACHED_PAGES:
                    self._pages.popitem(last=False)
        return page

    def _render(self, path: str, version: str) -> Page | None:
        fixed: dict[str, Callable[[], Page]] = {
            LANDING: lambda: self._landing(version),
            ISSUES_ATOM: lambda: self._issue_feed(atom=True),
            ISSUES_JSON: lambda: self._issue_feed(atom=False),
            ITEMS_ATOM: lambda: self._item_feed(atom=True),
            ITEMS_JSON: lambda: self._item_feed(atom=False),
            SITEMAP: lambda: self._sitemap(version), ROBOTS: self._robots}
        if path in fixed:
            return fixed[path]()
        number = archive_page_number(path)
        if number is not None:
            return self._archive_page(version, number)
        issue_id = issue_id_of(path)
        return self._issue_page(version, issue_id) if issue_id else None

    def _issues(self, version: str) -> tuple[PublicIssue, ...]:
        """Every public issue, newest first, without its body (the lists, the neighbours,
        the sitemap): read once per archive version."""
        with self._lock:
            if self._index and self._index[0] == version:
                return self._index[1]
        issues = tuple(self.archive.public_issue_list())
        with self._lock:
            self._index = (version, issues)
        return issues

    # -- HTML -----------------------------------------------------------------------

    def _html(self, template: str, meta: Meta, **context: Any) -> Page:
        body = self.templates.get_template(template).render(
            site=self.site, meta=meta, signup=self.signup,
            date=lambda moment: date_label(moment, self.tz), issue_path=issue_path,
            item_path=item_path, feeds={"atom": self.site.url(ISSUES_ATOM),
                                        "json": self.site.url(ISSUES_JSON)},
            **context)
        return Page(body.encode("utf-8"), HTML, meta.modified)

    def _landing(self, version: str) -> Page:
        issues = self._issues(version)
        latest = self.archive.public_issue(issues[0].id) if issues else None
        site = self.site
        meta = Meta(title=site.name, path=LANDING, modified=_newest(issues),
                    description=site.description or f"Every issue of {site.name}" + (
                        f", the newsletter of {site.society}." if site.society != site.name
                        else "."))
        return self._html("public_landing.html.j2", meta, latest=latest,
                          headlines=latest.items[:LANDING_HEADLINES] if latest else (),
                          earlier=issues[1:4], issue_count=len(issues))

    def _archive_page(self, version: str, number: int) -> Page | None:
        issues = self._issues(version)
        last = page_count(len(issues))
        if number > last:
            return None
        start = (number - 1) * ISSUES_PER_PAGE
        shown = issues[start:start + ISSUES_PER_PAGE]
        title = "Archive" if number == 1 else f"Archive, page {number} of {last}"
        meta = Meta(title=title, path=archive_page_path(number),
                    description=f"Every issue of {self.site.name}, newest first.",
                    modified=_newest(issues))
        return self._html(
            "public_archive.html.j2", meta, heading=title, issues=shown, number=number,
            last=last, total=len(issues),
            newer=archive_page_path(number - 1) if number > 1 else None,
            older=archive_page_path(number + 1) if number < last else None)

    def _issue_page(self, version: str, issue_id: str) -> Page | None:
        issue = self.archive.public_issue(issue_id)
        if issue is None:
            return None
        issues = self._issues(version)
        at = next((i for i, listed in enumerate(issues) if listed.id == issue.id), None)
        newer = issues[at - 1] if at is not None and at > 0 else None
        older = issues[at + 1] if at is not None and at + 1 < len(issues) else None
        # A neighbour's arrival or its new title changes this page too (its links).
        modified = max(i.updated for i in (issue, newer, older) if i is not None)
        meta = Meta(title=issue.title, description=issue.summary, path=issue_path(issue.id),
                    kind="article", image=issue.image_url, published=issue.published,
                    modified=modified)
        return self._html("public_archive_issue.html.j2", meta, issue=issue, newer=newer,
                          older=older)

    # -- feeds, sitemap, robots: pipeline.publish.feeds / seo ------------------------

    def _issue_feed(self, *, atom: bool) -> Page:

        issues = self.archive.public_issues(FEED_ISSUES, 0)
        body = (feeds.atom_issues if atom else feeds.json_feed_issues)(self.site, issues)
        return Page(body, ATOM if atom else JSON_FEED, _newest(issues))

    def _item_feed(self, *, atom: bool) -> Page:

        items = self.archive.public_items(FEED_ITEMS)
        body = (feeds.atom_items if atom else feeds.json_feed_items)(self.site, items)
        return Page(body, ATOM if atom else JSON_FEED,
                    max((item.updated for item in items), default=None))

    def _sitemap(self, version: str) -> Page:

        issues = self._issues(version)
        pages = [LANDING, *(archive_page_path(n) for n in range(1, page_count(len(issues)) + 1))]
        return Page(seo.sitemap(self.site, list(issues), pages), XML, _newest(issues))

    def _robots(self) -> Page:
        return Page(seo.robots(self.site), TEXT)


def _newest(issues: tuple[PublicIssue, ...] | list[PublicIssue]) -> datetime | None:
    """When the newest change among `issues` was: a list page's Last-Modified."""
    return max((issue.updated for issue in issues), default=None)
