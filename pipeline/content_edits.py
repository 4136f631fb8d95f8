"""Editors' own content in an issue: items added by hand, this issue's headline and
teaser for any item (the feed's original is kept), the lead story, sponsors' blocks, the
sections' order, the subject and the preheader. One function per edit, used by the CLI
and the admin alike (as pipeline.editing's drop, pin and note): each checks what the
editor typed (pipeline.editor_input), stores it, writes the audit log and re-renders
every variant; an approved issue returns to draft and the change shows in its diff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import editor_input as check
from .config import Config
from .errors import InsightsError
from .models import SECTIONS, Issue, Item
from .render.issue import render_issue
from .store.store import Store


@dataclass(frozen=True)
class NewItem:
    """An item as an editor writes it (unchecked: see add_item)."""

    section: str
    title: str
    link: str
    teaser: str = ""
    image_url: str = ""
    image_alt: str = ""
    lead: bool = False
    sponsored: bool = False
    starts: datetime | None = None  # events only: when it begins
    where: str = ""  # events only: where (empty: online)


def add_item(config: Config, store: Store, issue_id: str, new: NewItem, actor: str,
             now: datetime) -> tuple[Issue, int]:
    """Add `new` first in its section; returns the issue and the new item's id."""
    _issue(store, issue_id)
    section = check.section(new.section)
    title = check.one_line(new.title, "title", check.TITLE_CHARS)
    url = check.link(new.link)
    image = check.image_url(new.image_url) if new.image_url.strip() else None
    alt = check.one_line(new.image_alt, "alt text", check.ALT_CHARS, required=bool(image))
    if alt and not image:
        raise check.EditorInputError("alt text: only with an image")
    if section == "events" and new.starts is None:
        raise check.EditorInputError("an event needs the date and time it starts")
    if section != "events" and new.starts is not None:
        raise check.EditorInputError("a start time is for events only")
    where = check.one_line(new.where, "where", check.TITLE_CHARS, required=False)
    item = Item(source="", guid="", section=section, title=title, link=url,
                event_start=new.starts, event_location=where or None)
    item_id = store.add_editor_item(issue_id, item, teaser=check.teaser(new.teaser),
                                    image_url=image, image_alt=alt or None,
                                    sponsored=new.sponsored, added_by=actor, now=now)
    if new.lead:
        store.set_lead(issue_id, item_id, now)
    kind = "sponsored block" if new.sponsored else "item"
    store.audit(actor, issue_id, "add-item",
                f"{kind} {item_id} in {section}{' as lead story' if new.lead else ''}: "
                f"{title}", now)
    return _rerender(config, store, issue_id), item_id


def edit_item_text(config: Config, store: Store, issue_id: str, item_id: int,
                   title: str | None, teaser: str | None, actor: str,
                   now: datetime) -> Issue:
    """This issue's headline and teaser (Markdown) for the item. None: the item's own
    (the feed's); a teaser of "" shows none. A headline equal to the item's own is no
    override."""
    _issue(store, issue_id)
    item = _placed(store, issue_id, item_id)
    headline = check.one_line(title, "title", check.TITLE_CHARS) if title is not None else None
    if headline == item.title:
        headline = None
    text = check.teaser(teaser) if teaser is not None else None
    store.set_item_text(issue_id, item_id, headline, text, now)
    said = [f"headline {headline!r}" if headline else "feed's headline",
            "feed's teaser" if text is None else "no teaser" if not text else "teaser changed"]
    store.audit(actor, issue_id, "edit-item", f"item {item_id}: {', '.join(said)}", now)
    return _rerender(config, store, issue_id)


def remove_item(config: Config, store: Store, issue_id: str, item_id: int, actor: str,
                now: datetime) -> Issue:
    """Remove an item an editor added (a feed's item is dropped, not removed)."""
    _issue(store, issue_id)
    item = _placed(store, issue_id, item_id)
    store.remove_editor_item(issue_id, item_id, now)
    store.audit(actor, issue_id, "remove-item", f"item {item_id}: {item.title}", now)
    return _rerender(config, store, issue_id)


def set_lead(config: Config, store: Store, issue_id: str, item_id: int | None, actor: str,
             now: datetime) -> Issue:
    """The lead story (None: no lead story), on top of every variant."""
    issue = _issue(store, issue_id)
    if item_id is not None:
        if item_id in issue.dropped:
            raise InsightsError(f"item {item_id} is dropped: restore it first")
        title = _placed(store, issue_id, item_id).title
    if item_id == issue.lead_item_id:
        return issue
    store.set_lead(issue_id, item_id, now)
    store.audit(actor, issue_id, "lead",
                f"item {item_id}: {title}" if item_id is not None else "no lead story", now)
    return _rerender(config, store, issue_id)


def set_section_order(config: Config, store: Store, issue_id: str, order: list[str],
                      actor: str, now: datetime) -> Issue:
    """This issue's order of sections (every variant keeps its own sections)."""
    issue = _issue(store, issue_id)
    wanted = check.section_order(order)
    if wanted == (issue.section_order or SECTIONS):
        return issue
    store.set_section_order(issue_id, [] if wanted == SECTIONS else wanted, now)
    store.audit(actor, issue_id, "sections", " → ".join(wanted), now)
    return _rerender(config, store, issue_id)


def move_section(config: Config, store: Store, issue_id: str, section: str, step: int,
                 actor: str, now: datetime) -> Issue:
    """Move a section one place up (-1) or down (+1) in this issue."""
    issue = _issue(store, issue_id)
    order = check.moved(issue.section_order or SECTIONS, section, step)
    return set_section_order(config, store, issue_id, list(order), actor, now)


def set_headers(config: Config, store: Store, issue_id: str, subject: str | None,
                preheader: str | None, actor: str, now: datetime) -> Issue:
    """This issue's subject and preheader; None or empty: the configured ones."""
    issue = _issue(store, issue_id)
    chosen_subject = check.one_line(subject or "", "subject", check.SUBJECT_CHARS,
                                    required=False) or None
    chosen_preheader = check.one_line(preheader or "", "preheader", check.PREHEADER_CHARS,
                                      required=False) or None
    if (chosen_subject, chosen_preheader) == (issue.subject, issue.preheader):
        return issue
    store.set_headers(issue_id, chosen_subject, chosen_preheader, now)
    said = [f"subject {chosen_subject!r}" if chosen_subject else "configured subject",
            f"preheader {chosen_preheader!r}" if chosen_preheader else "configured preheader"]
    store.audit(actor, issue_id, "headers", "; ".join(said), now)
    return _rerender(config, store, issue_id)


def _issue(store: Store, issue_id: str) -> Issue:
    issue = store.get_issue(issue_id)
    if issue is None:
        raise InsightsError(f"no issue {issue_id!r}")
    return issue


def _placed(store: Store, issue_id: str, item_id: int) -> Item:
    for items in store.issue_sections(issue_id).values():
        for item in items:
            if item.id == item_id:
                return item
    raise InsightsError(f"item {item_id} is not in issue {issue_id}")


def _rerender(config: Config, store: Store, issue_id: str) -> Issue:
    issue = _issue(store, issue_id)
    render_issue(config, store, issue)
    return issue
