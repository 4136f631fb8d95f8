"""The scheduler's tick (pipeline/week.py): leases on both backends, two real processes
ticking at once performing each action once, and a whole week driven through
`insights tick --now` (the draft Thursday, the hold Monday 07:00, the approval and the
send, the second tick that does nothing, a week approved two days late)."""

from __future__ import annotations

import multiprocessing
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.accounts import add_editor
from pipeline.config import Config, load_config
from pipeline.store.store import Store

from .helpers import (
    CHICAGO,
    add_rss_item,
    edit_config,
    manifest,
    one_step_cron,
    require_approval,
    seed,
    use_store,
)

EDITORS = ("ada@society.example.org", "grace@society.example.org")
SUBSCRIBERS = 320  # examples/subscribers.csv


def at(local: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=CHICAGO)


def week_project(project: Path, store_url: str | None = None) -> Config:
    """The bundled project on the editorial week, its subscribers and two editors."""
    require_approval(project)  # the shipped timeline, as it ships
    if store_url:
        use_store(project, store_url)
    config = load_config(project / "config.toml")
    seed(config)  # also creates the schema, before any two processes race to
    store = Store.open(config.store_url)
    try:
        for email in EDITORS:
            add_editor(store, email, "a long enough password", datetime.now(UTC))
    finally:
        store.close()
    return config


def notices(project: Path) -> list[str]:
    """The editor emails in the outbox."""
    folder = project / "outbox" / "transactional"
    return sorted(p.read_text(errors="replace") for p in folder.glob("*.eml")) \
        if folder.exists() else []


# -- leases, on SQLite and PostgreSQL ---------------------------------------------------


