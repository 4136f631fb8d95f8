"""PNG screenshots of rendered variants in headless Chromium (Debian's `chromium`),
driven by Playwright: what editors check before approving, at phone and desktop width.

Nothing is fetched from the network: the page may only load itself, so remote images
(the logo) show as their alt text, exactly as in a mail client that blocks images.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from .errors import InsightsError

WIDTHS = (375, 600)
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = os.environ.get("INSIGHTS_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    if not path:
        raise InsightsError("screenshots need Chromium: install Debian's package "
                            "(`apt-get install chromium`) or set INSIGHTS_CHROMIUM")
    return path


def screenshot(html_files: Sequence[Path], widths: Sequence[int] = WIDTHS) -> list[Path]:
    """For each HTML file, `<name>-<width>.png` beside it; returns the PNG paths."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise InsightsError("screenshots need Playwright: pip install 'io-insights[preview]'"
                            ) from None
    written = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                for html in html_files:
                    for width in widths:
                        page = browser.new_page(viewport={"width": width, "height": 800})
                        page.route("**/*", lambda route: route.continue_()
                                   if route.request.url.startswith("file:") else route.abort())
                        page.goto(html.resolve().as_uri(), wait_until="load")
                        out = html.with_name(f"{html.stem}-{width}.png")
                        page.screenshot(path=str(out), full_page=True)
                        page.close()
                        written.append(out)
            finally:
                browser.close()
    except PlaywrightError as e:
        raise InsightsError(f"Chromium failed: {str(e).splitlines()[0]}") from e
    return written
