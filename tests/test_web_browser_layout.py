"""The issue page's layout in a real browser: on a wide screen the preview sits beside
the items and stays in view while the editor scrolls through them (and the forms after
them), and the delivery and history cards take the page's width after both; on a phone
the page fits its width, nothing cut off. PNGs at 1280 and 390 px
(INSIGHTS_SCREENSHOTS=DIR keeps them)."""

from __future__ import annotations

import os
from pathlib import Path

from . import test_web_browser
from .test_web_browser import Trap, shoot, signed_in_at_issue

pytestmark = test_web_browser.pytestmark
served = test_web_browser.served  # the examples' draft awaiting approval, one editor

# Elements of <main> whose right edge is past the viewport, but for those inside a box
# that scrolls or clips them (.scroll tables, the ellipsis of an item's link).
OUTSIDE = """() => [...document.querySelectorAll('main *')].filter(e => {
  if (!e.getClientRects().length) return false;
  for (let up = e.parentElement; up && up.tagName !== 'MAIN'; up = up.parentElement)
    if (getComputedStyle(up).overflowX !== 'visible') return false;
  return e.getBoundingClientRect().right > innerWidth + 0.5;
}).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)"""


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


def test_the_preview_stays_beside_the_items_and_a_phone_gets_one_column(served, tmp_path):
    from playwright.sync_api import sync_playwright

    base, store = served
    folder = Path(os.environ.get("INSIGHTS_SCREENSHOTS") or tmp_path)
    trap = Trap()
    with sync_playwright() as p:
        browser, page = signed_in_at_issue(p, base, trap)  # 1280 x 900
        items, preview, frame = box(page, "#items"), box(page, "#preview-card"), box(
            page, "iframe#preview")
        assert preview["x"] > items["x"] + items["width"]  # beside, to the right
        assert preview["y"] < items["y"]  # from the top of the page
        # the frame fills its card, and the card one viewport (whole once scrolled to it)
        assert frame["width"] >= preview["width"] - 30 and frame["width"] >= 600
        assert frame["y"] + frame["height"] <= preview["y"] + preview["height"]
        assert preview["y"] < 100 and 850 <= preview["height"] <= 900
        assert frame["height"] >= 650
        page.screenshot(path=str(folder / "issue-top-1280.png"))

        # far down the items, then at the editor's note: the preview is still in view, whole
        for target in ("#section-events", "#note"):
            page.evaluate(f"document.querySelector('{target}').scrollIntoView()")
            assert page.evaluate("scrollY") > 1500
            preview, items = box(page, "#preview-card"), box(page, "#items")
            assert 0 <= preview["y"] <= 20 and preview["y"] + preview["height"] <= 900
            assert preview["x"] > items["x"] + items["width"]
        page.screenshot(path=str(folder / "issue-scrolled-1280.png"))
        audit = box(page, "#audit")
        assert audit["y"] > items["y"] + items["height"] and audit["width"] > 1200
        page.evaluate("scrollTo(0, 0)")

        shoot(page, "issue-layout", tmp_path, widths=(1280,))
        # a phone: one column, the preview after the summary and before the items
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.evaluate(OUTSIDE) == []
        summary, preview, items = (box(page, s) for s in ("#summary", "#preview-card",
                                                          "#items"))
        assert summary["y"] < preview["y"] < items["y"]
        assert preview["x"] == items["x"] and preview["width"] == items["width"]
        assert box(page, "iframe#preview")["width"] <= preview["width"]
        shoot(page, "issue-layout", tmp_path, widths=(390,))
        browser.close()
    trap.sock.close()