def test_a_lease_is_claimed_renewed_expires_finishes_and_releases(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        now, ttl = datetime(2026, 11, 26, 15, 0, tzinfo=UTC), timedelta(minutes=10)
        assert store.claim_action("draft:2026-W49", "a", now, ttl)
        assert not store.claim_action("draft:2026-W49", "b", now + timedelta(minutes=9), ttl)
        assert store.renew_action("draft:2026-W49", "a", now + timedelta(minutes=9), ttl)
        assert not store.renew_action("draft:2026-W49", "b", now, ttl)  # not b's
        # Renewed at 15:09 until 15:19: still held at 15:18, taken over once it ran out.
        assert not store.claim_action("draft:2026-W49", "b", now + timedelta(minutes=18), ttl)
        assert store.claim_action("draft:2026-W49", "b", now + timedelta(minutes=19), ttl)
        assert not store.renew_action("draft:2026-W49", "a", now, ttl)  # a lost it
        [record] = store.actions()
        assert (record.owner, record.attempts, record.done_at) == ("b", 2, None)
        # Released to retry from 16:00: nobody before, anyone from then.
        store.release_action("draft:2026-W49", "b", now + timedelta(hours=1), "held")
        assert not store.claim_action("draft:2026-W49", "a", now + timedelta(minutes=59), ttl)
        assert store.claim_action("draft:2026-W49", "a", now + timedelta(hours=1), ttl)
        store.finish_action("draft:2026-W49", "a", now + timedelta(hours=1), "drafted")
        assert store.done_actions({"draft:2026-W49", "send:2026-W49"}) == {"draft:2026-W49"}
        # Done is done: never claimable again, however late.
        assert not store.claim_action("draft:2026-W49", "b", now + timedelta(days=30), ttl)
        # Another process's finish of a lease it does not hold changes nothing.
        assert store.claim_action("send:2026-W49", "a", now, ttl)
        store.finish_action("send:2026-W49", "b", now, "not mine")
        assert "send:2026-W49" not in store.done_actions()
    finally:
        store.close()


def test_a_lease_is_renewed_while_its_action_runs(project: Path, monkeypatch) -> None:
    from pipeline import week

    config = week_project(project)
    monkeypatch.setattr(week, "RENEW_EVERY", 0.05)
    store = Store.open(config.store_url)
    try:
        start = datetime.now(UTC)
        assert store.claim_action("send:2026-W49", "me", start, timedelta(seconds=1))
        job = week.Tick(config, store, start, "me")
        with job.renewed("send:2026-W49"):
            time.sleep(0.3)
        [record] = store.actions()
        assert record.lease_until > start + timedelta(minutes=9)  # renewed to LEASE_TTL
    finally:
        store.close()


def test_a_crashed_ticks_lease_is_taken_over_once_it_expires(project: Path) -> None:
    from pipeline.week import tick

    config = week_project(project)
    store = Store.open(config.store_url)
    try:  # a tick that claimed the draft and died: its lease ran out a second ago
        store.claim_action("draft:2026-W49", "gone:1", datetime.now(UTC) - timedelta(
            minutes=10, seconds=1), timedelta(minutes=10))
    finally:
        store.close()
    report = tick(config, at("2026-11-26T09:00"))
    assert [p.outcome for p in report.performed] == ["done"]
    assert report.performed[0].lines[0].startswith("drafted issue 2026-W49 (no. 1)")


def test_a_lease_held_elsewhere_is_left_alone_and_said_so(project: Path) -> None:
    from pipeline.week import tick
    from pipeline.week_report import tick_lines

    config = week_project(project)
    store = Store.open(config.store_url)
    try:
        store.claim_action("draft:2026-W49", "host-b:42", datetime.now(UTC),
                           timedelta(minutes=10))
    finally:
        store.close()
    report = tick(config, at("2026-11-26T09:00"))
    assert report.performed == []
    line = tick_lines(report)[0]
    assert line.startswith("draft 2026-W49: being done by host-b:42 (lease until ")
    assert re.search(r"\d\d:\d\d C[SD]T \((\w\w\w \d\d \w\w\w )?\d\d:\d\d UTC\)\)$", line)


# -- two processes ticking at once ------------------------------------------------------


def _tick_in_process(config_path: str, now: str, barrier: Any, out: Any) -> None:
    """A child process: wait for the other, then tick at `now`."""
    from pipeline.week import tick

    config = load_config(config_path)
    barrier.wait(timeout=60)
    report = tick(config, datetime.fromisoformat(now))
    out.put([(p.action.key, p.outcome) for p in report.performed])


def _tick_together(project: Path, now: datetime) -> list[tuple[str, str]]:
    context = multiprocessing.get_context("spawn")
    barrier, out = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_tick_in_process, args=(
        str(project / "config.toml"), now.isoformat(), barrier, out)) for _ in range(2)]
    for process in processes:
        process.start()
    performed = [out.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return sorted(action for each in performed for action in each)


def test_two_processes_ticking_at_once_do_each_action_once(project: Path,
                                                            store_url: str) -> None:
    config = week_project(project, store_url)
    assert _tick_together(project, at("2026-11-26T09:00")) == [("draft:2026-W49", "done")]
    assert len(notices(project)) == len(EDITORS)  # one DraftReady each
    assert _tick_together(project, at("2026-11-29T19:00")) == [("remind:2026-W49", "done")]
    assert len(notices(project)) == 2 * len(EDITORS)

    store = Store.open(config.store_url)
    try:
        from pipeline.editing import approve

        approve(config, store, "2026-W49", EDITORS[0], datetime.now(UTC))
    finally:
        store.close()
    assert _tick_together(project, at("2026-11-30T07:00")) == [("send:2026-W49", "done")]
    rows = manifest(project, "2026-W49")
    emails = [row[0] for row in rows]
    assert len(emails) == SUBSCRIBERS and len(set(emails)) == SUBSCRIBERS  # one copy each
    assert len(notices(project)) == 3 * len(EDITORS)  # and "it went"

    store = Store.open(config.store_url)
    try:
        entries = [e for e in store.audit_entries() if e.actor == "scheduler"]
        assert sorted(e.action for e in entries) == ["draft", "remind", "send"]
        assert all(r.attempts == 1 for r in store.actions())
    finally:
        store.close()


# -- the week, through `insights tick --now` --------------------------------------------


def insights(project: Path, *args: str) -> Any:
    from pipeline.cli import cli

    result = CliRunner().invoke(cli, ["--config", str(project / "config.toml"), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_the_editorial_week_through_insights_tick(project: Path) -> None:
    week_project(project)

    thursday = insights(project, "tick", "--now", "2026-11-26T09:00")
    assert thursday.exit_code == 0, thursday.output
    assert thursday.stdout.startswith(
        "drafted issue 2026-W49 (no. 1): 8 news, 8 research, 6 events; send slot Mon 30 Nov "
        "07:00 CST (13:00 UTC); 2 editors told\n")
    assert ("next: remind the editors to approve 2026-W49 at Sun 29 Nov 19:00 CST "
            "(Mon 30 Nov 01:00 UTC)") in thursday.stdout
    assert len(notices(project)) == len(EDITORS)
    assert all("X-Insights-Notice: draft-ready" in n for n in notices(project))
    again = insights(project, "tick", "--now", "2026-11-26T09:00")
    assert again.stdout.startswith("nothing due; next: remind the editors")

    sunday = insights(project, "tick", "--now", "2026-11-29T19:00")
    assert sunday.output.startswith("reminded the editors: issue 2026-W49 is not approved")

    monday = insights(project, "tick", "--now", "2026-11-30T07:00")
    assert monday.exit_code == 0
    assert monday.output.startswith(
        "held issue 2026-W49: not approved at its slot Mon 30 Nov 07:00 CST (13:00 UTC); "
        "approved by Tue 01 Dec 07:00 CST (13:00 UTC) it goes at the next tick; "
        "2 editors told")
    assert not (project / "outbox" / "2026-W49").exists()
    status = insights(project, "status", "--now", "2026-11-30T08:00")
    assert "held: not approved at its slot" in status.output
    assert "Mon 30 Nov 07:00 CST (13:00 UTC)" in status.output

    approved = insights(project, "approve", "2026-W49", "--as", EDITORS[0])
    assert approved.exit_code == 0 and f"approved by {EDITORS[0]}" in approved.output
    sent = insights(project, "tick", "--now", "2026-11-30T09:00")
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.startswith(
        f"Issue 2026-W49 (no. 1) delivered to {SUBSCRIBERS} recipients via outbox.\n")
    assert "the editors were told it went (2 editors told)" in sent.stdout
    assert len(manifest(project, "2026-W49")) == SUBSCRIBERS
    nothing = insights(project, "tick", "--now", "2026-11-30T09:00")
    assert nothing.output == ("nothing due; next: draft 2026-W50 at Thu 03 Dec 09:00 CST "
                              "(15:00 UTC)\n")
    told = len(notices(project))

    # The next week: drafted, never approved in time, approved two days late.
    add_rss_item(project / "examples" / "feeds" / "society-news.rss", "late-week",
                 "Board election results", "Tue, 01 Dec 2026 10:00:00 +0000")
    assert insights(project, "tick", "--now", "2026-12-03T09:00").output.startswith(
        "drafted issue 2026-W50 (no. 2)")
    assert "held issue 2026-W50" in insights(project, "tick", "--now",
                                            "2026-12-07T07:00").output
    late = insights(project, "tick", "--now", "2026-12-09T07:00")
    assert late.output.startswith(
        "issue 2026-W50 passed its deadline Tue 08 Dec 07:00 CST (13:00 UTC) unsent: not "
        "sent automatically")
    assert insights(project, "approve", "2026-W50", "--as", EDITORS[1],
                    "--now", "2026-12-09T07:02").exit_code == 0  # after its deadline
    for now in ("2026-12-09T07:05", "2026-12-09T12:00"):
        assert insights(project, "tick", "--now", now).output.startswith("nothing due")
    assert not (project / "outbox" / "2026-W50").exists()  # never sent automatically
    # Drafted, held and late: no reminder, as no tick ran between it and the slot (the
    # hold says more).
    assert len(notices(project)) == told + 3 * len(EDITORS)
    audit = Store.open(load_config(project / "config.toml").store_url)
    try:
        actions = [(e.actor, e.action, e.issue_id) for e in reversed(audit.audit_entries())]
    finally:
        audit.close()
    assert ("ada@society.example.org", "approve", "2026-W49") in actions
    assert [a for a in actions if a[0] == "scheduler" and a[2] == "2026-W50"] == [
        ("scheduler", "draft", "2026-W50"), ("scheduler", "hold", "2026-W50"),
        ("scheduler", "late", "2026-W50")]


def test_status_does_not_repeat_the_action_due_now_as_the_next(project: Path) -> None:
    """A draft due at the next tick is not also "Next" (at a later moment, as if it
    waited); next is what follows it, the reminder. A held issue's next is its late."""
    week_project(project)
    due = insights(project, "status", "--now", "2026-11-26T09:30").output
    assert "Due now: draft 2026-W49 (at the next tick)" in due
    assert "Next: draft 2026-W49" not in due
    assert ("Next: remind the editors to approve 2026-W49 at Sun 29 Nov 19:00 CST "
            "(Mon 30 Nov 01:00 UTC)") in due
    insights(project, "tick", "--now", "2026-11-26T09:00")
    held = insights(project, "status", "--now", "2026-11-30T07:30").output
    assert "Due now: send 2026-W49 if approved, else hold it" in held
    assert "Next: send 2026-W49" not in held
    assert ("Next: tell the editors 2026-W49 missed its deadline unless approved before at "
            "Tue 01 Dec 07:00 CST") in held


def test_a_draft_with_no_editor_to_tell_says_how_to_add_one(project: Path) -> None:
    require_approval(project)
    seed(load_config(project / "config.toml"))  # subscribers, no editor account
    result = insights(project, "tick", "--now", "2026-11-26T09:00")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("drafted issue 2026-W49 (no. 1)")
    assert first.endswith("; no editor to tell (add one: `insights editors add EMAIL`)")


def test_the_one_step_cron_drafts_and_sends_in_one_tick(project: Path) -> None:
    one_step_cron(project)  # approval optional, as before the timeline
    seed(load_config(project / "config.toml"))
    result = insights(project, "tick", "--now", "2026-11-23T07:00")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("drafted issue 2026-W48 (no. 1)")
    assert lines[1].startswith(f"Issue 2026-W48 (no. 1) delivered to {SUBSCRIBERS}")
    assert "[schedule] cron is deprecated" in result.stderr


def test_insights_run_with_approval_required_stops_at_the_draft_and_says_what_next(
        project: Path) -> None:
    week_project(project)
    result = insights(project, "run", "--now", "2026-11-30T06:00")
    assert result.exit_code == 0, result.output
    assert ("Issue 2026-W49 is a draft awaiting approval; nothing delivered. 2 editors told. "
            "Next: approve it in https://news.example.org/admin/issues/2026-W49 or `insights "
            "approve 2026-W49`; it goes at the send slot Mon 30 Nov 07:00 CST (13:00 UTC) at "
            "the next `insights tick`.") in result.stdout
    assert len(notices(project)) == len(EDITORS)
    again = insights(project, "run", "--now", "2026-11-30T06:30")  # told once
    assert "nothing delivered. Next: approve it" in again.stdout
    assert len(notices(project)) == len(EDITORS)
    assert not (project / "outbox" / "2026-W49").exists()


STATE_CASES = [
    # (name, issue status and fields, done, now local, expected)
    ("not drafted, before its slot", None, (), "2026-11-25T12:00", "not drafted yet"),
    ("not drafted, its slot passed", None, (), "2026-11-26T09:05", "due to be drafted"),
    ("not drafted by its deadline", None, (), "2026-12-01T07:05",
     "not drafted: its deadline passed (no issue this week)"),
    ("nothing new", None, ("draft:2026-W49",), "2026-11-26T09:05",
     "skipped (nothing new to send)"),
    ("a draft before the slot", {"status": "draft"}, (), "2026-11-27T12:00",
     "draft, not approved"),
    ("held", {"status": "draft"}, ("hold:2026-W49",), "2026-11-30T08:00",
     "held: not approved at its slot"),
    ("approved", {"status": "approved", "approved_by": "ada"}, (), "2026-11-27T12:00",
     "approved by ada"),
    ("approved late", {"status": "approved", "approved_by": "ada"}, (), "2026-12-02T12:00",
     "approved by ada; past its deadline: not sent automatically"),
    ("approved by its deadline, the tick after it sends it", {
        "status": "approved", "approved_by": "ada", "approved_at": at("2026-12-01T06:59")},
     (), "2026-12-01T07:04", "approved by ada"),
    ("paused", {"status": "sending", "paused_at": at("2026-11-30T07:10"),
                "paused_by": "grace"}, (), "2026-11-30T08:00", "paused by grace"),
    ("sending", {"status": "sending"}, (), "2026-11-30T07:01", "sending"),
    ("sent", {"status": "sent", "sent_at": datetime(2026, 11, 30, 13, 2, tzinfo=UTC)}, (),
     "2026-11-30T08:00", "sent 2026-11-30 13:02 UTC"),
]


@pytest.mark.parametrize(("name", "fields", "done", "now", "expected"), STATE_CASES,
                         ids=[c[0] for c in STATE_CASES])
def test_an_issues_state_in_the_week(name: str, fields: dict[str, Any] | None,
                                     done: tuple[str, ...], now: str, expected: str) -> None:
    from pipeline.models import Issue
    from pipeline.timeline import Facts, Timeline, cycle_of
    from pipeline.week import issue_state

    week = Timeline("0 9 * * thu", "0 7 * * mon", CHICAGO)
    cycle = cycle_of(week, at("2026-11-30T07:00"))
    issue = None if fields is None else Issue(
        "2026-W49", 1, at("2026-11-30T00:00"), at("2026-12-07T00:00"), **fields)
    assert issue_state(week, cycle, issue, Facts({}, frozenset(done)), at(now)) == expected


SCHEDULER = """
import sys, time
from datetime import datetime, UTC
from pipeline.config import load_config
from pipeline.schedule import run_scheduler

def tick():
    print("tick begins", flush=True)
    time.sleep(1.5)
    print("tick ends", flush=True)
    return datetime(2026, 12, 3, 15, tzinfo=UTC), "draft 2026-W50"

run_scheduler(load_config(sys.argv[1]), tick, every=0.2)
print("loop over", flush=True)
"""


def test_a_signal_during_a_tick_stops_the_scheduler_once_the_tick_is_over(
        project: Path) -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", SCHEDULER, str(project / "config.toml")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    while "tick begins" not in proc.stdout.readline():
        pass
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    rest = proc.stdout.read()
    assert rest.index("SIGTERM: stopping the scheduler after this tick") < rest.index(
        "tick ends") < rest.index("loop over")
    assert "tick begins" not in rest  # no tick after the signal


def test_a_held_draft_is_tried_again_later_not_at_once(project: Path) -> None:
    week_project(project)
    edit_config(project, 'url = "examples/feeds/society-news.rss"',
                'url = "examples/feeds/missing.rss"\nrequired = true')
    held = insights(project, "tick", "--now", "2026-11-26T09:00")
    assert held.exit_code == 0, held.output
    assert held.stdout.startswith("draft 2026-W49 held: required source(s) society-news failed")
    again = insights(project, "tick", "--now", "2026-11-26T09:05")
    assert again.stdout.startswith("draft 2026-W49: waiting to be tried again from ")
    assert len(notices(project)) == len(EDITORS)  # told once


def test_an_incomplete_send_is_released_to_resume_and_exits_1(project: Path) -> None:
    config = week_project(project)
    edit_config(project, 'name = "members"', 'name = "nobody-here"')  # an empty list
    store = Store.open(config.store_url)
    try:
        insights(project, "tick", "--now", "2026-11-26T09:00")
        from pipeline.editing import approve

        approve(load_config(project / "config.toml"), store, "2026-W49", EDITORS[0],
                datetime.now(UTC))
    finally:
        store.close()
    first = insights(project, "tick", "--now", "2026-11-30T07:00")
    assert first.exit_code == 1
    assert "nobody is eligible on the lists nobody-here" in first.stdout
    assert "the send resumes at the next tick from " in first.stdout
    second = insights(project, "tick", "--now", "2026-11-30T07:01")
    assert second.exit_code == 0
    assert second.stdout.startswith("send 2026-W49: waiting to be tried again from ")


def test_content_changed_after_approval_is_held_not_sent(project: Path) -> None:
    from dataclasses import replace

    config = week_project(project)
    insights(project, "tick", "--now", "2026-11-26T09:00")
    assert insights(project, "approve", "2026-W49", "--as", EDITORS[0]).exit_code == 0
    store = Store.open(config.store_url)
    try:  # re-rendered behind the approval's back (a template edited, say)
        variants = store.get_variants("2026-W49")
        store.save_variants("2026-W49", [replace(v, html=v.html + "<!-- changed -->")
                                         for v in variants], datetime.now(UTC))
    finally:
        store.close()
    told = len(notices(project))
    monday = insights(project, "tick", "--now", "2026-11-30T07:00")
    assert "changed after it was approved by ada@society.example.org" in monday.stdout
    assert "held issue 2026-W49" in monday.stdout
    assert not (project / "outbox" / "2026-W49").exists()
    assert len(notices(project)) == told + len(EDITORS)
    assert insights(project, "approve", "2026-W49", "--as", EDITORS[1]).exit_code == 0
    store = Store.open(config.store_url)
    try:  # the released send is looked at again at once (as an editor's "Send now" does)
        store.make_due("send:2026-W49", datetime.now(UTC))
    finally:
        store.close()
    sent = insights(project, "tick", "--now", "2026-11-30T08:00")
    assert sent.stdout.startswith("Issue 2026-W49 (no. 1) delivered to 320 recipients")


# -- `insights draft`: the scheduler's draft, now -------------------------------------


def scheduler_audit(config: Config) -> list[tuple[str, str, str | None]]:
    store = Store.open(config.store_url)
    try:
        return [(e.actor, e.action, e.issue_id) for e in reversed(store.audit_entries())]
    finally:
        store.close()


def test_insights_draft_drafts_ahead_and_the_tick_does_not_again(project: Path) -> None:
    config = week_project(project)
    drafted = insights(project, "draft", "--now", "2026-11-24T10:00")  # Tuesday
    assert drafted.exit_code == 0, drafted.output
    assert drafted.stdout.startswith(
        "drafted issue 2026-W49 (no. 1): 8 news, 8 research, 6 events; send slot Mon 30 Nov "
        "07:00 CST (13:00 UTC); 2 editors told\n")
    assert len(notices(project)) == len(EDITORS)
    assert scheduler_audit(config) == [("cli", "draft", "2026-W49")]
    store = Store.open(config.store_url)
    try:
        assert "draft:2026-W49" in store.done_actions()
    finally:
        store.close()
    thursday = insights(project, "tick", "--now", "2026-11-26T09:00")  # the draft slot
    assert thursday.stdout.startswith("nothing due; next: remind the editors")
    again = insights(project, "draft", "--now", "2026-11-26T10:00")
    assert again.exit_code == 0
    assert again.stdout.startswith(
        "issue 2026-W49 (no. 1) already exists (draft): not drafted again\n")
    assert len(notices(project)) == len(EDITORS)
    assert scheduler_audit(config) == [("cli", "draft", "2026-W49")]


def test_insights_draft_anyway_drafts_a_held_week_without_its_source(project: Path) -> None:
    config = week_project(project)
    edit_config(project, 'url = "examples/feeds/pubmed-research.rss"',
                'url = "examples/feeds/missing.rss"\nrequired = true')
    held = insights(project, "tick", "--now", "2026-11-26T09:00")
    assert held.stdout.startswith("draft 2026-W49 held: required source(s) pubmed-io failed")
    told = len(notices(project))
    # Without --anyway: held again at once (not waiting for the hourly retry), told once.
    still = insights(project, "draft", "--now", "2026-11-26T09:10")
    assert still.exit_code == 1
    assert still.stdout.startswith("draft 2026-W49 held: required source(s) pubmed-io")
    assert len(notices(project)) == told
    anyway = insights(project, "draft", "--now", "2026-11-26T09:20", "--anyway",
                      "--as", EDITORS[0])
    assert anyway.exit_code == 0, anyway.output
    assert anyway.stdout.startswith("drafted issue 2026-W49 (no. 1): 8 news, 6 research")
    assert len(notices(project)) == told + len(EDITORS)
    for now in ("2026-11-26T10:30", "2026-11-30T07:00"):  # the hourly retry, the slot
        tick = insights(project, "tick", "--now", now)
        assert "drafted" not in tick.stdout and "held: required" not in tick.stdout
    assert [a for a in scheduler_audit(config) if a[1] == "draft"] == [
        ("scheduler", "draft", "2026-W49"), ("cli", "draft", "2026-W49"),
        (EDITORS[0], "draft", "2026-W49")]


def test_insights_draft_again_after_a_week_skipped_as_nothing_new(project: Path) -> None:
    week_project(project)
    edit_config(project, "max_age_days = 30", "max_age_days = 1")  # nothing in the window
    skipped = insights(project, "tick", "--now", "2026-11-26T09:00")
    assert skipped.stdout.startswith("issue 2026-W49 skipped: Only reminders of events")
    edit_config(project, "max_age_days = 1", "max_age_days = 30")  # an editor widens it
    drafted = insights(project, "draft", "--now", "2026-11-26T11:00")
    assert drafted.exit_code == 0, drafted.output
    assert drafted.stdout.startswith("drafted issue 2026-W49 (no. 1)")


def test_approving_again_as_it_stands_is_said_not_recorded(project: Path) -> None:
    config = week_project(project)
    insights(project, "tick", "--now", "2026-11-26T09:00")
    first = insights(project, "approve", "2026-W49", "--as", EDITORS[0], "--now",
                     "2026-11-26T10:00")
    assert first.exit_code == 0 and "It goes at its send slot Mon 30 Nov" in first.stdout
    again = insights(project, "approve", "2026-W49", "--as", EDITORS[1])
    assert again.exit_code == 0
    assert re.fullmatch(r"Issue 2026-W49 is already approved by ada@society\.example\.org as "
                        r"it stands \(content \w{12}\): nothing to do\.\n", again.stdout)
    assert [a for a in scheduler_audit(config) if a[1] == "approve"] == [
        (EDITORS[0], "approve", "2026-W49")]


@pytest.mark.parametrize("now", ["garbage", "0001-01-01T00:00", "9999-12-31T23:00"])
def test_a_now_that_is_no_moment_of_a_week_is_a_usage_error(project: Path, now: str) -> None:
    for command in ("tick", "status"):
        result = insights(project, command, "--now", now)
        assert result.exit_code == 2, result.output
        assert "Invalid value for --now" in result.output
