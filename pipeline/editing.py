"""What editors do to a draft before it goes: drop, pin and reorder items, write the
note, approve. Approval records a hash of exactly what was approved; any later change
returns the issue to draft, and the send refuses content that differs from the hash."""

from __future__ import annotations

from datetime import datetime

from . import editor_input
from .approval import (
    approval_record,
    approval_refused,
    approval_summary,
    content_hash,
    nothing_to_approve,
)
from .config import Config
from .errors import InsightsError
from .models import Issue
from .render.issue import editorial_shape, render_issue, variants_of
from .states import IssueStatus
from .store.store import Store

ITEM_ACTIONS = ("drop", "restore", "pin", "unpin", "up", "down")


def _issue(store: Store, issue_id: str) -> Issue:
    issue = store.get_issue(issue_id)
    if issue is None:
        raise InsightsError(f"no issue {issue_id!r}")
    return issue


def approve(config: Config, store: Store, issue_id: str, approver: str, now: datetime,
            *, seen_hash: str | None = None) -> Issue:
    """Approve the issue as it stands. With `seen_hash` (the content the editor looked
    at), refuse when it changed since, and when it is empty: another editor's edit is
    not approved unseen. Without it (None) the caller approves what is there now."""
    issue = _issue(store, issue_id)
    variants = variants_of(config, store, issue)
    current = content_hash(variants)
    refused = approval_refused(issue_id, seen_hash, current, variants)
    if refused:
        raise InsightsError(refused)
    shape = editorial_shape(config, issue, store.issue_sections(issue_id),
                            store.issue_edits(issue_id))
    store.approve_issue(issue_id, approver, now, current, approval_record(variants, shape))
    # The audit log is the issue's history (who did what, when), shown on its page.
    store.audit(approver, issue_id, "approve", f"approved content {current[:12]}", now)
    return _issue(store, issue_id)


def changes_in_words(config: Config, store: Store, issue_id: str) -> list[str]:
    """What changed since the issue was last approved, in editors' words
    (approval.approval_summary): empty when it never was, or nothing changed."""
    issue = _issue(store, issue_id)
    if not issue.approved_content:
        return []
    shape = editorial_shape(config, issue, store.issue_sections(issue_id),
                            store.issue_edits(issue_id))
    return approval_summary(issue, variants_of(config, store, issue), shape)


def approval_moot(config: Config, store: Store, issue_id: str) -> str | None:
    """Why approving the issue now would change nothing (see approval.nothing_to_approve),
    or None: approve it."""
    issue = _issue(store, issue_id)
    if issue.status not in (IssueStatus.DRAFT, IssueStatus.APPROVED):
        return nothing_to_approve(issue, None)
    return nothing_to_approve(issue, content_hash(variants_of(config, store, issue)))


def edit_item(config: Config, store: Store, issue_id: str, item_id: int, action: str,
              now: datetime) -> Issue:
    """Apply one item action and re-render every variant."""
    issue = _issue(store, issue_id)
    placed = {i.id for items in store.issue_sections(issue_id).values() for i in items}
    if item_id not in placed:
        raise InsightsError(f"item {item_id} is not in issue {issue_id}")
    if action in ("up", "down"):
        if not store.move_item(issue_id, item_id, -1 if action == "up" else 1, now):
            return issue  # already first (or last): nothing changed, nothing to re-render
        return _rerender(config, store, issue_id)
    if action not in ITEM_ACTIONS:
        raise InsightsError(f"unknown action {action!r}; expected one of "
                            f"{', '.join(ITEM_ACTIONS)}")
    dropped = set(issue.dropped)
    pinned = [i for i in issue.pinned if i != item_id]  # drop and unpin both unpin
    if action == "drop":
        dropped.add(item_id)
    elif action == "restore":
        dropped.discard(item_id)
        pinned = list(issue.pinned)
    elif action == "pin":  # pinned items go to the top, in the order they were pinned
        pinned.append(item_id)
        dropped.discard(item_id)
    store.set_overrides(issue_id, dropped, pinned, now)
    return _rerender(config, store, issue_id)


def edit_note(config: Config, store: Store, issue_id: str, note: str, now: datetime) -> Issue:
    store.set_editor_note(issue_id, editor_input.note(note), now)
    return _rerender(config, store, issue_id)


def _rerender(config: Config, store: Store, issue_id: str) -> Issue:
    issue = _issue(store, issue_id)
    render_issue(config, store, issue)
    return issue
