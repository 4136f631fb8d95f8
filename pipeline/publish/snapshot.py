"""The public copy of a sent issue: the public variant (`[syndication] public_variant`,
else the first) made from the same plan and context as its email
(render.issue.variant_contexts), rendered through templates/web/public_issue_body.html.j2
into an article that belongs to nobody: no greeting by name, no unsubscribe or
preferences link, no placeholder, "Subscribe" at the end.

Kept once the send completes (workflow.publish), so the archive never renders a draft
and a later change to the items does not rewrite what went out unless asked
(`insights publish --refresh`)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..config import Config
from ..errors import InsightsError, RenderError
from ..gather.sanitize import html_to_text
from ..models import Issue, Item
from ..ports import IssueSections
from ..render.issue import variant_contexts
from ..render.placeholders import inert
from ..render.when import item_day
from .model import PublicIssue, PublicItem, item_anchor

# The web app's templates (pipeline/web/common.py reads the same folder): the archive is
# a web page, not an email, so [render] templates does not hold it.
WEB_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "web"
BODY_TEMPLATE = "public_issue_body.html.j2"


def _inert(value: Any) -> Any:
    """Jinja's finalize: nothing in a public copy is ever filled per reader, so no
    marker survives in it, whether a feed wrote it or the context carried one."""
    if isinstance(value, Markup):
        return Markup(inert(str(value)))
    if isinstance(value, str):
        return inert(value)
    return value


@lru_cache(maxsize=2)
def _environment(templates: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)), autoescape=True,
        undefined=jinja2.StrictUndefined, finalize=_inert, trim_blocks=True,
        lstrip_blocks=True)


def _web_config(config: Config) -> Config:
    """The config as the archive renders with it: no utm tags on its links (they say
    utm_medium=email; a reader of the archive did not come by email)."""
    if not config.links.utm:
        return config
    return config.model_copy(update={"links": config.links.model_copy(update={"utm": False})})


def public_copy(config: Config, store: IssueSections, issue: Issue) -> PublicIssue:
    """The public copy of `issue`, which was sent. Pure but for reading its sections
    and the editors' content from `store`."""
    if issue.sent_at is None:
        raise InsightsError(f"issue {issue.id} was not sent: it has no public copy")
    sections = store.issue_sections(issue.id)
    segment = config.public_variant
    context = next((c for name, c in variant_contexts(
        _web_config(config), issue, sections, store.issue_edits(issue.id)) if name == segment),
        None)
    if context is None:
        raise RenderError(f"issue {issue.id}: no variant {segment!r} to publish "
                          "([syndication] public_variant)")
    stored = {i.id: i for items in sections.values() for i in items if i.id is not None}
    lead = context.get("lead")
    shown = ([(stored[lead["id"]].section, lead)] if lead else []) + [
        (section["key"], view) for section in context["sections"] for view in section["items"]]
    body = _render_body(config, context, stored)
    published = issue.sent_at
    return PublicIssue(
        id=issue.id, number=issue.number, title=inert(context["subject"]),
        summary=inert(context["preheader"]), published=published, updated=published,
        body_html=body, image_url=lead["image"]["url"] if lead and lead.get("image") else None,
        items=tuple(_public_item(issue, section, view, stored[view["id"]])
                    for section, view in shown))


def _render_body(config: Config, context: dict[str, Any], stored: dict[int, Item]) -> str:
    tz = config.newsletter.tz
    # <time datetime>: an all-day event's (first) day, else its instant.
    starts = {item_id: (item_day(item, tz) if item.event_all_day else item.event_start).isoformat()
              for item_id, item in stored.items() if item.event_start is not None}
    subscribe = f"{config.newsletter.base_url}/subscribe"
    try:
        template = _environment(WEB_TEMPLATES).get_template(BODY_TEMPLATE)
        return template.render(context, anchor=item_anchor, starts=starts,
                               subscribe_url=subscribe).strip() + "\n"
    except jinja2.TemplateError as e:
        raise RenderError(f"{WEB_TEMPLATES / BODY_TEMPLATE}: {e}") from e


def _public_item(issue: Issue, section: str, view: dict[str, Any], item: Item) -> PublicItem:
    """One shown item as the copy showed it: the editors' headline and teaser if any."""
    assert issue.sent_at is not None and item.id is not None
    teaser = view.get("teaser_html")
    summary = html_to_text(teaser) if teaser is not None else view["summary"]
    event = view.get("event")
    return PublicItem(
        id=item.id, issue_id=issue.id, section=section, title=inert(view["title"]),
        link=view["link"], summary=inert(summary), published=issue.sent_at,
        updated=issue.sent_at, doi=item.doi, journal=view.get("journal"),
        authors=tuple(item.authors), event_start=item.event_start,
        event_when=event["when"] if event else None)


def copy_hash(copy: PublicIssue) -> str:
    """sha256 of what a reader sees of the copy (not its times): a new hash is a new
    "updated" in the feeds."""
    items = [[i.id, i.section, i.title, i.link, i.summary, i.doi, i.journal, list(i.authors),
              i.event_start.isoformat() if i.event_start else None, i.event_when]
             for i in copy.items]
    payload = [copy.id, copy.number, copy.title, copy.summary, copy.body_html,
               copy.image_url, items]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()
