"""/admin: editors log in, preview each issue per segment (desktop, mobile, text), edit
it, send themselves a test, approve it, choose when it goes and follow its send. Every
form carries the session's CSRF token; every change goes through pipeline.editing, and
what may be done to an issue's timeline when, through pipeline.issue_actions."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..accounts import check_login
from ..approval import (
    NOT_ITEMISED,
    TEXT_ONLY,
    approval_summary,
    changes_since_approval,
    content_hash,
)
from ..checks import checks_report
from ..checks.spam import installed as spam_installed
from ..deliver.gate import check_issue
from ..deliver.message import personal_values
from ..delivery_rates import delivery_rows, tracking_off
from ..editing import ITEM_ACTIONS, approve, edit_item, edit_note
from ..errors import InsightsError
from ..issue_actions import (
    ACTIONS,
    DRAFT_ACTIONS,
    NEXT_TICK,
    DraftOffer,
    datetime_local,
    draft_offer,
    issue_timeline,
)
from ..job import send_tests
from ..models import SECTION_TITLES, SECTIONS, Issue
from ..render.context import summary_text
from ..render.issue import editorial_shape, variants_of
from ..render.placeholders import fill
from ..states import IssueStatus
from ..variants import section_order
from ..week import read_facts
from .common import SESSION_HOURS, Web, check_csrf, client_key, csrf_token, read_form, web
from .issue_items import item_facts

Handler = Callable[[Request, str], Awaitable[Response]]
VIEWS = {"desktop": 680, "mobile": 375}  # iframe widths, px


def editor_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Log-in required; on POST the form is read and its CSRF token checked first."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        editor = request.session.get("editor")
        if editor and not await run_in_threadpool(_session_live, request, editor):
            request.session.clear()  # signed out, expired, or the password changed
            editor = None
        if not editor:
            return RedirectResponse(f"/admin/login?next={quote(request.url.path)}", 303)
        if request.method == "POST":
            request.state.form = await read_form(request)
            check_csrf(request, request.state.form)
        return await handler(request, editor)

    return wrapped


def _session_live(request: Request, editor: str) -> bool:
    """Whether the cookie's session is still open on the server (signing out closes it
    there, so a copy of the cookie opens nothing) and the password is the one it was
    opened with."""
    w = web(request)
    session_id = request.session.get("sid")
    if not isinstance(session_id, str) or w.store.session_editor(session_id, w.clock()) != editor:
        return False
    stored = w.store.editor_password_hash(editor)
    if not stored:
        return False
    return request.session.get("account") == account_version(stored)


def account_version(password_hash: str) -> str:
    """Sessions carry this: a new password (`insights editors add`) ends every session
    signed in with the old one."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def flash(request: Request, message: str, kind: str = "flash") -> None:
    request.session["flash"] = [kind, message]


def back_to(issue_id: str, request: Request, anchor: str = "") -> RedirectResponse:
    """The issue's page as the form showed it (segment, view), at `anchor` if given."""
    segment = str(request.state.form.get("segment", ""))
    view = str(request.state.form.get("view", "")) or "desktop"
    return RedirectResponse(f"/admin/issues/{quote(issue_id)}?segment={quote(segment)}"
                            f"&view={quote(view)}" + (f"#{anchor}" if anchor else ""), 303)


async def login_page(request: Request) -> Response:
    if request.session.get("editor"):
        return RedirectResponse("/admin/issues", 303)
    return web(request).page(request, "admin_login.html.j2", next=_safe_next(request))


def _safe_next(request: Request, value: str | None = None) -> str:
    target = value if value is not None else request.query_params.get("next", "")
    # Only our own admin pages: never an open redirect to another site.
    return target if target.startswith("/admin/") and "//" not in target else "/admin/issues"


async def login(request: Request) -> Response:
    w = web(request)
    form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
    check_csrf(request, form)
    email = str(form.get("email", "")).strip().lower()[:320]
    password = str(form.get("password", ""))[:1024]
    target = _safe_next(request, str(form.get("next", "")))
    # Failed attempts count per client and per address; a successful one does not, so
    # nobody can lock an editor out by signing in as them... more than briefly.
    keys = (f"ip:{client_key(request)}", f"email:{email}")
    if any(w.login_limit.blocked(k) for k in keys):
        return w.page(request, "admin_login.html.j2", 429, next=target, email=email,
                      error="Too many attempts. Wait a few minutes and try again.")
    if not await run_in_threadpool(check_login, w.store, email, password, w.clock()):
        for k in keys:
            w.login_limit.hit(k)
        return w.page(request, "admin_login.html.j2", 401, next=target, email=email,
                      error="Wrong email or password.")
    request.session.clear()  # a fresh session (and CSRF token) for the signed-in editor
    request.session["editor"] = email
    stored = await run_in_threadpool(w.store.editor_password_hash, email)
    request.session["account"] = account_version(stored or "")
    request.session["sid"] = await run_in_threadpool(
        w.store.start_session, email, w.clock(), timedelta(hours=SESSION_HOURS))
    csrf_token(request)
    return RedirectResponse(target, 303)


