"""The public archive in a real browser: a sent example issue published, then the
landing page, /archive/ and the issue's page in Debian's headless chromium at desktop
(1280 px) and phone (390 px) widths. Nothing is wider than a phone's screen, the issue
page shows what the issue carried and nobody's unsubscribe link, and the landing page
offers the latest issue and the sign-up form (PNGs: INSIGHTS_SCREENSHOTS=DIR keeps them;
a set is also left in /tmp/i18-shots/ to look at)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.screenshots import CHROMIUM_ARGS
from pipeline.store.store import Store
from pipeline.web import create_app

from .helpers import MONDAY, first_run
from .test_web_browser import Trap, serve

pytestmark = pytest.mark.skipif(not shutil.which("chromium"),
                                reason="chromium not installed (apt-get install chromium; "
                                       ".ci/run installs it)")

WEEK = "2026-W48"
WIDTHS = (1280, 390)
SHOTS = Path("/tmp/i18-shots")


@pytest.fixture
def published(project, monkeypatch):
    """The examples' first issue sent (so published) and the app served on loopback."""
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", "k" * 32)
    config, report = first_run(project)
    assert report.status == "sent", report.message
    store = Store.open(config.store_url)
    copy = store.public_issue(WEEK)
    assert copy is not None
    base, server, thread = serve(create_app(config, store=store, clock=lambda: MONDAY))
    yield base, copy
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


def shoot(page, name: str, tmp_path) -> None:
    """Full-page PNGs at each width, kept in INSIGHTS_SCREENSHOTS (else tmp) and in
    /tmp/i18-shots; at phone width nothing scrolls sideways."""
    folders = [Path(os.environ.get("INSIGHTS_SCREENSHOTS") or tmp_path), SHOTS]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"{name} at {width} px is {wide} px wide"
        for folder in folders:
            shot = folder / f"archive-{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.set_viewport_size({"width": 1280, "height": 900})


def test_the_public_pages_read_well_on_a_desktop_and_a_phone(published, tmp_path):
    from playwright.sync_api import sync_playwright

    base, copy = published
    trap = Trap()  # every host but loopback: the logo and images never reach the internet
    rules = f"--host-resolver-rules=MAP * 127.0.0.1:{trap.port}, EXCLUDE 127.0.0.1"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=[*CHROMIUM_ARGS, rules])
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        page.goto(f"{base}/")
        assert copy.title in page.locator("main").inner_text()
        latest = page.locator(f'a[href$="/archive/{WEEK}/"]')
        assert latest.count() >= 1
        form = page.locator('form[action$="/subscribe"]')
        assert form.count() >= 1 and form.first.locator('input[type="email"]').is_visible()
        shoot(page, "landing", tmp_path)

        page.goto(f"{base}/archive/")
        assert copy.title in page.locator("main").inner_text()
        shoot(page, "list", tmp_path)

        page.goto(f"{base}/archive/{WEEK}/")
        text = page.locator("main").inner_text()
        for item in copy.items:
            assert " ".join(item.title.split()) in " ".join(text.split()), item.title
        links = page.locator("a")
        hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
        assert not any("/u/" in h or "/p/" in h or "unsubscribe" in h.lower() for h in hrefs)
        assert "unsubscribe" not in text.lower()
        assert page.get_by_role("link", name="Subscribe").count() >= 1
        shoot(page, "issue", tmp_path)
        browser.close()
    trap.sock.close()
