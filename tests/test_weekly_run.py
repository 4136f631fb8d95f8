"""The weekly job end to end on the bundled examples."""

from __future__ import annotations

import email
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from pipeline.config import load_config
from pipeline.deliver.outbox import OutboxBackend
from pipeline.editing import approve
from pipeline.errors import InsightsError
from pipeline.job import run_weekly, send_current
from pipeline.store.store import Store

from .helpers import (
    MONDAY,
    NEXT_MONDAY,
    add_rss_item,
    edit_config,
    first_run,
    manifest,
    require_approval,
    seed,
    use_store,
)

SEGMENTS = ["trainees", "nurses-techs", "industry", "liver", "lung", "general"]


def test_first_run_builds_and_delivers_every_variant(project):
    config, report = first_run(project)
    assert report.status == "sent", report.message
    assert report.issue_id == "2026-W48" and report.issue_number == 1
    by_source = {s.name: s for s in report.sources}
    assert (by_source["society-news"].new, by_source["pubmed-io"].new) == (8, 7)
    # Two journal papers are the PubMed ones (same DOI): stored once.
    assert (by_source["jior-toc"].new, by_source["jior-toc"].seen) == (4, 2)
    assert not any(s.failed or s.warnings for s in report.sources)
    assert [s.segment for s in report.segments] == SEGMENTS
    assert sum(s.recipients for s in report.segments) == 320 == report.delivered

    folder = project / "outbox" / "2026-W48"
    for segment in SEGMENTS:
        for suffix in (".html", ".txt", ".eml"):
            assert (folder / f"{segment}{suffix}").stat().st_size > 1000
    rows = manifest(project, "2026-W48")
    assert len(rows) == 320
    assert len({r[0].lower() for r in rows}) == 320  # nobody twice
    counts = Counter(r[1] for r in rows)
    assert counts == {s.segment: s.recipients for s in report.segments}


def test_trainees_land_in_their_segment_and_nowhere_else(project):
    _config, report = first_run(project)
    rows = {r[0]: r[1] for r in manifest(project, report.issue_id)}
    csv_rows = (project / "examples/subscribers.csv").read_text().splitlines()[1:]
    for line in csv_rows:
        address, role = line.split(",")[0], line.split(",")[2]
        if role in ("resident", "fellow"):
            assert rows[address] == "trainees"
        elif role == "industry":
            assert rows[address] == "industry"


