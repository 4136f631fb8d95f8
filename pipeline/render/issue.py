"""An issue's variants: each segment's plan of the stored sections, rendered and stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..approval_words import Editorial, ShownItem
from ..config import Config
from ..models import SECTIONS, Issue, Item, ItemEdit, RenderedVariant
from ..ports import IssueVariants
from ..variants import Overrides, VariantSpec, plan_lead, plan_variant, section_order
from . import render_variant
from .context import Readership, build_context, issue_journals, item_viewer
from .editor_views import with_editor_content
from .when import item_day


def variant_spec(config: Config, segment: str) -> VariantSpec:
    options = config.variant_options(segment)
    return VariantSpec(order=tuple(options.sections), max_items=options.max_items,
                       prefer_topics=frozenset(options.prefer_topics),
                       sponsors=options.sponsors)


def overrides_of(issue: Issue, edits: Mapping[int, ItemEdit]) -> Overrides:
    """Everything editors decided that plan_variant reads: drops, pins, the lead story,
    the sponsors' blocks and the sections' order. `edits`: store.issue_edits."""
    return Overrides(dropped=issue.dropped, pinned=issue.pinned, lead=issue.lead_item_id,
                     sponsored=frozenset(i for i, e in edits.items() if e.sponsored),
                     section_order=issue.section_order)


Plan = tuple[str, dict[str, tuple[Item, ...]], Item | None]  # segment, sections, lead


def variant_plans(config: Config, issue: Issue, sections: Mapping[str, Sequence[Item]],
                  edits: Mapping[int, ItemEdit]) -> Iterator[Plan]:
    """Each variant's sections and lead story (variants.plan_variant, plan_lead), in the
    config's order of variants: what is rendered, and what an approval's shape records."""
    overrides = overrides_of(issue, edits)
    for segment in config.variant_names:
        spec = variant_spec(config, segment)
        yield segment, plan_variant(sections, spec, overrides), plan_lead(sections, spec,
                                                                          overrides)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16] if text else ""


def editorial_shape(config: Config, issue: Issue, sections: Mapping[str, Sequence[Item]],
                    edits: Mapping[int, ItemEdit]) -> Editorial:
    """What editors shaped in `issue` (see approval_words.Editorial): kept with an
    approval, compared with the issue's shape later to say what changed."""
    tz = config.newsletter.tz
    shown: dict[int, ShownItem] = {}
    variants: dict[str, tuple[int, ...]] = {}
    leads: set[int] = set()

    def seen(item: Item) -> int:
        assert item.id is not None  # stored items only
        if item.id not in shown:
            edit = edits.get(item.id)
            teaser = edit.teaser if edit and edit.teaser is not None else item.summary_html
            day = item_day(item, tz) if item.event_start is not None else None
            shown[item.id] = ShownItem(
                item.id, edit.title if edit and edit.title else item.title,
                f"{day.day} {day:%b}" if day else "", _digest(teaser), item.section)
        return item.id

    for segment, planned, lead in variant_plans(config, issue, sections, edits):
        if lead is not None:
            leads.add(seen(lead))
        variants[segment] = ((seen(lead),) if lead else ()) + tuple(
            seen(i) for items in planned.values() for i in items)
    placed = frozenset(i.id for items in sections.values() for i in items if i.id is not None)
    return Editorial(
        items=shown, variants=variants, placed=placed, dropped=issue.dropped & placed,
        lead=issue.lead_item_id if issue.lead_item_id in leads else None,
        sponsored=frozenset(i for i, e in edits.items() if e.sponsored and i in placed),
        note=_digest(issue.editor_note.strip()),
        section_order=section_order(SECTIONS, issue.section_order))


def variant_contexts(config: Config, issue: Issue, sections: Mapping[str, Sequence[Item]],
                     edits: Mapping[int, ItemEdit]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each variant's segment and the context its templates see: the plan
    (variant_plans), the items' views and the editors' content. The email's variants
    and the archive's public copy (pipeline/publish/snapshot.py) are both made of these."""
    list_titles = [entry.title for entry in config.lists]
    descriptions = {s.name: s.description for s in config.segments}
    journals = issue_journals(config, (i for items in sections.values() for i in items))
    view = item_viewer(config, issue, journals)  # the lead stories'
    for segment, planned, lead in variant_plans(config, issue, sections, edits):
        readership = Readership(segment, descriptions.get(segment, ""), list_titles)
        yield segment, with_editor_content(
            build_context(config, issue, planned, readership, journals), issue,
            view(lead) if lead else None, edits)


def render_issue(config: Config, store: IssueVariants, issue: Issue) -> list[RenderedVariant]:
    """Render every variant of `issue` from its stored sections and the editors'
    overrides (drops, pins, their own content); store and return them."""
    templates = config.resolve(config.render.templates)
    rendered = [render_variant(templates, segment, context) for segment, context in
                variant_contexts(config, issue, store.issue_sections(issue.id),
                                 store.issue_edits(issue.id))]
    store.save_variants(issue.id, rendered, datetime.now(UTC))
    return rendered


def variants_of(config: Config, store: IssueVariants, issue: Issue) -> list[RenderedVariant]:
    """The issue's stored variants, rendered (and stored) first if there are none."""
    return store.get_variants(issue.id) or render_issue(config, store, issue)
