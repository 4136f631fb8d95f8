"""An issue's variants: each segment's plan of the stored sections, rendered and stored."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from ..config import Config
from ..models import Issue, ItemEdit, RenderedVariant
from ..ports import IssueVariants
from ..variants import Overrides, VariantSpec, plan_lead, plan_variant
from . import render_variant
from .context import Readership, build_context, issue_journals, item_viewer
from .editor_views import with_editor_content


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


def render_issue(config: Config, store: IssueVariants, issue: Issue) -> list[RenderedVariant]:
    """Render every variant of `issue` from its stored sections and the editors'
    overrides (drops, pins, their own content); store and return them."""
    edits = store.issue_edits(issue.id)
    overrides = overrides_of(issue, edits)
    sections = store.issue_sections(issue.id)
    list_titles = [entry.title for entry in config.lists]
    descriptions = {s.name: s.description for s in config.segments}
    journals = issue_journals(config, (i for items in sections.values() for i in items))
    view = item_viewer(config, issue, journals)  # the lead stories'
    rendered = []
    for segment in config.variant_names:
        readership = Readership(segment, descriptions.get(segment, ""), list_titles)
        spec = variant_spec(config, segment)
        planned = plan_variant(sections, spec, overrides)
        lead = plan_lead(sections, spec, overrides)
        context = with_editor_content(build_context(config, issue, planned, readership, journals),
                                      issue, view(lead) if lead else None, edits)
        rendered.append(render_variant(config.resolve(config.render.templates), segment, context))
    store.save_variants(issue.id, rendered, datetime.now(UTC))
    return rendered


def variants_of(config: Config, store: IssueVariants, issue: Issue) -> list[RenderedVariant]:
    """The issue's stored variants, rendered (and stored) first if there are none."""
    return store.get_variants(issue.id) or render_issue(config, store, issue)
