"""Sentences of an abstract, and the whole ones that fit a budget. Pure.

A full stop ends a sentence only when what follows starts one (a capital, a digit, a
quote or bracket) and what precedes is not an abbreviation: "vs. 8.9 months",
"et al. Smith", "e.g. CT", "Fig. 2", "Dr. Okafor", "Benjamin A. Hartley" go on.
Decimals ("2.5 cm", "P = .03") never have a space after the point.
"""

from __future__ import annotations

import re

# Lower-cased, without the final point.
ABBREVIATIONS = frozenset({
    "al", "approx", "ca", "cf", "dr", "e.g", "eg", "eq", "etc", "fig", "figs", "i.e", "ie",
    "inc", "jr", "ltd", "max", "min", "mr", "mrs", "ms", "no", "nos", "prof", "ref", "refs",
    "resp", "sr", "st", "suppl", "tab", "vol", "vs", "viz",
})
# A candidate end: the mark, any closing quotes or brackets, then white space.
_END = re.compile(r"[.!?][\"'”’)\]]*\s+")
_STARTS_SENTENCE = re.compile(r"[A-Z0-9\"'“‘(\[À-ÖØ-Þ]")
_WORD_BEFORE = re.compile(r"(\S+)$")


def split_sentences(text: str) -> list[str]:
    """`text` as sentences, each stripped; no sentence is empty."""
    text = " ".join(text.split())
    sentences, start = [], 0
    for end in _END.finditer(text):
        if _ends_sentence(text, end.start(), end.end()):
            sentences.append(text[start:end.end()].strip())
            start = end.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _ends_sentence(text: str, mark: int, after: int) -> bool:
    if after >= len(text) or not _STARTS_SENTENCE.match(text[after]):
        return False
    if text[mark] != ".":
        return True
    word = _WORD_BEFORE.search(text[:mark])
    token = word.group(1).lstrip("([\"'“‘").lower() if word else ""
    if token in ABBREVIATIONS:
        return False
    # A single letter is an initial ("Benjamin A. Hartley"), not the end of a sentence.
    return not (len(token) == 1 and token.isalpha())


def fit_sentences(sentences: list[str], budget: int, most: int | None = None,
                  hard_limit: int | None = None) -> str:
    """The first of `sentences` that fit in `budget` characters (at most `most` of
    them), joined. The first sentence is kept whole even when it alone is longer than the budget,
    up to `hard_limit` (default: twice the budget): a reader gets one whole thought
    rather than half of one. Only a first sentence beyond that is cut, at a word, with
    an ellipsis."""
    hard_limit = hard_limit or 2 * budget
    shown: list[str] = []
    length = 0
    for sentence in sentences:
        if most is not None and len(shown) >= most:
            break
        extra = len(sentence) + (1 if shown else 0)
        if shown and length + extra > budget:
            break
        shown.append(sentence)
        length += extra
    if not shown:
        return ""
    if length > hard_limit:
        return shorten(shown[0], budget)
    return " ".join(shown)


def shorten(text: str, limit: int) -> str:
    """`text` cut at the last whole word within `limit`, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.-")
    return cut + "…"
