"""Editors' own content: items added by hand, headlines and teasers for this issue, the
lead story, sponsors' blocks, the sections' order, subject and preheader. Each edit
re-renders every variant, returns an approved issue to draft and shows in the diff."""

from __future__ import annotations

import email
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from pipeline.approval import changes_since_approval, preheader_of
from pipeline.content_edits import (
    NewItem,
    add_item,
    edit_item_text,
    move_section,
    remove_item,
    set_headers,
    set_lead,
    set_section_order,
)
from pipeline.deliver.message import build_message, personal_values
from pipeline.editing import approve, edit_item
from pipeline.editor_input import EditorInputError, moved, one_line
from pipeline.errors import InsightsError
from pipeline.models import Recipient
from pipeline.render.placeholders import PLACEHOLDERS, fill
from pipeline.store.store import Store
from subscribers.tokens import Tokens

from .helpers import MONDAY, edit_config, first_run, require_approval

ED = "ed@example.org"
IMAGE = "https://cdn.example.org/lead.jpg"
SPONSOR = NewItem(section="news", title="Microspheres, now in 3 sizes",
                  link="https://sponsor.example.com/spheres", teaser="From *Acme Medical*.",
                  sponsored=True)


@pytest.fixture
def draft(project):
    require_approval(project)
    edit_config(project, 'name = "industry"', 'name = "industry"\nsponsors = false')
    config, report = first_run(project)
    assert report.status == "awaiting-approval"
    store = Store.open(config.store_url)
    yield config, store, "2026-W48"
    store.close()


def variant(store, segment="general"):
    return next(v for v in store.get_variants("2026-W48") if v.segment == segment)


def news(store):
    return store.issue_sections("2026-W48")["news"]


# -- what an editor types ----------------------------------------------------------------

@pytest.mark.parametrize(("new", "refused"), [
    (NewItem("news", "", "https://e.org/a"), "title: write something"),
    (NewItem("news", "Two\r\nBcc: x@evil.example", "https://e.org/a"), "title: one line"),
    (NewItem("news", "T" * 201, "https://e.org/a"), "at most 200"),
    (NewItem("news", "T", "javascript:alert(1)"), "link: a web address"),
    (NewItem("news", "T", "data:text/html,<script>"), "link: a web address"),
    (NewItem("news", "T", "https://e.org/\"onmouseover=x"), "link: a web address"),
    (NewItem("news", "T", "https://e.org/a", image_url="http://e.org/i.jpg",
             image_alt="A"), "image: an address starting with https://"),
    (NewItem("news", "T", "https://e.org/a", image_url=IMAGE), "alt text: write something"),
    (NewItem("news", "T", "https://e.org/a", image_alt="alt"), "alt text: only with an image"),
    (NewItem("gossip", "T", "https://e.org/a"), "section: one of news, research, events"),
    (NewItem("events", "T", "https://e.org/a"), "an event needs the date"),
    (NewItem("news", "T", "https://e.org/a", starts=MONDAY), "for events only"),
    (NewItem("news", "T", "https://e.org/a", teaser="x" * 2001), "teaser: 2001 characters"),
    # what urlsplit cannot read (an unclosed IPv6 bracket) is no web address either
    (NewItem("news", "T", "https://[::1/a"), "link: a web address"),
    (NewItem("news", "T", "https://e.org/a", image_url="https://[cdn/i.jpg", image_alt="A"),
     "image: an address starting with https://"),
    # Markdown keeps its line breaks and tabs; other control characters (a NUL, which
    # PostgreSQL cannot store) are no text
    (NewItem("news", "T", "https://e.org/a", teaser="a\x00b"), "teaser: no control"),
])
def test_what_an_editor_types_is_checked_before_it_is_stored(draft, new, refused):
    config, store, issue_id = draft
    before = store.get_variants(issue_id)
    with pytest.raises(EditorInputError, match=re.escape(refused)):
        add_item(config, store, issue_id, new, ED, MONDAY)
    assert store.get_variants(issue_id) == before
    assert not store.issue_edits(issue_id)


@pytest.mark.parametrize(("order", "name", "step", "expected"), [
    (("news", "research", "events"), "events", -1, ("news", "events", "research")),
    (("news", "research", "events"), "news", -1, ("news", "research", "events")),
    (("news", "research", "events"), "events", 1, ("news", "research", "events")),
    (("events", "news", "research"), "events", 1, ("news", "events", "research")),
])
def test_moving_a_section(order, name, step, expected):
    assert moved(order, name, step) == expected


def test_one_line_refuses_control_characters_and_keeps_the_rest():
    assert one_line("  Café – 50% off  ", "t", 50) == "Café – 50% off"
    for bad in ("a\nb", "a\rb", "a\tb", "a\x00b"):
        with pytest.raises(EditorInputError):
            one_line(bad, "subject", 50)


