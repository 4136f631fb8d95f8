"""The public pages as bytes (pipeline/publish/site.py): what the web app serves and the
static export writes. Rendered from an in-memory archive of hand-built public issues."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.config import Config, load_config
from pipeline.publish.model import ISSUES_PER_PAGE, PublicIssue
from pipeline.publish.site import (
    CACHED_PAGES,
    ArchivePages,
    archive_page_number,
    archive_pages,
    issue_id_of,
    site_of,
)

from .fake_archive import HOSTILE, FakeArchive, public_issue

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://news.example.org"  # config.toml's base_url


class Parsed(HTMLParser):
    """A page's tags as a reader of its markup sees them (attributes unescaped)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def meta(self, key: str) -> str | None:
        for tag, attrs in self.tags:
            if tag == "meta" and key in (attrs.get("property"), attrs.get("name")):
                return attrs.get("content")
        return None

    def links(self, rel: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == "link" and a.get("rel") == rel]

    def anchors(self, rel: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == "a" and (rel is None or a.get("rel") == rel)]

    def all(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "config.toml")


def pages_of(config: Config, archive: FakeArchive) -> ArchivePages:
    return archive_pages(config, archive)


def html(pages: ArchivePages, path: str) -> Parsed:
    page = pages.render(path)
    assert page is not None, path
    assert page.content_type == "text/html; charset=utf-8"
    return Parsed(page.body.decode("utf-8"))


def listed_numbers(page: Parsed) -> list[int]:
    text = "".join(page.text)
    return [int(part.split()[0]) for part in text.split("No. ")[1:]]


def test_the_site_comes_from_the_newsletter_config(config: Config) -> None:
    site = site_of(config)
    assert site.base_url == BASE and site.name == "IO Insights"
    assert site.society == "Interventional Oncology Society" and site.language == "en"
    assert site.logo_url == f"{BASE}/static/io-insights-logo.png"  # absolute
    assert site.url("/archive/") == f"{BASE}/archive/"


def test_paths_name_every_public_page_and_file(config: Config) -> None:
    archive = FakeArchive.of(22)
    archive.hidden.add(public_issue(3).id)  # 21 public
    paths = pages_of(config, archive).paths()
    issues = [p for p in paths if issue_id_of(p)]
    assert paths[:3] == ["/", "/archive/", "/archive/page/2/"]  # 20 issues, then 1 more
    assert len(issues) == 21 and f"/archive/{public_issue(3).id}/" not in issues
    assert issues[0] == f"/archive/{public_issue(22).id}/"  # newest first
    assert paths[-6:] == ["/archive/feed.xml", "/archive/feed.json", "/archive/items.xml",
                          "/archive/items.json", "/sitemap.xml", "/robots.txt"]
    assert not any(p.startswith("/subscribe") for p in paths)  # its form posts to the app


@pytest.mark.parametrize(("path", "number"), [
    ("/archive/", 1), ("/archive/page/2/", 2), ("/archive/page/41/", 41),
    ("/archive/page/1/", None), ("/archive/page/0/", None), ("/archive/page/02/", None),
    ("/archive/page/2", None), ("/archive/page//", None), ("/archive/page/²/", None),
    ("/archive/page/-2/", None), ("/archive", None),
])
def test_each_archive_page_has_one_path(path: str, number: int | None) -> None:
    assert archive_page_number(path) == number


@pytest.mark.parametrize(("path", "issue_id"), [
    ("/archive/2026-W48/", "2026-W48"), ("/archive/2026-W48", None), ("/archive/", None),
    ("/archive/page/", None), ("/archive/a/b/", None), ("/2026-W48/", None),
])
def test_issue_paths(path: str, issue_id: str | None) -> None:
    assert issue_id_of(path) == issue_id


def test_every_public_page_says_where_it_lives_and_how_to_follow_it(config: Config) -> None:
    archive = FakeArchive.of(3)
    pages = pages_of(config, archive)
    latest = public_issue(3)
    for path in ["/", "/archive/", f"/archive/{latest.id}/"]:
        page = html(pages, path)
        assert [link["href"] for link in page.links("canonical")] == [BASE + path]
        assert page.meta("og:url") == BASE + path
        assert page.meta("og:site_name") == "IO Insights"
        assert page.meta("og:title") and page.meta("og:description")
        assert page.meta("twitter:title") == page.meta("og:title")
        alternates = {a["type"]: a["href"] for a in page.links("alternate")}
        assert alternates == {"application/atom+xml": f"{BASE}/archive/feed.xml",
                              "application/feed+json": f"{BASE}/archive/feed.json"}
        assert page.meta("robots") is None  # indexable, unlike the subscriber pages
        assert not page.all("script")
        nav = [a["href"] for a in page.anchors()]
        assert "/archive/" in nav and "/subscribe" in nav
        assert "Interventional Oncology Society" in "".join(page.text)  # the footer
    assert html(pages, "/").meta("og:type") == "website"
    assert html(pages, "/archive/").meta("og:type") == "website"
    assert html(pages, f"/archive/{latest.id}/").meta("og:type") == "article"


