"""The editor's path in a real browser: Playwright drives Debian's headless chromium
against the app served by uvicorn on loopback. Sign in, open the issue, switch to the
mobile preview, approve, and keep a PNG of the page."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest
import uvicorn

from pipeline.accounts import add_editor
from pipeline.screenshots import CHROMIUM_ARGS
from pipeline.store.store import Store
from pipeline.web import create_app

from .helpers import MONDAY, first_run, require_approval

pytestmark = pytest.mark.skipif(not shutil.which("chromium"),
                                reason="chromium not installed (apt-get install chromium; "
                                       ".ci/run installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(project, monkeypatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", "k" * 32)
    require_approval(project)
    config, _ = first_run(project)
    store = Store.open(config.store_url)
    add_editor(store, "ed@example.org", "correct horse battery", MONDAY)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config, store=store), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


class Trap:
    """A loopback TCP listener that counts connections and closes them."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


def test_an_editor_signs_in_previews_on_mobile_and_approves(served, tmp_path):
    from playwright.sync_api import sync_playwright

    trap = Trap()

    base, store = served
    with sync_playwright() as p:
        # Every host but loopback resolves to a trap on loopback: the email's logo
        # (news.example.org) is asked for there, never on the internet.
        rules = f"--host-resolver-rules=MAP * 127.0.0.1:{trap.port}, EXCLUDE 127.0.0.1"
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=[*CHROMIUM_ARGS, rules])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/admin/issues/2026-W48")
        assert page.url.startswith(f"{base}/admin/login")  # sent to sign in first
        page.fill("#email", "ed@example.org")
        page.fill("#password", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/admin/issues/2026-W48")  # and back where they were going
        assert page.locator("#status").inner_text() == "draft"

        page.click("#view-mobile")
        page.wait_for_url("**view=mobile")
        frame = page.locator("iframe#preview")
        assert frame.get_attribute("width") == "375"
        # The email itself renders inside the sandboxed frame, at phone width.
        body = page.frame_locator("iframe#preview").locator("body")
        assert "IO Insights" in body.inner_text()
        assert frame.bounding_box()["width"] <= 377  # 375 and its border
        deadline = time.monotonic() + 5
        while not trap.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert trap.connections, "the preview's logo request did not reach the trap"

        page.click("#approve")
        page.wait_for_selector("text=approved by ed@example.org")
        assert page.locator("#status").inner_text() == "approved"
        shot = tmp_path / "approved-mobile.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    trap.sock.close()
    issue = store.get_issue("2026-W48")
    assert issue.status == "approved" and issue.approved_by == "ed@example.org"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
