"""An issue's variants: each segment's plan of the stored sections, rendered and stored."""

from __future__ import annotations

from datetime import UTC, datetime

from ..config import Config
from ..models import Issue, RenderedVariant
from ..ports import IssueVariants
from ..variants import Overrides, VariantSpec, plan_variant
from . import render_variant
from .context import Readership, build_context, issue_journals


def variant_spec(config: Config, segment: str) -> VariantSpec:
    options = config.variant_options(segment)
    return VariantSpec(order=tuple(options.sections), max_items=options.max_items,
                       prefer_topics=frozenset(options.prefer_topics))


def render_issue(config: Config, store: IssueVariants, issue: Issue) -> list[RenderedVariant]:
    """Render every variant of `issue` from its stored sections and the editors'
    overrides (drops, pins); store and return them."""
    overrides = Overrides(dropped=issue.dropped, pinned=issue.pinned)
    sections = store.issue_sections(issue.id)
    list_titles = [entry.title for entry in config.lists]
    descriptions = {s.name: s.description for s in config.segments}
    journals = issue_journals(config, (i for items in sections.values() for i in items))
    rendered = []
    for segment in config.variant_names:
        readership = Readership(segment, descriptions.get(segment, ""), list_titles)
        planned = plan_variant(sections, variant_spec(config, segment), overrides)
        context = build_context(config, issue, planned, readership, journals)
        rendered.append(render_variant(config.resolve(config.render.templates), segment, context))
    store.save_variants(issue.id, rendered, datetime.now(UTC))
    return rendered


def variants_of(config: Config, store: IssueVariants, issue: Issue) -> list[RenderedVariant]:
    """The issue's stored variants, rendered (and stored) first if there are none."""
    return store.get_variants(issue.id) or render_issue(config, store, issue)
