"""The archive's feeds, sitemap and robots.txt (pipeline/publish/feeds.py, seo.py): what a
feed reader, a society's "latest from IO Insights" box and a search engine read back."""

from __future__ import annotations

import calendar
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from jsonschema import Draft202012Validator

from pipeline.publish.feeds import (
    atom_issues,
    atom_items,
    json_feed_issues,
    json_feed_items,
    xml_safe,
)
from pipeline.publish.model import FEED_ISSUES, FEED_ITEMS, PublicIssue, PublicItem, Site
from pipeline.publish.seo import robots, sitemap
from pipeline.web import admin, admin_checks, admin_content, admin_timeline, public, webhooks
from tests.jsonfeed_schema import SCHEMA

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
BASE = "https://io.example.org"
SITE = Site(base_url=BASE, name="IO Insights", society="Society for IO Psychology",
            description="The week in work psychology", language="en",
            logo_url=f"{BASE}/static/logo.png", websub_hub="https://hub.example.net/")
BARE = Site(base_url=BASE, name="IO Insights", society="", description="", language="en")
SENT = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
HOSTILE = "<script>alert(1)</script> & ]]> \x00\x1b\x7f\ufffe\ud800 %%io:email%%"
HOSTILE_CLEAN = "<script>alert(1)</script> & ]]> \x7f %%io:email%%"  # DEL is legal XML


def item(item_id: int, section: str = "news", issue_id: str = "2026-W48",
         sent: datetime = SENT, **fields: Any) -> PublicItem:
    values: dict[str, Any] = dict(
        id=item_id, issue_id=issue_id, section=section, title=f"Item {item_id}",
        link=f"https://news.example.com/{item_id}", summary=f"What item {item_id} says.",
        published=sent, updated=sent)
    values.update(fields)
    return PublicItem(**values)


def issue(week: int, **fields: Any) -> PublicIssue:
    sent = SENT - timedelta(weeks=48 - week)
    values: dict[str, Any] = dict(
        id=f"2026-W{week:02d}", number=week, title=f"Issue {week}", summary=f"Teaser {week}",
        published=sent, updated=sent, body_html=f"<h1>Issue {week}</h1><p>Body</p>",
        image_url=f"{BASE}/static/lead-{week}.png")
    values.update(fields)
    return PublicIssue(**values)


RESEARCH = item(7, "research", title="Remote work & burnout", link=None, doi="10.1037/apl0001234",
                journal="Journal of Applied Psychology", authors=("A. Author", "B. Author"))
EVENT = item(9, "events", title="SIOP meetup", link="https://events.example.com/meetup",
             summary="Talks and drinks.", event_start=datetime(2026, 12, 3, 17, tzinfo=UTC),
             event_when="Thu 3 Dec, 18:00 CET")
NEWS = item(3, "news")


def when(parsed: Any) -> datetime:
    """feedparser's struct_time (UTC) as an aware datetime."""
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def links(entry: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for link in entry.links:
        found.setdefault(link.rel, []).append(link.href)
    return found


def schema_errors(body: bytes) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in VALIDATOR.iter_errors(json.loads(body))]


# --- the issue feeds ------------------------------------------------------------------


def test_atom_issue_feed_reads_back_newest_first_with_permalinks_and_content() -> None:
    older = issue(47)
    newer = issue(48, updated=SENT + timedelta(hours=2))
    parsed = feedparser.parse(atom_issues(SITE, [newer, older]))

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    feed = parsed.feed
    assert feed.id == f"{BASE}/archive/"
    assert feed.title == "IO Insights"
    assert feed.subtitle == "The week in work psychology"
    assert feed.author == "Society for IO Psychology"
    assert feed.icon == feed.logo == f"{BASE}/static/logo.png"
    assert when(feed.updated_parsed) == SENT + timedelta(hours=2)
    assert links(feed) == {"self": [f"{BASE}/archive/feed.xml"],
                           "alternate": [f"{BASE}/archive/"],
                           "hub": ["https://hub.example.net/"]}

    assert [e.id for e in parsed.entries] == [f"{BASE}/archive/2026-W48/",
                                              f"{BASE}/archive/2026-W47/"]
    entry = parsed.entries[0]
    assert entry.title == "Issue 48"
    assert entry.summary == "Teaser 48"
    assert entry.link == f"{BASE}/archive/2026-W48/"
    assert entry.content[0].type == "text/html"
    assert entry.content[0].value == "<h1>Issue 48</h1><p>Body</p>"
    assert when(entry.published_parsed) == SENT
    assert when(entry.updated_parsed) == SENT + timedelta(hours=2)


