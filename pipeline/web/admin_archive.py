"""/admin/issues/ID/archive/hide and .../show: an editor hides a sent issue from the
public archive or shows it again (pipeline.publish.workflow.set_hidden: audit logged
with the editor, then the site published again). One post with the session's CSRF
token: nothing is lost by it, and Show undoes Hide."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import InsightsError
from ..publish.workflow import set_hidden
from .admin import back_to, editor_only, flash
from .common import web


@editor_only
async def archive_visibility(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    action = request.path_params["action"]
    if action not in ("hide", "show"):
        raise HTTPException(404, f"No action {action!r}.")
    if await run_in_threadpool(w.store.get_issue, issue_id) is None:
        raise HTTPException(404, f"No issue {issue_id}.")
    try:
        done = await run_in_threadpool(set_hidden, w.config, w.store, issue_id,
                                       action == "hide", editor, w.clock())
    except InsightsError as e:
        flash(request, str(e), "error")
    else:
        problems = done.report.problems
        flash(request, " ".join([done.message, *problems]), "error" if problems else "flash")
    return back_to(issue_id, request, "summary")


routes = [
    Route("/admin/issues/{issue_id}/archive/{action}", archive_visibility, methods=["POST"]),
]
