"""/admin/issues/ID/checks: "Check links" on the issue page (pipeline.checks does the
asking and the scoring; the page shows what is stored)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..checks import CHECK_SECONDS, SPAM_SECONDS, ChecksRun, run_checks
from ..checks.spam import installed as spam_installed
from ..deliver.message import build_message, message_bytes, personal_values
from ..errors import InsightsError
from ..models import Recipient
from ..render.issue import variants_of
from ..states import IssueStatus
from .admin import apply_change, editor_only, flash
from .common import web


@editor_only
async def run_issue_checks(request: Request, editor: str) -> Response:
    """Ask the links not asked yet for this issue (every one with `refresh`) and score
    the changed variants: seconds, with the gather limits, and no link begun after
    CHECK_SECONDS (the rest wait for the next press); broken links only warn."""
    w = web(request)
    issue_id = request.path_params["issue_id"]
    refresh = request.state.form.get("refresh") == "1"
    runs: list[ChecksRun] = []

    def check() -> None:
        issue = w.store.get_issue(issue_id)
        if issue is None:
            raise HTTPException(404, f"No issue {issue_id}.")
        if issue.status not in (IssueStatus.DRAFT, IssueStatus.APPROVED):  # a stale page
            raise InsightsError(f"Issue {issue_id} is {issue.status}, so there is nothing "
                                "left to check.")
        variants = variants_of(w.config, w.store, issue)
        reader = Recipient(0, editor, "Alex", "test")
        personal = personal_values(w.config, w.tokens, editor, "Alex", test=True)
        messages = [message_bytes(build_message(w.config, v, reader, personal, w.clock()))
                    for v in variants]
        runs.append(run_checks(w.config, w.store, issue_id, variants, messages,
                               w.clock(), refresh=refresh))

    response = await apply_change(request, check, "Links checked" + (
        " and spam scores taken." if spam_installed() else "."))
    if runs and (runs[0].not_asked or runs[0].not_scored):
        flash(request, checks_left(runs[0]))
    return response


def checks_left(run: ChecksRun) -> str:
    """What one press of Check links left for the next (slow sites, a slow SpamAssassin)."""
    parts = []
    if run.not_asked:
        parts.append(f"Links checked for {CHECK_SECONDS:g} seconds: {run.not_asked:,} not "
                     "asked yet (slow sites) show \"not checked\".")
    if run.not_scored:
        parts.append(f"Spam scores taken for {SPAM_SECONDS:g} seconds: {run.not_scored:,} "
                     "variant(s) show \"not scored (time)\".")
    return " ".join(parts) + " Press Check links again for the rest."


routes = [
    Route("/admin/issues/{issue_id}/checks", run_issue_checks, methods=["POST"]),
]
