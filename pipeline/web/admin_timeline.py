"""/admin/issues/ID/timeline/ACTION: an editor's "Send now", "Send at ...", "Skip this
week", and during a send "Pause", "Resume" and "Cancel"; and /admin/draft/ACTION, before
the next issue exists: "Draft anyway" (a failed required source holds its draft) and
"Draft now" (ahead of its draft slot).

Each is two posts, both with the session's CSRF token: the first shows what will happen
and asks to confirm (a page of its own, so it works without JavaScript); the second,
carrying `confirmed=yes`, does it and writes the audit log. What is allowed when is
decided in pipeline.issue_actions; these handlers read it and call the store."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .. import notices
from ..deliver.send import cancel_send
from ..errors import InsightsError
from ..issue_actions import (
    ACTIONS,
    DRAFT_ACTIONS,
    NEXT_TICK,
    DraftAction,
    DraftOffer,
    IssueAction,
    IssueTimeline,
    check_send_at,
    issue_timeline,
    parse_local,
)
from ..models import Issue
from ..states import IssueStatus
from ..week import draft_now
from .admin import back_to, current_draft_offer, editor_only, failed_required_sources, flash
from .common import Web, web


@editor_only
async def timeline_action(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    action = request.path_params["action"]
    if action not in ACTIONS:
        raise HTTPException(404, f"No action {action!r}.")
    form = request.state.form
    issue = await run_in_threadpool(w.store.get_issue, issue_id)
    if issue is None:
        raise HTTPException(404, f"No issue {issue_id}.")
    plan = issue_timeline(w.config.timeline, issue, w.clock())
    when, refused = _when(w, plan, action, str(form.get("at", "")))
    if refused:
        flash(request, f"{ACTIONS[action]}: {refused}.", "error")
        return back_to(issue_id, request)
    if form.get("confirmed") != "yes":
        return w.page(request, "admin_confirm.html.j2", issue=issue, plan=plan,
                      action=action, label=ACTIONS[action], at=str(form.get("at", "")),
                      when=when, what=_what_happens(w, issue, action, when),
                      segment=form.get("segment", ""), view=form.get("view", "desktop"))
    try:
        done = await run_in_threadpool(_perform, w, issue, action, when, editor)
    except InsightsError as e:
        flash(request, f"{ACTIONS[action]}: {e}", "error")
    else:
        flash(request, done)
    return back_to(issue_id, request)


def _when(w: Web, plan: IssueTimeline, action: IssueAction,
          at: str) -> tuple[datetime | None, str | None]:
    """The time "Send now" / "Send at" sets, and why the action is refused (or None)."""
    refused = plan.why_not(action)
    if refused or action not in ("send-now", "send-at"):
        return None, refused
    if action == "send-now":
        return w.clock().astimezone(UTC), None
    tz = w.config.newsletter.tz
    try:
        when = parse_local(at, tz)
    except ValueError as e:
        return None, str(e)
    return when, check_send_at(plan, when, tz)


def _what_happens(w: Web, issue: Issue, action: IssueAction, when: datetime | None) -> str:
    """The confirmation page's sentence: what pressing the button will do."""
    tz = w.config.newsletter.tz
    match action:
        case "send-now":
            return f"Issue {issue.id} goes {NEXT_TICK}, to everyone on the lists."
        case "send-at":
            assert when is not None
            return (f"Issue {issue.id} goes at {notices.when(when, tz)} ({NEXT_TICK} "
                    "from then), instead of at the week's send slot"
                    + ("" if issue.status == IssueStatus.APPROVED or
                       not w.config.approval_required else ", once it is approved") + ".")
        case "skip":
            return (f"Issue {issue.id} is marked skipped: it is not sent, this week or "
                    "later, and the scheduler does nothing more with it.")
        case "pause":
            return (f"The send of issue {issue.id} stops after the requests in flight "
                    "(within seconds); nobody more receives it until you resume it.")
        case "resume":
            return (f"The send of issue {issue.id} continues {NEXT_TICK}, with the "
                    "people it has not reached yet; nobody receives it twice.")
        case "cancel":
            return (f"The send of issue {issue.id} stops for good after the requests in "
                    "flight. Everyone it has not reached yet is recorded as cancelled and "
                    "never receives it. This cannot be undone.")
    raise AssertionError(action)


