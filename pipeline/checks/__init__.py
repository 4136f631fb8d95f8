"""Checks before approval: does each link in the issue answer, and how does SpamAssassin
score each variant. Run from the admin ("Check links"), stored per issue, shown beside
the pre-send gate's verdict. A broken link is a warning for the editor, never a block:
the gate (deliver/gate.py) alone decides whether an issue may go.

Links are asked with the gather limits (timeouts, redirects, the address guard; see
gather/fetch.py), HEAD first and GET when HEAD says nothing, on a bounded pool, and each
URL's answer is kept for the issue, so a re-render asks only the links it added. One run
starts no link after CHECK_SECONDS: the editor's request waits for it, and a slow site
must not hold the page for minutes; the links left show "not checked" and the next run
asks them. The spam scores, one SpamAssassin run per variant (seconds each), share
SPAM_SECONDS in all: the variants not scored by then show "not scored (time)" and the
next run scores them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from ..config import Config
from ..errors import SourceError
from ..gather import policy_from
from ..gather.fetch import Fetcher, Network
from ..models import RenderedVariant
from ..store.checks import CheckResult
from ..store.store import Store
from .targets import LinkTarget, Verdict, head_refused, links_to_check, verdict_of

MAX_WORKERS = 16  # links asked at once, whatever gather.max_workers allows
# No link is begun after this; one begun finishes within the gather's limits (its total
# timeout, plus the last hop's connect and read timeouts).
CHECK_SECONDS = 30.0
# Every variant's SpamAssassin run together, after the links: the request waits for it
# too, and the rules load anew for each message (5-10 s on a small machine).
SPAM_SECONDS = 60.0
NOT_SCORED_IN_TIME = "not scored (time)"


def own_links(config: Config) -> tuple[str, ...]:
    """Our pages, never checked: the per-reader ones (filled at send with each reader's
    token), and the web version and its events' calendar files, which the app serves
    once the issue goes (web/web_version.py): before then they answer 404."""
    base = config.newsletter.base_url
    return (f"{base}/u/", f"{base}/p/", f"{base}/issues/", f"{base}/events/")


def check_link(fetcher: Fetcher, url: str) -> CheckResult:
    try:
        probe = fetcher.probe("link", url, "HEAD")
        if head_refused(probe.status):
            probe = fetcher.probe("link", url, "GET")
    except SourceError as e:
        refused = e.reason.startswith("refused")
        return CheckResult("link", url, Verdict.REFUSED if refused else Verdict.UNREACHABLE,
                           detail=e.reason)
    moved = f"answered at {probe.url}" if probe.url != url else ""
    return CheckResult("link", url, verdict_of(probe.status), status=probe.status,
                       detail=moved)


def check_links(config: Config, urls: Sequence[str], network: Network | None = None,
                seconds: float | None = None) -> list[CheckResult]:
    """Ask each URL (in parallel, at most gather.concurrency per host); results in the
    order of `urls`, without the URLs not begun within `seconds` (CHECK_SECONDS)."""
    if not urls:
        return []
    per_host: dict[str, threading.Semaphore] = {}
    for url in urls:
        per_host.setdefault(urlsplit(url).hostname or "", threading.Semaphore(
            config.gather.concurrency))
    deadline = time.monotonic() + (CHECK_SECONDS if seconds is None else seconds)

    def ask(url: str) -> CheckResult | None:
        with per_host[urlsplit(url).hostname or ""]:
            if time.monotonic() > deadline:  # waited out a slow host's other links
                return None
            return check_link(fetcher, url)

    workers = max(1, min(MAX_WORKERS, config.gather.max_workers, len(urls)))
    with Fetcher(policy_from(config), workers, network) as fetcher, \
            ThreadPoolExecutor(workers) as pool:
        return [result for result in pool.map(ask, urls) if result is not None]


def variant_hash(variant: RenderedVariant) -> str:
    digest = hashlib.sha256()
    for part in (variant.subject, variant.html, variant.text):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class LinkRow:
    target: LinkTarget
    result: CheckResult | None  # None: not checked yet


@dataclass(frozen=True)
class SpamRow:
    segment: str
    result: CheckResult | None
    stale: bool  # scored before the variant last changed


@dataclass(frozen=True)
class ChecksReport:
    links: list[LinkRow]
    spam: list[SpamRow]

    @property
    def unchecked(self) -> int:
        return sum(row.result is None for row in self.links)

    @property
    def problems(self) -> list[LinkRow]:
        return [row for row in self.links
                if row.result is not None and row.result.verdict != Verdict.OK]


def checks_report(config: Config, variants: Sequence[RenderedVariant],
                  results: Sequence[CheckResult]) -> ChecksReport:
    """What the admin shows: the current variants' links with their stored answers
    (links an edit removed are not shown), and each variant's score. Pure."""
    links = {r.target: r for r in results if r.kind == "link"}
    spam = {r.target: r for r in results if r.kind == "spam"}
    return ChecksReport(
        [LinkRow(t, links.get(t.url)) for t in links_to_check(variants, own_links(config))],
        [SpamRow(v.segment, spam.get(v.segment), v.segment in spam
                 and spam[v.segment].content_hash != variant_hash(v)) for v in variants])


