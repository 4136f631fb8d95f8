"""Publishing: after a send completes, the issue's public copy is kept (snapshot.py),
then the static site is exported and the WebSub hub told of each feed whose bytes
changed. Idempotent: every sent issue without a copy gets one, so the next `insights
tick` (or `insights publish`) mends a crash between the send and its publish.

Nothing here fails a send or raises for the export or the hub: each problem is a line
of the PublishReport, logged, and said by the send's report and the tick."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from ..config import Config
from ..errors import InsightsError
from ..ports import Archive
from .export import export
from .site import archive_pages
from .snapshot import copy_hash, public_copy
from .websub import changed_feeds, ping_feed

if TYPE_CHECKING:
    from .model import SitePages

log = logging.getLogger("insights.publish")

PING_SECONDS = 10.0  # each request to the hub
# The feeds a WebSub hub is told of when their bytes change (pipeline/web/archive.py).
FEED_PATHS = ("/archive/feed.xml", "/archive/feed.json", "/archive/items.xml",
              "/archive/items.json")


@dataclass
class PublishReport:
    published: list[str] = field(default_factory=list)  # issues whose copy was kept now
    refreshed: list[str] = field(default_factory=list)  # copies whose content changed
    problems: list[str] = field(default_factory=list)
    changed: bool = False  # anything public changed (a new copy, a hide or a show)
    exported: str | None = None  # where the static site was written
    pinged: list[str] = field(default_factory=list)  # feed URLs the hub was told of

    def lines(self) -> list[str]:
        lines = [f"published {i} to the archive" for i in self.published]
        lines += [f"updated {i} in the archive" for i in self.refreshed]
        if self.exported:
            lines.append(f"exported the archive to {self.exported}")
        if self.pinged:
            lines.append(f"told the WebSub hub of {len(self.pinged)} changed feed"
                         f"{'' if len(self.pinged) == 1 else 's'}")
        return lines + [f"archive: {problem}" for problem in self.problems]

    def summary(self) -> str:
        """One line for a send's report or a tick ("" when nothing happened)."""
        return "; ".join(self.lines())


def publish(config: Config, store: Archive, now: datetime, *, out: Path | None = None,
            refresh: bool = False, changed: bool = False) -> PublishReport:
    """Keep the public copy of every sent issue that lacks one (`refresh`: render every
    sent issue's again; a copy whose content is the same stays as it was), then, when
    something public changed (`changed`: an issue was hidden or shown) or `out` is
    given, export the site (to `out`, else `[syndication] publish_dir`) and tell the
    hub of each feed whose bytes changed."""
    report = PublishReport(changed=changed)
    unpublished = store.unpublished_sent_issue_ids()
    for issue_id in store.sent_issue_ids() if refresh else unpublished:
        issue = store.get_issue(issue_id)
        if issue is None:  # gone since the list was read
            continue
        try:
            copy = public_copy(config, store, issue)
        except InsightsError as e:
            report.problems.append(f"{issue_id} not published: {e}")
            continue
        first = issue_id in unpublished
        if store.save_public_issue(copy if first else replace(copy, updated=now),
                                   copy_hash(copy)):
            (report.published if first else report.refreshed).append(issue_id)
    report.changed = report.changed or bool(report.published or report.refreshed)
    target = out or config.publish_dir
    if report.changed or out is not None:
        pages = site_pages(config, store, report)
        if pages is not None:
            if target is not None:
                export_site(pages, target, report)
            ping_changed_feeds(config, store, pages, now, report)
    for problem in report.problems:
        log.warning("archive: %s", problem)
    return report


def publish_after_send(config: Config, store: Archive, now: datetime) -> str:
    """The send's one line about the archive ("published 2026-W48 to the archive", or
    the problem). Whatever goes wrong here, the send stays done and is not repeated:
    the next tick tries the publish again."""
    try:
        return publish(config, store, now).summary()
    except Exception as e:  # a bug or the store: the send's report says it, the tick retries
        log.exception("publishing after the send failed")
        return f"archive: not published ({type(e).__name__}: {e}); the next tick retries"


def publish_pending(config: Config, store: Archive, now: datetime) -> list[str]:
    """What every tick does: publish the sent issues still without a public copy (a
    crash between a send and its publish). One query when there is none."""
    if not store.unpublished_sent_issue_ids():
        return []
    line = publish_after_send(config, store, now)
    return [line] if line else []


@dataclass(frozen=True)
class Visibility:
    message: str
    report: PublishReport


def set_hidden(config: Config, store: Archive, issue_id: str, hidden: bool, by: str,
               now: datetime, *, out: Path | None = None) -> Visibility:
    """An editor hides an issue from the public archive (or shows it again): audit
    logged as `by`; then the site is published again (export and hub)."""
    issue = store.get_issue(issue_id)
    if issue is None:
        raise InsightsError(f"no issue {issue_id!r} (`insights issues` lists them)")
    changed = store.set_archive_hidden(issue_id, hidden, by, now)
    where = "hidden from" if hidden else "shown in"
    if not changed:
        message = f"Issue {issue_id} is already {where} the archive: nothing changed."
    elif issue.status != "sent":
        message = (f"Issue {issue_id} is {where} the archive (it is {issue.status}: "
                   "nothing of it is public until it is sent).")
    else:
        message = f"Issue {issue_id} is {where} the archive."
    return Visibility(message, publish(config, store, now, out=out, changed=changed))


# -- the export and the hub: reported, never raised ------------------------------------


def site_pages(config: Config, store: Archive, report: PublishReport) -> SitePages | None:
    """Every public path and its bytes (site.py), made from the kept copies: the same
    map the web app serves, so the export is the served bytes."""
    try:
        return archive_pages(config, store)
    except Exception as e:  # a template or the store: reported, the next publish retries
        report.problems.append(f"the site could not be read: {e}")
        return None


def export_site(pages: SitePages, out: Path, report: PublishReport) -> None:
    try:
        exported = export(pages, out)
    except Exception as e:  # the disk, permissions: reported, the next publish retries
        report.problems.append(f"export to {out} failed: {e}")
        return
    report.problems += [f"export to {out}: {p}" for p in exported.problems]
    report.exported = (f"{out} ({exported.written} written, {exported.unchanged} unchanged, "
                       f"{exported.removed} removed)")


def ping_changed_feeds(config: Config, store: Archive, pages: SitePages, now: datetime,
                       report: PublishReport) -> None:
    """Tell the hub of each feed whose bytes differ from those it was last told of; a
    feed the hub did not take is told again at the next publish."""
    hub = config.syndication.websub_hub
    if not hub:
        return
    try:
        changed = changed_feeds(pages, FEED_PATHS, store.feed_etags())
        if not changed:
            return
        with httpx.Client(timeout=PING_SECONDS) as client:
            for path, tag in changed.items():
                url = config.newsletter.base_url + path
                problem = ping_feed(hub, url, client)
                if problem:
                    report.problems.append(f"WebSub hub: {problem}")
                    continue
                store.record_feed_ping(path, tag, now)
                report.pinged.append(url)
    except Exception as e:  # a hub or a bug: reported, the send is done
        report.problems.append(f"telling the WebSub hub failed: {e}")
