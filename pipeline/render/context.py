"""The data a template sees: built from an issue, its sections and a segment. Pure.

Per-recipient values stay as placeholders (see PLACEHOLDERS) so each variant is
rendered once and delivery fills them in for each person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ..config import Config
from ..gather.sanitize import clean_html, html_to_text
from ..models import SECTION_TITLES, Issue, Item
from ..tracking import Campaign, slug
from .brand import newsletter_view
from .citations import author_line, journal_names
from .events import event_view
from .placeholders import PLACEHOLDERS
from .plain import MARKDOWN, markdown_to_text
from .sentences import shorten
from .teasers import research_teaser

SUMMARY_CHARS = 280


@dataclass(frozen=True)
class Readership:
    """Who a variant is for, in words the footer can use."""

    segment: str
    description: str
    list_titles: Sequence[str]


def editor_note_html(markdown: str) -> str:
    """The editor's note: Markdown with raw HTML disabled, then the email allowlist."""
    return clean_html(MARKDOWN.render(markdown)) if markdown.strip() else ""


def _date_label(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{local.day} {local:%B %Y}"


def summary_text(item: Item) -> str:
    """A research item's teaser (render/teasers.py: whole sentences of the conclusion);
    any other item's summary, cut at a word."""
    if item.section == "research":
        return research_teaser(item.summary_html, SUMMARY_CHARS)
    return shorten(html_to_text(item.summary_html), SUMMARY_CHARS)


def item_view(item: Item, tz: ZoneInfo, base_url: str, campaign: Campaign | None = None,
              journals: Mapping[str, str] | None = None, year: int | None = None,
              link_label: str | None = None) -> dict[str, Any]:
    """`campaign`: our utm tags for the item's link ([links] utm); `journals`: each
    journal name as shown (citations.journal_names); `year`: the issue's; `link_label`:
    the item's source's, if it configures one."""
    summary = summary_text(item)
    authors = author_line(item.authors)
    view: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "link": campaign.tag(item.link) if campaign else item.link,
        "summary": summary,
        "authors": authors,
        # "Smith J, Lee K." / "Smith J, Lee K, et al." : always one closing period.
        "authors_cite": authors if not authors or authors.endswith(".") else authors + ".",
        "journal": (journals or {}).get(item.journal, item.journal) if item.journal else None,
        "year": item.published_at.year if item.published_at else None,
        "doi": item.doi,
        "doi_url": f"https://doi.org/{item.doi}" if item.doi else None,
        "pmid": item.pmid,
        "date": _date_label(item.published_at, tz) if item.published_at else None,
        "event": (event_view(item, tz, base_url, year, link_label)
                  if item.section == "events" else None),
    }
    return view


def issue_journals(config: Config, items: Iterable[Item]) -> dict[str, str]:
    """Each journal name among `items` as every variant of the issue shows it."""
    return journal_names((i.journal for i in items if i.section == "research"),
                         config.journals)


def campaign_for(config: Config, issue: Issue) -> Campaign | None:
    """Our utm tags for this issue's links to other sites, when [links] utm is on: the
    campaign is the issue ("2026-W48"), so each issue's readers count apart."""
    links, nl = config.links, config.newsletter
    if not links.utm:
        return None
    return Campaign(source=links.utm_source or slug(nl.name), medium=links.utm_medium,
                    campaign=issue.id, own_host=urlsplit(nl.base_url).hostname or "")


def item_viewer(config: Config, issue: Issue,
                journals: Mapping[str, str]) -> Callable[[Item], dict[str, Any]]:
    """item_view with what every item of `issue` shares: our utm tags, the journal
    names (issue_journals), the issue's year and each source's link label. The sections'
    items and the lead story are shown alike."""
    nl = config.newsletter
    campaign = campaign_for(config, issue)
    year = issue.period_start.astimezone(nl.tz).year
    labels = {s.name: s.link_label for s in config.sources}
    return lambda item: item_view(item, nl.tz, nl.base_url, campaign, journals, year,
                                  labels.get(item.source))


def preheader_for(count: int, lead_title: str) -> str:
    """The line inboxes show after the subject, unless an editor wrote one."""
    return shorten(f"{count} updates this week: {lead_title}", 140)


def build_context(
    config: Config,
    issue: Issue,
    sections: Mapping[str, Sequence[Item]],
    readership: Readership,
    journals: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`sections` in the order the variant shows them (see variants.plan_variant);
    `journals` from issue_journals over the whole issue (default: over `sections`), so
    that every variant names a journal alike."""
    nl = config.newsletter
    tz = nl.tz
    date_label = _date_label(issue.period_start, tz)
    if journals is None:
        journals = issue_journals(config, (i for items in sections.values() for i in items))
    view = item_viewer(config, issue, journals)
    shown: list[dict[str, Any]] = [
        {"key": key, "title": SECTION_TITLES[key], "items": [view(i) for i in items]}
        for key, items in sections.items() if items
    ]
    lead = next((s["items"][0]["title"] for s in shown if s["items"]), "")
    count = sum(len(s["items"]) for s in shown)
    return {
        "newsletter": newsletter_view(nl),
        "issue": {"id": issue.id, "number": issue.number, "date": date_label,
                  "note_html": editor_note_html(issue.editor_note),
                  "note_text": markdown_to_text(issue.editor_note)},
        "subject": nl.subject.format(name=nl.name, date=date_label, number=issue.number),
        "preheader": preheader_for(count, lead),
        "sections": shown,
        "audience": {"segment": readership.segment, "description": readership.description,
                     "lists": list(readership.list_titles)},
        "links": {
            **PLACEHOLDERS,
            "view_in_browser": f"{nl.base_url}/issues/{issue.id}/{readership.segment}",
        },
    }
