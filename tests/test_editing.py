"""Editors' changes to a draft: drop, pin, reorder, note; approval by content hash."""

from __future__ import annotations

import pytest

from pipeline.approval import changes_since_approval, content_hash
from pipeline.editing import approve, edit_item, edit_note
from pipeline.errors import InsightsError
from pipeline.store.store import Store

from .helpers import MONDAY, first_run, require_approval


@pytest.fixture
def draft(project):
    require_approval(project)
    config, report = first_run(project)
    assert report.status == "awaiting-approval"
    store = Store.open(config.store_url)
    yield config, store, "2026-W48"
    store.close()


def titles(store, issue_id, segment="general"):
    [variant] = [v for v in store.get_variants(issue_id) if v.segment == segment]
    return variant


def section(store, issue_id, name):
    return store.issue_sections(issue_id)[name]


def test_drop_takes_an_item_out_of_every_variant_and_restore_brings_it_back(draft):
    config, store, issue_id = draft
    item = section(store, issue_id, "news")[0]
    edit_item(config, store, issue_id, item.id, "drop", MONDAY)
    assert all(item.link not in v.html for v in store.get_variants(issue_id))
    edit_item(config, store, issue_id, item.id, "restore", MONDAY)
    assert all(item.link in v.html for v in store.get_variants(issue_id)
               if v.segment != "industry")


def test_pin_puts_an_item_first_in_its_section_even_in_capped_variants(draft):
    config, store, issue_id = draft
    last = section(store, issue_id, "research")[-1]
    industry = titles(store, issue_id, "industry")
    assert last.link not in industry.html  # industry is capped at 4 items per section
    edit_item(config, store, issue_id, last.id, "pin", MONDAY)
    others = [i.title for i in section(store, issue_id, "research") if i.id != last.id]
    for v in store.get_variants(issue_id):
        shown = [v.text.index(t) for t in others if t in v.text]
        assert shown and v.text.index(last.title) < min(shown), v.segment
    edit_item(config, store, issue_id, last.id, "unpin", MONDAY)
    assert last.link not in titles(store, issue_id, "industry").html


def test_up_and_down_reorder_within_the_section(draft):
    config, store, issue_id = draft
    first, second = section(store, issue_id, "news")[:2]
    edit_item(config, store, issue_id, second.id, "up", MONDAY)
    assert [i.id for i in section(store, issue_id, "news")[:2]] == [second.id, first.id]
    text = titles(store, issue_id).text
    assert text.index(second.title) < text.index(first.title)
    edit_item(config, store, issue_id, second.id, "down", MONDAY)
    assert [i.id for i in section(store, issue_id, "news")[:2]] == [first.id, second.id]


def test_an_item_from_another_issue_or_an_unknown_action_is_refused(draft):
    config, store, issue_id = draft
    with pytest.raises(InsightsError, match="item 99999 is not in issue 2026-W48"):
        edit_item(config, store, issue_id, 99999, "drop", MONDAY)
    item = section(store, issue_id, "news")[0]
    with pytest.raises(InsightsError, match="unknown action 'explode'"):
        edit_item(config, store, issue_id, item.id, "explode", MONDAY)


def test_approval_records_the_hash_and_any_change_returns_to_draft_with_a_diff(draft):
    config, store, issue_id = draft
    issue = approve(config, store, issue_id, "ed@example.org", MONDAY)
    assert issue.status == "approved" and issue.approved_by == "ed@example.org"
    assert issue.approved_hash == content_hash(store.get_variants(issue_id))
    assert changes_since_approval(issue, store.get_variants(issue_id)) == {}

    issue = edit_note(config, store, issue_id, "A **new** note from the editor.", MONDAY)
    assert issue.status == "draft" and issue.approved_by is None
    diff = changes_since_approval(issue, store.get_variants(issue_id))
    assert set(diff) == set(config.variant_names)
    assert "+A new note from the editor." in diff["general"]  # the text part's rendering
    assert "-Here is what is new in interventional oncology this week." in diff["general"]

    again = approve(config, store, issue_id, "chief@example.org", MONDAY)
    assert again.approved_hash != issue.approved_hash
    assert changes_since_approval(again, store.get_variants(issue_id)) == {}


def test_a_sent_issue_cannot_be_edited(project):
    config, report = first_run(project)
    store = Store.open(config.store_url)
    item = store.issue_sections("2026-W48")["news"][0]
    with pytest.raises(InsightsError, match="is sent; only a draft or approved issue"):
        edit_item(config, store, "2026-W48", item.id, "drop", MONDAY)
    store.close()


@pytest.mark.parametrize("note", ["A note\x00 with a NUL", "bell \x07 here", "esc \x1b[31m"])
def test_a_note_with_a_control_character_is_refused_and_the_note_kept(draft, note):
    """A NUL made PostgreSQL refuse the write (a 500 in the admin, a traceback in the CLI);
    other control characters are not text a reader can see."""
    from pipeline.editor_input import EditorInputError

    config, store, issue_id = draft
    before = store.get_issue(issue_id).editor_note
    with pytest.raises(EditorInputError, match="note: no control characters"):
        edit_note(config, store, issue_id, note, MONDAY)
    assert store.get_issue(issue_id).editor_note == before
    assert edit_note(config, store, issue_id, "Line one\r\n\tand two", MONDAY)  # still fine