def test_eml_is_a_complete_personalised_message(project):
    first_run(project)
    raw = (project / "outbox/2026-W48/liver.eml").read_bytes()
    msg = email.message_from_bytes(raw)
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.get_payload()]
    assert parts == ["text/plain", "text/html"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith("<https://news.example.org/u/")
    assert "=?" not in msg["List-Unsubscribe"]
    html = msg.get_payload()[1].get_payload(decode=True).decode()
    text = msg.get_payload()[0].get_payload(decode=True).decode()
    for body in (html, text):
        assert "%%io:" not in body
        assert "https://news.example.org/u/" in body  # the visible unsubscribe link
        assert "1200 Example Avenue" in body  # postal address
        assert "tailored for physicians interested in liver tumours" in body


def test_second_run_same_week_delivers_nothing(project):
    config, first = first_run(project)
    before = (project / "outbox/2026-W48/manifest.csv").read_bytes()
    again = run_weekly(config, MONDAY + timedelta(hours=3))
    assert again.status == "already-sent"
    assert "already sent" in again.message
    assert again.delivered == 0
    assert (project / "outbox/2026-W48/manifest.csv").read_bytes() == before
    store = Store.open(config.store_url)
    assert len(store.list_issues()) == 1
    store.close()


def test_next_week_contains_only_what_is_new(project):
    edit_config(project, "max_items_per_section = 8", "max_items_per_section = 20")
    config, _ = first_run(project)
    add_rss_item(project / "examples/feeds/society-news.rss", "ios-news-2026-099",
                 "Registration opens for the 2027 Annual Meeting",
                 "Wed, 25 Nov 2026 15:00:00 GMT", "Early-bird rates until January.")
    report = run_weekly(config, NEXT_MONDAY)
    assert report.status == "sent", report.message
    assert report.issue_id == "2026-W49" and report.issue_number == 2
    assert {s.name: s.new for s in report.sources}["society-news"] == 1
    store = Store.open(config.store_url)
    sections = store.issue_sections("2026-W49")
    store.close()
    assert [i.title for i in sections["news"]] == ["Registration opens for the 2027 Annual Meeting"]
    assert "research" not in sections
    # Upcoming events are repeated as reminders, past ones dropped.
    assert all(e.event_start >= NEXT_MONDAY for e in sections["events"])
    assert len(manifest(project, "2026-W49")) == 320


def test_next_week_with_nothing_new_is_skipped(project):
    edit_config(project, "max_items_per_section = 8", "max_items_per_section = 20")
    config, _ = first_run(project)
    report = run_weekly(config, NEXT_MONDAY)
    assert report.status == "skipped"
    assert "Nothing new" in report.message and "skipped" in report.message
    assert not (project / "outbox" / "2026-W49").exists()


def test_a_broken_source_is_reported_and_the_rest_publish(project):
    edit_config(project, 'url = "examples/feeds/jvir-toc.atom"', 'url = "examples/feeds/missing.atom"')
    (project / "examples/feeds/society-news.rss").write_bytes(b"<rss><channel><item>\x00<<<")
    _config, report = first_run(project)
    by_source = {s.name: s for s in report.sources}
    assert by_source["jior-toc"].failed and "not found" in by_source["jior-toc"].error
    assert by_source["jior-toc"].consecutive_failures == 1
    assert by_source["pubmed-io"].new == 7
    assert report.status == "sent"


class CrashAfter(Exception):
    pass


def test_crash_mid_send_resumes_without_duplicates(project, monkeypatch):
    edit_config(project, "batch_size = 1000", "batch_size = 20")
    edit_config(project, "concurrency = 4 ", "concurrency = 1 ")
    original = OutboxBackend.send_batch
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise CrashAfter("power cut")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(OutboxBackend, "send_batch", flaky)
    config = load_config(project / "config.toml")
    with pytest.raises(CrashAfter):
        first_run(project)
    store = Store.open(config.store_url)
    assert store.get_issue("2026-W48").status == "sending"
    states = Counter(b.state for b in store.batches("2026-W48"))
    # The batch being sent when the "power cut" hit stays in flight; batches already
    # handed to the worker may have finished; the rest wait as pending.
    assert states["in_flight"] == 1 and states["accepted"] >= 3
    store.close()

    report = run_weekly(config, MONDAY + timedelta(minutes=5))
    assert report.status == "sent", report.message
    rows = manifest(project, "2026-W48")
    assert len(rows) == 320 and len({r[0] for r in rows}) == 320


def test_run_on_each_store_backend(project, store_url):
    use_store(project, store_url)
    config, report = first_run(project)
    assert report.status == "sent" and report.delivered == 320
    assert run_weekly(config, MONDAY + timedelta(hours=1)).status == "already-sent"


def test_require_approval_holds_the_draft_until_approved(project):
    require_approval(project)
    config, report = first_run(project)
    assert report.status == "awaiting-approval" and report.delivered == 0
    assert not (project / "outbox" / "2026-W48").exists()
    # The report tells the approver who would receive each variant.
    assert {s.segment: s.recipients for s in report.segments}["trainees"] == 71
    assert sum(s.recipients for s in report.segments) == 320
    store = Store.open(config.store_url)
    approve(config, store, "2026-W48", "editor@example.org", MONDAY)
    store.close()
    report = run_weekly(config, MONDAY + timedelta(hours=1))
    assert report.status == "sent" and report.delivered == 320


def test_content_changed_behind_an_approval_is_not_sent(project):
    """The send goes out only as approved: variants re-rendered after approval (say, a
    template changed on disk) hold the send until an editor approves again."""
    require_approval(project)
    config, _ = first_run(project)
    store = Store.open(config.store_url)
    approve(config, store, "2026-W48", "editor@example.org", MONDAY)
    issue = store.get_issue("2026-W48")
    [first, *rest] = store.get_variants("2026-W48")
    store.save_variants("2026-W48", [replace(first, subject="Changed"), *rest], MONDAY)
    store.close()
    report = run_weekly(config, MONDAY + timedelta(hours=1))
    assert report.status == "awaiting-approval" and report.delivered == 0
    assert "changed after it was approved by editor@example.org" in report.message
    assert issue.approved_hash and not (project / "outbox" / "2026-W48").exists()


def test_items_left_out_of_a_full_issue_come_next_week(project):
    edit_config(project, "max_items_per_section = 8", "max_items_per_section = 5")
    config, first = first_run(project)
    store = Store.open(config.store_url)
    shown = {i.id for items in store.issue_sections("2026-W48").values() for i in items}
    report = run_weekly(config, NEXT_MONDAY)
    assert report.status == "sent", report.message
    later = store.issue_sections("2026-W49")
    store.close()
    assert len(later["research"]) == 5 and len(later["news"]) == 3
    assert not {i.id for i in later["research"] + later["news"]} & shown


def test_an_empty_audience_does_not_use_up_the_week(project):
    """No subscribers yet: nothing is sent and the issue stays unsent, so the run after
    the import delivers it."""
    config = load_config(project / "config.toml")
    report = run_weekly(config, MONDAY)
    assert report.status == "incomplete" and report.delivered == 0
    assert "nobody is eligible on the lists members" in report.message
    seed(config)
    report = run_weekly(config, MONDAY + timedelta(hours=1))
    assert report.status == "sent" and report.delivered == 320


def test_a_draft_never_approved_is_superseded_by_next_weeks_issue(project, caplog):
    """Its items go into the new issue, so sending it later would repeat them: it is
    marked skipped, and approving it is refused."""
    require_approval(project)
    config, report = first_run(project)
    assert report.status == "awaiting-approval"
    later = run_weekly(config, NEXT_MONDAY)
    assert later.issue_id == "2026-W49" and later.status == "awaiting-approval"
    store = Store.open(config.store_url)
    assert store.get_issue("2026-W48").status == "skipped"
    with pytest.raises(InsightsError, match="is skipped; only a draft can be approved"):
        approve(config, store, "2026-W48", "editor@example.org", NEXT_MONDAY)
    assert store.latest_open_issue().id == "2026-W49"
    approve(config, store, "2026-W49", "editor@example.org", NEXT_MONDAY)
    store.close()
    assert "issue 2026-W48 was never sent and is superseded by 2026-W49" in caplog.text
    assert send_current(config, NEXT_MONDAY).issue_id == "2026-W49"
    store = Store.open(config.store_url)
    assert store.latest_open_issue() is None  # the skipped one is never picked up
    store.close()


def test_the_outbox_manifest_has_no_formula_cells(project):
    from pipeline.store.store import Store
    from subscribers.formats import Row
    from subscribers.store import Audience

    from .helpers import MONDAY, seed

    config = load_config(project / "config.toml")
    seed(config)
    store = Store.open(config.store_url)
    try:
        Audience(store.engine).import_rows(
            [Row(2, "=cmd@example.org", "Eve", {})], "members", status="confirmed",
            source="test", now=MONDAY)
    finally:
        store.close()
    assert run_weekly(config, MONDAY).status == "sent"
    manifest = (project / "outbox/2026-W48/manifest.csv").read_text()
    assert "'=cmd@example.org," in manifest and "\n=cmd" not in manifest


def test_a_test_send_to_an_address_with_a_slash_stays_in_the_tests_folder(project):
    from pipeline.job import send_tests
    from pipeline.store.store import Store

    from .helpers import MONDAY, seed

    require_approval(project)
    config = load_config(project / "config.toml")
    seed(config)
    assert run_weekly(config, MONDAY).status == "awaiting-approval"
    store = Store.open(config.store_url)
    try:
        send_tests(config, store, ["a/b@example.org"], MONDAY, segments=["general"])
    finally:
        store.close()
    written = [p.name for p in (project / "outbox/2026-W48/tests").iterdir()]
    assert written == ["general-a_b@example.org.eml"]