def test_an_issue_with_a_lead_image_makes_a_large_card(config: Config) -> None:
    archive = FakeArchive()
    plain = public_issue(1)
    pictured = public_issue(2, image_url="https://images.example.org/lead.jpg?w=1200&h=630")
    archive.add(plain, pictured)
    pages = pages_of(config, archive)
    page = html(pages, f"/archive/{pictured.id}/")
    assert page.meta("og:image") == "https://images.example.org/lead.jpg?w=1200&h=630"
    assert page.meta("twitter:image") == page.meta("og:image")
    assert page.meta("twitter:card") == "summary_large_image"
    page = html(pages, f"/archive/{plain.id}/")
    assert page.meta("og:image") == f"{BASE}/static/io-insights-logo.png"  # the logo
    assert page.meta("twitter:card") == "summary"
    assert page.meta("article:published_time") == plain.published.isoformat()


def test_hostile_titles_stay_text_in_the_page_and_in_its_meta(config: Config) -> None:
    archive = FakeArchive()
    hostile = replace(public_issue(1, title=HOSTILE, summary=HOSTILE, item_title=HOSTILE))
    archive.add(hostile)
    pages = pages_of(config, archive)
    for path in ["/", "/archive/", f"/archive/{hostile.id}/"]:
        page = pages.render(path)
        assert page is not None
        body = page.body.decode()
        assert "<script>" not in body and "<b>bold</b>" not in body
        assert "</title><b>" not in body
        parsed = Parsed(body)
        assert HOSTILE in "".join(parsed.text)  # shown as the text it is
        if path.endswith(f"{hostile.id}/"):
            assert parsed.meta("og:description") == parsed.meta("description") == HOSTILE
            assert parsed.meta("og:title") == HOSTILE
            assert parsed.meta("twitter:title") == HOSTILE


def test_the_issue_page_carries_the_article_its_date_and_its_neighbours(config: Config) -> None:
    archive = FakeArchive.of(3)
    pages = pages_of(config, archive)
    first, middle, last = (public_issue(n) for n in (1, 2, 3))
    page = html(pages, f"/archive/{middle.id}/")
    text = "".join(page.text)
    assert middle.title in text and "No. 2" in text
    assert "13 January 2025" in text  # its date in the newsletter's zone
    assert all(item.title in text for item in middle.items)  # the body, as markup
    anchors = {a.get("id") for a in page.all("article")}
    assert anchors >= {f"item-{item.id}" for item in middle.items}  # item_path lands there
    assert [a["href"] for a in page.anchors("prev")] == [f"/archive/{first.id}/"]
    assert [a["href"] for a in page.anchors("next")] == [f"/archive/{last.id}/"]
    assert page.all("form")[0]["action"] == "/subscribe"
    assert not html(pages, f"/archive/{first.id}/").anchors("prev")
    assert not html(pages, f"/archive/{last.id}/").anchors("next")


def test_dates_are_in_the_newsletters_zone(config: Config) -> None:
    # Monday 03:00 UTC is still Sunday evening in Chicago (config.toml's zone).
    sent = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    archive = FakeArchive()
    archive.add(public_issue(1, sent=sent))
    text = "".join(html(pages_of(config, archive), "/archive/").text)
    assert "29 November 2026" in text and "30 November" not in text
    assert config.newsletter.tz == ZoneInfo("America/Chicago")


def test_an_unknown_or_hidden_issue_has_no_page(config: Config) -> None:
    archive = FakeArchive.of(2)
    pages = pages_of(config, archive)
    shown = public_issue(2)
    assert pages.render(f"/archive/{shown.id}/") is not None
    archive.hidden.add(shown.id)
    assert pages.render(f"/archive/{shown.id}/") is None
    assert f"/archive/{shown.id}/" not in pages.paths()
    assert shown.title not in pages.render("/archive/").body.decode()  # type: ignore[union-attr]
    assert shown.title not in pages.render("/").body.decode()  # type: ignore[union-attr]
    for path in ["/archive/2099-W01/", "/archive/page/", "/nothing", "/archive/x/y/", "",
                 "/index.html", "/archive/feed.rss"]:
        assert pages.render(path) is None, path


@pytest.mark.parametrize(("count", "pages_expected"), [(0, 1), (1, 1), (20, 1), (21, 2),
                                                       (41, 3)])
