"""`make run` (`insights demo`): the example week, in one command, on any date: the draft
and the editor's notice, the approval, the send to every example subscriber once; run
again, nothing changes (no second notice, no second send, exit 0)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path

from pipeline.config import load_config
from pipeline.demo import EXAMPLE_EDITOR, demo_week
from pipeline.store.store import Store

from .helpers import CHICAGO, ROOT, manifest, require_approval

SUBSCRIBERS = 320  # examples/subscribers.csv


def make_run(project: Path) -> subprocess.CompletedProcess[str]:
    """What `make run` runs (the Makefile's recipe, checked below), in the project."""
    return subprocess.run([sys.executable, "-m", "pipeline", "--config",
                           str(project / "config.toml"), "demo"],
                          capture_output=True, text=True, timeout=300, cwd=project)


def outbox_files(project: Path) -> dict[str, bytes]:
    return {str(p.relative_to(project)): p.read_bytes()
            for p in sorted((project / "outbox").rglob("*")) if p.is_file()}


def test_the_makefiles_run_is_the_demo() -> None:
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe is not None
    assert re.search(r"\$\(BIN\)/insights --config \$\(CONFIG\) demo$", recipe.group(1), re.M)


def test_the_demo_week_is_the_examples_week_whatever_the_date() -> None:
    week = demo_week(load_config(ROOT / "config.toml").timeline)  # the shipped timeline
    assert week.period == "2026-W49"
    assert week.draft_at == datetime(2026, 11, 26, 9, 0, tzinfo=CHICAGO)
    assert week.draft_at < week.approve_at < week.send_at
    assert week.send_at == datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)


def test_make_run_shows_the_week_and_a_second_run_changes_nothing(project: Path) -> None:
    require_approval(project)  # the shipped config, as `make run` runs it

    first = make_run(project)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "added 320" in out and "created without a password" in out
    assert "$ insights tick --now 2026-11-26T09:00" in out
    assert re.search(r"^drafted issue 2026-W49 \(no\. 1\): 8 news, 8 research, 6 events; "
                     r"send slot Mon 30 Nov 07:00 CST \(13:00 UTC\); 1 editor told$", out, re.M)
    assert re.search(r"^  notice \(draft-ready\) to editor@example\.org: "
                     r"outbox/transactional/\d{8}T\d{6}-\w+\.eml$", out, re.M)
    # Approved before the slot in the story (--now), so the tick at the slot sends it.
    assert "$ insights approve 2026-W49 --as editor@example.org --now 2026-11-26T10:00" in out
    assert "It goes at its send slot Mon 30 Nov 07:00 CST (13:00 UTC)" in out
    assert f"Issue 2026-W49 (no. 1) delivered to {SUBSCRIBERS} recipients via outbox." in out
    assert re.search(r"^  by segment: trainees \d+, nurses-techs \d+, .*general \d+$", out,
                     re.M)
    assert f"Issue 2026-W49 (no. 1): sent, to {SUBSCRIBERS} subscribers" in out
    assert "the issue: outbox/2026-W49/" in out

    # The editor's notices: the draft's, then "it went", both to the example editor.
    folder = project / "outbox" / "transactional"
    kinds = []
    for path in sorted(folder.glob("*.eml")):
        headers = BytesHeaderParser().parsebytes(path.read_bytes())
        assert headers["To"] == EXAMPLE_EDITOR
        kinds.append(headers["X-Insights-Notice"])
    assert kinds == ["draft-ready", "sent"]
    # Every example subscriber got the issue once.
    rows = manifest(project, "2026-W49")
    assert len(rows) == SUBSCRIBERS and len({row[0] for row in rows}) == SUBSCRIBERS

    before = outbox_files(project)
    config = load_config(project / "config.toml")
    store = Store.open(config.store_url)
    try:
        audit = len(store.audit_entries())
        actions = store.actions()
    finally:
        store.close()

    second = make_run(project)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "added 0, updated 0, unchanged 320" in second.stdout
    assert "Editor editor@example.org exists: left as it is." in second.stdout
    assert second.stdout.count("nothing due; next: draft 2026-W50") == 2
    assert "Issue 2026-W49 was already sent: nothing to approve." in second.stdout
    assert "delivered to" not in second.stdout and "notice (" not in second.stdout
    assert f"Issue 2026-W49 (no. 1): sent, to {SUBSCRIBERS} subscribers" in second.stdout
    assert outbox_files(project) == before  # no second notice, no second send
    store = Store.open(config.store_url)
    try:
        assert len(store.audit_entries()) == audit
        assert store.actions() == actions
        assert sum(store.delivered_count("2026-W49").values()) == SUBSCRIBERS
        issue = store.get_issue("2026-W49")
        assert issue is not None and issue.approved_by == EXAMPLE_EDITOR
        # The approval is recorded at its moment in the story, not today's.
        assert issue.approved_at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    finally:
        store.close()


def test_the_demo_checks_no_link_even_when_the_config_would(project: Path) -> None:
    """The examples link to made-up sites and real ones: with `[checks] at_draft` on,
    the demo's draft still asks none of them (the week stays on the machine)."""
    from pipeline.demo import offline

    from .helpers import edit_config

    require_approval(project)
    edit_config(project, "at_draft = false", "at_draft = true")
    config = load_config(project / "config.toml")
    assert config.checks.at_draft and not offline(config).checks.at_draft
    assert offline(offline(config)) == offline(config)
    run = make_run(project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "The demo checks no link at draft time ([checks] at_draft)" in run.stdout
    assert re.search(r"^drafted issue 2026-W49 .*1 editor told$", run.stdout, re.M)
    assert "links:" not in run.stdout
    store = Store.open(config.store_url)
    try:
        assert store.check_results("2026-W49") == []
    finally:
        store.close()


def test_the_demo_never_mails_for_real(project: Path) -> None:
    from .helpers import edit_config

    edit_config(project, 'backend = "outbox"', 'backend = "smtp"')
    refused = make_run(project)
    assert refused.returncode == 2
    assert "the demo writes its email to the outbox only" in refused.stderr
    assert not (project / "var").exists()  # refused before it touched anything


def test_the_demo_never_writes_into_a_shared_database(project: Path) -> None:
    """A PostgreSQL store is where a newsletter keeps its real subscribers and issues:
    the demo's example people, editor and sent week do not belong there."""
    from .helpers import use_store

    use_store(project, "postgresql://postgres@127.0.0.1:1/nothing_here")
    refused = make_run(project)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "the demo keeps its example week in a SQLite file" in refused.stderr
    assert "Traceback" not in refused.stderr