def test_json_issue_feed_has_the_same_issues_and_validates() -> None:
    body = json_feed_issues(SITE, [issue(47), issue(48)])
    assert schema_errors(body) == []
    feed = json.loads(body)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["home_page_url"] == f"{BASE}/archive/"
    assert feed["feed_url"] == f"{BASE}/archive/feed.json"
    assert feed["description"] == "The week in work psychology"
    assert feed["language"] == "en"
    assert feed["icon"] == feed["favicon"] == f"{BASE}/static/logo.png"
    assert feed["authors"] == [{"name": "Society for IO Psychology", "url": f"{BASE}/"}]
    assert feed["hubs"] == [{"type": "WebSub", "url": "https://hub.example.net/"}]
    first = feed["items"][0]
    assert first["id"] == first["url"] == f"{BASE}/archive/2026-W48/"
    assert first["title"] == "Issue 48"
    assert first["summary"] == "Teaser 48"
    assert first["content_html"] == "<h1>Issue 48</h1><p>Body</p>"
    assert first["image"] == f"{BASE}/static/lead-48.png"
    assert first["date_published"] == first["date_modified"] == "2026-11-27T15:00:00Z"
    assert [i["id"] for i in feed["items"]] == [f"{BASE}/archive/2026-W48/",
                                                f"{BASE}/archive/2026-W47/"]


def test_issue_feeds_keep_the_newest_twenty_whatever_order_they_are_given() -> None:
    issues = [issue(week) for week in range(1, 31)]
    atom = feedparser.parse(atom_issues(SITE, issues))
    feed = json.loads(json_feed_issues(SITE, list(reversed(issues))))
    expected = [f"{BASE}/archive/2026-W{w:02d}/" for w in range(30, 30 - FEED_ISSUES, -1)]
    assert [e.id for e in atom.entries] == expected
    assert [i["id"] for i in feed["items"]] == expected


def test_an_edited_issue_keeps_its_entry_id_and_says_when_it_changed() -> None:
    first = issue(48)
    edited = replace(first, title="Issue 48 (corrected)", body_html="<p>Fixed</p>",
                     updated=SENT + timedelta(days=1))
    before = feedparser.parse(atom_issues(SITE, [first])).entries[0]
    after = feedparser.parse(atom_issues(SITE, [edited]))
    assert after.entries[0].id == before.id
    assert when(after.entries[0].updated_parsed) == SENT + timedelta(days=1)
    assert when(after.entries[0].published_parsed) == SENT
    assert when(after.feed.updated_parsed) == SENT + timedelta(days=1)
    json_before = json.loads(json_feed_issues(SITE, [first]))["items"][0]
    json_after = json.loads(json_feed_issues(SITE, [edited]))["items"][0]
    assert json_after["id"] == json_before["id"]
    assert json_after["date_modified"] == "2026-11-28T15:00:00Z"


def test_an_older_issue_edited_later_dates_the_feed() -> None:
    """A reader polling <updated> must see a correction to last week's issue too."""
    old_fixed = issue(47, updated=SENT + timedelta(days=2))
    parsed = feedparser.parse(atom_issues(SITE, [issue(48), old_fixed]))
    assert [e.id for e in parsed.entries][0] == f"{BASE}/archive/2026-W48/"
    assert when(parsed.feed.updated_parsed) == SENT + timedelta(days=2)


def test_an_empty_archive_gives_valid_feeds_dated_by_data_not_by_the_clock() -> None:
    for make in (atom_issues, atom_items):
        body = make(SITE, [])
        parsed = feedparser.parse(body)
        assert not parsed.bozo and parsed.entries == []
        assert when(parsed.feed.updated_parsed) == datetime(1970, 1, 1, tzinfo=UTC)
        assert make(SITE, []) == body
    for make_json in (json_feed_issues, json_feed_items):
        body = make_json(SITE, [])
        assert schema_errors(body) == [] and json.loads(body)["items"] == []


def test_without_a_hub_or_a_logo_the_feeds_name_neither() -> None:
    parsed = feedparser.parse(atom_issues(BARE, [issue(48)]))
    assert "hub" not in links(parsed.feed)
    assert "icon" not in parsed.feed and "logo" not in parsed.feed
    assert "subtitle" not in parsed.feed
    assert parsed.feed.author == "IO Insights"  # no society: the newsletter is its author
    feed = json.loads(json_feed_issues(BARE, [issue(48, image_url=None)]))
    assert not {"hubs", "icon", "favicon", "description"} & feed.keys()
    assert "image" not in feed["items"][0]
    assert schema_errors(json_feed_items(BARE, [NEWS])) == []


