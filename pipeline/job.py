"""The weekly job: gather -> compose -> render -> deliver -> report.

The CLI (`insights run`) and the scheduler (`insights schedule`) both call `run_weekly`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from .approval import unapproved_change
from .compose import period_for
from .config import Config
from .deliver.backends import make_backend
from .deliver.gate import check_issue
from .deliver.send import send_issue
from .draft import build_issue
from .editorial import notify_editors
from .errors import DeliveryError, InsightsError, UnknownName
from .gather import gather
from .models import Issue, Recipient, RenderedVariant, RunReport, SegmentReport
from .notices import DraftReady, when
from .publish.workflow import publish_after_send
from .render.issue import overrides_of, render_issue, variant_spec, variants_of
from .states import IssueStatus, RunStatus
from .store.store import Store
from .timeline import issue_slot
from .variants import plan_variant


def send_current(config: Config, now: datetime, *, resolve_unknown: str | None = None,
                 retry_failed: bool = False, resolve_batches: Sequence[int] = (),
                 early: bool = False) -> RunReport:
    """`insights send`: deliver (or resume delivering) the newest issue not yet sent.
    An issue whose week has not begun (a draft made ahead with `preview --now`) goes
    only when `early` says so."""
    store = Store.open(config.store_url)
    try:
        issue = store.latest_open_issue()
        if issue is not None and _not_begun(issue, now) and not early:
            issue = store.latest_open_issue(begun_by=now) or issue  # this week's, if open
        report = RunReport(now=now, period=issue.id if issue else period_for(
            now, config.newsletter.tz).id)
        if issue is None:
            report.status = RunStatus.SKIPPED
            report.message = "No unsent issue: nothing to send."
            return report
        _send(config, store, issue, now, report, early=early,
              resolve_unknown=resolve_unknown, retry_failed=retry_failed,
              resolve_batches=resolve_batches)
        return report
    finally:
        store.close()


def send_scheduled(config: Config, store: Store, issue_id: str, now: datetime) -> RunReport:
    """The scheduler's send (pipeline/week.py): deliver, or resume delivering, this issue
    at its slot, with the checks of `insights send` (never before its week, approved as
    it stands)."""
    issue = store.get_issue(issue_id)
    if issue is None:
        raise InsightsError(f"no issue {issue_id!r} to send")
    report = RunReport(now=now, period=issue.id)
    if issue.status not in (IssueStatus.DRAFT, IssueStatus.APPROVED, IssueStatus.SENDING):
        # Sent, skipped or cancelled since the tick read the facts: nothing to do.
        report.issue_id, report.issue_number = issue.id, issue.number
        report.status = (RunStatus.ALREADY_SENT if issue.status == IssueStatus.SENT
                         else RunStatus.SKIPPED)
        report.message = f"Issue {issue.id} is {issue.status}; nothing delivered."
        return report
    _send(config, store, issue, now, report)
    return report


def _send(config: Config, store: Store, issue: Issue, now: datetime, report: RunReport, *,
          early: bool = False, resolve_unknown: str | None = None, retry_failed: bool = False,
          resolve_batches: Sequence[int] = ()) -> None:
    report.issue_id, report.issue_number = issue.id, issue.number
    if _not_begun(issue, now) and not early:
        report.status = RunStatus.TOO_EARLY
        local = issue.period_start.astimezone(config.newsletter.tz)
        report.message = (
            f"Issue {issue.id} is for the week from {local:%a %d %b %Y %H:%M %Z}, "
            "which has not begun; nothing sent. To send it now anyway: "
            "`insights send --early`.")
        return
    if config.approval_required and issue.status == IssueStatus.DRAFT:
        report.status = RunStatus.AWAITING_APPROVAL
        report.message = f"Issue {issue.id} is a draft awaiting approval; nothing sent."
        return
    variants = variants_of(config, store, issue)
    if _changed_since_approval(config, issue, variants, report):
        return
    # The real clock: a send may take hours (rate limits), and its records say when.
    _deliver(config, store, issue, variants, now, lambda: datetime.now(UTC), report,
             resolve_unknown=resolve_unknown, retry_failed=retry_failed,
             resolve_batches=resolve_batches)


def _not_begun(issue: Issue, now: datetime) -> bool:
    """A draft made ahead for a week still to come (a send already begun finishes)."""
    return issue.period_start > now and issue.status != IssueStatus.SENDING


def send_tests(config: Config, store: Store, addresses: list[str], now: datetime, *,
               issue_id: str | None = None, segments: list[str] | None = None) -> list[str]:
    """Each variant (or those of `segments`) of an issue (default: the newest unsent one)
    to each editor, "[TEST]" in the subject. Nothing is recorded as the issue's send."""
    issue = store.get_issue(issue_id) if issue_id else store.latest_open_issue()
    if issue is None:
        raise InsightsError(f"no issue {issue_id!r}" if issue_id else "no unsent issue to test")
    variants = variants_of(config, store, issue)
    known = [v.segment for v in variants]
    unknown = [s for s in segments or () if s not in known]
    if unknown:  # else nothing would go, and "Test sent" would say otherwise
        raise UnknownName(f"no segment named {unknown[0]!r} in issue {issue.id}: its "
                          f"segments are {', '.join(known)}")
    problems = check_issue(config, variants)
    if problems:
        raise DeliveryError("; ".join(problems))
    backend = make_backend(config, now)
    editors = [Recipient(0, a, "Editor", "test") for a in addresses]
    return [f"{v.segment}: {backend.send_test(issue.id, v, editors) or 'sent'}"
            for v in variants if not segments or v.segment in segments]


