"""The editorial side of the week: the draft step, and every notice to the editors.

`draft_for_slot` is the scheduler's Draft action (pipeline/week.py): gather, then hold
the draft when a required source failed, skip the week when nothing (or only events) is
new, else compose the slot's period, render it and tell the editors. `notify_editors`
mails one notice (notices.py says what it reads) to each editor account through the
configured backend's transactional path (outbox/transactional/ in the demo).
"""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from .approval import approval_summary
from .checks import checks_report, run_checks
from .checks.targets import Verdict
from .compose import events_only, period_for
from .config import Config
from .deliver.backends import make_backend
from .deliver.gate import check_issue
from .deliver.transactional import one_off_message, render_pair
from .draft import compose_new, store_draft
from .gather import gather
from .gather.fetch import Network
from .models import SECTIONS, Issue, SourceReport
from .notices import (
    DraftHeld,
    DraftReady,
    HeldAtSlot,
    IssueSummary,
    LinkCheck,
    Newsroom,
    NothingNew,
    Notice,
    PastDeadline,
    Reminder,
    SegmentLine,
    Sent,
    editors_told,
    headlines,
    notice_issue_id,
    notice_kind,
    notice_view,
    when,
)
from .render.brand import newsletter_view
from .render.issue import editorial_shape, overrides_of, render_issue, variant_spec, variants_of
from .store.checks import CheckResult
from .store.store import Store
from .timeline import held_draft_key
from .variants import plan_variant

__all__ = [
    "DraftHeld", "DraftReady", "DraftResult", "HeldAtSlot", "Notice", "NothingNew",
    "PastDeadline", "Reminder", "Sent", "draft_for_slot", "notify_editors", "summarize",
]

log = logging.getLogger("insights.editorial")

DraftKind = Literal["drafted", "nothing-new", "events-only", "held", "exists"]
# The held notice's own once-only key: the tick retries a held draft every hour.
_NOTICE_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class DraftResult:
    kind: DraftKind
    issue: Issue | None
    lines: list[str]  # for the tick's report
    notified: int  # editors told
    sources: list[SourceReport] = field(default_factory=list)  # this gather's


def draft_for_slot(config: Config, store: Store, period: str, slot: datetime, now: datetime,
                   *, anyway: bool = False, network: Network | None = None) -> DraftResult:
    """Draft the issue of `period` (the ISO week of the send `slot`) from what is new at
    `now`. `anyway`: draft although a required source failed (an editor's decision)."""
    tz = config.newsletter.tz
    week = period_for(slot, tz)
    if week.id != period:
        raise ValueError(f"the send slot {slot.isoformat()} is in {week.id}, not {period}")
    existing = store.get_issue(period)
    if existing is not None:
        return DraftResult("exists", existing, [
            f"issue {period} (no. {existing.number}) already exists ({existing.status}): "
            "not drafted again"], 0)

    reports = gather(config, store, now, network)
    failed = [(r.name, r.error or "failed") for r in reports if r.failed]
    required = {s.name for s in config.sources if s.required}
    failed_required = [(name, error) for name, error in failed if name in required]
    if failed_required and not anyway:
        notified = _notify_once(config, store, held_draft_key(period),
                                DraftHeld(period, slot, failed_required), now)
        names = ", ".join(name for name, _ in failed_required)
        return DraftResult("held", None, [
            f"draft {period} held: required source(s) {names} failed; retried hourly "
            f"(`insights draft --anyway` drafts without them); {editors_told(notified)}"],
            notified, reports)

    content, since = compose_new(config, store, now)
    if content is None or (events_only(content) and not config.compose.events_only_issues):
        kind: DraftKind = "nothing-new" if content is None else "events-only"
        why = (f"Nothing new since {when(since, tz)}: no news, research or events that "
               "an earlier issue did not carry" if content is None else
               "Only reminders of events, no new news or research "
               "(compose.events_only_issues is off)")
        short = "nothing new" if content is None else "only events, no news or research"
        notified = notify_editors(config, store, NothingNew(period, slot, why, short), now)
        return DraftResult(kind, None, [
            f"issue {period} skipped: {why}; {editors_told(notified)}"], notified, reports)

    issue = store_draft(store, week, content, now)
    render_issue(config, store, issue)
    links = check_links_at_draft(config, store, issue, now, network) \
        if config.checks.at_draft else None
    deadline = slot + config.timeline.late_by
    notified = notify_editors(config, store, DraftReady(issue, slot, deadline, failed, links),
                              now)
    counts = ", ".join(f"{len(v)} {k}" for k, v in content.sections.items())
    lines = [f"drafted issue {issue.id} (no. {issue.number}): {counts}; send slot "
             f"{when(slot, tz)}; {editors_told(notified)}"]
    if links is not None:
        lines.append(links_line(links))
    if failed_required:  # an editor's decision: the audit log says so
        lines.append("drafted anyway, without the failed required source(s) "
                     + ", ".join(name for name, _ in failed_required))
    return DraftResult("drafted", issue, lines, notified, reports)


