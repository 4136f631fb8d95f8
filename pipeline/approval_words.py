"""What changed since an issue was approved, in editors' words ("Dropped: ...", "Lead
story: ... (was ...)"), from the issue's editorial shape at approval and now. Pure: no
I/O. The shape is built where variants are planned (pipeline/render/issue.py) and kept
inside the approval's stored content (pipeline/approval.py), so no migration is needed;
an approval made before it was kept compares subjects and preheaders only.

Titles are feed text: the phrases are plain strings, escaped wherever they are shown."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ShownItem:
    """One item as readers see it: the displayed headline (an editor's or the feed's),
    the day of an event ("10 Dec", else ""), a digest of its teaser and its section."""

    id: int
    title: str
    date: str = ""
    teaser: str = ""
    section: str = ""

    @property
    def label(self) -> str:
        return f"{self.title}, {self.date}" if self.date else self.title


@dataclass(frozen=True)
class Editorial:
    """What editors shape in an issue: the items each variant carries, in order (the
    lead story first), the items placed and dropped, the lead, the sponsors' blocks, a
    digest of the note ("" when there is none) and the sections' order."""

    items: Mapping[int, ShownItem]  # every item some variant carries
    variants: Mapping[str, tuple[int, ...]]  # segment -> item ids, in reading order
    placed: frozenset[int] = frozenset()  # every item in the issue, dropped or not
    dropped: frozenset[int] = frozenset()
    lead: int | None = None  # the lead story some variant shows
    sponsored: frozenset[int] = frozenset()
    note: str = ""
    section_order: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shape:
    """An issue as compared: each variant's subject and preheader (absent: an approval
    made before preheaders were kept) and the editorial part (None: made before it was
    kept)."""

    subjects: Mapping[str, str] = field(default_factory=dict)
    preheaders: Mapping[str, str] = field(default_factory=dict)
    editorial: Editorial | None = None


# -- stored form (inside approved_content: JSON) ---------------------------------------

def editorial_json(shape: Editorial) -> dict[str, Any]:
    return {
        "items": [{"id": i.id, "title": i.title, "date": i.date, "teaser": i.teaser,
                   "section": i.section} for i in shape.items.values()],
        "variants": {segment: list(ids) for segment, ids in shape.variants.items()},
        "placed": sorted(shape.placed), "dropped": sorted(shape.dropped),
        "lead": shape.lead, "sponsored": sorted(shape.sponsored), "note": shape.note,
        "section_order": list(shape.section_order),
    }


