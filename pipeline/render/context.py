"""The data a template sees: built from an issue, its sections and a segment. Pure.

Per-recipient values stay as placeholders (see PLACEHOLDERS) so each variant is
rendered once and delivery fills them in for each person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from markdown_it import MarkdownIt

from ..config import Config
from ..gather.sanitize import clean_html, html_to_text
from ..models import SECTION_TITLES, Issue, Item
from .placeholders import PLACEHOLDERS

SUMMARY_CHARS = 280


@dataclass(frozen=True)
class Readership:
    """Who a variant is for, in words the footer can use."""

    segment: str
    description: str
    list_titles: Sequence[str]


def cite_name(name: str) -> str:
    """'Jane A. Smith' or 'Smith, Jane A.' -> 'Smith JA'; 'Smith JA' stays as it is."""
    name = " ".join(name.split())
    if "," in name:
        surname, _, given = name.partition(",")
    else:
        parts = name.split(" ")
        if len(parts) > 1 and parts[-1].isupper() and len(parts[-1]) <= 3:
            return name  # already "Surname Initials" (PubMed style)
        surname, given = parts[-1], " ".join(parts[:-1])
    initials = "".join(p[0] for p in re.split(r"[\s.\-]+", given) if p and p[0].isalpha())
    return f"{surname.strip()} {initials.upper()}".strip()


def author_line(authors: Sequence[str], limit: int = 2) -> str:
    """'Smith J, Lee K, et al.': the citation style readers of IO journals expect."""
    shown = [cite_name(a) for a in authors if a.strip()][:limit]
    if not shown:
        return ""
    return ", ".join(shown) + (", et al." if len(authors) > limit else "")


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})


def editor_note_html(markdown: str) -> str:
    """The editor's note: Markdown with raw HTML disabled, then the email allowlist."""
    return clean_html(_MARKDOWN.render(markdown)) if markdown.strip() else ""


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.-")
    return cut + "…"


def _date_label(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{local.day} {local:%B %Y}"


def _event_view(item: Item, tz: ZoneInfo, base_url: str) -> dict[str, Any]:
    assert item.event_start is not None
    zone = ZoneInfo(item.event_timezone) if _valid_zone(item.event_timezone) else tz
    if item.event_all_day:
        # An all-day event is a date, stored as midnight UTC: shown in any other zone it
        # would move to the day before.
        zone = ZoneInfo("UTC")
    start = item.event_start.astimezone(zone)
    if item.event_all_day:
        when = f"{start:%A} {start.day} {start:%B %Y} (all day)"
    else:
        when = f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M} {start:%Z}"
    location = item.event_location or ("" if item.event_all_day else "Online")
    return {
        "month": f"{start:%b}".upper(),
        "day": str(start.day),
        "when": when,
        "location": location,
        "online": location.strip().casefold() in ("online", "virtual", "webinar"),
        "ics_url": f"{base_url}/events/{item.id}.ics" if item.id is not None else None,
    }


def _valid_zone(name: str | None) -> TypeGuard[str]:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (KeyError, ValueError):
        return False
    return True


# PubMed's RSS puts the citation before the abstract ("J Vasc Interv Radiol. 2026 Nov 20.
# doi: ... Online ahead of print. ABSTRACT PURPOSE: ..."); readers want the abstract.
_ABSTRACT = re.compile(r"^.{0,400}?\bABSTRACT\b:?\s*", re.DOTALL)


def summary_text(item: Item) -> str:
    text = html_to_text(item.summary_html)
    if item.section == "research":
        text = _ABSTRACT.sub("", text, count=1)
    return shorten(text)


def item_view(item: Item, tz: ZoneInfo, base_url: str) -> dict[str, Any]:
    summary = summary_text(item)
    view: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "link": item.link,
        "summary": summary,
        "authors": author_line(item.authors),
        # "Smith J, Lee K." / "Smith J, Lee K, et al." : always one closing period.
        "authors_cite": (lambda a: a if not a or a.endswith(".") else a + ".")(
            author_line(item.authors)),
        "journal": item.journal,
        "year": item.published_at.year if item.published_at else None,
        "doi": item.doi,
        "doi_url": f"https://doi.org/{item.doi}" if item.doi else None,
        "pmid": item.pmid,
        "date": _date_label(item.published_at, tz) if item.published_at else None,
        "event": _event_view(item, tz, base_url) if item.section == "events" else None,
    }
    return view


def preheader_for(count: int, lead_title: str) -> str:
    """The line inboxes show after the subject, unless an editor wrote one."""
    return shorten(f"{count} updates this week: {lead_title}", 140)


def build_context(
    config: Config,
    issue: Issue,
    sections: Mapping[str, Sequence[Item]],
    readership: Readership,
) -> dict[str, Any]:
    """`sections` in the order the variant shows them (see variants.plan_variant)."""
    nl = config.newsletter
    tz = nl.tz
    date_label = _date_label(issue.period_start, tz)
    shown: list[dict[str, Any]] = [
        {"key": key, "title": SECTION_TITLES[key],
         "items": [item_view(i, tz, nl.base_url) for i in items]}
        for key, items in sections.items() if items
    ]
    lead = next((s["items"][0]["title"] for s in shown if s["items"]), "")
    count = sum(len(s["items"]) for s in shown)
    return {
        "newsletter": {
            "name": nl.name, "society": nl.society or nl.name,
            "postal_address": nl.postal_address, "base_url": nl.base_url,
            "logo_url": nl.logo_url, "logo_alt": nl.logo_alt or nl.name,
            "language": nl.language, "from_email": nl.from_email,
        },
        "issue": {"id": issue.id, "number": issue.number, "date": date_label,
                  "note_html": editor_note_html(issue.editor_note),
                  "note_text": issue.editor_note.strip()},
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
