"""/admin end to end through the ASGI app: sign-in, CSRF, rate limit, previews, edits,
test send, approval with its diff, send progress and event counts."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from pipeline.accounts import add_editor
from pipeline.config import Config, load_config
from pipeline.store.events import MailEvent
from pipeline.store.store import Store
from pipeline.web import create_app

from .helpers import CHICAGO, MONDAY, edit_config, first_run, require_approval, use_store

EDITOR, PASSWORD = "ed@example.org", "correct horse battery"


@dataclass
class Admin:
    client: TestClient
    store: Store
    config: object
    project: object

    def csrf(self, path: str = "/admin/login") -> str:
        page = self.client.get(path)
        return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    def login(self, email: str = EDITOR, password: str = PASSWORD, **extra: str):
        return self.client.post("/admin/login", follow_redirects=False, data={
            "csrf": self.csrf(), "email": email, "password": password, **extra})

    def post(self, path: str, **data: str):
        return self.client.post(path, follow_redirects=False,
                                data={"csrf": self.csrf("/admin/issues"), **data})

    def approve(self, issue_id: str = "2026-W48"):
        """Approve as the issue's page does: with the hash of the content shown."""
        page = self.client.get(f"/admin/issues/{issue_id}").text
        seen = re.search(r'name="content" value="([0-9a-f]{64})"', page).group(1)
        return self.post(f"/admin/issues/{issue_id}/approve", content=seen)


def make_admin(project, store_url, monkeypatch, *, approval: bool,
               clock: datetime = MONDAY,
               then: Callable[[Config, Store], Config] | None = None) -> Iterator[Admin]:
    """The first issue made (2026-W48), one editor; `then` changes the config and store
    after that first run; the admin's clock stands at `clock`."""
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", "k" * 32)
    use_store(project, store_url)
    if approval:
        require_approval(project)
    config, _ = first_run(project)
    store = Store.open(config.store_url)
    add_editor(store, EDITOR, PASSWORD, MONDAY)
    if then is not None:
        config = then(config, store)
    app = create_app(config, store=store, clock=lambda: clock)
    with TestClient(app, base_url="https://testserver") as client:
        yield Admin(client, store, config, project)
    store.close()


@pytest.fixture
def admin(project, store_url, monkeypatch):
    """A draft issue awaiting approval (on each store backend) and one editor."""
    yield from make_admin(project, store_url, monkeypatch, approval=True)


@pytest.fixture
def signed_in(admin):
    assert admin.login().status_code == 303
    return admin