def links_due(config: Config, variants: Sequence[RenderedVariant],
              results: Sequence[CheckResult], refresh: bool = False) -> list[str]:
    """The URLs to ask now: those without an answer for this issue (every one when
    `refresh`)."""
    known = {r.target for r in results if r.kind == "link"}
    return [t.url for t in links_to_check(variants, own_links(config))
            if refresh or t.url not in known]


def spam_results(variants: Sequence[RenderedVariant], messages: Sequence[bytes],
                 seconds: float | None = None) -> list[CheckResult]:
    """Each variant's score, from its message as a reader would receive it, within
    `seconds` (SPAM_SECONDS) in all. A variant the time did not cover is "not scored
    (time)", kept without its content's hash so that the next run scores it."""
    from .spam import TIMEOUT_S, installed, spam_score

    if not installed():
        return []
    deadline = time.monotonic() + (SPAM_SECONDS if seconds is None else seconds)
    out = []
    for variant, message in zip(variants, messages, strict=True):
        left = deadline - time.monotonic()
        scored = spam_score(message, min(TIMEOUT_S, left)) if left > 0 else None
        if scored is None or (scored.timed_out and left < TIMEOUT_S):
            out.append(CheckResult("spam", variant.segment, "skipped",
                                   detail=NOT_SCORED_IN_TIME))
            continue
        out.append(CheckResult("spam", variant.segment,
                               "scored" if scored.score is not None else "skipped",
                               score=scored.score, detail=scored.why,
                               content_hash=variant_hash(variant)))
    return out


class ChecksRun(NamedTuple):
    results: list[CheckResult]  # what was found (and stored)
    not_asked: int  # links due but not begun within CHECK_SECONDS: the next run asks them
    not_scored: int = 0  # variants SPAM_SECONDS did not cover: the next run scores them


def run_checks(config: Config, store: Store, issue_id: str,
               variants: Sequence[RenderedVariant], messages: Sequence[bytes] | None,
               now: datetime, *, refresh: bool = False,
               network: Network | None = None) -> ChecksRun:
    """Ask the links due and score the variants due (`messages`: one per variant; None:
    the links only); store what was found."""
    known = store.check_results(issue_id)
    due_links = links_due(config, variants, known, refresh)
    results = check_links(config, due_links, network)
    not_asked = len(due_links) - len(results)
    scored = {r.target: r.content_hash for r in known if r.kind == "spam"}
    due = [(v, m) for v, m in zip(variants, messages or (), strict=messages is not None)
           if refresh or scored.get(v.segment) != variant_hash(v)]
    scores = spam_results([v for v, _ in due], [m for _, m in due])
    store.save_check_results(issue_id, results + scores, now)
    return ChecksRun(results + scores, not_asked,
                     sum(r.detail == NOT_SCORED_IN_TIME for r in scores))
