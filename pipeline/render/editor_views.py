"""Editors' content in a variant's context: their headlines and teasers over the feed's,
the "Sponsored" label, images, the lead story on top, and the subject and preheader
they wrote. Pure; applied to what build_context made, so an issue without editors'
content renders exactly as before."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models import Issue, ItemEdit
from .context import editor_note_html, preheader_for
from .plain import markdown_to_text

# Images are shown at the content's width, 2:1; width and height are fixed so the layout
# holds while images load or when they are blocked (the alt text shows in the box).
IMAGE_WIDTH, IMAGE_HEIGHT = 552, 276
TEASER_WIDTH = 74  # the text part's items are indented by 2 (issue.txt.j2)


def edited_view(view: dict[str, Any], edit: ItemEdit | None) -> dict[str, Any]:
    """An item's view with what editors gave it in this issue."""
    if edit is None:
        return view
    out = dict(view)
    if edit.title is not None:
        out["title"] = edit.title
    if edit.teaser is not None:
        # Markdown with raw HTML off, then the sanitiser's allowlist (as the note); the
        # text part's as the note's, links as numbered references, wrapped at its indent.
        out["teaser_html"] = editor_note_html(edit.teaser)
        out["summary"] = markdown_to_text(edit.teaser, TEASER_WIDTH)
    out["sponsored"] = edit.sponsored
    if edit.image_url:
        out["image"] = {"url": edit.image_url, "alt": edit.image_alt or "",
                        "width": IMAGE_WIDTH, "height": IMAGE_HEIGHT}
    return out


def with_editor_content(context: dict[str, Any], issue: Issue, lead: dict[str, Any] | None,
                        edits: Mapping[int, ItemEdit]) -> dict[str, Any]:
    """`context` (see build_context) with the editors' content of `issue`; `lead` is the
    view (context.item_viewer) of the variant's lead story (variants.plan_lead), already
    out of its section."""
    if not edits and lead is None and issue.subject is None and issue.preheader is None:
        return context
    sections = [{**s, "items": [edited_view(v, edits.get(v["id"])) for v in s["items"]]}
                for s in context["sections"]]
    lead_view = edited_view(lead, edits.get(lead["id"] or -1)) if lead is not None else None
    first = lead_view or next((s["items"][0] for s in sections if s["items"]), None)
    count = sum(len(s["items"]) for s in sections) + (lead_view is not None)
    return {
        **context,
        "sections": sections,
        "lead": lead_view,
        "subject": issue.subject or context["subject"],
        "preheader": issue.preheader or preheader_for(count, first["title"] if first else ""),
    }