# --- hostile text ---------------------------------------------------------------------


@pytest.mark.parametrize("text, clean", [
    ("plain", "plain"),
    ("tab\tnew\nline\r", "tab\tnew\nline\r"),
    ("nul\x00 esc\x1b bell\x07", "nul esc bell"),
    ("\ufffe\uffff\ud800", ""),
    ("é ✓ 𝔸 \U0001f600", "é ✓ 𝔸 \U0001f600"),
    ("<b> & ]]>", "<b> & ]]>"),
])
def test_xml_safe_removes_only_what_xml_forbids(text: str, clean: str) -> None:
    assert xml_safe(text) == clean


def test_hostile_text_stays_text_in_every_feed() -> None:
    hostile_issue = issue(48, title=HOSTILE, summary=HOSTILE, body_html=f"<p>{HOSTILE}</p>")
    hostile_item = item(1, title=HOSTILE, summary=HOSTILE,
                        link="https://news.example.com/a?b=1&c=2\x00")
    for body in (atom_issues(SITE, [hostile_issue]), atom_items(SITE, [hostile_item])):
        root = ET.fromstring(body)  # well-formed despite NUL, ESC, U+FFFE, a lone surrogate
        entry = root.find(f"{ATOM}entry")
        assert entry is not None
        assert entry.findtext(f"{ATOM}title") == HOSTILE_CLEAN
        assert entry.findtext(f"{ATOM}summary") == HOSTILE_CLEAN
        assert b"<script>" not in body  # escaped, never markup
    content = ET.fromstring(atom_issues(SITE, [hostile_issue])).find(f"{ATOM}entry/{ATOM}content")
    assert content is not None and content.text == f"<p>{HOSTILE_CLEAN}</p>"
    alternate = ET.fromstring(atom_items(SITE, [hostile_item])).find(
        f"{ATOM}entry/{ATOM}link[@rel='alternate']")
    assert alternate is not None and alternate.get("href") == "https://news.example.com/a?b=1&c=2"

    issues_json = json_feed_issues(SITE, [hostile_issue])
    items_json = json_feed_items(SITE, [hostile_item])
    assert schema_errors(issues_json) == [] and schema_errors(items_json) == []
    assert json.loads(issues_json)["items"][0]["title"] == HOSTILE_CLEAN
    assert json.loads(issues_json)["items"][0]["content_html"] == f"<p>{HOSTILE_CLEAN}</p>"
    assert json.loads(items_json)["items"][0]["summary"] == HOSTILE_CLEAN


def test_feedparser_reads_a_hostile_title_back_as_the_same_words() -> None:
    parsed = feedparser.parse(atom_items(SITE, [item(1, title="Pay & perks: <em>why</em> ]]>")]))
    assert not parsed.bozo
    assert parsed.entries[0].title == "Pay & perks: <em>why</em> ]]>"


# --- the item feeds -------------------------------------------------------------------


def test_atom_item_feed_links_each_item_to_its_source_and_its_issue() -> None:
    parsed = feedparser.parse(atom_items(SITE, [NEWS, RESEARCH, EVENT]))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.id == f"{BASE}/archive/items.xml"
    assert parsed.feed.title == "IO Insights: news, research and events"
    assert links(parsed.feed)["self"] == [f"{BASE}/archive/items.xml"]
    assert links(parsed.feed)["hub"] == ["https://hub.example.net/"]

    news, research, event = parsed.entries
    assert news.id == f"{BASE}/archive/2026-W48/#item-3"
    assert news.link == "https://news.example.com/3"
    assert links(news)["related"] == [f"{BASE}/archive/2026-W48/#item-3"]
    assert [(t.term, t.label) for t in news.tags] == [("news", "News")]
    assert news.summary == "What item 3 says."
    assert when(news.published_parsed) == SENT and when(news.updated_parsed) == SENT

    # No link of its own: the paper's DOI is where a reader goes.
    assert research.link == "https://doi.org/10.1037/apl0001234"
    assert links(research)["related"] == [f"{BASE}/archive/2026-W48/#item-7",
                                          "https://doi.org/10.1037/apl0001234"]
    assert [a.name for a in research.authors] == ["A. Author", "B. Author"]
    assert [(t.term, t.label) for t in research.tags] == [("research", "Research")]

    assert event.summary == "Thu 3 Dec, 18:00 CET: Talks and drinks."
    assert [(t.term, t.label) for t in event.tags] == [("events", "Events")]


