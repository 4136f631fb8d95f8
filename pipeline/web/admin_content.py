"""/admin/issues/ID/content/...: editors' own content in an issue. Add an item by hand,
edit an item's headline and teaser for this issue, remove an added item, choose the lead
story, move a section, write the subject and preheader. Each post carries the session's
CSRF token (editor_only checks it) and calls one function of pipeline.content_edits;
what the editor typed is checked there, and a refusal comes back as the page's message
(an added item or a headline refused: at the form, which keeps what the editor typed).
Every edit returns to the item (or form) it changed."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import content_edits
from ..errors import InsightsError
from ..issue_actions import parse_local
from .admin import apply_change, back_to, editor_only, flash, show_issue
from .common import web

FIELD_CHARS = 4000  # no field of these forms needs more (the teaser's limit is 2,000)


def _field(request: Request, name: str) -> str:
    value = str(request.state.form.get(name, ""))
    if len(value) > FIELD_CHARS:
        raise HTTPException(400, f"The field {name!r} is over {FIELD_CHARS:,} characters.")
    return value


ADD_FIELDS = ("section", "title", "link", "teaser", "image_url", "image_alt", "starts",
              "where", "lead", "sponsored")


async def refused(request: Request, editor: str, why: str, kept: dict[str, Any]) -> Response:
    """A refused add or edit: the issue's page again, at once (400, no redirect), with
    the form as the editor filled it and the refusal beside it. What they typed goes
    back only in this response, escaped by the templates; nothing of it is stored."""
    return await show_issue(request, editor, request.state.form, status_code=400,
                            kept={**kept, "error": why})


@editor_only
async def add_item(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    typed = {"form": "add", **{name: _field(request, name) for name in ADD_FIELDS}}
    starts = typed["starts"].strip()
    try:
        when = parse_local(starts, w.config.newsletter.tz) if starts else None
    except ValueError as e:
        return await refused(request, editor, f"starts: {e}", typed)
    new = content_edits.NewItem(
        section=typed["section"], title=typed["title"], link=typed["link"],
        teaser=typed["teaser"], image_url=typed["image_url"], image_alt=typed["image_alt"],
        lead=typed["lead"] == "yes", sponsored=typed["sponsored"] == "yes",
        starts=when, where=typed["where"])
    try:
        _, added = await run_in_threadpool(
            content_edits.add_item, w.config, w.store, issue_id, new, editor, w.clock())
    except InsightsError as e:
        return await refused(request, editor, str(e), typed)
    flash(request, "Item added; every variant re-rendered.")
    return back_to(issue_id, request, f"item-{added}")  # to the new item, not the form


@editor_only
async def edit_text(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id, item_id = request.path_params["issue_id"], request.path_params["item_id"]
    typed = {"form": "text", "item": item_id, "title": _field(request, "title"),
             "teaser": _field(request, "teaser"),
             "no_teaser": _field(request, "no_teaser") == "yes"}
    title = typed["title"].strip() or None
    teaser = "" if typed["no_teaser"] else (typed["teaser"].strip() or None)
    try:
        await run_in_threadpool(content_edits.edit_item_text, w.config, w.store, issue_id,
                                item_id, title, teaser, editor, w.clock())
    except InsightsError as e:
        return await refused(request, editor, str(e), typed)
    flash(request, f"Item {item_id}: headline and teaser saved; every variant re-rendered.")
    return back_to(issue_id, request, f"item-{item_id}")


@editor_only
async def remove_item(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id, item_id = request.path_params["issue_id"], request.path_params["item_id"]
    # The item is gone afterwards: back to the section it was in.
    sections = await run_in_threadpool(w.store.issue_sections, issue_id)
    section = next((name for name, items in sections.items()
                    if any(i.id == item_id for i in items)), None)
    return await apply_change(request, lambda: content_edits.remove_item(
        w.config, w.store, issue_id, item_id, editor, w.clock()),
        f"Item {item_id} removed; every variant re-rendered.",
        f"section-{section}" if section and section.isalpha() else "items")


@editor_only
async def lead(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id, item_id = request.path_params["issue_id"], request.path_params["item_id"]
    chosen = None if _field(request, "lead") == "no" else item_id
    return await apply_change(request, lambda: content_edits.set_lead(
        w.config, w.store, issue_id, chosen, editor, w.clock()),
        f"Item {item_id} is the lead story; every variant re-rendered." if chosen else
        "No lead story; every variant re-rendered.", f"item-{item_id}")


@editor_only
async def move_section(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    section = _field(request, "section")
    step = {"up": -1, "down": 1}.get(_field(request, "move"))
    if step is None:
        raise HTTPException(400, "Move a section up or down.")
    return await apply_change(request, lambda: content_edits.move_section(
        w.config, w.store, issue_id, section, step, editor, w.clock()),
        f"Section {section} moved {_field(request, 'move')}; every variant re-rendered.",
        f"section-{section}" if section.isalpha() else "items")


@editor_only
async def headers(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    subject, preheader = _field(request, "subject"), _field(request, "preheader")
    return await apply_change(request, lambda: content_edits.set_headers(
        w.config, w.store, issue_id, subject, preheader, editor, w.clock()),
        "Subject and preheader saved; every variant re-rendered.", "headers")


routes = [
    Route("/admin/issues/{issue_id}/content/add", add_item, methods=["POST"]),
    Route("/admin/issues/{issue_id}/content/{item_id:int}/text", edit_text, methods=["POST"]),
    Route("/admin/issues/{issue_id}/content/{item_id:int}/remove", remove_item,
          methods=["POST"]),
    Route("/admin/issues/{issue_id}/content/{item_id:int}/lead", lead, methods=["POST"]),
    Route("/admin/issues/{issue_id}/content/sections", move_section, methods=["POST"]),
    Route("/admin/issues/{issue_id}/content/headers", headers, methods=["POST"]),
]