def _perform(w: Web, issue: Issue, action: IssueAction, when: datetime | None,
             editor: str) -> str:
    """Do the confirmed action, write the audit log; the flash message."""
    store, now, tz = w.store, w.clock(), w.config.newsletter.tz
    match action:
        case "send-now" | "send-at":
            assert when is not None
            store.set_send_at(issue.id, when, now)
            # A send released to retry later (or done) must not delay this one. Leases
            # compare real time (see store.schedule).
            store.make_due(f"send:{issue.id}", datetime.now(UTC))
            detail = f"send at {notices.when(when, tz)}"
            done = (f"Issue {issue.id} goes {NEXT_TICK}." if action == "send-now" else
                    f"Issue {issue.id} goes at {notices.when(when, tz)}, {NEXT_TICK} from "
                    "then.")
        case "skip":
            store.set_issue_status(issue.id, IssueStatus.SKIPPED, now,
                                   expect=[IssueStatus.DRAFT, IssueStatus.APPROVED])
            detail, done = "skipped this week", f"Issue {issue.id} skipped: it is not sent."
        case "pause":
            if not store.set_paused(issue.id, editor, now):
                raise InsightsError("the send is already paused")
            detail = "paused the send"
            done = (f"Paused: the send of issue {issue.id} stops after the requests in "
                    "flight; nothing more goes until you resume it.")
        case "resume":
            if not store.set_paused(issue.id, None, now):
                raise InsightsError("the send is not paused")
            store.make_due(f"send:{issue.id}", datetime.now(UTC))
            detail = "resumed the send"
            done = f"Resumed: the send of issue {issue.id} continues {NEXT_TICK}."
        case "cancel":
            cancelled = cancel_send(w.config, store, issue.id, editor, now)
            if cancelled is None:
                detail = "cancelled the send (the running send records who it did not reach)"
                done = (f"Cancelled: the send of issue {issue.id} stops after the requests "
                        "in flight; everyone it did not reach is recorded as cancelled.")
            else:
                detail = f"cancelled the send: {cancelled:,} recipient(s) not sent"
                done = (f"Cancelled: issue {issue.id} was not sent to {cancelled:,} "
                        "recipient(s); they are recorded as cancelled.")
        case _:
            raise AssertionError(action)
    store.audit(editor, issue.id, action, detail, now)
    return done


# -- before the issue exists: "Draft anyway", "Draft now" -------------------------------


@editor_only
async def draft_action(request: Request, editor: str) -> Response:
    """Draft the next issue now, as `insights draft [--anyway] --as EDITOR` does (its
    lease, and the audit log under the editor's name), then open it."""
    w = web(request)
    action = request.path_params["action"]
    if action not in DRAFT_ACTIONS:
        raise HTTPException(404, f"No action {action!r}.")
    label = DRAFT_ACTIONS[action]
    period = str(request.state.form.get("period", ""))
    offer = await run_in_threadpool(current_draft_offer, w)
    refused = _draft_refused(offer, action, period)
    if refused or offer is None:
        flash(request, f"{label}: {refused}.", "error")
        return RedirectResponse("/admin/issues", 303)
    failed = await run_in_threadpool(failed_required_sources, w)
    if request.state.form.get("confirmed") != "yes":
        return w.page(request, "admin_draft_confirm.html.j2", offer=offer, label=label,
                      what=_draft_happens(w, offer, failed))
    report = await run_in_threadpool(lambda: draft_now(
        w.config, w.clock(), anyway=action == "draft-anyway", actor=editor))
    issue = await run_in_threadpool(w.store.get_issue, period)
    if report.performed:
        lines = report.performed[0].lines
    else:  # a scheduler tick holds the draft's lease this moment
        lines = (f"a scheduler tick is drafting issue {period} this moment; it shows here "
                 "when it is made",)
    flash(request, f"{label}: {'; '.join(lines)}", "flash" if issue else "error")
    if issue is None:
        return RedirectResponse("/admin/issues", 303)
    return RedirectResponse(f"/admin/issues/{issue.id}", 303)


def _draft_refused(offer: DraftOffer | None, action: DraftAction, period: str) -> str | None:
    """Why the draft asked for is not the one to make now (the list was stale), or None."""
    if offer is None:
        return (f"there is no draft to make now: issue {period} exists, or its draft "
                f"is due {NEXT_TICK}")
    if offer.period != period:
        return f"the draft to make now is issue {offer.period}, not {period}"
    if action == "draft-anyway" and offer.action != action:
        return f"the draft of issue {period} is not held: use Draft now"
    if action == "draft-now" and offer.action != action:
        return (f"the draft of issue {period} is held by a failed required source: use "
                "Draft anyway")
    return None


def _draft_happens(w: Web, offer: DraftOffer, failed: list[tuple[str, str]]) -> str:
    """The confirmation page's sentence: what drafting now does."""
    tz = w.config.newsletter.tz
    goes = (f"it goes at its send slot {notices.when(offer.send_at, tz)}"
            + (" once approved" if w.config.approval_required else "") + ".")
    if offer.action == "draft-anyway":
        names = ", ".join(name for name, _ in failed) or "the failed required source"
        return (f"Issue {offer.period} is composed now from what the other sources have, "
                f"without {names}; the editors are told the draft is ready and the "
                f"scheduler stops retrying it; {goes}")
    return (f"Issue {offer.period} is gathered, composed and rendered now, ahead of its "
            f"draft slot {notices.when(offer.draft_at, tz)}, and the editors are told; "
            f"the scheduler does not draft it again; {goes}")


routes = [
    Route("/admin/issues/{issue_id}/timeline/{action}", timeline_action, methods=["POST"]),
    Route("/admin/draft/{action}", draft_action, methods=["POST"]),
]