def test_an_item_without_any_link_points_at_its_place_in_the_issue() -> None:
    parsed = feedparser.parse(atom_items(SITE, [item(5, link=None)]))
    entry = parsed.entries[0]
    assert entry.link == f"{BASE}/archive/2026-W48/#item-5"
    assert "related" not in links(entry)  # not the same address twice
    feed = json.loads(json_feed_items(SITE, [item(5, link=None)]))
    assert feed["items"][0]["url"] == f"{BASE}/archive/2026-W48/#item-5"
    assert "external_url" not in feed["items"][0]


def test_json_item_feed_gives_a_widget_the_article_the_issue_and_the_section() -> None:
    body = json_feed_items(SITE, [NEWS, RESEARCH, EVENT])
    assert schema_errors(body) == []
    feed = json.loads(body)
    assert feed["feed_url"] == f"{BASE}/archive/items.json"
    assert feed["home_page_url"] == f"{BASE}/archive/"
    news, research, event = feed["items"]
    assert news == {
        "id": f"{BASE}/archive/2026-W48/#item-3",
        "url": f"{BASE}/archive/2026-W48/#item-3",
        "external_url": "https://news.example.com/3",
        "title": "Item 3",
        "summary": "What item 3 says.",
        "content_text": "What item 3 says.",
        "date_published": "2026-11-27T15:00:00Z",
        "date_modified": "2026-11-27T15:00:00Z",
        "tags": ["news"],
        "_io_insights": {"issue": "2026-W48", "issue_url": f"{BASE}/archive/2026-W48/",
                         "section": "news"},
    }
    assert research["external_url"] == "https://doi.org/10.1037/apl0001234"
    assert research["authors"] == [{"name": "A. Author"}, {"name": "B. Author"}]
    assert research["_io_insights"]["doi"] == "10.1037/apl0001234"
    assert research["_io_insights"]["journal"] == "Journal of Applied Psychology"
    assert event["summary"] == "Thu 3 Dec, 18:00 CET: Talks and drinks."
    assert event["_io_insights"]["event_start"] == "2026-12-03T17:00:00Z"
    assert event["_io_insights"]["event_when"] == "Thu 3 Dec, 18:00 CET"


def test_item_feeds_keep_the_newest_issues_items_in_the_order_the_issue_gave_them() -> None:
    older = [item(n, issue_id="2026-W47", sent=SENT - timedelta(weeks=1)) for n in range(60)]
    newer = [item(n, issue_id="2026-W48") for n in range(100, 160)]
    ids = [e.id for e in feedparser.parse(atom_items(SITE, [*older, *newer])).entries]
    assert len(ids) == FEED_ITEMS
    assert ids[:60] == [f"{BASE}/archive/2026-W48/#item-{n}" for n in range(100, 160)]
    assert ids[60:] == [f"{BASE}/archive/2026-W47/#item-{n}" for n in range(40)]


def test_a_doi_with_a_hash_stays_one_address() -> None:
    odd = item(8, "research", link=None, doi="10.1000/a#b?c")
    parsed = feedparser.parse(atom_items(SITE, [odd]))
    assert parsed.entries[0].link == "https://doi.org/10.1000/a%23b%3Fc"


# --- same data, same bytes ------------------------------------------------------------


def test_the_same_data_gives_the_same_bytes() -> None:
    issues = [issue(46), issue(47), issue(48, items=(NEWS, RESEARCH, EVENT))]
    items = [NEWS, RESEARCH, EVENT]
    for make, data in ((atom_issues, issues), (json_feed_issues, issues),
                       (atom_items, items), (json_feed_items, items), (sitemap, issues)):
        assert make(SITE, data) == make(SITE, list(data)), make.__name__  # type: ignore[operator]
    assert atom_issues(SITE, issues) == atom_issues(SITE, list(reversed(issues)))
    assert robots(SITE) == robots(SITE)


def test_a_naive_time_is_read_as_utc() -> None:
    naive = issue(48, published=SENT.replace(tzinfo=None), updated=SENT.replace(tzinfo=None))
    assert atom_issues(SITE, [naive]) == atom_issues(SITE, [issue(48)])


# --- the schema is strict enough to catch a wrong field ---------------------------------


