"""Approval as data: a hash of exactly what was approved, the readable part of it, and
the diff an editor sees after a later change. Pure: no I/O."""

from __future__ import annotations

import difflib
import hashlib
import html
import re
from collections.abc import Sequence
from typing import Any

from .models import Issue, RenderedVariant
from .states import IssueStatus


def content_hash(variants: Sequence[RenderedVariant]) -> str:
    """sha256 over every variant's segment, subject, HTML and text, in segment order."""
    digest = hashlib.sha256()
    for v in sorted(variants, key=lambda v: v.segment):
        for part in (v.segment, v.subject, v.html, v.text):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "big") + data)  # unambiguous boundaries
    return digest.hexdigest()


# The template's hidden preheader (issue.mjml.j2): read back from the HTML, as inboxes do.
_PREHEADER = re.compile(r'<div class="preheader"[^>]*>(.*?)</div>', re.DOTALL)


def preheader_of(html_part: str) -> str:
    found = _PREHEADER.search(html_part)
    return html.unescape(found.group(1)).strip() if found else ""


def readable_content(variants: Sequence[RenderedVariant]) -> dict[str, Any]:
    """What an editor reads when comparing versions: each variant's subject, preheader
    (the line inboxes show after it) and text."""
    return {v.segment: {"subject": v.subject, "preheader": preheader_of(v.html),
                        "text": v.text} for v in variants}


def changes_since_approval(issue: Issue, variants: Sequence[RenderedVariant]) -> dict[str, str]:
    """segment -> unified diff of subject and text against the approved version, for
    every variant that differs (empty when nothing was approved or nothing changed)."""
    if not issue.approved_content or content_hash(variants) == issue.approved_hash:
        return {}
    out = {}
    now = readable_content(variants)
    for segment in sorted(set(now) | set(issue.approved_content)):
        before = issue.approved_content.get(segment, {"subject": "", "text": ""})
        after = now.get(segment, {"subject": "", "text": ""})
        old = [f"Subject: {before['subject']}", *before["text"].splitlines()]
        new = [f"Subject: {after['subject']}", *after["text"].splitlines()]
        if "preheader" in before and "preheader" in after:  # approved before it was kept
            old.insert(1, f"Preheader: {before['preheader']}")
            new.insert(1, f"Preheader: {after['preheader']}")
        diff = "\n".join(difflib.unified_diff(old, new, "approved", "now", lineterm="", n=2))
        if diff:
            out[segment] = diff
    return out


def approval_refused(issue_id: str, seen_hash: str | None, current: str,
                     variants: Sequence[RenderedVariant]) -> str | None:
    """Why an approval must not be recorded, or None. `seen_hash` is the content the
    approver reviewed (a full hash, or a prefix of at least 12 characters as pages show
    it); None only where the approver acts on the content as it stands (the CLI)."""
    if not variants:
        return f"issue {issue_id} has no rendered variants: there is nothing to approve"
    if seen_hash is None:
        return None
    seen = seen_hash.strip().lower()
    if not seen:
        return (f"issue {issue_id}: the approval carried no content hash, so what was "
                "reviewed cannot be checked: approve from the issue's page")
    if len(seen) < 12 or not current.startswith(seen):
        return (f"issue {issue_id} changed since you opened it (another editor's edit?): "
                "review it again, then approve")
    return None


def unapproved_change(issue: Issue, variants: Sequence[RenderedVariant]) -> str | None:
    """Why an approved issue must not be sent as it stands, or None."""
    if issue.approved_hash and content_hash(variants) != issue.approved_hash:
        return (f"issue {issue.id} changed after it was approved by {issue.approved_by}: "
                "approve it again")
    return None


def nothing_to_approve(issue: Issue, current: str | None) -> str | None:
    """Why approving `issue` would change nothing, or None: it went (or is going), or it
    is approved as it stands (`current`: the hash of its variants now). An approval
    repeated (the demo run twice, a second editor) is then said, not an error."""
    if issue.status == IssueStatus.SENT:
        return f"Issue {issue.id} was already sent: nothing to approve."
    if issue.status == IssueStatus.SENDING:
        return f"Issue {issue.id} is being sent: nothing to approve."
    if issue.status == IssueStatus.APPROVED and current and issue.approved_hash == current:
        return (f"Issue {issue.id} is already approved by {issue.approved_by} as it stands "
                f"(content {current[:12]}): nothing to do.")
    return None