# -- adding, editing, removing -----------------------------------------------------------

def test_an_item_added_by_hand_is_first_in_its_section_in_every_variant(draft):
    config, store, issue_id = draft
    approve(config, store, issue_id, ED, MONDAY)
    issue, item_id = add_item(config, store, issue_id, NewItem(
        "news", "Call for volunteers: the 2027 programme committee",
        "https://www.example.org/volunteer", teaser="Write to **Maria** by 15 Jan. "
        "[Details](https://www.example.org/volunteer/details)"), ED, MONDAY)
    assert issue.status == "draft"  # back from approved
    assert news(store)[0].id == item_id
    for v in store.get_variants(issue_id):
        if "news" not in v.text.lower():
            continue
        assert "Call for volunteers" in v.text and "Write to Maria by 15 Jan." in v.text
    general = variant(store)
    assert "<strong>Maria</strong>" in general.html
    assert 'href="https://www.example.org/volunteer/details"' in general.html
    assert general.text.index("Call for volunteers") < general.text.index(news(store)[1].title)
    diff = changes_since_approval(store.get_issue(issue_id), store.get_variants(issue_id))
    assert "+* Call for volunteers: the 2027 programme committee" in diff["general"]
    [entry] = [e for e in store.audit_entries(issue_id) if e.action == "add-item"]
    assert entry.actor == ED and "Call for volunteers" in entry.detail


def test_an_added_item_is_never_composed_into_a_later_issue_nor_hides_a_feed_copy(draft):
    config, store, issue_id = draft
    feed_item = news(store)[0]
    _, item_id = add_item(config, store, issue_id, NewItem(
        "news", "Same page", feed_item.link), ED, MONDAY)
    assert item_id not in {i.id for i in store.unissued_items(["news"], MONDAY - timedelta(days=400))}
    assert not store._duplicate_elsewhere(store.engine.connect(), feed_item.__class__(
        source="another-feed", guid="g", section="news", title="x", link="https://new.example/x"))


def test_an_event_added_by_hand_shows_its_date(draft):
    config, store, issue_id = draft
    add_item(config, store, issue_id, NewItem(
        "events", "Members' evening", "https://www.example.org/evening",
        starts=MONDAY + timedelta(days=10), where="Vienna"), ED, MONDAY)
    assert "Members' evening" in variant(store).text and "Vienna" in variant(store).text


def test_a_headline_and_teaser_for_this_issue_keep_the_feeds_original(draft):
    config, store, issue_id = draft
    item = news(store)[0]
    approve(config, store, issue_id, ED, MONDAY)
    edit_item_text(config, store, issue_id, item.id, "A better headline", "Why it _matters_.",
                   ED, MONDAY)
    assert store.get_item(item.id).title == item.title  # the feed's copy is untouched
    general = variant(store)
    assert "A better headline" in general.text and item.title not in general.text
    assert "Why it matters." in general.text and "<em>matters</em>" in general.html
    diff = changes_since_approval(store.get_issue(issue_id), store.get_variants(issue_id))
    assert f"-* {item.title}" in diff["general"] and "+* A better headline" in diff["general"]
    # The item's own headline again, and no teaser at all
    edit_item_text(config, store, issue_id, item.id, item.title, "", ED, MONDAY)
    edit = store.issue_edits(issue_id)[item.id]
    assert edit.title is None and edit.teaser == ""
    assert item.title in variant(store).text and "Why it" not in variant(store).text
    edit_item_text(config, store, issue_id, item.id, None, None, ED, MONDAY)
    assert item.id not in store.issue_edits(issue_id)


def test_only_an_editors_item_can_be_removed_and_it_leaves_every_variant(draft):
    config, store, issue_id = draft
    with pytest.raises(InsightsError, match="not added by an editor"):
        remove_item(config, store, issue_id, news(store)[0].id, ED, MONDAY)
    _, item_id = add_item(config, store, issue_id, replace(SPONSOR, lead=True), ED, MONDAY)
    assert store.get_issue(issue_id).lead_item_id == item_id
    remove_item(config, store, issue_id, item_id, ED, MONDAY)
    assert store.get_issue(issue_id).lead_item_id is None
    assert all("Microspheres" not in v.html for v in store.get_variants(issue_id))
    assert store.get_item(item_id) is None


# -- lead story and sponsors -------------------------------------------------------------

