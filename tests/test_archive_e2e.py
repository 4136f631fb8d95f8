"""The public archive end to end, on a real store with a really sent issue (the outbox
backend): the served pages are the export's bytes; feed readers read the feeds back;
nothing unsent or hidden is ever public; entry ids survive a corrected copy; the WebSub
hub is told of what changed and only that; `[syndication] publish_dir` is written after
a send; a reader polling a feed gets 304s."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
import jsonschema
import pytest
from starlette.testclient import TestClient

from pipeline.editing import approve
from pipeline.job import send_current, send_tests
from pipeline.publish.export import MANIFEST
from pipeline.publish.site import archive_pages
from pipeline.publish.snapshot import copy_hash
from pipeline.publish.workflow import publish, set_hidden
from pipeline.store.store import Store
from pipeline.web import create_app

from .helpers import MONDAY, edit_config, first_run, require_approval
from .hubserver import HubServer
from .jsonfeed_schema import SCHEMA
from .test_web_public import KEY

WEEK = "2026-W48"
BASE = "https://news.example.org"
PERMALINK = f"{BASE}/archive/{WEEK}/"
FEEDS = ["/archive/feed.xml", "/archive/feed.json", "/archive/items.xml", "/archive/items.json"]


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)


def insights(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", "--config",
                           str(project / "config.toml"), *args],
                          capture_output=True, text=True, timeout=120, cwd=project)


def served(config, store) -> TestClient:
    return TestClient(create_app(config, store=store, clock=lambda: MONDAY),
                      base_url="https://testserver")


def exported_file(out: Path, path: str) -> Path:
    return out / path.lstrip("/") / "index.html" if path.endswith("/") else out / path.lstrip("/")


def public_bodies(config, store, client: TestClient) -> dict[str, bytes]:
    """Every public path's bytes as served, plus the feeds and search files by name."""
    paths = set(archive_pages(config, store).paths()) | set(FEEDS) | {"/sitemap.xml"}
    bodies = {}
    for path in sorted(paths):
        answer = client.get(path)
        assert answer.status_code == 200, path
        bodies[path] = answer.content
    return bodies


def sent_project(project: Path, *extra: str):
    edit_config(project, "[syndication]\n", "[syndication]\n" + "".join(extra))
    config, report = first_run(project)
    assert report.status == "sent", report.message
    return config, report


# -- (a) the served pages are the export --------------------------------------------------