def run_weekly(config: Config, now: datetime | None = None, *,
               clock: Callable[[], datetime] | None = None) -> RunReport:
    now = now or datetime.now(UTC)
    clock = clock or (lambda: now)
    store = Store.open(config.store_url)
    try:
        return _run(config, store, now, clock)
    finally:
        store.close()


def _run(config: Config, store: Store, now: datetime,
         clock: Callable[[], datetime]) -> RunReport:
    period = period_for(now, config.newsletter.tz)
    report = RunReport(now=now, period=period.id)
    report.sources = gather(config, store, now)

    issue = store.get_issue(period.id)
    if issue is not None and issue.status == IssueStatus.SENT:
        report.issue_id, report.issue_number = issue.id, issue.number
        report.status = RunStatus.ALREADY_SENT
        report.message = (f"Issue {issue.id} (no. {issue.number}) was already sent on "
                          f"{issue.sent_at:%Y-%m-%d %H:%M} UTC; nothing delivered again.")
        _segment_rows(config, store, issue, report)
        return report

    drafted = issue is None
    if issue is None:
        issue, since = build_issue(config, store, now)
        if issue is None:
            report.status = RunStatus.SKIPPED
            report.message = (f"Nothing new since {since:%Y-%m-%d %H:%M} UTC: "
                              f"issue for {period.id} skipped.")
            return report
        variants = render_issue(config, store, issue)
    else:
        variants = variants_of(config, store, issue)
    report.issue_id, report.issue_number = issue.id, issue.number

    if config.approval_required and issue.status == IssueStatus.DRAFT:
        report.status = RunStatus.AWAITING_APPROVAL
        report.message = _awaiting_approval(config, store, issue, now, notify=drafted)
        _segment_rows(config, store, issue, report, variants)
        return report

    if _changed_since_approval(config, issue, variants, report):
        _segment_rows(config, store, issue, report, variants)
        return report
    _deliver(config, store, issue, variants, now, clock, report)
    return report


def _awaiting_approval(config: Config, store: Store, issue: Issue, now: datetime, *,
                       notify: bool) -> str:
    """A draft made with approval required: the editors told (once, when it was made),
    where to approve it, and when the scheduler sends it."""
    tz = config.newsletter.tz
    slot, deadline = issue_slot(config.timeline, issue.period_start, issue.send_at)
    told = ""
    if notify:
        editors = notify_editors(config, store, DraftReady(issue, slot, deadline), now)
        told = f" {editors} editor{'' if editors == 1 else 's'} told."
    where = (f"approve it in {config.newsletter.base_url.rstrip('/')}/admin/issues/{issue.id} "
             f"or `insights approve {issue.id}`")
    if now < slot:
        goes = f"it goes at the send slot {when(slot, tz)} at the next `insights tick`"
    elif now <= deadline:
        goes = (f"its send slot {when(slot, tz)} has passed: approved by "
                f"{when(deadline, tz)}, it goes at the next `insights tick`")
    else:
        goes = (f"it is past its deadline {when(deadline, tz)}, so it is not sent "
                "automatically: once approved, `insights send` (or \"Send now\" in /admin) "
                "sends it")
    return (f"Issue {issue.id} is a draft awaiting approval; nothing delivered.{told} "
            f"Next: {where}; {goes}.")


