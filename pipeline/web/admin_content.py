"""/admin/issues/ID/content/...: editors' own content in an issue. Add an item by hand,
edit an item's headline and teaser for this issue, remove an added item, choose the lead
story, move a section, write the subject and preheader. Each post carries the session's
CSRF token (editor_only checks it) and calls one function of pipeline.content_edits;
what the editor typed is checked there, and a refusal comes back as the page's message.
Every edit returns to the item (or form) it changed."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import content_edits
from ..issue_actions import parse_local
from .admin import apply_change, back_to, editor_only, flash
from .common import web

FIELD_CHARS = 4000  # no field of these forms needs more (the teaser's limit is 2,000)


def _field(request: Request, name: str) -> str:
    value = str(request.state.form.get(name, ""))
    if len(value) > FIELD_CHARS:
        raise HTTPException(400, f"The field {name!r} is over {FIELD_CHARS:,} characters.")
    return value


@editor_only
async def add_item(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id = request.path_params["issue_id"]
    starts = _field(request, "starts").strip()
    try:
        when = parse_local(starts, w.config.newsletter.tz) if starts else None
    except ValueError as e:
        flash(request, f"starts: {e}", "error")
        return back_to(issue_id, request, "add-item")
    new = content_edits.NewItem(
        section=_field(request, "section"), title=_field(request, "title"),
        link=_field(request, "link"), teaser=_field(request, "teaser"),
        image_url=_field(request, "image_url"), image_alt=_field(request, "image_alt"),
        lead=_field(request, "lead") == "yes", sponsored=_field(request, "sponsored") == "yes",
        starts=when, where=_field(request, "where"))
    added: list[int] = []

    def change() -> None:
        added.append(content_edits.add_item(w.config, w.store, issue_id, new, editor,
                                            w.clock())[1])

    response = await apply_change(request, change, "Item added; every variant re-rendered.",
                                  "add-item")
    if added:  # back to the new item, not to the form
        return back_to(issue_id, request, f"item-{added[0]}")
    return response


@editor_only
async def edit_text(request: Request, editor: str) -> Response:
    w = web(request)
    issue_id, item_id = request.path_params["issue_id"], request.path_params["item_id"]
    title = _field(request, "title").strip() or None
    teaser = "" if _field(request, "no_teaser") == "yes" else (
        _field(request, "teaser").strip() or None)
    return await apply_change(request, lambda: content_edits.edit_item_text(
        w.config, w.store, issue_id, item_id, title, teaser, editor, w.clock()),
        f"Item {item_id}: headline and teaser saved; every variant re-rendered.",
        f"item-{item_id}")


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