async def logout(request: Request) -> Response:
    form = await read_form(request)
    check_csrf(request, form)
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        await run_in_threadpool(web(request).store.end_session, session_id)
    request.session.clear()
    return RedirectResponse("/admin/login", 303)


@editor_only
async def issues_page(request: Request, editor: str) -> Response:
    w = web(request)

    def rows() -> list[dict[str, Any]]:
        issues = w.store.list_issues(with_approved_content=False)
        counts = w.store.issue_counts()
        progress = w.store.send_progress_of([issue.id for issue in issues])
        out = []
        now, timeline = w.clock(), w.config.timeline
        subjects = w.store.variant_subjects()
        confirmed: int | None = None  # who an unsent issue would go to now, read once
        for issue in issues:
            placed, rendered = counts.get(issue.id, (0, 0))
            states = progress.get(issue.id, {}).values()
            recipients = sum(sum(p.values()) for p in states)
            if not recipients and issue.status in (IssueStatus.DRAFT, IssueStatus.APPROVED):
                confirmed = _confirmed(w) if confirmed is None else confirmed
            out.append({"issue": issue,
                        "plan": issue_timeline(timeline, issue, now),
                        "subject": _main_subject(w, subjects.get(issue.id, {})),
                        "items": placed, "variants": rendered,
                        "sent": sum(p.get("sent", 0) for p in states),
                        "cancelled": sum(p.get("cancelled", 0) for p in states),
                        "recipients": recipients,
                        "would_go_to": confirmed if not recipients else None})
        return out

    return w.page(request, "admin_issues.html.j2", rows=await run_in_threadpool(rows),
                  **await run_in_threadpool(draft_facts, w),
                  flash=request.session.pop("flash", None))


def draft_facts(w: Web) -> dict[str, Any]:
    """What the issues list offers before the next issue exists: "Draft anyway" for a
    draft a failed required source holds (and which sources failed), or "Draft now"
    ahead of its slot (pipeline.issue_actions.draft_offer)."""
    offer = current_draft_offer(w)
    return {"draft": offer, "draft_actions": DRAFT_ACTIONS, "next_tick": NEXT_TICK,
            "failed_sources": failed_required_sources(w) if offer and
            offer.action == "draft-anyway" else []}


def current_draft_offer(w: Web) -> DraftOffer | None:
    now = w.clock()
    return draft_offer(w.config.timeline, read_facts(w.store, w.config.timeline, now), now)


def failed_required_sources(w: Web) -> list[tuple[str, str]]:
    """(name, last error) of each source marked `required` whose last fetch failed."""
    required = {s.name for s in w.config.sources if s.required}
    return [(st.name, st.last_error or "failed") for st in w.store.all_source_states()
            if st.name in required and st.consecutive_failures]


@editor_only
async def issue_page(request: Request, editor: str) -> Response:
    return await show_issue(request, editor, request.query_params,
                            flash=request.session.pop("flash", None))


async def show_issue(request: Request, editor: str, asked: Mapping[str, Any], *,
                     status_code: int = 200, flash: Sequence[str] | None = None,
                     kept: Mapping[str, Any] | None = None) -> Response:
    """The issue's page, its `segment` and `view` as `asked` (the query string, or the
    form of a refused edit); `kept`: what the editor typed into a form that was refused,
    shown in it again (templates/web/admin_content.html.j2)."""
    w = web(request)
    issue_id = request.path_params["issue_id"]
    view = str(asked.get("view", "desktop"))
    view = view if view in VIEWS else "desktop"

    def gather() -> dict[str, Any]:
        issue = w.store.get_issue(issue_id)
        if issue is None:
            raise HTTPException(404, f"No issue {issue_id}.")
        variants = variants_of(w.config, w.store, issue)
        by_segment = {v.segment: v for v in variants}
        segment = str(asked.get("segment", "")) or w.config.variant_names[0]
        variant = by_segment.get(segment) or variants[0]
        sample = personal_values(w.config, w.tokens, editor, "Alex", test=True)
        sections = w.store.issue_sections(issue_id)
        edits = w.store.issue_edits(issue_id)
        # Sections listed in this issue's order; each item's own teaser beside the edit.
        order = section_order(SECTIONS, issue.section_order)
        progress = w.store.send_progress(issue_id)
        rows, total = delivery_rows(progress, w.store.event_counts(issue_id))
        return {
            **timeline_facts(w, issue),
            "progress": progress, "totals": _totals(progress),
            "issue": issue, "variants": variants, "variant": variant,
            "content": content_hash(variants),
            "preview_html": fill(variant.html, sample.values),
            "preview_text": fill(variant.text, sample.values),
            "sections": {name: sections[name] for name in order if name in sections},
            "section_titles": SECTION_TITLES, "edits": edits,
            "facts": item_facts(w.config, issue, sections, edits),
            "own_teasers": {i.id: summary_text(i) for items in sections.values()
                            for i in items},
            "problems": check_issue(w.config, variants),
            "diff": changes_since_approval(issue, variants),
            "changes": approval_summary(issue, variants,
                                        editorial_shape(w.config, issue, sections, edits)),
            "approval_notes": (NOT_ITEMISED, TEXT_ONLY),
            "delivery_rows": rows, "delivery_total": total,
            "tracking_off": tracking_off(w.config.delivery),
            "checks": checks_report(w.config, variants, w.store.check_results(issue_id)),
            "spam_checked": spam_installed(),
        }

    data = await run_in_threadpool(gather)
    return w.page(request, "admin_issue.html.j2", status_code, view=view, width=VIEWS[view],
                  views=VIEWS, flash=flash, kept=kept or {}, **data)


