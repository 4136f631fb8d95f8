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


@dataclass(frozen=True)
class VariantSpec:
    """How a segment wants its issue: section order, items per section, topics first."""

    order: tuple[str, ...] = SECTIONS
    max_items: int | None = None
    prefer_topics: frozenset[str] = field(default_factory=frozenset)


def plan_variant(sections: Mapping[str, Sequence[Item]], spec: VariantSpec,
                 overrides: Overrides | None = None) -> dict[str, tuple[Item, ...]]:
    """The sections of one variant, in the segment's order.

    Within news and research: pinned items first, then items on a preferred topic, then
    the rest, each group keeping the issue's order (newest first). Events stay in date
    order: an event's topic never makes a later meeting look sooner.
    """
    overrides = overrides or Overrides()
    # Keyed by an item's id, which is None before it is stored: such an item is never pinned.
    pin_rank: dict[int | None, int] = {item_id: rank
                                       for rank, item_id in enumerate(overrides.pinned)}
    planned: dict[str, tuple[Item, ...]] = {}
    for name in spec.order:
        items = [i for i in sections.get(name, ()) if i.id not in overrides.dropped]
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