def test_the_lead_story_is_on_top_of_every_variant_with_its_image(draft):
    config, store, issue_id = draft
    approve(config, store, issue_id, ED, MONDAY)
    _, item_id = add_item(config, store, issue_id, NewItem(
        "research", "Our society's new TACE guideline", "https://www.example.org/guideline",
        teaser="Read what changed.", image_url=IMAGE, image_alt="Cover of the guideline",
        lead=True), ED, MONDAY)
    for v in store.get_variants(issue_id):  # trainees lead with events; industry is capped
        first_section = min(v.text.index(f"== {t} ==") for t in
                            ("SOCIETY NEWS", "RESEARCH HIGHLIGHTS", "UPCOMING EVENTS")
                            if f"== {t} ==" in v.text)
        assert v.text.index("== LEAD STORY ==") < first_section, v.segment
        assert v.text.count("Our society's new TACE guideline") == 1, v.segment
        img = re.search(r'<img src="https://cdn\.example\.org/lead\.jpg"[^>]*>', v.html)
        assert img, v.segment
        assert 'alt="Cover of the guideline"' in img.group(0)
        assert 'width="552"' in img.group(0) and 'height="276"' in img.group(0)
        # With images off the headline and teaser are still text in the HTML
        assert v.html.index(img.group(0)) < v.html.index("Read what changed.")
    diff = changes_since_approval(store.get_issue(issue_id), store.get_variants(issue_id))
    assert "+== LEAD STORY ==" in diff["general"]
    # The preheader names the lead story
    assert "Our society's new TACE guideline" in preheader_of(variant(store).html)
    set_lead(config, store, issue_id, None, ED, MONDAY)
    assert "LEAD STORY" not in variant(store).text
    assert "Our society's new TACE guideline" in variant(store).text  # back in its section


def test_an_editors_teaser_in_the_text_part_gives_its_links_as_numbered_references(draft):
    config, store, issue_id = draft
    guideline = "https://www.example.org/guidelines/tace/2026/what-changed-and-why-it-matters"
    add_item(config, store, issue_id, NewItem(
        "news", "Our society's new TACE guideline", "https://www.example.org/guideline",
        teaser=f"Read **what** changed in [the guideline]({guideline}).\n\nThen tell us.",
        lead=True), ED, MONDAY)
    text = variant(store).text
    assert f"  Read what changed in the guideline [1].\n  [1] {guideline}\n\n  Then tell us." \
        in text
    assert "**" not in text


def test_a_feed_item_can_be_the_lead_but_not_when_dropped(draft):
    config, store, issue_id = draft
    item = news(store)[2]
    set_lead(config, store, issue_id, item.id, ED, MONDAY)
    text = variant(store, "industry").text
    assert text.index(item.title) < text.index("== SOCIETY NEWS ==")
    edit_item(config, store, issue_id, item.id, "drop", MONDAY)
    assert item.title not in variant(store).text
    with pytest.raises(InsightsError, match="is dropped: restore it first"):
        set_lead(config, store, issue_id, item.id, ED, MONDAY)
    with pytest.raises(InsightsError, match="item 99999 is not in issue"):
        set_lead(config, store, issue_id, 99999, ED, MONDAY)


def test_a_sponsors_block_is_labelled_and_left_out_where_sponsors_are_off(draft):
    config, store, issue_id = draft
    add_item(config, store, issue_id, SPONSOR, ED, MONDAY)
    general = variant(store)
    assert "* [Sponsored] Microspheres, now in 3 sizes" in general.text
    assert ">Sponsored</p>" in general.html
    industry = variant(store, "industry")  # sponsors = false in this test's config
    assert "Microspheres" not in industry.html + industry.text
    assert "Sponsored" not in industry.html + industry.text


def test_a_sponsored_lead_is_left_out_where_sponsors_are_off(draft):
    config, store, issue_id = draft
    add_item(config, store, issue_id, replace(SPONSOR, lead=True), ED, MONDAY)
    assert "== SPONSORED ==" in variant(store).text
    assert "Microspheres" not in variant(store, "industry").text
    assert "LEAD STORY" not in variant(store, "industry").text


# -- sections, subject, preheader --------------------------------------------------------

def test_the_sections_order_for_this_issue(draft):
    config, store, issue_id = draft
    move_section(config, store, issue_id, "events", -1, ED, MONDAY)
    text = variant(store).text
    assert text.index("== UPCOMING EVENTS ==") < text.index("== RESEARCH HIGHLIGHTS ==")
    set_section_order(config, store, issue_id, ["research", "events", "news"], ED, MONDAY)
    for segment in ("general", "trainees"):  # trainees' own order gives way too
        text = variant(store, segment).text
        assert (text.index("== RESEARCH HIGHLIGHTS ==") < text.index("== UPCOMING EVENTS ==")
                < text.index("== SOCIETY NEWS ==")), segment
    with pytest.raises(EditorInputError, match="each of news, research, events once"):
        set_section_order(config, store, issue_id, ["news", "news", "events"], ED, MONDAY)
    set_section_order(config, store, issue_id, ["news", "research", "events"], ED, MONDAY)
    assert store.get_issue(issue_id).section_order == ()