def test_the_archive_pages_twenty_issues_at_a_time(config: Config, count: int,
                                                   pages_expected: int) -> None:
    pages = pages_of(config, FakeArchive.of(count))
    numbers: list[int] = []
    for n in range(1, pages_expected + 1):
        path = "/archive/" if n == 1 else f"/archive/page/{n}/"
        page = html(pages, path)
        shown = listed_numbers(page)
        assert len(shown) == min(ISSUES_PER_PAGE, count - (n - 1) * ISSUES_PER_PAGE)
        numbers += shown
        newer = "/archive/" if n == 2 else f"/archive/page/{n - 1}/" if n > 2 else None
        older = f"/archive/page/{n + 1}/" if n < pages_expected else None
        assert [a["href"] for a in page.anchors("prev")] == ([newer] if newer else [])
        assert [a["href"] for a in page.anchors("next")] == ([older] if older else [])
        assert [a["href"] for a in page.links("prev")] == ([BASE + newer] if newer else [])
        assert [a["href"] for a in page.links("next")] == ([BASE + older] if older else [])
    assert numbers == list(range(count, 0, -1))  # every issue once, newest first
    assert pages.render(f"/archive/page/{pages_expected + 1}/") is None
    if count == 0:
        assert "No issue has gone out yet" in "".join(html(pages, "/archive/").text)


def test_the_landing_page_shows_the_latest_issue_and_the_signup_form(config: Config) -> None:
    archive = FakeArchive.of(5)
    latest = public_issue(5)
    page = html(pages_of(config, archive), "/")
    text = "".join(page.text)
    assert "IO Insights" in text and "Interventional Oncology Society" in text
    assert latest.title in text and latest.summary in text and "3 February 2025" in text
    assert "Read it" in text
    hrefs = [a["href"] for a in page.anchors()]
    assert f"/archive/{latest.id}/" in hrefs
    assert f"/archive/{latest.id}/#item-{latest.items[0].id}" in hrefs  # a headline
    assert latest.items[5].title not in text  # a few headlines, not the whole issue
    form = page.all("form")[0]
    assert form["action"] == "/subscribe" and form["method"] == "post"
    fields = {a["name"] for a in page.all("input")}
    assert fields == {"email", "name", "list", "interest", "website"}
    raw = pages_of(config, archive).render("/").body  # type: ignore[union-attr]
    assert b"csrf" not in raw and b'type="hidden" name="list" value="members"' in raw


def test_the_landing_page_before_the_first_issue(config: Config) -> None:
    page = html(pages_of(config, FakeArchive()), "/")
    text = "".join(page.text)
    assert "The first issue is on its way" in text
    assert page.all("form")[0]["action"] == "/subscribe"
    assert page.meta("og:title") == "IO Insights"


def test_the_same_archive_gives_the_same_bytes(config: Config) -> None:
    archive = FakeArchive.of(3)
    one, two = pages_of(config, archive), pages_of(config, archive)
    for path in one.paths():
        if path.endswith("/"):
            first = one.render(path)
            assert first is not None and first == two.render(path) == one.render(path)


def test_a_page_is_rendered_once_per_archive_version(config: Config) -> None:
    archive = FakeArchive.of(3)
    pages = pages_of(config, archive)
    issue = public_issue(3)
    first = pages.render(f"/archive/{issue.id}/")
    archive.calls.clear()
    assert pages.render(f"/archive/{issue.id}/") is first
    assert archive.calls == {"archive_version": 1}  # one cheap query, nothing else

    archive.edit(issue.id, title="Corrected title")  # a new version
    edited = pages.render(f"/archive/{issue.id}/")
    assert edited is not None and edited != first and b"Corrected title" in edited.body
    assert b"Corrected title" in pages.render("/").body  # type: ignore[union-attr]

    newer = public_issue(4)
    before = pages.render("/archive/")
    archive.add(newer)
    after = pages.render("/archive/")
    assert before is not None and after is not None and newer.title.encode() not in before.body
    assert f"/archive/{newer.id}/".encode() in after.body
    # ... and the previous latest now links to it
    assert f"/archive/{newer.id}/".encode() in pages.render(  # type: ignore[union-attr]
        f"/archive/{issue.id}/").body


def test_the_cache_is_bounded(config: Config) -> None:
    archive = FakeArchive.of(CACHED_PAGES + 10)
    pages = pages_of(config, archive)
    for path in pages.paths():
        if path.startswith("/archive/") and path.endswith("/"):
            pages.render(path)
    assert len(pages._pages) == CACHED_PAGES


def test_last_modified_follows_the_content(config: Config) -> None:
    archive = FakeArchive.of(3)
    pages = pages_of(config, archive)
    middle: PublicIssue = public_issue(2)
    page = pages.render(f"/archive/{middle.id}/")
    assert page is not None and page.last_modified == public_issue(3).updated  # its neighbour
    assert pages.render("/").last_modified == public_issue(3).updated  # type: ignore[union-attr]
    assert pages.render("/archive/").last_modified is not None  # type: ignore[union-attr]
    assert pages_of(config, FakeArchive()).render("/").last_modified is None  # type: ignore[union-attr]
