"""/admin: editors log in, preview each issue per segment (desktop, mobile, text), edit
it, send themselves a test, approve it and follow its send. Every form carries the
session's CSRF token; every change goes through pipeline.editing."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
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
from ..approval import changes_since_approval, content_hash
from ..checks import checks_report, run_checks
from ..checks.spam import installed as spam_installed
from ..deliver.gate import check_issue
from ..deliver.message import build_message, message_bytes, personal_values
from ..editing import ITEM_ACTIONS, approve, edit_item, edit_note
from ..errors import InsightsError
from ..job import send_tests
from ..models import Recipient
from ..render.issue import variant_spec, variants_of
from ..render.placeholders import fill
from ..variants import Overrides, plan_variant
from .common import SESSION_HOURS, check_csrf, client_key, csrf_token, read_form, web

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


def back_to(issue_id: str, request: Request) -> RedirectResponse:
    segment = request.state.form.get("segment", "")
    view = request.state.form.get("view", "desktop")
    return RedirectResponse(f"/admin/issues/{quote(issue_id)}?segment={quote(segment)}"
                            f"&view={quote(view)}", 303)


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
        for issue in issues:
            placed, rendered = counts.get(issue.id, (0, 0))
            states = progress.get(issue.id, {}).values()
            out.append({"issue": issue, "items": placed, "variants": rendered,
                        "sent": sum(p.get("sent", 0) for p in states),
                        "recipients": sum(sum(p.values()) for p in states)})
        return out

    return w.page(request, "admin_issues.html.j2", rows=await run_in_threadpool(rows),
                  flash=request.session.pop("flash", None))


@editor_only
async def issue_page(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    view = request.query_params.get("view", "desktop")
    view = view if view in VIEWS else "desktop"

    def gather() -> dict[str, Any]:
        issue = w.store.get_issue(issue_id)
        if issue is None:
            raise HTTPException(404, f"No issue {issue_id}.")
        variants = variants_of(w.config, w.store, issue)
        by_segment = {v.segment: v for v in variants}
        segment = request.query_params.get("segment") or w.config.variant_names[0]
        variant = by_segment.get(segment) or variants[0]
        sample = personal_values(w.config, w.tokens, editor, "Alex", test=True)
        sections = w.store.issue_sections(issue_id)
        shown = plan_variant(sections, variant_spec(w.config, variant.segment),
                             Overrides(dropped=issue.dropped, pinned=issue.pinned))
        shown_ids = {i.id for items in shown.values() for i in items}
        return {
            "issue": issue, "variants": variants, "variant": variant,
            "content": content_hash(variants),
            "preview_html": fill(variant.html, sample.values),
            "preview_text": fill(variant.text, sample.values),
            "sections": sections, "shown_ids": shown_ids,
            "problems": check_issue(w.config, variants),
            "diff": changes_since_approval(issue, variants),
            "progress": w.store.send_progress(issue_id),
            "events": w.store.event_counts(issue_id),
            "checks": checks_report(w.config, variants, w.store.check_results(issue_id)),
            "spam_checked": spam_installed(),
        }

    data = await run_in_threadpool(gather)
    return w.page(request, "admin_issue.html.j2", view=view, width=VIEWS[view],
                  views=VIEWS, flash=request.session.pop("flash", None), **data)


async def _apply(request: Request, change: Callable[[], Any], done: str) -> Response:
    issue_id = request.path_params["issue_id"]
    try:
        await run_in_threadpool(change)
    except InsightsError as e:
        flash(request, str(e), "error")
    else:
        flash(request, done)
    return back_to(issue_id, request)


@editor_only
async def item_action(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    action = str(request.state.form.get("action", ""))
    if action not in ITEM_ACTIONS:
        raise HTTPException(400, f"Unknown action {action!r}.")
    item_id = request.path_params["item_id"]
    return await _apply(request, lambda: edit_item(w.config, w.store, issue_id, item_id,
                                                    action, w.clock()),
                        f"Item {item_id}: {action} done; every variant re-rendered.")


@editor_only
async def save_note(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    note = str(request.state.form.get("note", ""))
    if len(note) > 10_000:
        raise HTTPException(400, "The note is over 10,000 characters.")
    return await _apply(request, lambda: edit_note(w.config, w.store, issue_id, note,
                                                    w.clock()),
                        "Note saved; every variant re-rendered.")


@editor_only
async def send_test(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    segment = str(request.state.form.get("segment", ""))
    results: list[str] = []

    def send() -> None:
        results.extend(send_tests(w.config, w.store, [editor], w.clock(), issue_id=issue_id,
                                  segments=[segment] if segment else None))

    response = await _apply(request, send, f"Test sent to {editor}.")
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
    return await _apply(request, lambda: approve(w.config, w.store, issue_id, editor,
                                                 w.clock(), seen_hash=seen),
                        f"Issue {issue_id} approved by {editor}.")


@editor_only
async def run_issue_checks(request: Request, editor: str) -> Response:
    """Ask the links not asked yet for this issue (every one with `refresh`) and score
    the changed variants: seconds, with the gather limits; broken links only warn."""
    w = web(request)
    issue_id = request.path_params["issue_id"]
    refresh = request.state.form.get("refresh") == "1"

    def check() -> None:
        issue = w.store.get_issue(issue_id)
        if issue is None:
            raise HTTPException(404, f"No issue {issue_id}.")
        variants = variants_of(w.config, w.store, issue)
        reader = Recipient(0, editor, "Alex", "test")
        personal = personal_values(w.config, w.tokens, editor, "Alex", test=True)
        messages = [message_bytes(build_message(w.config, v, reader, personal, w.clock()))
                    for v in variants]
        run_checks(w.config, w.store, issue_id, variants, messages, w.clock(),
                   refresh=refresh)

    return await _apply(request, check, "Links checked" + (
        " and spam scores taken." if spam_installed() else "."))


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
    Route("/admin/issues/{issue_id}/checks", run_issue_checks, methods=["POST"]),
]
