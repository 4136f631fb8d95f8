"""The editor's path in a real browser: Playwright drives Debian's headless chromium
against the app served by uvicorn on loopback. Sign in, open the issue, switch to the
mobile preview, approve, and keep a PNG of the page; approve, choose when it goes
("Send at ..."), pause its send as it runs and resume it (PNGs at desktop and phone
widths; INSIGHTS_SCREENSHOTS=DIR keeps them)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn

from pipeline.accounts import add_editor
from pipeline.screenshots import CHROMIUM_ARGS
from pipeline.store.store import Store
from pipeline.web import create_app

from .helpers import CHICAGO, MONDAY, first_run, require_approval
from .sendgrid_server import SendGridServer

pytestmark = pytest.mark.skipif(not shutil.which("chromium"),
                                reason="chromium not installed (apt-get install chromium; "
                                       ".ci/run installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture
def served(project, monkeypatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", "k" * 32)
    require_approval(project)
    config, _ = first_run(project)
    store = Store.open(config.store_url)
    add_editor(store, "ed@example.org", "correct horse battery", MONDAY)
    base, server, thread = serve(create_app(config, store=store))
    yield base, store
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


# -- the timeline: approve, "Send at ...", then Pause and Resume during the send ----------


@pytest.fixture
def sending(project, monkeypatch):
    """The examples' draft awaiting approval, sent (once approved) through a slow
    loopback SendGrid, and the admin served on loopback at 08:00 on its Monday."""
    from pipeline.deliver import sender

    from .test_sendgrid import KEY, SECRET, use_sendgrid

    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", SECRET)
    monkeypatch.setattr(sender, "HEARTBEAT_EVERY", 0.0)  # read the pause after each batch
    with SendGridServer(KEY, latency=0.25) as sendgrid:
        use_sendgrid(project, sendgrid, batch_size=10, concurrency=1)
        require_approval(project)
        config, _ = first_run(project)
        store = Store.open(config.store_url)
        add_editor(store, "ed@example.org", "correct horse battery", MONDAY)
        base, server, thread = serve(create_app(config, store=store, clock=lambda: MONDAY))
        yield base, config, store, sendgrid
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def shoot(page, name: str, tmp_path, widths=(1280, 375)) -> list:
    """Full-page PNGs of the page at each width (INSIGHTS_SCREENSHOTS keeps them)."""
    folder = Path(os.environ.get("INSIGHTS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        shot = folder / f"{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # nothing wider than the screen but the tables that scroll in their own box
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width + 1, f"{name} at {width}px is {overflow}px wide"
        shots.append(shot)
    page.set_viewport_size({"width": 1280, "height": 900})
    return shots


def press(page, button: str, confirm: str, shot=None) -> None:
    """Press a timeline button, then the confirmation page's (`shot`: (name, folder) to
    keep PNGs of the confirmation page)."""
    page.click(button)
    page.wait_for_selector("#confirm")
    assert confirm in page.locator("h1").inner_text()
    if shot:
        shoot(page, *shot)
    page.click("#confirm")
    page.wait_for_selector("#timeline")


def signed_in_at_issue(p, base: str, trap: Trap, issue_id: str = "2026-W48"):
    """A desktop-sized page of a chromium whose every host but loopback is the trap,
    signed in as the editor on the issue's admin page; (browser, page)."""
    rules = f"--host-resolver-rules=MAP * 127.0.0.1:{trap.port}, EXCLUDE 127.0.0.1"
    browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                args=[*CHROMIUM_ARGS, rules])
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/admin/issues/{issue_id}")
    page.fill("#email", "ed@example.org")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/issues/{issue_id}")
    return browser, page


def test_an_editor_approves_sends_at_a_time_then_pauses_and_resumes(sending, tmp_path):
    from playwright.sync_api import sync_playwright

    from pipeline import week

    def at(hour: int, minute: int) -> datetime:
        return datetime(2026, 11, 23, hour, minute, tzinfo=CHICAGO)

    base, config, store, sendgrid = sending
    trap = Trap()
    with sync_playwright() as p:
        browser, page = signed_in_at_issue(p, base, trap)
        assert "Held:" in page.locator("#timeline-state").inner_text()

        page.click("#approve")
        page.wait_for_selector("text=approved by ed@example.org")
        assert "Due now" in page.locator("#timeline-state").inner_text()

        page.fill("#send-at-time", "2026-11-23T10:30")
        press(page, "#action-send-at", "Send issue 2026-W48 at Mon 23 Nov 10:30 CST")
        assert "Mon 23 Nov 10:30 CST (16:30 UTC)" in page.locator("#send-at").inner_text()
        assert "Approved." in page.locator("#timeline-state").inner_text()
        shoot(page, "issue-send-at", tmp_path)

        # 10:31: the scheduler's tick sends it
        ticks: list = []
        tick = threading.Thread(target=lambda: ticks.append(week.tick(config, at(10, 31))))
        tick.start()
        deadline = time.monotonic() + 30
        while sendgrid.accepted < 2:
            assert time.monotonic() < deadline, "the send did not start"
            time.sleep(0.05)
        page.reload()
        assert "Sending" in page.locator("#timeline-state").inner_text()
        press(page, "#action-pause", "Pause the send of issue 2026-W48",
              shot=("confirm-pause", tmp_path))
        assert "Paused" in page.locator("#timeline-state").inner_text()
        tick.join(timeout=30)
        assert not tick.is_alive()
        stopped_at = sendgrid.accepted
        [send] = ticks[0].performed
        # An editor's pause is not a failed tick: the send waits for Resume.
        assert send.outcome == "retry" and not send.failed, send
        assert any("paused by ed@example.org" in line for line in send.lines), send.lines
        assert not any("`insights send` to resume" in line for line in send.lines)
        assert stopped_at < 30  # it stopped well before the end (33 requests in all)
        # paused, the ticks after it send nothing
        assert week.tick(config, at(10, 33)).performed == []
        assert sendgrid.accepted == stopped_at
        page.reload()
        assert page.locator("#action-resume").is_visible()
        shoot(page, "issue-paused", tmp_path)

        press(page, "#action-resume", "Resume the send of issue 2026-W48")
        assert "continues at the scheduler's next tick" in page.inner_text("body")
        assert sendgrid.accepted == stopped_at  # nothing went while paused
        # the next tick resumes the send (not five minutes after the pause: now), and
        # everyone else gets it, once
        [resumed] = week.tick(config, at(10, 34)).performed
        assert resumed.outcome == "done", resumed
        subscribers = {k: v for k, v in sendgrid.received.items() if k != "ed@example.org"}
        assert len(subscribers) == 320 and set(subscribers.values()) == {1}
        assert sendgrid.rejected == []
        page.reload()
        assert "Sent" in page.locator("#timeline-state").inner_text()
        history = page.locator("#audit").inner_text()
        for action in ("approve", "send-at", "pause", "resume"):
            assert action in history
        shoot(page, "issue-sent", tmp_path)
        page.goto(f"{base}/admin/issues")
        shoot(page, "issues", tmp_path)
        browser.close()
    trap.sock.close()
