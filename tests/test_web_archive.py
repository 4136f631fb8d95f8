"""The public archive through the web app (pipeline/web/archive.py): the landing page,
/archive/ and its pages, each issue's page; their status, headers and links, and that
the admin and subscriber pages stay out of search engines while these do not."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pipeline.config import Config, load_config
from pipeline.publish.site import archive_pages
from pipeline.store.store import Store
from pipeline.web import create_app
from subscribers.store import Audience

from .fake_archive import FakeArchive, public_issue
from .helpers import MONDAY
from .test_public_pages import Parsed

KEY = "web-archive-tests-key-0123456789ab"
NOINDEX = b'<meta name="robots" content="noindex">'


@dataclass
class App:
    config: Config
    store: Store
    archive: FakeArchive
    client: TestClient


@pytest.fixture
def app(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)
    config = load_config(project / "config.toml")
    store = Store.open(config.store_url)
    archive = FakeArchive.of(3)
    client = TestClient(create_app(config, store=store, clock=lambda: MONDAY, archive=archive),
                        base_url="https://testserver")
    yield App(config, store, archive, client)
    store.close()


def test_the_home_page_is_the_landing_page(app: App) -> None:
    r = app.client.get("/")
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert public_issue(3).title in r.text and "Read it" in r.text
    assert NOINDEX not in r.content
    assert "set-cookie" not in r.headers  # no session for a reader
    assert "script-src 'none'" in r.headers["content-security-policy"]

    app.archive.issues.clear()  # before the first issue
    r = app.client.get("/")
    assert r.status_code == 200 and "The first issue is on its way" in r.text


def test_archive_issue_pages_and_what_has_no_page(app: App) -> None:
    issue = public_issue(2)
    assert app.client.get("/archive/").status_code == 200
    r = app.client.get(f"/archive/{issue.id}/")
    assert r.status_code == 200 and issue.title in r.text and NOINDEX not in r.content
    app.archive.hidden.add(issue.id)
    for path in [f"/archive/{issue.id}/", "/archive/2099-W01/", "/archive/page/2/",
                 "/archive/page/0/", "/archive/page/02/", "/archive/page/"]:
        r = app.client.get(path, follow_redirects=False)
        assert r.status_code == 404, path
        assert NOINDEX in r.content and "archive" in r.text  # a way back


def test_pages_answer_at_one_address(app: App) -> None:
    app.archive.add(*(public_issue(n) for n in range(4, 22)))  # 21 issues: two pages
    assert app.client.get("/archive/page/2/").status_code == 200
    r = app.client.get("/archive/page/1/", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == "/archive/"
    issue = public_issue(2)
    r = app.client.get(f"/archive/{issue.id}", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == f"/archive/{issue.id}/"  # relative
    r = app.client.get(f"/archive/{issue.id}", headers={"host": "evil.example"},
                       follow_redirects=False)
    assert r.headers["location"] == f"/archive/{issue.id}/"


def test_a_page_is_the_same_bytes_each_time_and_revalidates(app: App) -> None:
    first, second = app.client.get("/archive/"), app.client.get("/archive/")
    assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
    assert first.headers["last-modified"]
    r = app.client.get("/archive/", headers={"if-none-match": first.headers["etag"]})
    assert r.status_code == 304 and r.content == b""
    # ... and what the export writes is what was served
    served = archive_pages(app.config, app.archive).render("/archive/")
    assert served is not None and served.body == first.content
    app.archive.add(public_issue(4))
    r = app.client.get("/archive/", headers={"if-none-match": first.headers["etag"]})
    assert r.status_code == 200 and public_issue(4).title in r.text


def test_head_requests_are_answered(app: App) -> None:
    assert app.client.head("/").status_code == 200
    assert app.client.head(f"/archive/{public_issue(1).id}/").status_code == 200


def test_admin_and_subscriber_pages_stay_out_of_search_engines(app: App) -> None:
    for path in ["/subscribe", "/admin/login", "/manage"]:
        r = app.client.get(path)
        assert r.status_code == 200 and NOINDEX in r.content, path


def test_the_landing_pages_form_signs_up_without_a_token(app: App) -> None:
    page = Parsed(app.client.get("/").text)
    form = page.all("form")[0]
    fields = {a["name"]: a.get("value", "") for a in page.all("input")
              if a.get("type") not in ("checkbox", "radio")}
    fields["email"] = "reader@example.org"
    fresh = TestClient(app.client.app, base_url="https://testserver")  # no cookies at all
    r = fresh.post(form["action"], data=fields)
    assert r.status_code == 200 and "Check your inbox" in r.text
    person = Audience(app.store.engine).get("reader@example.org")
    assert person is not None and person.lists == {"members": "unconfirmed"}