def _totals(progress: dict[str, dict[str, int]]) -> dict[str, int]:
    """Recipients by state over every segment (sent, queued, ..., cancelled)."""
    totals: dict[str, int] = {}
    for states in progress.values():
        for state, n in states.items():
            totals[state] = totals.get(state, 0) + n
    return totals


def _main_subject(w: Web, by_segment: dict[str, str]) -> str:
    """The subject of the first segment's variant (the list has room for one); of
    variants the config no longer names, the first by segment."""
    for name in w.config.variant_names:
        if name in by_segment:
            return by_segment[name]
    return next(iter(by_segment.values()), "")


def _confirmed(w: Web) -> int:
    """Confirmed subscribers on the newsletter's lists now: who an unsent issue would
    go to, roughly (the send also leaves out the suppressed)."""
    names = [entry.name for entry in w.config.lists]
    audience = w.store.audience()
    return audience.count(names[0]) if len(names) == 1 else audience.count()


def timeline_facts(w: Web, issue: Issue) -> dict[str, Any]:
    """What the issue page shows of its timeline: when it goes, where it stands, what
    may be done now (pipeline.issue_actions) and who did what (the audit log)."""
    plan = issue_timeline(w.config.timeline, issue, w.clock())
    tz = w.config.newsletter.tz
    return {"plan": plan, "actions": ACTIONS, "next_tick": NEXT_TICK,
            "approval_required": w.config.approval_required,
            "send_at_value": datetime_local(max(plan.send_at, plan.earliest), tz),
            "send_at_min": datetime_local(plan.earliest, tz),
            "send_at_max": datetime_local(plan.ends - timedelta(minutes=1), tz),
            "audit": w.store.audit_entries(issue.id)}


async def apply_change(request: Request, change: Callable[[], Any], done: str,
                       anchor: str = "") -> Response:
    """Run `change` (in the thread pool), flash `done` or the refusal's message, and go
    back to the issue's page (at `anchor`)."""
    try:
        await run_in_threadpool(change)
    except InsightsError as e:
        flash(request, str(e), "error")
    else:
        flash(request, done)
    return back_to(request.path_params["issue_id"], request, anchor)


@editor_only
async def item_action(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    action = str(request.state.form.get("action", ""))
    if action not in ITEM_ACTIONS:
        raise HTTPException(400, f"Unknown action {action!r}.")
    item_id = request.path_params["item_id"]
    return await apply_change(
        request, lambda: edit_item(w.config, w.store, issue_id, item_id, action, w.clock()),
        f"Item {item_id}: {action} done; every variant re-rendered.", f"item-{item_id}")


@editor_only
async def save_note(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    note = str(request.state.form.get("note", ""))
    if len(note) > 10_000:
        raise HTTPException(400, "The note is over 10,000 characters.")
    return await apply_change(
        request, lambda: edit_note(w.config, w.store, issue_id, note, w.clock()),
        "Note saved; every variant re-rendered.", "note")


@editor_only
async def send_test(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    segment = str(request.state.form.get("segment", ""))
    results: list[str] = []

    def send() -> None:
        results.extend(send_tests(w.config, w.store, [editor], w.clock(), issue_id=issue_id,
                                  segments=[segment] if segment else None))

    response = await apply_change(request, send, f"Test sent to {editor}.")
    if results:
        flash(request, f"Test sent to {editor}: " + "; ".join(results))
    return response


@editor_only
async def approve_issue(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    # Always checked: a form without the hash (or an empty one) is not an approval of
    # what the editor saw.
    seen = str(request.state.form.get("content", ""))
    return await apply_change(
        request, lambda: approve(w.config, w.store, issue_id, editor, w.clock(),
                                 seen_hash=seen),
        f"Issue {issue_id} approved by {editor}.")


async def admin_home(request: Request) -> Response:
    return RedirectResponse("/admin/issues", 303)


routes = [
    Route("/admin", admin_home),
    Route("/admin/login", login_page, methods=["GET"]),
    Route("/admin/login", login, methods=["POST"]),
    Route("/admin/logout", logout, methods=["POST"]),
    Route("/admin/issues", issues_page),
    Route("/admin/issues/{issue_id}", issue_page),
    Route("/admin/issues/{issue_id}/items/{item_id:int}", item_action, methods=["POST"]),
    Route("/admin/issues/{issue_id}/note", save_note, methods=["POST"]),
    Route("/admin/issues/{issue_id}/test", send_test, methods=["POST"]),
    Route("/admin/issues/{issue_id}/approve", approve_issue, methods=["POST"]),
]
