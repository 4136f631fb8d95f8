"""Per-segment variants of an issue: a pure function of the issue's items, the segment's
preferences and the editors' overrides. No I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .models import SECTIONS, Item


@dataclass(frozen=True)
class Overrides:
    """What editors changed: items dropped from every variant, and items pinned to the
    top of their section (in this order) in every variant, whatever the caps."""

    dropped: frozenset[int] = frozenset()
    pinned: tuple[int, ...] = ()
    # The lead story: out of its section, on top of every variant (see plan_lead).
    lead: int | None = None
    sponsored: frozenset[int] = frozenset()  # sponsors' blocks (VariantSpec.sponsors)
    # This issue's order of sections: the segments keep their own sections, in this order.
    section_order: tuple[str, ...] = ()


@dataclass(frozen=True)
class VariantSpec:
    """How a segment wants its issue: section order, items per section, topics first."""

    order: tuple[str, ...] = SECTIONS
    max_items: int | None = None
    prefer_topics: frozenset[str] = field(default_factory=frozenset)
    sponsors: bool = True  # False: sponsored blocks are left out


def plan_variant(sections: Mapping[str, Sequence[Item]], spec: VariantSpec,
                 overrides: Overrides | None = None) -> dict[str, tuple[Item, ...]]:
    """The sections of one variant, in the segment's order.

    Within news and research: pinned items first, then items on a preferred topic, then
    the rest, each group keeping the issue's order (newest first). Events stay in date
    order: an event's topic never makes a later meeting look sooner.
    """
    overrides = overrides or Overrides()
    left_out = overrides.dropped | ({overrides.lead} if overrides.lead is not None else set())
    if not spec.sponsors:
        left_out |= overrides.sponsored
    # Keyed by an item's id, which is None before it is stored: such an item is never pinned.
    pin_rank: dict[int | None, int] = {item_id: rank
                                       for rank, item_id in enumerate(overrides.pinned)}
    planned: dict[str, tuple[Item, ...]] = {}
    for name in section_order(spec.order, overrides.section_order):
        items = [i for i in sections.get(name, ()) if i.id not in left_out]
        if name != "events":
            items.sort(key=lambda i: (pin_rank.get(i.id, len(pin_rank)),
                                      not (set(i.topics) & spec.prefer_topics)))
        else:
            items.sort(key=lambda i: (i.id not in pin_rank, pin_rank.get(i.id, 0)))
        if spec.max_items is not None:
            pinned = [i for i in items if i.id in pin_rank]
            rest = [i for i in items if i.id not in pin_rank]
            items = pinned + rest[:max(0, spec.max_items - len(pinned))]
            if name == "events":
                items.sort(key=lambda i: (i.id not in pin_rank, i.event_start))
        if items:
            planned[name] = tuple(items)
    return planned


def section_order(segment: Sequence[str], issue: Sequence[str]) -> tuple[str, ...]:
    """The segment's sections in the issue's order (an editor's, for this issue); those
    the issue's order does not name keep the segment's place, after the named ones."""
    if not issue:
        return tuple(segment)
    rank = {name: at for at, name in enumerate(issue)}
    return tuple(sorted(segment, key=lambda name: rank.get(name, len(rank))))


def plan_lead(sections: Mapping[str, Sequence[Item]], spec: VariantSpec,
              overrides: Overrides) -> Item | None:
    """The lead story of one variant: the editors' choice, in every variant whatever its
    sections and caps; not when dropped, nor a sponsor's block where sponsors are out."""
    lead = overrides.lead
    if lead is None or lead in overrides.dropped:
        return None
    if not spec.sponsors and lead in overrides.sponsored:
        return None
    return next((i for items in sections.values() for i in items if i.id == lead), None)


def carriers(sections: Mapping[str, Sequence[Item]], specs: Mapping[str, VariantSpec],
             overrides: Overrides) -> dict[int, tuple[str, ...]]:
    """For each stored item of the issue, the variants (keys of `specs`, in their order)
    that carry it: in one of its sections (plan_variant) or as its lead story (plan_lead).
    An item no variant carries (dropped, over a cap, in a section no segment reads) maps
    to ()."""
    carried: dict[int, list[str]] = {i.id: [] for items in sections.values() for i in items
                                     if i.id is not None}
    for name, spec in specs.items():
        lead = plan_lead(sections, spec, overrides)
        shown = {i.id for items in plan_variant(sections, spec, overrides).values()
                 for i in items} | ({lead.id} if lead is not None else set())
        for item_id, names in carried.items():
            if item_id in shown:
                names.append(name)
    return {item_id: tuple(names) for item_id, names in carried.items()}
