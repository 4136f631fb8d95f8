"""Render static/io-insights-logo.svg to static/io-insights-logo.png at twice its size
(many mail clients do not show SVG; 2x stays crisp on high-density screens), on a
transparent background, in Debian's Chromium through Playwright:

    python examples/render_logo.py
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

STATIC = Path(__file__).resolve().parent / "static"
SVG = STATIC / "io-insights-logo.svg"
PNG = STATIC / "io-insights-logo.png"


def main() -> None:
    svg = SVG.read_text(encoding="utf-8")
    size = re.search(r'width="(\d+)" height="(\d+)"', svg)
    assert size, "the SVG states its width and height"
    width, height = int(size[1]), int(size[2])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": width, "height": height},
                                device_scale_factor=2)
        page.set_content(f'<body style="margin:0">{svg}</body>')
        page.locator("svg").screenshot(path=str(PNG), omit_background=True)
        browser.close()
    print(f"{PNG} ({PNG.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
