"""The archive's feeds, as bytes: Atom 1.0 (RFC 4287) and JSON Feed 1.1, of the issues
(/archive/feed.xml, /archive/feed.json) and of the items they carried (/archive/items.xml,
/archive/items.json). Pure: the same public copies give the same bytes, so an ETag, the
static export and the WebSub "changed?" test can all rest on them (no "now" anywhere; a
feed with no entries is dated by EMPTY_FEED_UPDATED).

Ids are permalinks (model.issue_path, model.item_path): an edited issue keeps its entry
and a reader updates it rather than showing it twice.

Item feeds follow each format's link-blog convention, so a society's "latest from IO
Insights" box can link a headline to the article and "in issue N" to our page:
- Atom: `<link rel="alternate">` is the item's own link (else its DOI, else its place in
  the issue); `<link rel="related" type="text/html">` is its place in the issue;
  research adds `<link rel="related" title="DOI ...">` to https://doi.org/<doi>.
- JSON Feed: `url` is its place in the issue (ours, always), `external_url` the item's own
  link (else its DOI) when it has one; `_io_insights` carries {issue, issue_url, section,
  doi, journal, event_start, event_when}: what a widget needs and Atom has no words for.

Untrusted text (titles, summaries, bodies, links) only ever goes in as element text,
attribute values or JSON strings, never as markup; characters XML 1.0 cannot carry are
removed from it first (see xml_safe), in both formats, so the two say the same."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from .model import (
    ARCHIVE,
    FEED_ISSUES,
    FEED_ITEMS,
    PublicIssue,
    PublicItem,
    Site,
    issue_path,
    item_path,
)

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
ISSUES_ATOM = f"{ARCHIVE}feed.xml"
ISSUES_JSON = f"{ARCHIVE}feed.json"
ITEMS_ATOM = f"{ARCHIVE}items.xml"
ITEMS_JSON = f"{ARCHIVE}items.json"
# Atom requires <updated> even with no entries; a fixed time keeps an empty archive's
# bytes the same from one request (or export) to the next.
EMPTY_FEED_UPDATED = datetime(1970, 1, 1, tzinfo=UTC)
SECTION_LABELS = {"news": "News", "research": "Research", "events": "Events"}

# Everything outside XML 1.0's Char production: C0 controls but tab/newline/return, lone
# surrogates, U+FFFE and U+FFFF. One such character makes the whole feed unreadable
# (ElementTree writes it unescaped, and a character reference to it is not allowed either).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (they carry no meaning in a title)."""
    return _NOT_XML_CHAR.sub("", text)


def rfc3339(moment: datetime) -> str:
    """UTC, to the second ("2026-11-27T09:00:00Z"): RFC 3339, Atom's and JSON Feed's
    date, and a W3C datetime for sitemaps. A naive time is the store's UTC."""
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def newest_first(issues: Sequence[PublicIssue]) -> list[PublicIssue]:
    """Newest sent first (ties by id, so the order is the data's, not the caller's)."""
    return sorted(issues, key=lambda i: (_utc(i.published), i.id), reverse=True)


def newest_issues(issues: Sequence[PublicIssue]) -> list[PublicIssue]:
    """A feed's issues: at most FEED_ISSUES, newest first."""
    return newest_first(issues)[:FEED_ISSUES]


def newest_items(items: Sequence[PublicItem]) -> list[PublicItem]:
    """At most FEED_ITEMS, newest issue first; within an issue, the order it gave them."""
    return sorted(items, key=lambda i: (_utc(i.published), i.issue_id), reverse=True)[:FEED_ITEMS]


def last_change(moments: Sequence[datetime]) -> datetime:
    """When the newest of these changed (a feed's <updated>, a page's lastmod)."""
    return max((_utc(m) for m in moments), default=EMPTY_FEED_UPDATED)


# --- Atom -----------------------------------------------------------------------------


def atom_issues(site: Site, issues: Sequence[PublicIssue]) -> bytes:
    """/archive/feed.xml: the latest issues, each with its whole public article."""
    entries = newest_issues(issues)
    # The archive page is what this feed is of, and the id it has always had.
    feed = _atom_feed(site, site.url(ARCHIVE), site.name, site.description, ISSUES_ATOM,
                      [i.updated for i in entries])
    for issue in entries:
        permalink = site.url(issue_path(issue.id))
        entry = _sub(feed, "entry")
        _sub(entry, "id", permalink)
        _sub(entry, "title", issue.title)
        _sub(entry, "published", rfc3339(issue.published))
        _sub(entry, "updated", rfc3339(issue.updated))
        _link(entry, "alternate", permalink, type="text/html")
        if issue.summary:
            _sub(entry, "summary", issue.summary)
        _sub(entry, "content", issue.body_html, type="html")
    return xml_bytes(feed)


def atom_items(site: Site, items: Sequence[PublicItem]) -> bytes:
    """/archive/items.xml: the news, research and events the latest issues carried."""
    entries = newest_items(items)
    feed = _atom_feed(site, site.url(ITEMS_ATOM), items_title(site), items_subtitle(site),
                      ITEMS_ATOM, [i.updated for i in entries])
    for item in entries:
        permalink = site.url(item_path(item.issue_id, item.id))
        entry = _sub(feed, "entry")
        _sub(entry, "id", permalink)
        _sub(entry, "title", item.title)
        _sub(entry, "published", rfc3339(item.published))
        _sub(entry, "updated", rfc3339(item.updated))
        for name in item.authors:
            _sub(_sub(entry, "author"), "name", name)
        doi = doi_url(item)
        alternate = item.link or doi or permalink
        _link(entry, "alternate", alternate)
        if alternate != permalink:
            _link(entry, "related", permalink, type="text/html",
                  title=f"In {site.name} {item.issue_id}")
        if doi:
            _link(entry, "related", doi, title=f"DOI {item.doi}")
        _sub(entry, "category", term=item.section, label=section_label(item.section))
        summary = item_summary(item)
        if summary:
            _sub(entry, "summary", summary)
    return xml_bytes(feed)


