"""What the issue page shows of each item beside its buttons: the teaser the email uses,
where its link goes, its topics (what segments prefer) and which variants carry it.
The variants are planned once per page (pipeline.variants.carriers), not per item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..config import Config
from ..gather.sanitize import html_to_text
from ..models import Issue, Item, ItemEdit
from ..render.context import editor_note_html, summary_text
from ..render.issue import overrides_of, variant_spec
from ..render.sentences import shorten
from ..variants import carriers

TEASER_CHARS = 160  # two lines of the item's row at its narrowest; CSS clamps it too


@dataclass(frozen=True)
class ItemFacts:
    teaser: str  # the email's teaser as text, shortened; "" when it has none
    href: str | None  # the item's link, when it is a web address (http or https)
    link_label: str  # the link's host and path, what the editor recognises
    topics: tuple[str, ...]
    variants: tuple[str, ...]  # the variants that carry it, in the config's order
    carried: str  # the same, as the page says it


def item_facts(config: Config, issue: Issue, sections: Mapping[str, Sequence[Item]],
               edits: Mapping[int, ItemEdit]) -> dict[int, ItemFacts]:
    """By item id, for every stored item of `issue` (`sections`: store.issue_sections;
    `edits`: store.issue_edits)."""
    names = config.variant_names
    carried = carriers(sections, {name: variant_spec(config, name) for name in names},
                       overrides_of(issue, edits))
    facts = {}
    for items in sections.values():
        for item in items:
            if item.id is None:
                continue
            variants = carried.get(item.id, ())
            web_link = item.link if link_label(item.link) else None
            facts[item.id] = ItemFacts(
                teaser=teaser_text(item, edits.get(item.id)), href=web_link,
                link_label=link_label(item.link), topics=item.topics, variants=variants,
                carried=carried_phrase(variants, names))
    return facts


def teaser_text(item: Item, edit: ItemEdit | None) -> str:
    """The teaser the email shows: the editors' (Markdown) when they wrote one, "" when
    they chose none, else the feed's; as one line of text."""
    if edit is not None and edit.teaser is not None:
        text = html_to_text(editor_note_html(edit.teaser))
    else:
        text = summary_text(item)
    return shorten(text, TEASER_CHARS)


def link_label(url: str | None) -> str:
    """"https://www.example.org/news/a?utm=x" -> "www.example.org/news/a"; "" for no
    link or anything but a web address (nothing else is offered as a link)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:  # an unreadable port or address
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return ""
    return host + (f":{port}" if port else "") + parts.path.rstrip("/")


def carried_phrase(variants: Sequence[str], every: Sequence[str]) -> str:
    """"In: liver, lung", or "In every variant" (of `every`), or "In no variant"."""
    if not variants:
        return "In no variant"
    if set(every) <= set(variants):
        return "In every variant"
    return "In: " + ", ".join(variants)
