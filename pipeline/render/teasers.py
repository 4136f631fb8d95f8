"""A research item's teaser: what a reader sees of the abstract. Pure.

A structured abstract (PubMed's "PURPOSE: ... RESULTS: ... CONCLUSION: ...", as runs of
text or as <b>, <strong> or heading labels) gives its conclusion, else its results, in
one or two whole sentences. An unstructured one gives its first sentences up to the
budget. Either way the teaser ends where a sentence ends, never inside a word or a label.

The stored summary stays the sanitised original: the teaser is worked out at each
render, so a better rule here improves old items too.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import nh3

from .sentences import fit_sentences, split_sentences

TEASER_CHARS = 280

CONCLUSION_LABELS = ("CONCLUSION", "CONCLUSIONS", "INTERPRETATION",
                     "CONCLUSIONS AND RELEVANCE", "CONCLUSION AND RELEVANCE",
                     "CONCLUSION AND CLINICAL RELEVANCE", "SUMMARY STATEMENT")
RESULT_LABELS = ("RESULTS", "RESULT", "FINDINGS", "MAIN RESULTS", "OUTCOMES")
# Sections that are not the abstract's prose: never shown.
NOT_PROSE_LABELS = frozenset({
    "PMID", "DOI", "KEYWORDS", "KEY WORDS", "TRIAL REGISTRATION", "CLINICAL TRIAL REGISTRATION",
    "REGISTRATION", "FUNDING", "COPYRIGHT", "LEVEL OF EVIDENCE", "EVIDENCE LEVEL",
})
KNOWN_LABELS = frozenset({
    "ABSTRACT", "AIM", "AIMS", "BACKGROUND", "BACKGROUND AND PURPOSE", "CASE", "CASE REPORT",
    "CASE PRESENTATION", "CLINICAL RELEVANCE", "CLINICAL RELEVANCE STATEMENT", "CONTEXT",
    "DESIGN", "DESIGN, SETTING, AND PARTICIPANTS", "DISCUSSION", "EXPOSURES", "IMPORTANCE",
    "INTERVENTION", "INTERVENTIONS", "INTRODUCTION", "KEY POINTS", "LIMITATIONS",
    "MAIN OUTCOMES AND MEASURES", "MATERIAL AND METHODS", "MATERIALS AND METHODS",
    "MEASUREMENTS", "METHOD", "METHODS", "METHODS AND MATERIALS", "OBJECTIVE", "OBJECTIVES",
    "PARTICIPANTS", "PATIENTS", "PATIENTS AND METHODS", "PURPOSE", "RATIONALE",
    "RATIONALE AND OBJECTIVES", "SAFETY", "SETTING", "SIGNIFICANCE", "STUDY DESIGN",
    "SUMMARY", "TECHNIQUE",
}) | set(CONCLUSION_LABELS) | set(RESULT_LABELS) | NOT_PROSE_LABELS

# A bold or heading element whose text may be a label: "<b>RESULTS:</b>", "<h4>Results</h4>".
_MARKED = re.compile(r"<(b|strong|h[1-6])\b[^>]*>\s*([^<]{1,80}?)\s*</\1>\s*(:?)",
                     re.IGNORECASE)
_BLOCK = re.compile(r"</?(?:p|div|li|ul|ol|h[1-6]|blockquote|tr|table)\b[^>]*>|<br\s*/?>",
                    re.IGNORECASE)
# A label in running text: at the start of a line or a sentence, then a colon.
_INLINE = re.compile(r"(?:^|(?<=[.!?]\s)|(?<=[.!?]\)\s))[ \t]*([A-Za-z][A-Za-z ,/&-]{1,60}?)"
                     r"[ \t]*:\s*", re.MULTILINE)
_COPYRIGHT = re.compile(r"\s*(?:Copyright\s*)?(?:©|\(c\)\s*\d{4}).*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class AbstractSection:
    """One labelled run of an abstract; `label` is None for text before any label."""

    label: str | None
    text: str


def research_teaser(summary_html: str, budget: int = TEASER_CHARS) -> str:
    sections = abstract_sections(summary_html)
    labelled = [s for s in sections if s.label is not None]
    for wanted in (CONCLUSION_LABELS, RESULT_LABELS):
        chosen = next((s for s in labelled if s.label in wanted), None)
        if chosen is not None:
            return fit_sentences(split_sentences(chosen.text), budget, most=2)
    if labelled:
        # Neither conclusion nor results: the abstract as it reads, labels kept (each
        # starts its first sentence, so no cut falls inside one).
        sentences = []
        for section in labelled:
            first, *rest = split_sentences(section.text)
            sentences += [f"{section.label}: {first}", *rest]
        return fit_sentences(sentences, budget)
    return fit_sentences(split_sentences(" ".join(s.text for s in sections)), budget)


def abstract_sections(summary_html: str) -> list[AbstractSection]:
    """The abstract's sections in order: what precedes an "ABSTRACT" label (PubMed's
    citation line), sections that are not prose (PMID, DOI, keywords) and empty ones
    are left out."""
    text = _labelled_text(summary_html)
    sections: list[AbstractSection] = []
    label: str | None = None
    start = 0
    for found in _INLINE.finditer(text):
        name = _label(found.group(1))
        if name is None:
            continue
        sections.append(AbstractSection(label, text[start:found.start()]))
        label, start = name, found.end()
        if name == "ABSTRACT":
            sections.clear()  # the citation before it is not the abstract
            label = None
    sections.append(AbstractSection(label, text[start:]))
    kept = []
    for section in sections:
        prose = " ".join(_COPYRIGHT.sub("", section.text).split())
        if prose and section.label not in NOT_PROSE_LABELS:
            kept.append(AbstractSection(section.label, prose))
    return kept


def _labelled_text(summary_html: str) -> str:
    """The visible text, one line per block, with marked-up labels written "LABEL: "."""
    def label_line(found: re.Match[str]) -> str:
        name = _label(found.group(2).rstrip(": "))
        return f"\n{name}: " if name else found.group(0)

    marked = _MARKED.sub(label_line, summary_html)
    lines = _BLOCK.sub("\n", marked)
    visible = html.unescape(nh3.clean(lines, tags=set(), clean_content_tags={"script", "style"}))
    # A label alone on its line ("RESULTS" from a plain-text feed) labels what follows.
    return "\n".join(_colon_after_bare_label(line.strip()) for line in visible.splitlines())


def _colon_after_bare_label(line: str) -> str:
    name = _label(line)
    return f"{name}: " if name and not line.endswith(":") else line


def _label(candidate: str) -> str | None:
    """The label's canonical (upper-case) name, or None when `candidate` is no label.
    Known labels count in any case ("Conclusions"); an unknown one only in capitals and
    long enough not to be an acronym ("TACE: ..." is prose)."""
    name = " ".join(candidate.replace(":", " ").split()).upper()
    if name in KNOWN_LABELS:
        return name
    letters = sum(c.isalpha() for c in name)
    if candidate.strip().isupper() and (letters >= 6 and (" " in name or letters >= 8)):
        return name
    return None
