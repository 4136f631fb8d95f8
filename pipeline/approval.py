"""Approval as data: a hash of exactly what was approved, the readable part of it and the
issue's editorial shape, and what an editor sees after a later change: the changes in
words (approval_words) over the text diff. Pure: no I/O."""

from __future__ import annotations

import difflib
import hashlib
import html
import re
from collections.abc import Sequence
from typing import Any

from .approval_words import Editorial, Shape, describe_changes, editorial_from_json, editorial_json
from .models import Issue, RenderedVariant
from .states import IssueStatus

# The editorial shape's key in approved_content, beside the segments' texts: no segment
# is named so (config: segment names begin with a lower-case letter or a digit).
SHAPE_KEY = "_editorial"


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


def approval_record(variants: Sequence[RenderedVariant], shape: Editorial) -> dict[str, Any]:
    """What an approval keeps to describe later changes: readable_content and the
    issue's editorial shape (pipeline.render.issue.editorial_shape)."""
    return {**readable_content(variants), SHAPE_KEY: editorial_json(shape)}


def _approved_texts(issue: Issue) -> dict[str, Any]:
    return {segment: texts for segment, texts in (issue.approved_content or {}).items()
            if segment != SHAPE_KEY and isinstance(texts, dict)}


def _shape(texts: dict[str, Any], editorial: Editorial | None) -> Shape:
    return Shape(subjects={s: str(t.get("subject", "")) for s, t in texts.items()},
                 preheaders={s: str(t["preheader"]) for s, t in texts.items()
                             if "preheader" in t},
                 editorial=editorial)


NOT_ITEMISED = ("Items were not recorded with this approval (it was made before they "
                "were): the text diff says what changed")
TEXT_ONLY = ("No editorial change: the rendered email differs (a feed's text, the "
             "templates or the config changed?)")


def approval_summary(issue: Issue, variants: Sequence[RenderedVariant],
                     shape: Editorial) -> list[str]:
    """What changed since the approval, in editors' words (approval_words), `shape`
    being the issue's editorial shape now; empty when nothing was approved or nothing
    changed."""
    if not issue.approved_content or content_hash(variants) == issue.approved_hash:
        return []
    before = editorial_from_json(issue.approved_content.get(SHAPE_KEY))
    phrases = describe_changes(_shape(_approved_texts(issue), before),
                               _shape(readable_content(variants), shape))
    if before is None:
        return [*phrases, NOT_ITEMISED]
    return phrases or [TEXT_ONLY]


def changes_since_approval(issue: Issue, variants: Sequence[RenderedVariant]) -> dict[str, str]:
    """segment -> unified diff of subject and text against the approved version, for
    every variant that differs (empty when nothing was approved or nothing changed)."""
    if not issue.approved_content or content_hash(variants) == issue.approved_hash:
        return {}
    out = {}
    now = readable_content(variants)
    approved = _approved_texts(issue)
    for segment in sorted(set(now) | set(approved)):
        before = approved.get(segment, {"subject": "", "text": ""})
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