def test_subject_and_preheader_for_this_issue_reach_the_message(draft):
    config, store, issue_id = draft
    configured = variant(store).subject
    approve(config, store, issue_id, ED, MONDAY)
    set_headers(config, store, issue_id, "IO Insights: the TACE guideline is out",
                "And a call for volunteers", ED, MONDAY)
    assert store.get_issue(issue_id).status == "draft"
    v = variant(store)
    assert v.subject == "IO Insights: the TACE guideline is out"
    assert preheader_of(v.html) == "And a call for volunteers"
    personal = personal_values(config, Tokens("k" * 32), "eve@example.org", "Eve")
    msg = build_message(config, v, Recipient(1, "eve@example.org", "Eve", "general"),
                        personal, MONDAY)
    parsed = email.message_from_bytes(msg.as_bytes())
    assert parsed["Subject"] == "IO Insights: the TACE guideline is out"
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    assert "And a call for volunteers" in html.get_payload(decode=True).decode()
    diff = changes_since_approval(store.get_issue(issue_id), store.get_variants(issue_id))
    assert "+Subject: IO Insights: the TACE guideline is out" in diff["general"]
    assert "+Preheader: And a call for volunteers" in diff["general"]
    with pytest.raises(EditorInputError, match="one line"):
        set_headers(config, store, issue_id, "Hi\r\nBcc: all@example.org", None, ED, MONDAY)
    set_headers(config, store, issue_id, "", "", ED, MONDAY)  # the configured ones again
    assert variant(store).subject == configured
    assert store.get_issue(issue_id).subject is None


def test_placeholder_markers_in_editors_text_stay_inert(draft):
    config, store, issue_id = draft
    markers = " ".join(PLACEHOLDERS.values())
    _, item_id = add_item(config, store, issue_id, NewItem(
        "news", f"Title {markers}", f"https://www.example.org/x?e={PLACEHOLDERS['email']}",
        teaser=f"Teaser {markers}", image_url="https://cdn.example.org/i.jpg?" + "&".join(PLACEHOLDERS.values()),
        image_alt=f"Alt {markers}", lead=True), ED, MONDAY)
    set_headers(config, store, issue_id, f"Subject {markers}", f"Pre {markers}", ED, MONDAY)
    edit_item_text(config, store, issue_id, news(store)[1].id, f"Head {markers}",
                   f"Tease {markers}", ED, MONDAY)
    v = variant(store)
    personal = personal_values(config, Tokens("k" * 32), "eve@example.org", "Eve")
    for part in (v.subject, fill(v.html, personal.values), fill(v.text, personal.values)):
        assert "eve@example.org" not in part
    html, text = fill(v.html, personal.values), fill(v.text, personal.values)
    assert html.count(personal.unsubscribe_url) == 1 and text.count(personal.unsubscribe_url) == 1
    assert "%%io:" not in v.subject and v.subject.startswith("Subject %% io:first_name%%")
    for shown in ("Title", "Teaser", "Head", "Tease"):
        assert f"{shown} %% io:first_name%%" in text, shown
    assert "Alt %% io:first_name%%" in html and "Pre %% io:first_name%%" in html


def test_an_issue_that_went_cannot_be_edited(draft):
    config, store, issue_id = draft
    store.set_issue_status(issue_id, "sent", MONDAY)
    with pytest.raises(InsightsError, match="only a draft or approved issue can be edited"):
        add_item(config, store, issue_id, SPONSOR, ED, MONDAY)
    with pytest.raises(InsightsError, match="only a draft or approved issue can be edited"):
        set_headers(config, store, issue_id, "New", None, ED, MONDAY)


def test_the_lead_story_is_shown_as_its_section_would_show_it(project):
    """Our utm tags and the issue's journal names reach the lead story as every other
    item ([links] utm on): the lead is one of the issue's items, only placed on top."""
    require_approval(project)
    edit_config(project, "utm = false", "utm = true")
    config, _ = first_run(project)
    store = Store.open(config.store_url)
    item = news(store)[0]
    tagged = "utm_campaign=2026-W48"
    in_section = re.search(r"== SOCIETY NEWS ==\n(.*?)\n== ", variant(store).text, re.S)
    assert tagged in in_section.group(1)
    set_lead(config, store, "2026-W48", item.id, ED, MONDAY)
    lead = re.search(r"== LEAD STORY ==\n(.*?)\n== ", variant(store).text, re.S).group(1)
    assert item.title in lead and tagged in lead
    store.close()