def editorial_from_json(data: Any) -> Editorial | None:
    """The stored shape, or None when there is none or it is not one this code wrote
    (an old approval is then compared by subject and preheader only)."""
    if not isinstance(data, dict):
        return None
    try:
        items = {int(i["id"]): ShownItem(int(i["id"]), str(i["title"]), str(i["date"]),
                                         str(i["teaser"]), str(i["section"]))
                 for i in data["items"]}
        lead = data["lead"]
        return Editorial(
            items=items,
            variants={str(s): tuple(int(i) for i in ids) for s, ids in data["variants"].items()},
            placed=frozenset(int(i) for i in data["placed"]),
            dropped=frozenset(int(i) for i in data["dropped"]),
            lead=int(lead) if lead is not None else None,
            sponsored=frozenset(int(i) for i in data["sponsored"]),
            note=str(data["note"]),
            section_order=tuple(str(s) for s in data["section_order"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


# -- the comparison ---------------------------------------------------------------------

def describe_changes(old: Shape, new: Shape) -> list[str]:
    """What changed from `old` (as approved) to `new`, one phrase per change, in the
    order an editor checks them: items in and out, their words, the lead, the sponsors,
    the order, the note, then the subject and preheader lines."""
    phrases: list[str] = []
    if old.editorial is not None and new.editorial is not None:
        phrases += _editorial_changes(old.editorial, new.editorial)
    phrases += _header_changes("Subject", old.subjects, new.subjects)
    phrases += _header_changes("Preheader", old.preheaders, new.preheaders)
    return phrases


def _header_changes(name: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    common = [s for s in new if s in old]
    changed = [s for s in common if old[s] != new[s]]
    if not changed:
        return []
    which = "every variant" if len(changed) == len(common) > 1 else ", ".join(changed)
    return [f"{name} changed ({which})"]


def _carriers(shape: Editorial) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for segment, ids in shape.variants.items():
        for item_id in ids:
            out.setdefault(item_id, set()).add(segment)
    return out


def _in_order(*shapes: Editorial) -> list[int]:
    """Every item id any shape carries, in reading order (the first shape's first)."""
    seen: dict[int, None] = {}
    for shape in shapes:
        for ids in shape.variants.values():
            seen.update(dict.fromkeys(ids))
    return list(seen)


def _segments(names: Iterable[str], every: Sequence[str]) -> str:
    named = [s for s in every if s in set(names)]
    return "every variant" if len(named) == len(every) > 1 else ", ".join(named)


def _editorial_changes(old: Editorial, new: Editorial) -> list[str]:
    before, after = _carriers(old), _carriers(new)
    common = [s for s in new.variants if s in old.variants]  # variants both have
    kinds: dict[str, list[str]] = {k: [] for k in (
        "Restored", "Dropped", "Removed", "Added", "in", "Headline", "Teaser", "Date",
        "Lead", "Sponsored", "Moved", "Sections", "Note")}

    def label(item_id: int | None) -> str:
        shown = new.items.get(item_id or -1) or old.items.get(item_id or -1)
        return shown.label if shown else f"item {item_id}"

    for item_id in _in_order(new, old):
        was, now = before.get(item_id, set()), after.get(item_id, set())
        if bool(now) != bool(was):  # it came into some variant, or went from all of them
            # the shape it was not shown in says why: not in the issue, or dropped there
            absent = old if now else new
            added, dropped, other = (("Added", "Restored", f"Now in {_segments(now, common)}")
                                     if now else ("Removed", "Dropped", "No longer in any variant"))
            if item_id not in absent.placed:
                sponsored = " (sponsored)" if now and item_id in new.sponsored else ""
                kinds[added].append(f"{added}: {label(item_id)}{sponsored}")
            elif item_id in absent.dropped:
                kinds[dropped].append(f"{dropped}: {label(item_id)}")
            else:
                kinds["in"].append(f"{other}: {label(item_id)}")
            continue
        gained, lost = (now - was) & set(common), (was - now) & set(common)
        if gained:
            kinds["in"].append(f"Now also in {_segments(gained, common)}: {label(item_id)}")
        if lost:
            kinds["in"].append(f"No longer in {_segments(lost, common)}: {label(item_id)}")
        first, then = old.items.get(item_id), new.items.get(item_id)
        if first is None or then is None:
            continue
        if first.title != then.title:
            kinds["Headline"].append(f"Headline changed: {first.title} → {then.title}")
        if first.teaser != then.teaser:
            kinds["Teaser"].append(f"Teaser changed: {then.label}")
        if first.date != then.date:
            kinds["Date"].append(f"Date changed: {then.title} ({first.date or 'none'} → "
                                 f"{then.date or 'none'})")
        if item_id in new.sponsored and item_id not in old.sponsored:
            kinds["Sponsored"].append(f"Sponsored: {then.label}")
        elif item_id in old.sponsored and item_id not in new.sponsored:
            kinds["Sponsored"].append(f"No longer sponsored: {then.label}")

    if old.lead != new.lead:
        if new.lead is None:
            kinds["Lead"].append(f"No lead story (was {label(old.lead)})")
        else:
            was_lead = f" (was {label(old.lead)})" if old.lead is not None else ""
            kinds["Lead"].append(f"Lead story: {label(new.lead)}{was_lead}")
    kinds["Moved"] = [f"Moved: {label(i)}" for i in _moved(old, new, common)]
    if old.section_order != new.section_order:
        kinds["Sections"].append(f"Section order changed: {' → '.join(new.section_order)}")
    if old.note != new.note:
        kinds["Note"].append("Note added" if not old.note else
                             "Note removed" if not new.note else "Note changed")
    return [phrase for phrases in kinds.values() for phrase in phrases]


def _moved(old: Editorial, new: Editorial, common: Sequence[str]) -> list[int]:
    """Items whose place among the others of their section changed in some variant,
    fewest first: of two swapped items, one moved. The lead stories are left out (on
    top, out of their section) and so is what came or went."""
    leads = {old.lead, new.lead}
    moved: dict[int, None] = {}
    for segment in common:
        was, now = old.variants[segment], new.variants[segment]
        both = {i for i in set(was) & set(now) - leads
                if old.items[i].section == new.items[i].section}
        for section in dict.fromkeys(new.items[i].section for i in now if i in both):
            before = [i for i in was if i in both and old.items[i].section == section]
            after = [i for i in now if i in both and new.items[i].section == section]
            kept: set[int] = set()
            for block in difflib.SequenceMatcher(None, before, after, autojunk=False) \
                    .get_matching_blocks():
                kept.update(after[block.b:block.b + block.size])
            moved.update(dict.fromkeys(i for i in after if i not in kept))
    return [i for i in _in_order(new) if i in moved]