def test_every_served_path_is_byte_identical_to_the_static_export(project, tmp_path):
    config, _ = sent_project(project)
    out = tmp_path / "site"
    result = insights(project, "publish", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"exported the archive to {out}" in result.stdout
    store = Store.open(config.store_url)
    try:
        paths = archive_pages(config, store).paths()
        assert {"/", "/archive/", f"/archive/{WEEK}/", *FEEDS, "/sitemap.xml",
                "/robots.txt"} <= set(paths)
        client = served(config, store)
        for path in paths:
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert exported_file(out, path).read_bytes() == answer.content, path
        written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        assert written == {exported_file(out, p).relative_to(out).as_posix() for p in paths} | {
            MANIFEST}
    finally:
        store.close()


# -- (b) feed readers read the feeds back ---------------------------------------------------


def test_feed_readers_read_the_served_feeds_back(project):
    config, _ = sent_project(project)
    store = Store.open(config.store_url)
    try:
        copy = store.public_issue(WEEK)
        client = served(config, store)
        issues = feedparser.parse(client.get("/archive/feed.xml").content)
        items = feedparser.parse(client.get("/archive/items.xml").content)
        issues_json = client.get("/archive/feed.json").json()
        items_json = client.get("/archive/items.json").json()
    finally:
        store.close()
    assert not issues.bozo and not items.bozo
    assert issues.version == "atom10" and items.version == "atom10"
    [entry] = issues.entries
    assert entry.id == PERMALINK and entry.link == PERMALINK and entry.title == copy.title
    assert entry.published_parsed == copy.published.utctimetuple()
    assert entry.updated_parsed == copy.updated.utctimetuple()
    assert {link.rel: link.href for link in issues.feed.links}["self"] == \
        f"{BASE}/archive/feed.xml"
    assert [e.id for e in items.entries] == \
        [f"{PERMALINK}#item-{i.id}" for i in copy.items]
    assert [e.title for e in items.entries] == [i.title for i in copy.items]
    assert all(e.published_parsed == copy.published.utctimetuple() for e in items.entries)
    for feed in (issues_json, items_json):
        jsonschema.validate(feed, SCHEMA)
    assert [i["id"] for i in issues_json["items"]] == [PERMALINK]
    assert issues_json["items"][0]["url"] == PERMALINK
    assert [i["id"] for i in items_json["items"]] == [e.id for e in items.entries]


# -- (c) nothing unsent or hidden is public -------------------------------------------------


def assert_nowhere(config, store, client, out: Path, *marks: str) -> None:
    bodies = public_bodies(config, store, client)
    for path, body in bodies.items():
        for mark in marks:
            assert mark.encode() not in body, (path, mark)
    for file in out.rglob("*"):
        if file.is_file():
            for mark in marks:
                assert mark.encode() not in file.read_bytes(), (file, mark)
    assert client.get(f"/archive/{WEEK}/").status_code == 404


def test_drafts_approved_test_sent_and_hidden_issues_are_never_public(project, tmp_path):
    require_approval(project)
    config, report = first_run(project)
    assert report.status == "awaiting-approval"
    out = tmp_path / "site"
    store = Store.open(config.store_url)
    try:
        subject = store.get_variants(WEEK)[0].subject
        client = served(config, store)
        assert send_tests(config, store, ["ed@example.org"], MONDAY)  # a test send
        publish(config, store, MONDAY, out=out)
        assert_nowhere(config, store, client, out, WEEK, subject)
        approve(config, store, WEEK, "ed@example.org", MONDAY)  # approved, not sent
        publish(config, store, MONDAY, out=out)
        assert_nowhere(config, store, client, out, WEEK, subject)
    finally:
        store.close()

    assert send_current(config, MONDAY).status == "sent"
    store = Store.open(config.store_url)
    try:
        client = served(config, store)
        publish(config, store, MONDAY, out=out)
        page = exported_file(out, f"/archive/{WEEK}/")
        assert page.is_file() and client.get(f"/archive/{WEEK}/").status_code == 200
        # hidden: gone from every page, feed and sitemap, and its exported file removed
        set_hidden(config, store, WEEK, True, "ed@example.org", MONDAY, out=out)
        assert not page.exists()
        copy = store.public_issue(WEEK)
        assert copy is None
        assert_nowhere(config, store, client, out, WEEK)
    finally:
        store.close()


# -- (d) ids survive a corrected copy -------------------------------------------------------


def test_a_corrected_copy_keeps_its_entry_id_with_a_new_updated_and_etag(project):
    config, _ = sent_project(project)
    store = Store.open(config.store_url)
    try:
        client = served(config, store)
        before = client.get("/archive/feed.xml")
        copy = store.public_issue(WEEK)
        later = MONDAY + timedelta(days=1)
        corrected = replace(copy, title="Corrected: " + copy.title, updated=later)
        assert store.save_public_issue(corrected, copy_hash(corrected))
        after = client.get("/archive/feed.xml")
        items_after = feedparser.parse(client.get("/archive/items.xml").content)
    finally:
        store.close()
    [old], [new] = feedparser.parse(before.content).entries, feedparser.parse(
        after.content).entries
    assert new.id == old.id == PERMALINK and new.link == PERMALINK
    assert new.title.startswith("Corrected: ")
    assert new.published_parsed == old.published_parsed
    assert new.updated_parsed == later.utctimetuple() != old.updated_parsed
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["last-modified"] == format_datetime(later.astimezone(UTC), usegmt=True)
    assert [e.id for e in items_after.entries] == \
        [f"{PERMALINK}#item-{i.id}" for i in copy.items]


# -- (e) WebSub --------------------------------------------------------------------------------


def test_the_hub_is_told_of_each_changed_feed_once_and_of_nothing_else(project, tmp_path):
    with HubServer() as hub:
        config, report = sent_project(project, f'websub_hub = "{hub.url}"\n')
        assert sorted(hub.feeds()) == sorted(BASE + p for p in FEEDS)
        assert "told the WebSub hub of 4 changed feeds" in report.archive
        hub.pings.clear()
        store = Store.open(config.store_url)
        try:
            again = publish(config, store, MONDAY + timedelta(hours=1), out=tmp_path / "s")
            assert again.pinged == [] and hub.pings == [] and again.problems == []
            hidden = set_hidden(config, store, WEEK, True, "ed@example.org", MONDAY)
            assert sorted(hub.feeds()) == sorted(BASE + p for p in FEEDS)
            assert hidden.report.problems == []
        finally:
            store.close()


def unused_loopback_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hub"


def test_a_hub_that_is_down_never_fails_the_send(project, monkeypatch):
    import pipeline.publish.workflow as workflow

    real = workflow.ping_feed
    monkeypatch.setattr(workflow, "ping_feed",
                        lambda hub, url, client: real(hub, url, client, wait=0.01))
    down = unused_loopback_url()
    config, report = sent_project(project, f'websub_hub = "{down}"\n')
    assert report.delivered == 320
    assert f"published {WEEK} to the archive" in report.archive
    assert "archive: WebSub hub: " in report.archive and down in report.archive
    store = Store.open(config.store_url)
    try:
        assert store.get_issue(WEEK).status == "sent" and store.feed_etags() == {}
    finally:
        store.close()


# -- (f) publish_dir ----------------------------------------------------------------------------


def test_publish_dir_is_written_after_a_send_and_by_insights_publish(project):
    config, report = sent_project(project, 'publish_dir = "public"\n')
    out = project / "public"
    assert f"exported the archive to {out}" in report.archive
    for path in ("/", f"/archive/{WEEK}/", *FEEDS, "/sitemap.xml", "/robots.txt"):
        assert exported_file(out, path).is_file(), path
    # A file lost since (or an export that failed): the next `insights publish` writes it.
    exported_file(out, "/archive/feed.xml").unlink()
    result = insights(project, "publish")
    assert result.returncode == 0, result.stderr
    assert f"exported the archive to {out} (1 written," in result.stdout
    assert exported_file(out, "/archive/feed.xml").is_file()


# -- (g) conditional GET -----------------------------------------------------------------------


def test_a_reader_polling_a_feed_gets_304_while_nothing_changed(project):
    config, _ = sent_project(project)
    store = Store.open(config.store_url)
    try:
        client = served(config, store)
        for path in FEEDS:
            first = client.get(path)
            assert first.status_code == 200 and first.headers["etag"].startswith('"')
            tagged = client.get(path, headers={"if-none-match": first.headers["etag"]})
            assert tagged.status_code == 304 and tagged.content == b""
            assert tagged.headers["etag"] == first.headers["etag"]
            dated = client.get(path, headers={
                "if-modified-since": first.headers["last-modified"]})
            assert dated.status_code == 304, path
            stale = client.get(path, headers={"if-none-match": '"other"'})
            assert stale.status_code == 200 and stale.content == first.content
    finally:
        store.close()
    assert json.loads(first.content)  # the last, items.json, is JSON


def test_a_refreshed_copy_keeps_ids_and_tells_the_hub(project, monkeypatch):
    """`insights publish --refresh` after a template change: the copy comes out
    different (here its title, as a changed template would make it)."""
    import pipeline.publish.workflow as workflow

    rendered = workflow.public_copy
    with HubServer() as hub:
        config, _ = sent_project(project, f'websub_hub = "{hub.url}"\n')
        hub.pings.clear()
        store = Store.open(config.store_url)
        try:
            client = served(config, store)
            page, feed = client.get(f"/archive/{WEEK}/"), client.get("/archive/feed.xml")
            first = store.public_issue(WEEK).items[0]
            monkeypatch.setattr(workflow, "public_copy", lambda *a: replace(
                (copy := rendered(*a)), title="Corrected title",
                items=(replace(copy.items[0], title="Corrected headline"), *copy.items[1:])))
            later = MONDAY + timedelta(days=2)
            report = publish(config, store, later, refresh=True)
            assert report.refreshed == [WEEK] and report.problems == []
            assert set(hub.feeds()) == {BASE + p for p in FEEDS}  # each changed, once
            assert len(hub.pings) == len(FEEDS)
            new_page, new_feed = client.get(f"/archive/{WEEK}/"), client.get("/archive/feed.xml")
            items = feedparser.parse(client.get("/archive/items.xml").content)
        finally:
            store.close()
    assert "Corrected title" in new_page.text
    assert new_page.headers["etag"] != page.headers["etag"]
    assert new_feed.headers["etag"] != feed.headers["etag"]
    [old], [new] = (feedparser.parse(f.content).entries for f in (feed, new_feed))
    assert new.id == old.id == PERMALINK and new.title == "Corrected title"
    assert new.published_parsed == old.published_parsed
    assert new.updated_parsed == later.utctimetuple()
    corrected = next(e for e in items.entries if e.id == f"{PERMALINK}#item-{first.id}")
    assert corrected.title == "Corrected headline"
