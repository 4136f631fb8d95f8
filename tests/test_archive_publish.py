"""Publishing a sent issue to the public archive: the public copy carries nobody's links
and the issue as its variant showed it; test sends never make anything public; a send
publishes, a tick mends a publish that did not happen; editors hide and show issues."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from datetime import timedelta

import pytest

import pipeline.publish.workflow as workflow
from pipeline.config import load_config
from pipeline.content_edits import NewItem, add_item, edit_item_text
from pipeline.editing import approve
from pipeline.job import send_current, send_tests
from pipeline.publish.workflow import publish
from pipeline.store.store import Store
from pipeline.week import tick

from .helpers import MONDAY, edit_config, first_run, require_approval

WEEK = "2026-W48"


def store_of(config) -> Store:
    return Store.open(config.store_url)


def insights(project, *args):
    return subprocess.run([sys.executable, "-m", "pipeline", "--config",
                           str(project / "config.toml"), *args],
                          capture_output=True, text=True, timeout=120, cwd=project)


def test_a_send_publishes_the_public_variant_with_nobodys_links(project):
    config, report = first_run(project)
    assert report.status == "sent", report.message
    assert report.archive == f"published {WEEK} to the archive"
    store = store_of(config)
    copy = store.public_issue(WEEK)
    trainees = next(v for v in store.get_variants(WEEK) if v.segment == "trainees")
    store.close()
    assert copy is not None and config.public_variant == "trainees"  # the first variant
    body = copy.body_html
    for personal in ("%%io:", "/u/", "/p/", "Unsubscribe", "Manage preferences", "Dear "):
        assert personal not in body
    assert body.startswith("<article") and "<html" not in body and "<script" not in body
    assert 'href="https://news.example.org/subscribe">Subscribe</a>' in body
    # What the trainees' email showed, in its order, each at its own anchor.
    assert copy.title == trainees.subject and copy.published == copy.updated
    assert [i.section for i in copy.items][:1] == ["events"]  # their sections' order
    for item in copy.items:
        assert f'id="item-{item.id}"' in body
        assert html.escape(item.title, quote=False) in trainees.html
        assert item.published == copy.published
    research = next(i for i in copy.items if i.section == "research" and i.doi)
    assert f'<a href="https://doi.org/{research.doi}">' in body and research.authors
    assert research.journal and f"<cite>{research.journal}</cite>" in body
    event = next(i for i in copy.items if i.section == "events")
    assert event.event_when and html.escape(event.event_when, quote=False) in body
    assert f'https://news.example.org/events/{event.id}.ics">Add to calendar' in body
    assert copy.summary.startswith(f"{len(copy.items)} updates this week")


def test_the_copy_shows_the_editors_headline_teaser_and_lead_image(project):
    require_approval(project)
    edit_config(project, "[syndication]\n", '[syndication]\npublic_variant = "general"\n')
    config, report = first_run(project)
    assert report.status == "awaiting-approval"
    store = store_of(config)
    news = store.issue_sections(WEEK)["news"][0]
    edit_item_text(config, store, WEEK, news.id, "Edited: <b>the</b> %%io:email%% headline",
                   "Read **this** %%io:unsubscribe_url%% first.", "ed@example.org", MONDAY)
    _, lead = add_item(config, store, WEEK, NewItem(
        "news", "The president's message", "https://www.example.org/president",
        image_url="https://img.example.org/p.png", image_alt="The president", lead=True),
        "ed@example.org", MONDAY)
    approve(config, store, WEEK, "ed@example.org", MONDAY)
    store.close()
    assert send_current(config, MONDAY).archive == f"published {WEEK} to the archive"

    store = store_of(config)
    copy = store.public_issue(WEEK)
    general = next(v for v in store.get_variants(WEEK) if v.segment == "general")
    store.close()
    assert copy.title == general.subject
    assert copy.items[0].id == lead and copy.image_url == "https://img.example.org/p.png"
    assert ('<img src="https://img.example.org/p.png" alt="The president" width="552" '
            'height="276"') in copy.body_html
    edited = next(i for i in copy.items if i.id == news.id)
    assert edited.title == "Edited: <b>the</b> %% io:email%% headline"  # inert, as text
    assert edited.summary == "Read this %% io:unsubscribe_url%% first."
    assert "Edited: &lt;b&gt;the&lt;/b&gt; %% io:email%% headline</a>" in copy.body_html
    assert "<strong>this</strong>" in copy.body_html and news.title not in copy.body_html
    assert "%%io:" not in copy.body_html


def test_a_test_send_never_makes_anything_public(project):
    require_approval(project)
    config, report = first_run(project)
    store = store_of(config)
    assert send_tests(config, store, ["ed@example.org"], MONDAY)
    report = publish(config, store, MONDAY)
    assert report.lines() == [] and store.public_issue_count() == 0
    assert store.get_issue(WEEK).status == "draft"
    store.close()


def test_publishing_again_changes_nothing(project):
    config, _ = first_run(project)
    store = store_of(config)
    version = store.archive_version()
    kept = store.public_issue(WEEK)
    assert publish(config, store, MONDAY + timedelta(days=1)).lines() == []
    # Rendered again from the same content: the copy and its dates stay as they were.
    assert publish(config, store, MONDAY + timedelta(days=2), refresh=True).lines() == []
    assert store.archive_version() == version and store.public_issue(WEEK) == kept
    store.close()
    result = insights(project, "publish")
    assert result.returncode == 0, result.stderr
    assert "Nothing to publish: every sent issue is in the archive." in result.stdout


def test_a_publish_that_failed_after_the_send_is_mended_by_the_next_tick(project,
                                                                         monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(workflow, "public_copy", crash)
    config, report = first_run(project)
    # The send is done and says so; the archive's problem is one line of its report.
    assert report.status == "sent" and report.delivered == 320
    assert report.archive.startswith("archive: not published (RuntimeError: disk full)")
    store = store_of(config)
    assert store.get_issue(WEEK).status == "sent" and store.public_issue_count() == 0
    store.close()

    monkeypatch.undo()
    later = MONDAY + timedelta(minutes=5)
    mended = tick(config, later)
    assert mended.archive == [f"published {WEEK} to the archive"]
    assert not tick(config, later + timedelta(minutes=5)).archive  # nothing left to do
    store = store_of(config)
    assert [i.id for i in store.public_issues(20)] == [WEEK]
    store.close()


def test_the_schedulers_send_publishes_and_says_so_in_its_lines(project):
    from .helpers import seed

    seed(load_config(project / "config.toml"))  # approval optional in the tests' copy
    config = load_config(project / "config.toml")
    tick(config, MONDAY.replace(month=11, day=19, hour=9))  # the draft slot (Thu)
    report = tick(config, MONDAY.replace(hour=7))  # the send slot (Mon)
    [send] = [p for p in report.performed if p.action.key == f"send:{WEEK}"]
    assert f"published {WEEK} to the archive" in send.lines
    assert report.archive == []  # published by the send itself


def test_hide_and_show_from_the_command_line(project):
    config, _ = first_run(project)
    hidden = insights(project, "issues", "hide", WEEK)
    assert hidden.returncode == 0, hidden.stderr
    assert f"Issue {WEEK} is hidden from the archive." in hidden.stdout
    listed = insights(project, "issues").stdout
    assert re.search(rf"{WEEK}  no\. 1 +sent +sent .* UTC \(hidden from the archive\)", listed)
    store = store_of(config)
    assert store.public_issue(WEEK) is None and store.public_issue_count() == 0
    assert store.unpublished_sent_issue_ids() == []  # its copy is kept for `show`
    store.close()
    again = insights(project, "issues", "hide", WEEK)
    assert "already hidden from the archive: nothing changed" in again.stdout

    shown = insights(project, "issues", "show", WEEK, "--as", "ada@example.org")
    assert f"Issue {WEEK} is shown in the archive." in shown.stdout
    assert "hidden" not in insights(project, "issues").stdout
    store = store_of(config)
    assert store.public_issue(WEEK) is not None
    audit = [(e.actor, e.action) for e in store.audit_entries(WEEK)][:2]
    store.close()
    assert audit == [("ada@example.org", "archive-show"), ("cli", "archive-hide")]

    unknown = insights(project, "issues", "hide", "2031-W01")
    assert unknown.returncode == 1
    assert "no issue '2031-W01' (`insights issues` lists them)" in unknown.stderr


@pytest.fixture
def sent_admin(project, tmp_path, monkeypatch):
    from .test_web_admin import make_admin

    yield from make_admin(project, f"sqlite:///{tmp_path / 'admin.db'}", monkeypatch,
                          approval=False)


def test_an_editor_hides_and_shows_a_sent_issue_from_its_page(sent_admin):
    from .test_web_admin import EDITOR

    admin = sent_admin
    admin.login()
    page = admin.client.get(f"/admin/issues/{WEEK}").text
    assert 'id="archive-toggle">Hide from the archive</button>' in page
    refused = admin.client.post(f"/admin/issues/{WEEK}/archive/hide", data={"csrf": "x"},
                                follow_redirects=False)
    assert refused.status_code == 403 and admin.store.public_issue(WEEK) is not None

    done = admin.post(f"/admin/issues/{WEEK}/archive/hide")
    assert done.status_code == 303 and done.headers["location"].endswith("#summary")
    assert admin.store.public_issue(WEEK) is None
    page = admin.client.get(f"/admin/issues/{WEEK}").text
    assert f"Issue {WEEK} is hidden from the archive." in page
    assert 'id="archive-toggle">Show in the archive</button>' in page
    assert 'title="hidden from the public archive">hidden</span>' in admin.client.get(
        "/admin/issues").text
    [entry] = [e for e in admin.store.audit_entries(WEEK) if e.action == "archive-hide"]
    assert entry.actor == EDITOR

    admin.post(f"/admin/issues/{WEEK}/archive/show")
    assert admin.store.public_issue(WEEK) is not None
    assert "badge-hidden" not in admin.client.get("/admin/issues").text
    assert admin.post("/admin/issues/2031-W01/archive/hide").status_code == 404