def _changed_since_approval(config: Config, issue: Issue, variants: list[RenderedVariant],
                            report: RunReport) -> bool:
    """An approved issue goes out only as approved (the hash of its variants)."""
    problem = unapproved_change(issue, variants) if config.approval_required else None
    if problem and issue.status != IssueStatus.SENDING:  # a send in progress finishes as begun
        report.status = RunStatus.AWAITING_APPROVAL
        report.message = f"{problem}; nothing delivered."
        return True
    return False


def _deliver(config: Config, store: Store, issue: Issue, variants: list[RenderedVariant],
             now: datetime, clock: Callable[[], datetime], report: RunReport, *,
             resolve_unknown: str | None = None, retry_failed: bool = False,
             resolve_batches: Sequence[int] = ()) -> None:
    result = send_issue(config, store, store.audience(), issue, variants,
                        make_backend(config, now), clock, resolve_unknown=resolve_unknown,
                        retry_failed=retry_failed, resolve_batches=resolve_batches)
    report.output = result.output
    report.delivered = sum(result.delivered.values())
    report.status = RunStatus.SENT if result.complete else RunStatus.INCOMPLETE
    report.message = (f"Issue {issue.id} (no. {issue.number}) delivered to "
                      f"{report.delivered} recipients via {config.delivery.backend}.")
    if result.skipped:
        report.message += (f" {result.skipped} left or were suppressed during the send "
                           "and were not mailed.")
    if result.stop is not None and result.stop.cancelled:
        report.message += (f" CANCELLED: {result.stop.reason}; {result.cancelled} not sent "
                           "(recorded as cancelled).")
    elif result.stop is not None:
        report.message += (f" PAUSED: {result.stop.reason} in the admin; nothing more goes "
                           "until an editor resumes it.")
    elif result.paused:
        report.message += f" PAUSED: {result.paused}. Run `insights send` to resume."
    if result.failed:
        report.message += (" FAILED (refused, not retried): " + "; ".join(result.failed)
                           + ". Fix and run `insights send --retry-failed`.")
    if result.unknown:
        report.message += (
            " HELD, outcome unknown (the request went out, no answer came back):\n"
            + "".join(f"  - {line}\n" for line in result.unknown)
            + "Check the provider's activity for each, then `insights send "
            "--resolve-unknown resend|skip` (all of them) or with `--batch N` (repeatable) "
            "for some.")
    _segment_rows(config, store, issue, report, variants, result.delivered)
    if result.complete:  # sent: its public copy now (never fails nor repeats the send)
        report.archive = publish_after_send(config, store, clock())


def _segment_rows(config: Config, store: Store, issue: Issue, report: RunReport,
                  variants: list[RenderedVariant] | None = None,
                  delivered: dict[str, int] | None = None) -> None:
    """`delivered`: by segment, when the caller has just counted them."""
    variants = variants or store.get_variants(issue.id)
    delivered = store.delivered_count(issue.id) if delivered is None else delivered
    if not delivered and report.status == RunStatus.AWAITING_APPROVAL:
        # Who would receive it: what an approver wants to know (one pass over the list).
        delivered = Counter(r.segment for r in store.audience().resolve(
            [entry.name for entry in config.lists], config.segment_rules,
            config.default_segment or None))
    sections = store.issue_sections(issue.id)
    overrides = overrides_of(issue, store.issue_edits(issue.id))

    def items(segment: str) -> int:
        planned = plan_variant(sections, variant_spec(config, segment), overrides)
        return sum(len(v) for v in planned.values())

    report.segments = [
        SegmentReport(v.segment, delivered.get(v.segment, 0), v.subject, v.html_bytes,
                      items(v.segment))
        for v in sorted(variants, key=lambda v: config.variant_names.index(v.segment)
                        if v.segment in config.variant_names else 999)
    ]
