"""The command line: help everywhere, preview, schedule stopping on signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import cli


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


@pytest.mark.parametrize("path,command", list(all_commands(cli)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help(path, command):
    assert command.help and len(command.help.strip()) > 20, f"{' '.join(path)} lacks help"
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_top_level_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    for name in ("run", "preview", "schedule", "subscribers", "db"):
        assert name in result.output


def invoke(project, *args):
    return subprocess.run([sys.executable, "-m", "pipeline", "--config",
                           str(project / "config.toml"), *args],
                          capture_output=True, text=True, timeout=120, cwd=project)


def test_run_prints_the_report(project):
    assert invoke(project, "subscribers", "import", "examples/subscribers.csv",
                  "--list", "members").returncode == 0
    result = invoke(project, "run", "--now", "2026-11-23T08:00")
    assert result.returncode == 0, result.stderr
    for text in ("society-news", "already seen", "trainees", "HTML size",
                 "Issue 2026-W48 (no. 1) delivered to 320 recipients", "outbox"):
        assert text in result.stdout
    again = invoke(project, "run", "--now", "2026-11-23T10:00")
    assert "already sent" in again.stdout and again.returncode == 0
    # Next week carries what did not fit this week; the week after has nothing new.
    assert "delivered to 320" in invoke(project, "run", "--now", "2026-11-30T08:00").stdout
    skipped = invoke(project, "run", "--now", "2026-12-07T08:00")
    assert skipped.returncode == 0 and "skipped" in skipped.stdout


def test_preview_writes_each_variant_and_prints_paths(project, tmp_path):
    out = tmp_path / "preview"
    result = invoke(project, "preview", "--out", str(out), "--now", "2026-11-23T08:00")
    assert result.returncode == 0, result.stderr
    paths = result.stdout.split()
    assert len(paths) == 12 and all(os.path.exists(p) for p in paths)
    only = invoke(project, "preview", "--segment", "lung", "--out", str(out / "lung"))
    assert [p.rsplit("/", 1)[1] for p in only.stdout.split()] == [
        "2026-W48-lung.html", "2026-W48-lung.txt"]
    bad = invoke(project, "preview", "--segment", "nope", "--out", str(out))
    assert bad.returncode == 2 and "unknown segment 'nope'" in bad.stderr


def test_preview_does_not_send(project, tmp_path):
    result = invoke(project, "preview", "--out", str(tmp_path / "p"), "--now", "2026-11-23T08:00")
    assert result.returncode == 0
    assert not (project / "outbox").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_schedule_logs_next_run_and_stops_on_signal(project, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml"), "schedule"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=project)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "next run at" in line:
            break
    assert any("next run at" in line for line in lines), lines
    assert any("-06:00" in line or "-05:00" in line for line in lines)  # Chicago time
    proc.send_signal(sig)
    assert proc.wait(timeout=15) == 0
    rest = proc.stdout.read()
    assert "stopping the scheduler" in rest and "Traceback" not in rest


def test_next_run_is_the_next_slot_in_the_newsletter_zone(project):
    from datetime import datetime

    from pipeline.config import load_config
    from pipeline.schedule import next_run_time

    from .helpers import CHICAGO, one_step_cron

    # The shipped timeline: Tuesday 24 Nov 2026 -> the draft, Thursday 26 Nov 09:00
    # Chicago (CST, UTC-6); on Friday, the send slot on Monday 30 Nov 07:00.
    config = load_config(project / "config.toml")
    when = next_run_time(config, datetime(2026, 11, 24, 12, 0, tzinfo=CHICAGO))
    assert when == datetime(2026, 11, 26, 9, 0, tzinfo=CHICAGO)
    assert when.utcoffset().total_seconds() == -6 * 3600
    when = next_run_time(config, datetime(2026, 11, 27, 12, 0, tzinfo=CHICAGO))
    assert when == datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)
    # The old one-step cron: Monday 07:00.
    one_step_cron(project)
    config = load_config(project / "config.toml")
    when = next_run_time(config, datetime(2026, 11, 24, 12, 0, tzinfo=CHICAGO))
    assert when == datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)


def test_unwritable_output_paths_are_clear_errors(project, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    preview = invoke(project, "preview", "--out", str(blocker / "sub"), "--now",
                     "2026-11-23T08:00")
    assert preview.returncode == 1 and "Traceback" not in preview.stderr
    assert f"cannot write previews to {blocker / 'sub'}" in preview.stderr
    export = invoke(project, "subscribers", "export", "--out", str(blocker / "x.csv"))
    assert export.returncode == 1 and "Traceback" not in export.stderr
    assert f"cannot write {blocker / 'x.csv'}" in export.stderr


def test_approving_with_an_empty_or_stale_content_hash_is_refused(project):
    from .helpers import require_approval

    require_approval(project)
    assert invoke(project, "run", "--now", "2026-11-23T08:00").returncode == 0  # a draft
    for given, why in (("", "carried no content hash"), ("0" * 12, "changed since you opened it")):
        result = invoke(project, "approve", "2026-W48", "--content", given)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.startswith("error: issue 2026-W48") and why in result.stderr
    assert "draft" in invoke(project, "issues").stdout
    assert invoke(project, "approve", "2026-W48").returncode == 0  # as it stands: approved


def test_a_test_send_to_an_unknown_segment_is_an_error(project):
    assert invoke(project, "subscribers", "import", "examples/subscribers.csv",
                  "--list", "members").returncode == 0
    assert invoke(project, "preview", "--out", "preview", "--now", "2026-11-23T08:00").returncode == 0
    result = invoke(project, "send", "--test-to", "ed@example.org", "--segment", "livr")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: no segment named 'livr' in issue 2026-W48: its segments are general, "
        "industry, liver, lung, nurses-techs, trainees")
    assert "Test sent" not in result.stdout
    ok = invoke(project, "send", "--test-to", "ed@example.org", "--segment", "liver")
    assert ok.returncode == 0 and ok.stdout.strip().startswith("[TEST] liver:")


# -- a store that is locked, unreachable or in use by another run -----------------------------

def one_line_error(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "[SQL" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if " WARNING " not in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_locked_store_is_one_line_not_a_traceback(project):
    import sqlite3

    assert invoke(project, "subscribers", "import", "examples/subscribers.csv",
                  "--list", "members").returncode == 0
    database = project / "var" / "insights.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of a write
    try:
        line = one_line_error(invoke(project, "subscribers", "add", "new@example.org",
                                     "--list", "members"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert line == (f"error: the store sqlite:///{database} is locked by another process; "
                    "try again")


def test_an_unreachable_store_is_one_line_not_a_traceback(project):
    from .helpers import use_store

    use_store(project, "postgresql://postgres@127.0.0.1:1/insights")  # nothing listens there
    for command in (["issues"], ["run", "--now", "2026-11-23T08:00"]):
        line = one_line_error(invoke(project, *command))
        assert line.startswith("error: the store postgresql://postgres@127.0.0.1:1/insights "
                               "is unreachable: "), line
        assert "Connection refused" in line or "connection failed" in line


def test_the_loser_of_two_concurrent_runs_gets_one_line(project, store_url):
    from pipeline.config import load_config
    from pipeline.store import db
    from pipeline.store.runlock import exclusive_run

    from .helpers import use_store

    use_store(project, store_url)
    assert invoke(project, "subscribers", "import", "examples/subscribers.csv",
                  "--list", "members").returncode == 0
    engine = db.make_engine(load_config(project / "config.toml").store_url)
    try:
        with exclusive_run(engine):  # the winner, still running
            for command in (["run", "--now", "2026-11-23T08:00"], ["send"]):
                line = one_line_error(invoke(project, *command))
                assert "is in use by another insights run or send" in line, line
                assert line.endswith("try again when it has finished")
    finally:
        engine.dispose()
    result = invoke(project, "run", "--now", "2026-11-23T08:00")  # the lock went with it
    assert result.returncode == 0 and "delivered to 320" in result.stdout, result.stderr