@pytest.mark.parametrize("path, value", [
    (("version",), "https://jsonfeed.org/version/1"),
    (("items", 0, "id"), 3),
    (("items", 0, "date_published"), "2026-11-27 15:00"),
    (("items", 0, "date_modified"), "27 Nov 2026"),
    (("items", 0, "tags"), "news"),
    (("items", 0, "url"), "/archive/2026-W48/"),
    (("items", 0, "_io_insights"), "not an object"),
    (("items", 0, "autor"), []),
    (("hubs",), [{"type": "WebSub"}]),
    (("authors",), [{}]),
    (("authors",), "Society"),
    (("expired",), "no"),
])
def test_the_schema_refuses_a_wrong_field(path: tuple[Any, ...], value: Any) -> None:
    feed = json.loads(json_feed_items(SITE, [NEWS]))
    target: Any = feed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(VALIDATOR.iter_errors(feed)), f"{path} = {value!r} passed"


def test_the_schema_refuses_an_item_without_content() -> None:
    feed = json.loads(json_feed_items(SITE, [NEWS]))
    del feed["items"][0]["content_text"]
    assert list(VALIDATOR.iter_errors(feed))


# --- sitemap and robots.txt -----------------------------------------------------------


def sitemap_urls(body: bytes) -> dict[str, str | None]:
    root = ET.fromstring(body)
    assert root.tag == f"{SITEMAP}urlset"
    return {u.findtext(f"{SITEMAP}loc") or "": u.findtext(f"{SITEMAP}lastmod")
            for u in root.iter(f"{SITEMAP}url")}


def test_sitemap_lists_the_landing_page_the_archive_pages_and_every_issue() -> None:
    issues = [issue(week) for week in range(1, 46)]  # 45 issues: three archive pages
    edited = replace(issues[0], updated=SENT + timedelta(days=3))  # week 1, fixed late
    urls = sitemap_urls(sitemap(SITE, [edited, *issues[1:]]))
    newest_change = "2026-11-30T15:00:00Z"
    assert list(urls)[:4] == [f"{BASE}/", f"{BASE}/archive/", f"{BASE}/archive/page/2/",
                              f"{BASE}/archive/page/3/"]
    assert all(urls[u] == newest_change for u in list(urls)[:4])
    assert list(urls)[4:] == [f"{BASE}/archive/2026-W{w:02d}/" for w in range(45, 0, -1)]
    assert urls[f"{BASE}/archive/2026-W45/"] == "2026-11-06T15:00:00Z"
    assert urls[f"{BASE}/archive/2026-W01/"] == newest_change


def test_an_empty_archive_has_a_sitemap_of_its_landing_page_and_archive() -> None:
    assert sitemap_urls(sitemap(SITE, [])) == {f"{BASE}/": None, f"{BASE}/archive/": None}


def test_sitemap_takes_other_public_paths_once_each() -> None:
    urls = sitemap_urls(sitemap(SITE, [issue(48)], extra_paths=("/", "/archive/", "/", "/about/")))
    assert list(urls) == [f"{BASE}/", f"{BASE}/archive/", f"{BASE}/about/",
                          f"{BASE}/archive/2026-W48/"]


def disallowed(rules: str, path: str) -> bool:
    """RFC 9309 for a file of prefixes: the longest matching rule decides."""
    best, allowed = -1, True
    for line in rules.splitlines():
        field, _, value = line.partition(":")
        value = value.strip()
        if field in ("Allow", "Disallow") and value and path.startswith(value):
            if len(value) > best:
                best, allowed = len(value), field == "Allow"
    return not allowed


def test_robots_keeps_crawlers_out_of_admin_webhooks_and_subscriber_links() -> None:
    text = robots(SITE).decode()
    assert text.startswith("User-agent: *\n")
    assert text.endswith(f"\nSitemap: {BASE}/sitemap.xml\n")
    private = [r.path for module in (admin, admin_checks, admin_content, admin_timeline,
                                     webhooks) for r in module.routes]
    # A link carrying a subscriber's token, and the per-segment email copies.
    private += [r.path for r in public.routes if "{token}" in r.path or
                r.path.startswith("/issues/")]
    assert len(private) > 20
    for path in private:
        assert disallowed(text, path.replace("{", "x").replace("}", "")), path
    for path in ("/", "/archive/", "/archive/page/2/", "/archive/2026-W48/",
                 "/archive/feed.xml", "/archive/items.json", "/sitemap.xml", "/subscribe",
                 "/static/logo.png", "/events/7.ics"):
        assert not disallowed(text, path), path
    assert disallowed(text, "/subscribe/embed")
