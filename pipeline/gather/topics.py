"""Tag items with topics by keyword, on title and summary. Pure."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..models import Item
from .sanitize import html_to_text


def compile_topics(topics: Mapping[str, Sequence[str]]) -> dict[str, re.Pattern[str]]:
    """One case-insensitive, whole-word pattern per topic ("Y-90", "HCC", "lung").
    Compiled once per distinct [topics] table, not once per source and run."""
    return _compiled(tuple((topic, tuple(words)) for topic, words in topics.items()))


@functools.lru_cache(maxsize=16)
def _compiled(topics: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, re.Pattern[str]]:
    patterns = {}
    for topic, words in topics:
        alternatives = "|".join(re.escape(w.strip()) for w in sorted(words, key=len, reverse=True))
        # \b fails next to non-word characters such as the "-" in "Y-90"; lookarounds do not.
        patterns[topic] = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
    return patterns


def tag(item: Item, patterns: Mapping[str, re.Pattern[str]]) -> Item:
    if not patterns:
        return item
    text = f"{item.title}\n{html_to_text(item.summary_html)}"
    found = tuple(topic for topic, pattern in patterns.items() if pattern.search(text))
    return replace(item, topics=found) if found != item.topics else item
