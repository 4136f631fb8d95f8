"""`insights items add/edit/remove/lead` and `insights issue-headers`: the same library
functions as /admin, with one line on success and one clear error line on refusal."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.store.store import Store

from .helpers import first_run, require_approval


@pytest.fixture
def drafted(project):
    require_approval(project)
    config, _ = first_run(project)
    return project, config


def run(project, *args):
    result = CliRunner().invoke(cli, ["--config", str(project / "config.toml"), *args])
    return result


def general(config):
    store = Store.open(config.store_url)
    try:
        return next(v for v in store.get_variants("2026-W48") if v.segment == "general"), \
            store.issue_sections("2026-W48"), store.get_issue("2026-W48")
    finally:
        store.close()


def test_add_edit_lead_remove_and_headers_from_the_command_line(drafted):
    project, config = drafted
    r = run(project, "items", "add", "2026-W48", "--section", "news", "--title",
            "Jobs: IR fellowship, Vienna", "--link", "https://www.example.org/jobs/1",
            "--teaser", "Apply by **1 Feb**.", "--image", "https://cdn.example.org/j.jpg",
            "--alt", "The Vienna hospital", "--lead", "--sponsored", "--as", "ed@example.org")
    assert r.exit_code == 0, r.output
    assert "added to 2026-W48 (news) (now draft); 6 variants re-rendered." in r.output
    variant, sections, issue = general(config)
    item_id = issue.lead_item_id
    assert "== SPONSORED ==" in variant.text and "Apply by 1 Feb." in variant.text
    r = run(project, "items", "edit", "2026-W48", str(item_id), "--title", "Jobs: two posts")
    assert r.exit_code == 0, r.output
    variant, _, _ = general(config)
    assert "Jobs: two posts" in variant.text and "Apply by 1 Feb." in variant.text  # kept
    feed = sections["news"][1]
    assert run(project, "items", "edit", "2026-W48", str(feed.id), "--no-teaser").exit_code == 0
    assert run(project, "items", "lead", "2026-W48", "--none").exit_code == 0
    assert "== SPONSORED ==" not in general(config)[0].text
    r = run(project, "issue-headers", "2026-W48", "--subject", "Two jobs and a guideline",
            "--preheader", "Apply by 1 Feb", "--sections", "events,news,research")
    assert r.exit_code == 0, r.output
    variant, _, issue = general(config)
    assert variant.subject == "Two jobs and a guideline"
    assert variant.text.index("UPCOMING EVENTS") < variant.text.index("SOCIETY NEWS")
    assert run(project, "items", "remove", "2026-W48", str(item_id)).exit_code == 0
    assert "Jobs: two posts" not in general(config)[0].text


def test_refusals_are_one_line(drafted):
    project, _ = drafted
    r = run(project, "items", "add", "2026-W48", "--section", "news", "--title", "T",
            "--link", "javascript:alert(1)")
    assert r.exit_code != 0 and "link: a web address starting with https://" in str(r.exception)
    r = run(project, "items", "edit", "2026-W48", "1")
    assert r.exit_code == 2 and "give --title, --teaser or --no-teaser" in r.output
    r = run(project, "issue-headers", "2026-W48", "--sections", "news,news")
    assert "each of news, research, events once" in str(r.exception)


def test_an_edit_after_approval_says_what_changed_and_so_does_the_next_approval(drafted):
    project, config = drafted
    assert "Changed since" not in run(project, "issue-headers", "2026-W48", "--subject",
                                      "Before any approval").output
    assert run(project, "approve", "2026-W48", "--as", "ed@example.org").exit_code == 0
    _, sections, _ = general(config)
    lead = sections["news"][2]
    r = run(project, "items", "edit", "2026-W48", str(lead.id), "--title",
            "[bold red]Grants[/] <b>now</b>")
    assert r.exit_code == 0, r.output
    r = run(project, "items", "lead", "2026-W48", str(lead.id))
    lines = r.output.splitlines()
    assert lines[1] == "Changed since it was approved (approve it again to send it):"
    # the console's markup in a title is printed as it is, never read
    assert f"  - Headline changed: {lead.title} → [bold red]Grants[/] <b>now</b>" in lines
    assert "  - Lead story: [bold red]Grants[/] <b>now</b>" in lines
    r = run(project, "note", "2026-W48", "--text", "See you in Vienna.")
    assert "  - Note added\n" in r.output
    r = run(project, "approve", "2026-W48", "--as", "ed@example.org")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[1] == "Approved with these changes since its last approval:"
    assert f"  - Headline changed: {lead.title} → [bold red]Grants[/] <b>now</b>" in lines
    assert "  - Note added" in lines
    assert "Changed since" not in run(project, "approve", "2026-W48").output  # as it stands