def check_links_at_draft(config: Config, store: Store, issue: Issue, now: datetime,
                         network: Network | None = None) -> LinkCheck:
    """Ask the new draft's links as "Check links" does (stored for its page too). A
    failing check is the editors' warning; one that cannot run is reported, and the
    draft stands either way."""
    try:
        variants = variants_of(config, store, issue)
        run = run_checks(config, store, issue.id, variants, None, now, network=network)
        report = checks_report(config, variants, store.check_results(issue.id))
    except Exception as e:  # the draft is made: a bug in checking must not undo it
        log.exception("could not check the links of issue %s", issue.id)
        return LinkCheck(0, error=f"{type(e).__name__}: {e}")
    failed = [(row.target.url, answer_of(row.result)) for row in report.problems
              if row.result is not None]
    return LinkCheck(len(report.links), failed, run.not_asked)


def answer_of(result: CheckResult) -> str:
    """How a link answered, in a few words: "404", "unreachable: timed out"."""
    if result.verdict == Verdict.BROKEN and result.status:
        return str(result.status)
    return f"{result.verdict}: {result.detail}" if result.detail else str(result.verdict)


def links_line(links: LinkCheck) -> str:
    """The tick's line for the draft's link check."""
    if links.error:
        return f"links not checked: {links.error}"
    asked = links.links - links.not_asked
    line = (f"links: {len(links.failed)} of {asked} did not answer" if links.failed else
            f"links: every one of {asked} answered")
    return line + (f"; {links.not_asked} not asked in time" if links.not_asked else "")


def _notify_once(config: Config, store: Store, key: str, notice: Notice,
                 now: datetime) -> int:
    """Notify under a lease key of its own: once, whichever process gets there first.
    Leases run on the real clock (a tick's `now` may be in the past)."""
    owner = f"editorial:{socket.gethostname()}:{os.getpid()}"
    if not store.claim_action(key, owner, datetime.now(UTC), _NOTICE_TTL):
        return 0
    notified = notify_editors(config, store, notice, now)
    store.finish_action(key, owner, datetime.now(UTC), f"{notified} editors told")
    return notified


def summarize(config: Config, store: Store, issue: Issue) -> IssueSummary:
    """What an editor wants to know of an issue: items, who receives which variant,
    whether the pre-send gate lets it go, and what changed since its last approval."""
    sections = store.issue_sections(issue.id)
    variants = variants_of(config, store, issue)
    edits = store.issue_edits(issue.id)
    overrides = overrides_of(issue, edits)
    kept = {s: [i for i in sections.get(s, []) if i.id not in issue.dropped]
            for s in SECTIONS}
    # Who would receive it (one pass over the list), as the run's report counts them.
    recipients = Counter(r.segment for r in store.audience().resolve(
        [entry.name for entry in config.lists], config.segment_rules,
        config.default_segment or None))
    by_segment = {v.segment: v for v in variants}
    lines = []
    for segment in config.variant_names:
        variant = by_segment.get(segment)
        if variant is None:
            continue
        planned = plan_variant(sections, variant_spec(config, segment), overrides)
        lines.append(SegmentLine(segment, recipients.get(segment, 0),
                                 sum(len(v) for v in planned.values()), variant.subject))
    return IssueSummary(
        issue, {s: len(v) for s, v in kept.items()},
        headlines({s: [i.title for i in v] for s, v in kept.items()}), lines,
        check_issue(config, variants),
        approval_summary(issue, variants, editorial_shape(config, issue, sections, edits)))


def notify_editors(config: Config, store: Store, notice: Notice, now: datetime) -> int:
    """Mail `notice` to each editor account; returns how many it reached. No editors,
    or one failing address, is logged; the notice never stops the pipeline."""
    editors = [email for email, _ in store.list_editors()]
    kind = notice_kind(notice)
    if not editors:
        log.warning("no editor accounts (`insights editors add EMAIL`): nobody was told "
                    "(%s, issue %s)", kind, notice_issue_id(notice))
        return 0
    try:
        issue = store.get_issue(notice_issue_id(notice))
        summary = summarize(config, store, issue) if issue is not None else None
        nl = config.newsletter
        room = Newsroom(nl.name, nl.base_url, nl.tz, config.approval_required)
        view = notice_view(room, notice, summary)
        text, html = render_pair(config, "notice", {
            "newsletter": newsletter_view(nl), "notice": view})
        backend = make_backend(config, now)
    except Exception:  # a notice must not undo the draft or the send it reports
        log.exception("could not prepare the %s notice for issue %s", kind,
                      notice_issue_id(notice))
        return 0
    sent = 0
    for email in editors:
        try:
            message = one_off_message(config, email, view.subject, text, html, now)
            message["X-Insights-Notice"] = kind
            backend.send_message(message)
            sent += 1
        except Exception:  # one bad address or a provider error: the others still go
            log.exception("could not mail the %s notice to editor %s", kind, email)
    return sent
