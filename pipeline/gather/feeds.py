"""RSS / Atom bytes -> Items, with research metadata (authors, journal, DOI, PMID)."""

from __future__ import annotations

import calendar
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import feedparser

from ..errors import SourceError
from ..models import Item
from ..tracking import DEFAULT_STRIP_RULES, StripRules, strip_tracking
from .sanitize import clean_html, plain, safe_url, text_to_html

DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>&]+[^\s\"<>&.,;)\]])", re.IGNORECASE)
PMID_IN_ID = re.compile(r"(?:pubmed[:/]|pmid[:\s]*)(\d{4,9})\b", re.IGNORECASE)
PMID_IN_URL = re.compile(r"pubmed[^/]*/(?:.*/)?(\d{4,9})/?$", re.IGNORECASE)


def parse_feed(
    name: str, section: str, body: bytes, url: str = "", content_type: str | None = None,
    strip: StripRules = DEFAULT_STRIP_RULES,
) -> tuple[list[Item], list[str]]:
    """Items from a feed's bytes, and warnings about what was wrong with it. Item links
    lose their tracking parameters (`strip`).

    A feed feedparser calls ill-formed ("bozo") is still used for the entries it yields.
    """
    # Without a content type feedparser flags every local file as ill-formed.
    headers = {"content-type": content_type or "application/xml"}
    if url:
        headers["content-location"] = url
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    warnings = []
    if parsed.get("bozo"):
        warnings.append(f"ill-formed feed: {_one_line(parsed.get('bozo_exception'))}")
    if not parsed.entries:
        if parsed.get("bozo") and not parsed.feed:
            raise SourceError(name, f"not a feed: {_one_line(parsed.get('bozo_exception'))}")
        return [], warnings
    feed_title = plain(parsed.feed.get("title")) or None
    out: list[Item] = []
    for index, entry in enumerate(parsed.entries):
        try:
            item = _entry_to_item(name, section, entry, feed_title, strip)
        except (ValueError, TypeError, KeyError, OverflowError) as e:
            warnings.append(f"entry {index + 1} skipped: {_one_line(e)}")
            continue
        if item is None:
            warnings.append(f"entry {index + 1} skipped: no title, link or id")
        else:
            out.append(item)
    return out, warnings


def _one_line(error: Any) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


def _entry_to_item(name: str, section: str, entry: Any, feed_title: str | None,
                   strip: StripRules) -> Item | None:
    link = safe_url(entry.get("link"))
    link = strip_tracking(link, strip) if link else None
    title = plain(entry.get("title"))[:500]
    summary = _summary(entry)
    guid = (entry.get("id") or link or title or "").strip()[:1000]
    if not guid and summary:
        # No identity at all: the content is the identity, so an unchanged entry
        # is recognised next week (what feed readers such as `reader` do too).
        guid = "sha256:" + hashlib.sha256(summary.encode()).hexdigest()
    if not guid:
        return None
    doi, pmid = _identifiers(entry)
    return Item(
        source=name,
        guid=guid,
        section=section,
        title=title or "(untitled)",
        link=link or (f"https://doi.org/{doi}" if doi else None),
        summary_html=summary,
        authors=_authors(entry),
        journal=_journal(entry, feed_title) if section == "research" else None,
        doi=doi,
        pmid=pmid,
        published_at=_when(entry),
    )


def _summary(entry: Any) -> str:
    detail = None
    for content in entry.get("content") or ():
        if content.get("value"):
            detail = content
            break
    detail = detail or entry.get("summary_detail")
    if not detail or not detail.get("value"):
        return ""
    value = str(detail["value"])
    if detail.get("type") == "text/plain":
        return text_to_html(value)
    return clean_html(value)


def _authors(entry: Any) -> tuple[str, ...]:
    names = [plain(a.get("name")) for a in entry.get("authors") or () if isinstance(a, dict)]
    if not any(names) and entry.get("author"):
        names = [plain(n) for n in re.split(r";|,(?=\s*\w+\s+\w)", entry["author"])]
    return tuple(n for n in names if n)[:50]


def _journal(entry: Any, feed_title: str | None) -> str | None:
    for key in ("prism_publicationname", "dc_source", "source"):
        value = entry.get(key)
        if isinstance(value, dict):
            value = value.get("title")
        if value:
            return plain(str(value))
    return feed_title


def _identifiers(entry: Any) -> tuple[str | None, str | None]:
    doi = pmid = None
    candidates = [entry.get("prism_doi"), entry.get("dc_identifier"), entry.get("id"),
                  entry.get("link")] + [link.get("href") for link in entry.get("links") or ()]
    for value in filter(None, candidates):
        value = str(value)
        if doi is None and (found := DOI.search(value)):
            doi = found.group(1).lower()
        if pmid is None and (found := PMID_IN_ID.search(value) or PMID_IN_URL.search(value)):
            pmid = found.group(1)
    return doi, pmid


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return None