def _atom_feed(site: Site, feed_id: str, title: str, subtitle: str, self_path: str,
               updates: Sequence[datetime]) -> ET.Element:
    feed = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: xml_safe(site.language)})
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    if subtitle:
        _sub(feed, "subtitle", subtitle)
    _sub(feed, "updated", rfc3339(last_change(updates)))
    _link(feed, "self", site.url(self_path), type="application/atom+xml")
    _link(feed, "alternate", site.url(ARCHIVE), type="text/html")
    if site.websub_hub:
        _link(feed, "hub", site.websub_hub)
    author = _sub(feed, "author")
    _sub(author, "name", site.society or site.name)
    _sub(author, "uri", site.url("/"))
    if site.logo_url:
        _sub(feed, "icon", site.logo_url)
        _sub(feed, "logo", site.logo_url)
    return feed


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_safe(text)
    return element


def _link(parent: ET.Element, rel: str, href: str, **attrs: str) -> None:
    _sub(parent, "link", rel=rel, href=href, **attrs)


def xml_bytes(root: ET.Element) -> bytes:
    """A whole XML document, UTF-8, declaration first."""
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body + b"\n"


# --- JSON Feed 1.1 --------------------------------------------------------------------


def json_feed_issues(site: Site, issues: Sequence[PublicIssue]) -> bytes:
    """/archive/feed.json: the same issues as feed.xml."""
    items: list[dict[str, object]] = []
    for issue in newest_issues(issues):
        permalink = site.url(issue_path(issue.id))
        entry: dict[str, object] = {"id": permalink, "url": permalink, "title": issue.title}
        if issue.summary:
            entry["summary"] = issue.summary
        entry["content_html"] = issue.body_html
        if issue.image_url:
            entry["image"] = issue.image_url
        entry["date_published"] = rfc3339(issue.published)
        entry["date_modified"] = rfc3339(issue.updated)
        entry["_io_insights"] = {"issue": issue.id, "number": issue.number}
        items.append(entry)
    return _json_bytes(_json_feed(site, site.name, site.description, ISSUES_JSON, items))


def json_feed_items(site: Site, items: Sequence[PublicItem]) -> bytes:
    """/archive/items.json: the same items as items.xml."""
    entries: list[dict[str, object]] = []
    for item in newest_items(items):
        permalink = site.url(item_path(item.issue_id, item.id))
        entry: dict[str, object] = {"id": permalink, "url": permalink}
        external = item.link or doi_url(item)
        if external:
            entry["external_url"] = external
        entry["title"] = item.title
        summary = item_summary(item)
        if summary:
            entry["summary"] = summary
        entry["content_text"] = summary
        entry["date_published"] = rfc3339(item.published)
        entry["date_modified"] = rfc3339(item.updated)
        if item.authors:
            entry["authors"] = [{"name": name} for name in item.authors]
        entry["tags"] = [item.section]
        entry["_io_insights"] = _item_extension(site, item)
        entries.append(entry)
    return _json_bytes(_json_feed(site, items_title(site), items_subtitle(site), ITEMS_JSON,
                                  entries))


def _item_extension(site: Site, item: PublicItem) -> dict[str, object]:
    extension: dict[str, object] = {
        "issue": item.issue_id,
        "issue_url": site.url(issue_path(item.issue_id)),
        "section": item.section,
    }
    if item.doi:
        extension["doi"] = item.doi
    if item.journal:
        extension["journal"] = item.journal
    if item.event_start:
        extension["event_start"] = rfc3339(item.event_start)
    if item.event_when:
        extension["event_when"] = item.event_when
    return extension


def _json_feed(site: Site, title: str, description: str, self_path: str,
               items: list[dict[str, object]]) -> dict[str, object]:
    feed: dict[str, object] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": site.url(ARCHIVE),
        "feed_url": site.url(self_path),
    }
    if description:
        feed["description"] = description
    feed["language"] = site.language
    if site.logo_url:
        feed["icon"] = site.logo_url
        feed["favicon"] = site.logo_url
    feed["authors"] = [{"name": site.society or site.name, "url": site.url("/")}]
    if site.websub_hub:
        feed["hubs"] = [{"type": "WebSub", "url": site.websub_hub}]
    feed["items"] = items
    return feed


def _json_bytes(feed: object) -> bytes:
    return (json.dumps(_json_safe(feed), ensure_ascii=False, indent=2) + "\n").encode()


def _json_safe(value: object) -> object:
    """Every string of a feed through xml_safe: the JSON says what the Atom says, and a
    lone surrogate (which UTF-8 cannot encode) never gets as far as .encode()."""
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


# --- shared words ---------------------------------------------------------------------


def items_title(site: Site) -> str:
    return f"{site.name}: news, research and events"


def items_subtitle(site: Site) -> str:
    return f"Every item the latest issues of {site.name} carried."


def section_label(section: str) -> str:
    return SECTION_LABELS.get(section, section.capitalize())


def item_summary(item: PublicItem) -> str:
    """An event's teaser opens with its time as the issue showed it (zone included)."""
    if item.event_when:
        return f"{item.event_when}: {item.summary}" if item.summary else item.event_when
    return item.summary


def doi_url(item: PublicItem) -> str | None:
    """The DOI resolver's address; a "#" or "?" in a DOI (legal there) stays in the path."""
    return f"https://doi.org/{quote(item.doi, safe='/()[];:')}" if item.doi else None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