def test_admin_root_leads_to_the_issues(signed_in):
    r = signed_in.client.get("/admin", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/issues"
    r = signed_in.client.get("/admin/login", follow_redirects=False)  # already signed in
    assert r.status_code == 303 and r.headers["location"] == "/admin/issues"


def test_pages_need_a_signed_in_editor(admin):
    for path in ("/admin/issues", "/admin/issues/2026-W48"):
        r = admin.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login?next=")
    r = admin.client.post("/admin/issues/2026-W48/approve", data={"csrf": "x"},
                          follow_redirects=False)
    assert r.status_code == 303 and admin.store.get_issue("2026-W48").status == "draft"


def test_sign_in_sets_a_hardened_session_cookie_and_sign_out_ends_it(admin):
    r = admin.login()
    assert r.status_code == 303 and r.headers["location"] == "/admin/issues"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
    assert admin.client.get("/admin/issues").status_code == 200
    r = admin.post("/admin/logout")
    assert r.status_code == 303
    assert admin.client.get("/admin/issues", follow_redirects=False).status_code == 303


def test_a_cookie_saved_before_sign_out_no_longer_opens_admin(admin):
    admin.login()
    saved = admin.client.cookies["insights_admin"]
    assert admin.client.get("/admin/issues").status_code == 200
    assert admin.post("/admin/logout").status_code == 303
    admin.client.cookies.set("insights_admin", saved)  # replayed: signed, and not expired
    r = admin.client.get("/admin/issues", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    r = admin.client.post("/admin/issues/2026-W48/note", follow_redirects=False,
                          data={"csrf": "x", "note": "replayed"})
    assert r.status_code == 303 and admin.store.get_issue("2026-W48").editor_note == ""


def test_expired_sessions_end_and_their_rows_are_removed(admin):
    from datetime import timedelta

    from sqlalchemy import func, select

    from pipeline.store.schema import editor_sessions

    old = admin.store.start_session(EDITOR, MONDAY - timedelta(hours=13), timedelta(hours=12))
    assert admin.store.session_editor(old, MONDAY) is None  # expired an hour ago
    live = admin.store.start_session(EDITOR, MONDAY, timedelta(hours=12))
    assert admin.store.session_editor(live, MONDAY) == EDITOR
    with admin.store.engine.connect() as conn:  # the expired row went at that sign-in
        assert conn.execute(select(func.count()).select_from(editor_sessions)).scalar() == 1
    admin.store.end_session(live)
    assert admin.store.session_editor(live, MONDAY) is None


def test_a_wrong_password_or_unknown_editor_is_refused_alike(admin):
    wrong = admin.login(password="not the password")
    unknown = admin.login(email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text and "Wrong email or password." in unknown.text
    assert admin.client.get("/admin/issues", follow_redirects=False).status_code == 303


def test_sign_in_without_the_csrf_token_is_refused(admin):
    r = admin.client.post("/admin/login", data={"email": EDITOR, "password": PASSWORD},
                          follow_redirects=False)
    assert r.status_code == 403
    assert admin.client.get("/admin/issues", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("token", ["é", "ü€ \u202e"])
def test_a_hostile_csrf_value_is_a_403_not_a_500(admin, token):
    admin.csrf()  # a session with its token
    r = admin.client.post("/admin/login", data={"csrf": token, "email": EDITOR,
                                                "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403


def test_repeated_failed_sign_ins_are_rate_limited(admin):
    for _ in range(5):
        assert admin.login(password="guess").status_code == 401
    r = admin.login()  # even the right password, until the window passes
    assert r.status_code == 429 and "Too many attempts" in r.text


def test_sign_in_never_redirects_off_site(admin):
    r = admin.login(next="https://evil.example/phish")
    assert r.headers["location"] == "/admin/issues"
    admin.post("/admin/logout")
    r = admin.login(next="/admin/issues/2026-W48")
    assert r.headers["location"] == "/admin/issues/2026-W48"


def test_the_issue_list_shows_status_items_and_variants(signed_in):
    page = signed_in.client.get("/admin/issues").text
    row = page.split('href="/admin/issues/2026-W48"')[1].split("</tr>")[0]
    assert "<strong>draft</strong>" in row
    assert "<td>23 Nov – 29 Nov 2026</td>" in row  # the ISO week, in Chicago
    cells = re.findall(r"<td>(\d+)</td>", row)
    items = sum(len(v) for v in signed_in.store.issue_sections("2026-W48").values())
    assert cells == ["1", str(items), str(len(signed_in.config.variant_names))]


def test_each_variant_previews_sandboxed_at_desktop_and_mobile_widths(signed_in):
    page = signed_in.client.get("/admin/issues/2026-W48?segment=trainees").text
    frame = re.search(r"<iframe[^>]*>", page, re.S).group(0)
    assert 'sandbox=""' in frame and 'width="680"' in frame
    [variant] = [v for v in signed_in.store.get_variants("2026-W48") if v.segment == "trainees"]
    assert "srcdoc=\"&lt;!doctype html&gt;" in frame.lower() or "srcdoc=\"&lt;!" in frame
    assert variant.subject in page and "%%io:" not in frame
    assert "Dear Alex" in page  # the text part, filled for a sample reader
    mobile = signed_in.client.get("/admin/issues/2026-W48?segment=trainees&view=mobile").text
    assert 'width="375"' in re.search(r"<iframe[^>]*>", mobile, re.S).group(0)
    assert "The pre-send gate passes every variant." in page
    assert "KB of HTML" in page
    assert "no-referrer" in signed_in.client.get("/admin/issues").headers["referrer-policy"]


def test_an_unknown_issue_is_404(signed_in):
    assert signed_in.client.get("/admin/issues/1999-W01").status_code == 404


def test_dropping_an_item_needs_csrf_and_rerenders_every_variant(signed_in):
    item = signed_in.store.issue_sections("2026-W48")["news"][0]
    r = signed_in.client.post(f"/admin/issues/2026-W48/items/{item.id}",
                              data={"action": "drop"}, follow_redirects=False)
    assert r.status_code == 403
    assert item.id not in signed_in.store.get_issue("2026-W48").dropped
    r = signed_in.post(f"/admin/issues/2026-W48/items/{item.id}", action="drop",
                       segment="general", view="mobile")
    assert r.status_code == 303 and r.headers["location"].endswith(
        f"segment=general&view=mobile#item-{item.id}")  # back at the item, in the view
    assert item.id in signed_in.store.get_issue("2026-W48").dropped
    assert all(item.link not in v.html for v in signed_in.store.get_variants("2026-W48"))
    page = signed_in.client.get(r.headers["location"]).text
    assert f"Item {item.id}: drop done" in page and "(dropped)" in page


def test_pinning_and_moving_items(signed_in):
    news = signed_in.store.issue_sections("2026-W48")["news"]
    signed_in.post(f"/admin/issues/2026-W48/items/{news[1].id}", action="up")
    assert [i.id for i in signed_in.store.issue_sections("2026-W48")["news"][:2]] == \
        [news[1].id, news[0].id]
    signed_in.post(f"/admin/issues/2026-W48/items/{news[-1].id}", action="pin")
    assert signed_in.store.get_issue("2026-W48").pinned == (news[-1].id,)
    r = signed_in.post(f"/admin/issues/2026-W48/items/{news[0].id}", action="explode")
    assert r.status_code == 400


def test_approve_then_edit_returns_to_draft_and_shows_the_diff(signed_in):
    r = signed_in.approve()
    issue = signed_in.store.get_issue("2026-W48")
    assert r.status_code == 303 and issue.status == "approved" and issue.approved_by == EDITOR
    page = signed_in.client.get("/admin/issues/2026-W48").text
    assert f"approved by {EDITOR}" in page and issue.approved_hash[:12] in page
    signed_in.post("/admin/issues/2026-W48/note", note="Registration for **WCIO** closes Friday.")
    assert signed_in.store.get_issue("2026-W48").status == "draft"
    page = signed_in.client.get("/admin/issues/2026-W48").text
    assert "Changed since it was approved" in page
    # the diff is of the text part, where the note's Markdown is rendered (issue 17)
    assert '<span class="add">+Registration for WCIO closes Friday.</span>' in page


def test_a_test_send_to_an_unknown_segment_is_an_error(signed_in):
    r = signed_in.post("/admin/issues/2026-W48/test", segment="livr")
    page = signed_in.client.get(r.headers["location"]).text
    assert "no segment named &#39;livr&#39; in issue 2026-W48: its segments are general, " \
        "industry, liver, lung, nurses-techs, trainees" in page
    assert "Test sent" not in page
    assert not (signed_in.project / "outbox" / "2026-W48" / "tests").exists()


def test_a_test_send_goes_to_the_signed_in_editor_only(signed_in):
    r = signed_in.post("/admin/issues/2026-W48/test", segment="liver")
    assert r.status_code == 303
    folder = signed_in.project / "outbox" / "2026-W48" / "tests"
    assert [p.name for p in folder.iterdir()] == [f"liver-{EDITOR}.eml"]
    assert signed_in.store.send_progress("2026-W48") == {}  # not the issue's send
    assert f"Test sent to {EDITOR}" in signed_in.client.get(r.headers["location"]).text


def test_a_sent_issue_shows_its_progress_and_cannot_be_edited(project, store_url, monkeypatch):
    admin = next(make_admin(project, store_url, monkeypatch, approval=False))
    admin.login()
    page = admin.client.get("/admin/issues/2026-W48").text
    assert "<strong id=\"status\">sent</strong>" in page and "Approve this issue" not in page
    row = page.split("<td>trainees</td>")[1].split("</tr>")[0]
    assert re.findall(r'<td class="n">(\d+)</td>', row)[0] == "71"  # sent to 71 trainees
    admin.store.record_events([
        MailEvent(f"ev{i}", name, "2026-W48", "trainees", f"hash{i % 2}", MONDAY)
        for i, name in enumerate(["delivered", "delivered", "bounce"])], MONDAY)
    row = admin.client.get("/admin/issues/2026-W48").text.split("<td>trainees</td>")[1]
    counts = re.findall(r'<td class="n">(\d+)', row.split("</tr>")[0])
    # sent, delivered, bounced, ... (the outbox counts no opens nor clicks; no recipient
    # is queued, failed...: tests/test_web_admin_diff.py)
    assert counts[:3] == ["71", "2", "1"]
    item = admin.store.issue_sections("2026-W48")["news"][0]
    r = admin.post(f"/admin/issues/2026-W48/items/{item.id}", action="drop")
    assert "only a draft or approved issue can be edited" in admin.client.get(
        r.headers["location"]).text
    # Nothing left to check: its links' answers stay shown, the button goes, and a post
    # from a page opened before it went asks nothing.
    assert 'id="checks"' in page and 'id="check-links"' not in page
    r = admin.post("/admin/issues/2026-W48/checks")
    assert "Issue 2026-W48 is sent, so there is nothing left to check." in admin.client.get(
        r.headers["location"]).text
    assert admin.store.check_results("2026-W48") == []
    admin.store.close()


def test_the_editors_command_creates_an_account_that_can_sign_in(project, monkeypatch,
                                                                  tmp_path):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", "k" * 32)
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml"),
           "editors", "add", "Chief@Example.org", "--password-stdin"]
    short = subprocess.run(cmd, input="short\n", capture_output=True, text=True, cwd=project)
    assert short.returncode == 1 and "too short" in short.stderr
    done = subprocess.run(cmd, input=PASSWORD + "\n", capture_output=True, text=True,
                          cwd=project)
    assert done.returncode == 0, done.stderr
    assert "Editor chief@example.org created." in done.stdout
    from pipeline.config import load_config

    config = load_config(project / "config.toml")
    store = Store.open(config.store_url)
    app = create_app(config, store=store, clock=lambda: MONDAY)
    with TestClient(app, base_url="https://testserver") as client:
        admin = Admin(client, store, config, project)
        assert admin.login("chief@example.org", PASSWORD).status_code == 303
    assert store.editor_password_hash("chief@example.org").startswith("$argon2id$")
    store.close()


def test_insights_serve_answers_on_loopback_and_needs_the_secret_key(project, monkeypatch):
    import os
    import socket
    import time

    import httpx

    env = {k: v for k, v in os.environ.items() if k != "INSIGHTS_SECRET_KEY"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml"),
           "serve", "--port", str(port)]
    refused = subprocess.run(cmd, capture_output=True, text=True, cwd=project, env=env,
                             timeout=60)
    assert refused.returncode == 1 and "INSIGHTS_SECRET_KEY is not set" in refused.stderr
    server = subprocess.Popen(cmd, cwd=project, env={**env, "INSIGHTS_SECRET_KEY": "k" * 32},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/admin/login", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "insights serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and "Editors' sign-in" in r.text
        assert "frame-ancestors 'self'" in r.headers["content-security-policy"]
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_approving_content_that_changed_since_the_page_was_opened_is_refused(signed_in):
    page = signed_in.client.get("/admin/issues/2026-W48").text
    seen = re.search(r'name="content" value="([0-9a-f]{64})"', page).group(1)
    other = signed_in.store.issue_sections("2026-W48")["news"][0]
    signed_in.post(f"/admin/issues/2026-W48/items/{other.id}", action="drop")  # someone else
    r = signed_in.post("/admin/issues/2026-W48/approve", content=seen)
    assert signed_in.store.get_issue("2026-W48").status == "draft"
    assert "changed since you opened it" in signed_in.client.get(r.headers["location"]).text


@pytest.mark.parametrize("form", [{}, {"content": ""}, {"content": "  "}])
def test_approving_without_the_content_hash_is_refused(signed_in, form):
    r = signed_in.post("/admin/issues/2026-W48/approve", **form)
    assert signed_in.store.get_issue("2026-W48").status == "draft"
    assert "carried no content hash" in signed_in.client.get(r.headers["location"]).text


def test_moving_the_first_item_up_changes_nothing(signed_in):
    signed_in.approve()
    first = signed_in.store.issue_sections("2026-W48")["news"][0]
    before = signed_in.store.get_variants("2026-W48")
    signed_in.post(f"/admin/issues/2026-W48/items/{first.id}", action="up")
    issue = signed_in.store.get_issue("2026-W48")
    assert issue.status == "approved" and signed_in.store.get_variants("2026-W48") == before


def test_rate_limiter_window_and_forgetting_idle_clients():
    from pipeline.web.common import RateLimiter

    now = [0.0]
    limit = RateLimiter(2, 60, clock=lambda: now[0])
    assert limit.allow("a") and limit.allow("a") and not limit.allow("a")
    assert limit.blocked("a") and not limit.blocked("b")
    now[0] = 60.5  # the first two hits left the window
    assert not limit.blocked("a") and limit.allow("a")
    for key in "bcd":
        limit.hit(key)
    now[0] = 200.0
    limit.hit("e")  # every client idle for a whole window is forgotten
    assert set(limit._hits) == {"e"}


@pytest.mark.parametrize("name,limit,window", [("login_limit", 5, 300),
                                               ("subscribe_limit", 5, 3600)])
def test_rate_limit_tables_stay_bounded_and_expire(admin, name, limit, window):
    """Sign-in attempts (per client and per address), sign-ups per network and
    confirmations per address: a flood of distinct keys cannot grow them."""
    table = getattr(admin.client.app.state.web, name)
    assert (table.limit, table.window) == (limit, window)
    now = [1000.0]
    table.clock, table.max_keys = (lambda: now[0]), 100
    table.hit("victim")
    for n in range(5000):  # one request each from 5,000 addresses, within the window
        table.hit(f"ip:198.51.{n // 256}.{n % 256}")
        assert len(table._hits) <= 100
    assert "victim" not in table._hits  # the least recently seen went first
    for _ in range(limit):
        table.hit("persistent")
    assert table.blocked("persistent")
    now[0] += window + 1
    table.hit("newcomer")
    assert set(table._hits) == {"newcomer"}  # every old entry expired
    assert not table.blocked("persistent")


def test_successful_sign_ins_do_not_count_towards_the_limit(admin):
    for _ in range(6):
        assert admin.login().status_code == 303
        admin.post("/admin/logout")
    assert admin.login(password="wrong one").status_code == 401


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(signed_in):
    assert signed_in.client.get("/admin/issues").status_code == 200
    add_editor(signed_in.store, EDITOR, "a brand new passphrase", MONDAY)
    r = signed_in.client.get("/admin/issues", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")


# -- the issue's timeline: Send now, Send at, Skip, Pause, Resume, Cancel ---------------


def timeline_post(admin: Admin, action: str, *, confirmed: bool = True, **data: str):
    """Press the page's button (and, `confirmed`, the confirmation page's)."""
    if confirmed:
        data["confirmed"] = "yes"
    return admin.post(f"/admin/issues/2026-W48/timeline/{action}", **data)


def flashed(admin: Admin, response) -> str:
    assert response.status_code == 303, response.text[:500]
    return admin.client.get(response.headers["location"]).text


def test_the_issue_page_shows_its_timeline(signed_in):
    page = signed_in.client.get("/admin/issues/2026-W48").text
    assert 'id="slot">Mon 23 Nov 07:00 CST (13:00 UTC)' in page
    assert 'id="deadline">Tue 24 Nov 07:00 CST (13:00 UTC)' in page
    assert "required; not approved yet" in page
    # 08:00 on the Monday: past the slot, not approved: held, and told how to send it
    assert 'class="state state-held"' in page and "Approved by Tue 24 Nov 07:00" in page
    # The command as code, not as the terminal's backticks (the CLI keeps those).
    assert "every 5 minutes with cron, every minute with <code>insights schedule</code>" in page
    assert "`" not in page.split('id="timeline-state">')[1].split("</p>")[0]
    assert 'id="action-send-at"' in page and 'id="action-skip"' in page
    assert 'id="action-send-now"' not in page and 'id="action-pause"' not in page
    why = page.split('id="send-now-why">')[1].split("</p>")[0]
    assert why.startswith("Send now is not offered: issue 2026-W48 is not approved")
    assert why.count(":") == 1  # one sentence, not "...: ...: ..."
    field = re.search(r'<input type="datetime-local"[^>]*>', page).group(0)
    assert 'min="2026-11-23T08:00"' in field and 'max="2026-11-29T23:59"' in field


def test_timeline_actions_need_the_csrf_token(signed_in):
    for action in ("send-at", "skip", "pause", "cancel"):
        r = signed_in.client.post(f"/admin/issues/2026-W48/timeline/{action}",
                                  data={"at": "2026-11-24T09:00", "confirmed": "yes"},
                                  follow_redirects=False)
        assert r.status_code == 403
    issue = signed_in.store.get_issue("2026-W48")
    assert issue.send_at is None and issue.status == "draft"
    assert signed_in.store.audit_entries("2026-W48") == []
    assert signed_in.client.post("/admin/issues/2026-W48/timeline/explode", follow_redirects=False,
                                 data={"csrf": signed_in.csrf("/admin/issues")}).status_code == 404


def test_send_at_asks_for_confirmation_then_sets_the_time_and_audits_it(signed_in):
    r = timeline_post(signed_in, "send-at", confirmed=False, at="2026-11-24T09:30")
    assert r.status_code == 200  # the confirmation page: nothing done yet
    assert "Send issue 2026-W48 at Tue 24 Nov 09:30 CST (15:30 UTC)?" in r.text
    assert "once it is approved" in r.text  # a draft: it still needs approval
    form = r.text.split('id="confirm-card"')[1]
    assert 'name="confirmed" value="yes"' in form and 'name="csrf"' in form
    assert 'value="2026-11-24T09:30"' in form
    assert signed_in.store.get_issue("2026-W48").send_at is None
    assert signed_in.store.audit_entries("2026-W48") == []

    page = flashed(signed_in, timeline_post(signed_in, "send-at", at="2026-11-24T09:30"))
    assert signed_in.store.get_issue("2026-W48").send_at == datetime(2026, 11, 24, 15, 30,
                                                                    tzinfo=UTC)
    [entry] = signed_in.store.audit_entries("2026-W48")
    assert (entry.actor, entry.action) == (EDITOR, "send-at")
    assert entry.detail == "send at Tue 24 Nov 09:30 CST (15:30 UTC)"
    assert "Issue 2026-W48 goes at Tue 24 Nov 09:30 CST (15:30 UTC)" in page
    assert 'id="send-at"><strong>Tue 24 Nov 09:30 CST (15:30 UTC)</strong>' in page
    assert 'id="deadline">Wed 25 Nov 09:30 CST' in page
    history = page.split('id="audit"')[1]
    assert EDITOR in history and "<strong>send-at</strong>" in history


@pytest.mark.parametrize(("at", "problem"), [
    ("2026-11-30T09:00", "is outside the issue&#39;s week (Mon 23 Nov 00:00 – Sun 29 Nov "
                         "2026 23:59 CST); choose a time in it"),
    ("2026-11-23T07:30", "Mon 23 Nov 07:30 CST (13:30 UTC) is in the past"),
    ("next tuesday", "is not a date and time"),
    ("9999-12-31T23:59", "is not a date and time this week"),  # past UTC's last day
    ("", "is not a date and time"),
])
def test_send_at_outside_the_week_or_in_the_past_is_refused(signed_in, at, problem):
    r = timeline_post(signed_in, "send-at", confirmed=False, at=at)
    page = flashed(signed_in, r)  # back to the issue, not to a confirmation
    assert "Send at ...: " in page and problem in page
    assert signed_in.store.get_issue("2026-W48").send_at is None
    assert signed_in.store.audit_entries("2026-W48") == []


def test_actions_are_offered_by_state(signed_in):
    # a draft with approval required: not Send now, and nothing of a send
    for action, why in [("send-now", "is not approved"), ("pause", "is not being sent"),
                        ("resume", "is not being sent"), ("cancel", "is not being sent")]:
        page = flashed(signed_in, timeline_post(signed_in, action))
        assert why in page
    assert signed_in.store.audit_entries("2026-W48") == []
    # approved: Send now, which the approval itself records in the log
    signed_in.approve()
    [approval] = signed_in.store.audit_entries("2026-W48")
    assert approval.action == "approve" and approval.actor == EDITOR
    confirm = timeline_post(signed_in, "send-now", confirmed=False)
    assert "Send issue 2026-W48 now?" in confirm.text and "the scheduler&#39;s next tick" in \
        confirm.text
    signed_in.store.claim_action("send:2026-W48", "host:1", datetime.now(UTC),
                                 timedelta(minutes=10))
    signed_in.store.release_action("send:2026-W48", "host:1",
                                   datetime.now(UTC) + timedelta(minutes=5), "paused")
    page = flashed(signed_in, timeline_post(signed_in, "send-now"))
    assert "Issue 2026-W48 goes at the scheduler&#39;s next tick" in page
    assert signed_in.store.get_issue("2026-W48").send_at == MONDAY
    # a lease released to retry in five minutes does not delay it
    assert signed_in.store.claim_action("send:2026-W48", "host:2", datetime.now(UTC),
                                        timedelta(minutes=10))
    # skipped: nothing more to do
    page = flashed(signed_in, timeline_post(signed_in, "skip"))
    assert signed_in.store.get_issue("2026-W48").status == "skipped"
    assert "Issue 2026-W48 skipped" in page and 'id="action-' not in page
    assert "issue 2026-W48 is skipped" in flashed(signed_in, timeline_post(signed_in, "send-at",
                                                                            at="2026-11-24T09:00"))
    actions = [e.action for e in signed_in.store.audit_entries("2026-W48")]
    assert actions == ["skip", "send-now", "approve"]  # newest first


def paused_send(admin: Admin):
    """Issue 2026-W48 approved, then paused before its send began: the send marks it
    'sending' and stops before the first batch."""
    from pipeline.job import send_current

    admin.approve()
    admin.store.set_paused("2026-W48", EDITOR, MONDAY)
    report = send_current(admin.config, MONDAY)
    assert report.status == "incomplete" and f"paused by {EDITOR}" in report.message
    assert admin.store.get_issue("2026-W48").status == "sending"
    assert admin.store.send_progress("2026-W48") == {}  # nobody recorded, nobody mailed


def test_pause_resume_and_cancel_during_a_send(signed_in):
    paused_send(signed_in)
    page = signed_in.client.get("/admin/issues/2026-W48").text
    assert 'class="state state-paused"' in page and f"by {EDITOR}" in page
    assert 'id="action-resume"' in page and 'id="action-cancel"' in page
    assert 'id="action-pause"' not in page and 'id="action-send-at"' not in page

    page = flashed(signed_in, timeline_post(signed_in, "resume"))
    assert signed_in.store.stop_request("2026-W48") is None
    assert "continues at the scheduler&#39;s next tick" in page and 'id="action-pause"' in page
    page = flashed(signed_in, timeline_post(signed_in, "pause"))
    assert signed_in.store.stop_request("2026-W48") is not None and "nothing more goes" in page
    assert "already paused" in flashed(signed_in, timeline_post(signed_in, "pause"))

    confirm = timeline_post(signed_in, "cancel", confirmed=False)
    assert "Cancel the send of issue 2026-W48?" in confirm.text
    assert "cannot be undone" in confirm.text
    assert signed_in.store.get_issue("2026-W48").status == "sending"
    page = flashed(signed_in, timeline_post(signed_in, "cancel"))
    # no send was running: everyone it had not reached is recorded now
    assert signed_in.store.get_issue("2026-W48").status == "cancelled"
    progress = signed_in.store.send_progress("2026-W48")
    assert sum(s.get("cancelled", 0) for s in progress.values()) == 320
    assert set().union(*progress.values()) == {"cancelled"}
    assert "was not sent to 320 recipient(s)" in page
    assert 'id="totals"><strong>0</strong> sent · <strong>320</strong> cancelled' in page
    assert '<th class="n">Cancelled</th>' in page and 'class="state state-cancelled"' in page
    assert [e.action for e in signed_in.store.audit_entries("2026-W48")] == [
        "cancel", "pause", "resume", "approve"]
    # and nothing sends it later
    from pipeline.job import send_current

    assert send_current(signed_in.config, MONDAY).status == "skipped"
    listed = signed_in.client.get("/admin/issues").text
    row = listed.split('href="/admin/issues/2026-W48"')[1].split("</tr>")[0]
    assert "0 sent of 320" in row and "320 cancelled" in row


def test_the_issue_list_shows_subject_send_time_and_recipients(signed_in):
    page = signed_in.client.get("/admin/issues").text
    row = page.split('href="/admin/issues/2026-W48"')[1].split("</tr>")[0]
    subject = signed_in.store.get_variants("2026-W48")
    first = {v.segment: v.subject for v in subject}[signed_in.config.variant_names[0]]
    assert first.replace("'", "&#39;") in row and f"+{len(subject) - 1} variants" in row
    assert "Mon 23 Nov 07:00 CST (13:00 UTC)" in row and "the send slot" in row
    assert '<span class="badge badge-held">held</span>' in row
    assert "confirmed now" in row


# -- before the next issue exists: Draft now, Draft anyway ------------------------------

DRAFT_SLOT = datetime(2026, 11, 26, 9, 0, tzinfo=CHICAGO)  # 2026-W49's, Thu 09:00


def draft_post(admin: Admin, action: str, *, confirmed: bool = True, **data: str):
    """Press the issues list's button (and, `confirmed`, the confirmation page's)."""
    data.setdefault("period", "2026-W49")
    if confirmed:
        data["confirmed"] = "yes"
    return admin.post(f"/admin/draft/{action}", **data)


def draft_offered(admin: Admin, action: str) -> str:
    """The issues list's draft card, offering `action` and only it; and pressing it
    (confirmed) without the CSRF token is refused."""
    listed = admin.client.get("/admin/issues").text
    offer = listed.split('id="draft-offer"')[1].split("</div>")[0]
    other = "draft-now" if action == "draft-anyway" else "draft-anyway"
    assert f'id="action-{action}"' in offer and f'id="action-{other}"' not in offer
    r = admin.client.post(f"/admin/draft/{action}", follow_redirects=False,
                          data={"period": "2026-W49", "confirmed": "yes"})
    assert r.status_code == 403
    return offer


def test_draft_now_ahead_of_the_slot_asks_for_confirmation_and_audits_it(signed_in):
    offer = draft_offered(signed_in, "draft-now")
    assert "Next: issue 2026-W49" in offer and "Thu 26 Nov 09:00 CST (15:00 UTC)" in offer
    confirm = draft_post(signed_in, "draft-now", confirmed=False)
    assert confirm.status_code == 200 and "Draft issue 2026-W49 now?" in confirm.text
    assert "ahead of its draft slot Thu 26 Nov 09:00 CST" in confirm.text
    form = confirm.text.split('id="confirm-card"')[1]
    assert 'name="confirmed" value="yes"' in form and 'name="csrf"' in form
    assert "Draft anyway: the draft of issue 2026-W49 is not held" in flashed(
        signed_in, draft_post(signed_in, "draft-anyway"))
    assert "the draft to make now is issue 2026-W49, not 2026-W50" in flashed(
        signed_in, draft_post(signed_in, "draft-now", period="2026-W50"))
    assert signed_in.store.get_issue("2026-W49") is None
    assert signed_in.store.audit_entries("2026-W49") == []

    r = draft_post(signed_in, "draft-now")
    assert r.headers["location"] == "/admin/issues/2026-W49"
    page = flashed(signed_in, r)
    assert "Draft now: drafted issue 2026-W49 (no. 2)" in page
    assert signed_in.store.get_issue("2026-W49").status == "draft"
    [entry] = signed_in.store.audit_entries("2026-W49")
    assert (entry.actor, entry.action) == (EDITOR, "draft")
    assert entry.detail.startswith("drafted issue 2026-W49 (no. 2)")
    assert "draft:2026-W49" in signed_in.store.done_actions()  # no tick drafts it again
    assert 'id="draft-offer"' not in signed_in.client.get("/admin/issues").text
    assert "there is no draft to make now" in flashed(signed_in,
                                                      draft_post(signed_in, "draft-now"))


def required_source_down(config: Config, store: Store) -> Config:
    """The research feed, marked required, fails; the tick at 2026-W49's draft slot
    holds its draft and tells the editor."""
    from pipeline.week import tick

    edit_config(config.path.parent, 'url = "examples/feeds/pubmed-research.rss"',
                'url = "examples/feeds/missing.rss"\nrequired = true')
    config = load_config(config.path)
    [draft] = [p for p in tick(config, DRAFT_SLOT).performed if p.action.key == "draft:2026-W49"]
    assert draft.lines[0].startswith("draft 2026-W49 held: required source(s) pubmed-io failed")
    return config


@pytest.fixture
def held(project, store_url, monkeypatch):
    """Thu 26 Nov 09:30, half an hour after the tick held 2026-W49's draft."""
    for admin in make_admin(project, store_url, monkeypatch, approval=True,
                            clock=DRAFT_SLOT + timedelta(minutes=30),
                            then=required_source_down):
        assert admin.login().status_code == 303
        yield admin


def test_a_held_draft_offers_draft_anyway_with_the_failed_source(held):
    offer = draft_offered(held, "draft-anyway")
    assert "The draft of issue 2026-W49 is held" in offer
    failed = offer.split('id="failed-sources"')[1].split("</ul>")[0]
    assert "<strong>pubmed-io</strong>" in failed and "missing.rss" in failed
    assert "held by a failed required source: use Draft anyway" in flashed(
        held, draft_post(held, "draft-now"))
    confirm = draft_post(held, "draft-anyway", confirmed=False)
    assert confirm.status_code == 200
    assert "Draft issue 2026-W49 without the failed source?" in confirm.text
    assert "without pubmed-io" in confirm.text and "once approved" in confirm.text
    assert held.store.get_issue("2026-W49") is None
    assert [e.actor for e in held.store.audit_entries("2026-W49")] == ["scheduler"]

    r = draft_post(held, "draft-anyway")
    assert r.headers["location"] == "/admin/issues/2026-W49"
    page = flashed(held, r)
    assert "Draft anyway: drafted issue 2026-W49 (no. 2)" in page
    assert "without the failed required source(s) pubmed-io" in page
    assert held.store.get_issue("2026-W49").status == "draft"
    entry, scheduler = held.store.audit_entries("2026-W49")
    assert (entry.actor, entry.action) == (EDITOR, "draft")
    assert "drafted anyway, without the failed required source(s) pubmed-io" in entry.detail
    assert (scheduler.actor, scheduler.action) == ("scheduler", "draft")
    assert 'id="draft-offer"' not in held.client.get("/admin/issues").text

    # The hourly retry finds it made: it drafts nothing more.
    from pipeline.week import tick

    later = tick(held.config, DRAFT_SLOT + timedelta(hours=2))
    assert not any(p.action.key == "draft:2026-W49" for p in later.performed)


def test_event_times_read_as_in_the_email(signed_in):
    """The admin's event times come from the email's own formatting (render/when.py):
    the newsletter's zone, all-day events on their own date, a series once."""
    page = signed_in.client.get("/admin/issues/2026-W48").text
    [general] = [v for v in signed_in.store.get_variants("2026-W48") if v.segment == "general"]
    for when in ("Monthly, next: Thu 10 Dec, 11:00 CST (18:00 Paris time)",
                 "Tue 15 Dec (all day)", "Thu 21 Jan 2027, 10:00 CST (11:00 New York time)"):
        assert when in general.text
        assert page.count(when) >= 2, when  # the item list and the text preview
    assert "Thu 11 Feb" not in page  # the series' later sessions are not listed
