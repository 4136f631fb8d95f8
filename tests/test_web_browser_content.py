"""Editors' own content in a real browser: on the draft's issue page an editor adds an
item by hand (with an image and its alt text), gives a feed item a headline for this
issue, makes the added item the lead story and approves; the approved variant's HTML
carries all of it (PNGs of the page at desktop and phone widths; INSIGHTS_SCREENSHOTS=DIR
keeps them)."""

from __future__ import annotations

import re

from . import test_web_browser
from .test_web_browser import Trap, shoot, signed_in_at_issue

pytestmark = test_web_browser.pytestmark
served = test_web_browser.served  # the examples' draft awaiting approval, one editor

ISSUE = "2026-W48"
# https only (pipeline/editor_input.py); never fetched by the pipeline, the email only
# references it. The preview's request for it goes to the Trap on loopback.
IMAGE = "https://cdn.example.org/president.png"
ALT = "The president at the lectern"
ADDED = "A message from the president"
EDITED = "The TACE guideline, in one page"


def general_html(store) -> str:
    return next(v.html for v in store.get_variants(ISSUE) if v.segment == "general")


def test_an_editor_adds_an_item_edits_a_headline_sets_the_lead_and_approves(served,
                                                                           tmp_path):
    from playwright.sync_api import sync_playwright

    base, store = served
    feed_item = store.issue_sections(ISSUE)["news"][1]
    trap = Trap()
    with sync_playwright() as p:
        browser, page = signed_in_at_issue(p, base, trap, ISSUE)
        assert page.locator("#status").inner_text() == "draft"

        # 1. an item by hand, with a Markdown teaser and an image: back at the new item
        page.select_option("#add-section", "news")
        page.fill("#add-title", ADDED)
        page.fill("#add-link", "https://www.example.org/president")
        page.fill("#add-teaser", "We *grow*: see [the plan](https://www.example.org/plan).")
        page.fill("#add-image", IMAGE.replace("https://", "http://"))
        page.fill("#add-alt", ALT)
        page.click("#add-item-submit")
        # refused (an http image): at the form, everything typed still there
        page.wait_for_url("**/content/add#add-item")
        assert page.locator("#add-item-refused").is_visible()
        assert "Not added. Image: an address starting with https://" in page.locator(
            "#add-item-refused").inner_text()
        assert page.input_value("#add-title") == ADDED
        assert page.input_value("#add-teaser").startswith("We *grow*")
        assert page.input_value("#add-alt") == ALT
        assert page.evaluate("window.scrollY") > 0  # scrolled down to the form
        page.fill("#add-image", IMAGE)
        page.click("#add-item-submit")
        page.wait_for_url(re.compile(r".*#item-\d+$"))
        added_id = int(page.url.rsplit("#item-", 1)[1])
        added = page.locator(f"#item-{added_id}")
        assert "Item added; every variant re-rendered." in page.inner_text("body")
        assert ADDED in added.inner_text() and "Added by an editor" in added.inner_text()
        assert page.locator("#section-news ~ table").first.locator(
            f"#item-{added_id}").count() == 1  # in the news section

        # 2. a feed item's headline for this issue: the feed's original shown beside it
        row = page.locator(f"#item-{feed_item.id}")
        row.locator("details.edit-item summary").click()
        page.fill(f"#title-{feed_item.id}", EDITED)
        row.locator("details.edit-item button[type=submit]").click()
        page.wait_for_url(f"**#item-{feed_item.id}")
        row = page.locator(f"#item-{feed_item.id}")
        assert EDITED in row.locator("td").first.inner_text()
        assert "Edited for this issue" in row.inner_text()
        assert row.locator(".feed-original").inner_text() == f"Feed’s headline: {feed_item.title}"
        row.locator("details.edit-item summary").click()
        original = row.locator(".original")
        assert original.is_visible() and feed_item.title in original.inner_text()
        assert page.input_value(f"#title-{feed_item.id}") == EDITED

        # 3. the added item as the lead story: its badge, on its row only
        page.locator(f"#item-{added_id} button", has_text="make lead").click()
        page.wait_for_url(f"**#item-{added_id}")
        assert f"Item {added_id} is the lead story" in page.inner_text("body")
        assert page.locator(f"#item-{added_id} .content-badge",
                            has_text="Lead story").is_visible()
        assert page.locator(".content-badge", has_text="Lead story").count() == 1
        assert page.locator(f"#item-{added_id} button", has_text="not lead").is_visible()
        shoot(page, "issue-content-draft", tmp_path, widths=(1280, 390))

        # 4. approve what the page shows
        page.click("#approve")
        page.wait_for_selector("text=approved by ed@example.org")
        assert page.locator("#status").inner_text() == "approved"
        shots = shoot(page, "issue-content-approved", tmp_path, widths=(1280, 390))
        browser.close()
    trap.sock.close()

    issue = store.get_issue(ISSUE)
    assert issue.status == "approved" and issue.approved_by == "ed@example.org"
    assert issue.lead_item_id == added_id
    html = general_html(store)
    [img] = re.findall(r'<img [^>]*src="' + re.escape(IMAGE) + '"[^>]*>', html)
    assert f'alt="{ALT}"' in img and 'width="552"' in img and 'height="276"' in img
    # the lead story on top (its headline under its image), before every section's
    # items, the edited headline among them (the preheader names the lead earlier)
    lead_at = html.index(IMAGE)
    assert lead_at < html.index(ADDED, lead_at) < html.index(EDITED)
    assert html.index(EDITED) == html.index(EDITED, lead_at)
    assert "<em>grow</em>" in html and 'href="https://www.example.org/plan"' in html
    assert feed_item.title not in html
    assert all(s.stat().st_size > 10_000 for s in shots)
