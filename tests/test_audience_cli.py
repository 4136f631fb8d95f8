"""The audience commands as an operator uses them."""

from __future__ import annotations

import email
import re
import subprocess
import sys

from .helpers import edit_config

KEY = "test-signing-key-0123456789abcdef"


def insights(project, *args, input=None):
    import os

    env = {**os.environ, "INSIGHTS_SECRET_KEY": KEY}
    return subprocess.run([sys.executable, "-m", "pipeline", "--config",
                           str(project / "config.toml"), *args],
                          capture_output=True, text=True, timeout=120, cwd=project, env=env,
                          input=input)


def test_double_opt_in_sends_a_confirmation_and_the_link_confirms(project):
    edit_config(project, "double_opt_in = false", "double_opt_in = true")
    added = insights(project, "subscribers", "add", "New.Fellow@example.org", "--list", "members",
                     "--name", "Noor Haddad", "--attr", "role=fellow",
                     "--attr", "interests=liver;lung")
    assert added.returncode == 0, added.stderr
    assert "unconfirmed" in added.stdout and "confirmation email sent" in added.stdout
    [eml] = (project / "outbox" / "transactional").glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes())
    assert msg["To"] == "New.Fellow@example.org"
    text = msg.get_payload()[0].get_payload(decode=True).decode()
    token = re.search(r"https://news\.example\.org/confirm/(\S+)", text).group(1)

    shown = insights(project, "subscribers", "show", "new.fellow@example.org")
    assert '"status": "unconfirmed"' in shown.stdout and '"liver"' in shown.stdout
    assert insights(project, "subscribers", "count").stdout.strip() == "0"

    confirmed = insights(project, "subscribers", "confirm", token)
    assert confirmed.returncode == 0 and "confirmed" in confirmed.stdout
    assert insights(project, "subscribers", "count").stdout.strip() == "1"
    tampered = insights(project, "subscribers", "confirm", token[:-2] + "xx")
    assert tampered.returncode == 1 and "not valid" in tampered.stderr


def test_missing_secret_key_is_a_clear_error_for_double_opt_in(project):
    import os

    edit_config(project, "double_opt_in = false", "double_opt_in = true")
    env = {k: v for k, v in os.environ.items() if k != "INSIGHTS_SECRET_KEY"}
    result = subprocess.run([sys.executable, "-m", "pipeline", "--config",
                             str(project / "config.toml"), "subscribers", "add",
                             "a@example.org", "--list", "members"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1 and "INSIGHTS_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_reports_lines_and_summary(project):
    result = insights(project, "subscribers", "import", "examples/subscribers.csv",
                      "--list", "members")
    assert "added 320, updated 0, unchanged 0, skipped 0, invalid 0" in result.stdout
    again = insights(project, "subscribers", "import", "examples/subscribers.csv",
                     "--list", "members")
    assert "added 0, updated 0, unchanged 320, skipped 0, invalid 0" in again.stdout
    unknown = insights(project, "subscribers", "import", "examples/subscribers.csv",
                       "--list", "nope")
    assert unknown.returncode == 2
    assert "error: no list named 'nope': config.toml has members in [[lists]]" in unknown.stderr


def test_segments_shows_counts_rules_and_overlaps(project):
    insights(project, "subscribers", "import", "examples/subscribers.csv", "--list", "members")
    result = insights(project, "segments")
    assert result.returncode == 0, result.stderr
    counts = dict(re.findall(r"│ (\S+)\s+│.*│\s+(\d+) │", result.stdout))
    assert set(counts) == {"trainees", "nurses-techs", "industry", "liver", "lung", "general"}
    assert sum(map(int, counts.values())) == 320
    assert "Overlaps resolved by priority" in result.stdout
    assert re.search(r"trainees \+ liver\S* -> trainees", result.stdout)
    assert "matches nobody" not in result.stdout


def test_segments_warns_of_a_rule_that_matches_nobody(project):
    edit_config(project, 'where = { role = "industry" }', 'where = { rol = "industry" }')
    insights(project, "subscribers", "import", "examples/subscribers.csv", "--list", "members")
    result = insights(project, "segments")
    assert ("Segment 'industry' matches nobody on the lists now: check the attribute names "
            "and values in its rule.") in result.stdout


def test_unsubscribe_forget_and_export(project, tmp_path):
    insights(project, "subscribers", "import", "examples/subscribers.csv", "--list", "members")
    first = (project / "examples/subscribers.csv").read_text().splitlines()[1].split(",")[0]
    assert insights(project, "subscribers", "unsubscribe", first).returncode == 0
    assert insights(project, "subscribers", "count").stdout.strip() == "319"
    assert insights(project, "run", "--now", "2026-11-23T08:00").returncode == 0
    second = (project / "examples/subscribers.csv").read_text().splitlines()[2].split(",")[0]
    assert '"issue_id": "2026-W48"' in insights(project, "subscribers", "show", second).stdout
    forgot = insights(project, "subscribers", "forget", second, "--yes")
    assert "erased" in forgot.stdout and "1 send record(s) anonymised" in forgot.stdout
    assert '"sends": []' in insights(project, "subscribers", "show", second).stdout
    forgot = insights(project, "subscribers", "forget", first, "--yes")
    assert "erased" in forgot.stdout
    out = tmp_path / "members.csv"
    exported = insights(project, "subscribers", "export", "--list", "members", "--out", str(out))
    assert exported.returncode == 0
    assert first not in out.read_text() and second not in out.read_text()
    assert len(out.read_text().splitlines()) == 319
    as_json = insights(project, "subscribers", "export", "--format", "json")
    assert len(as_json.stdout.splitlines()) == 318


def test_add_cleans_the_name_and_the_export_neutralises_formulas(project, tmp_path):
    import csv
    import io
    import json

    added = insights(project, "subscribers", "add", "=x@example.org", "--list", "members",
                     "--name", "=cmd|' /C calc'!A0\u202e\r\n\u200bZoe\u0308\x1b",
                     "--attr", "role=+1+1", "--attr", "organisation=@SUM(A1)")
    assert added.returncode == 0, added.stderr
    shown = json.loads(insights(project, "subscribers", "show", "=x@example.org").stdout)
    assert shown["subscriber"]["name"] == "=cmd|' /C calc'!A0 Zoë"
    out = tmp_path / "members.csv"
    exported = insights(project, "subscribers", "export", "--list", "members", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    header, row = csv.reader(io.StringIO(out.read_text(encoding="utf-8"), newline=""))
    assert dict(zip(header, row, strict=True)) == {
        "email": "'=x@example.org", "name": "'=cmd|' /C calc'!A0 Zoë", "status": "confirmed",
        "role": "'+1+1", "interests": "", "region": "", "organisation": "'@SUM(A1)",
        "attributes": "", "lists": "members=confirmed"}
    again = insights(project, "subscribers", "import", str(out), "--list", "members")
    assert "added 0, updated 0, unchanged 1, skipped 0, invalid 0" in again.stdout, again.stderr
