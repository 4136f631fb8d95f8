"""Checks before approval: which links are asked (tables), how each answers on
loopback servers (HEAD, then GET; the gather limits and the address guard), the spam
score's parsing, and the admin's "Check links" showing them beside the gate's verdict."""

from __future__ import annotations

import os
import time

import pytest

from pipeline.checks import check_links, checks_report, links_due, own_links, run_checks
from pipeline.checks.spam import parse_report
from pipeline.checks.targets import LinkTarget, hrefs, links_to_check, worth_checking
from pipeline.config import load_config
from pipeline.models import RenderedVariant
from pipeline.store.checks import CheckResult

from .feedserver import FeedServer
from .helpers import copy_project

BASE = "https://news.example.org"
OWN = (f"{BASE}/u/", f"{BASE}/p/")


@pytest.mark.parametrize("href,expected", [
    ("https://example.org/a", "https://example.org/a"),
    ("  https://example.org/a#part ", "https://example.org/a"),
    ("http://example.org/a?b=1", "http://example.org/a?b=1"),
    ("%%io:unsubscribe_url%%", None),
    ("https://example.org/?to=%%io:email%%", None),
    ("%unsubscribe_url%", None),
    (f"{BASE}/u/token123", None),
    (f"{BASE}/p/token123", None),
    (f"{BASE}/issues/2026-W48", f"{BASE}/issues/2026-W48"),
    ("mailto:editor@example.org", None),
    ("tel:+15550100", None),
    ("#top", None),
    ("javascript:alert(1)", None),
    ("ftp://example.org/file", None),
    ("https:///no-host", None),
])
def test_what_is_worth_checking(href, expected):
    assert worth_checking(href, OWN) == expected


@pytest.mark.parametrize("html,expected", [
    ('<a href="https://a.example/">a</a>', ["https://a.example/"]),
    ('<a href="https://a.example/?x=1&amp;y=2">a</a>', ["https://a.example/?x=1&y=2"]),
    ('<a name="top">no href</a><a href="">empty</a>', []),
    ('<img src="https://img.example/logo.png"><link href="https://css.example/">', []),
    ('<A HREF="https://a.example/">caps</A>', ["https://a.example/"]),
])
def test_hrefs_are_the_anchors_links(html, expected):
    assert list(hrefs(html)) == expected


def variant(segment: str, *links: str) -> RenderedVariant:
    body = "".join(f'<a href="{u}">x</a>' for u in links)
    return RenderedVariant(segment, f"Subject {segment}", f"<p>{body}</p>", "text")


def test_links_are_checked_once_each_in_order_with_their_variants():
    variants = [variant("general", "https://a.example/", "%%io:unsubscribe_url%%",
                        "https://b.example/#x"),
                variant("liver", "https://b.example/", "https://a.example/",
                        "https://c.example/")]
    assert links_to_check(variants, OWN) == [
        LinkTarget("https://a.example/", ("general", "liver")),
        LinkTarget("https://b.example/", ("general", "liver")),
        LinkTarget("https://c.example/", ("liver",))]


def test_our_pages_that_exist_once_the_issue_goes_are_not_checked(config):
    """The web version and its events' calendar files answer 404 until the issue is
    sent (the app serves them then), like the per-reader pages they are ours."""
    base = config.newsletter.base_url
    page = variant("general", f"{base}/issues/2026-W48/general", f"{base}/events/12.ics",
                   f"{base}/u/token", f"{base}/p/token", f"{base}/subscribe",
                   "https://a.example/")
    assert [t.url for t in links_to_check([page], own_links(config))] == [
        f"{base}/subscribe", "https://a.example/"]


@pytest.fixture
def config(tmp_path):
    project = copy_project(tmp_path)
    return load_config(project / "config.toml")


def loopback(config, *, allow=("127.0.0.1",), **limits):
    """The config with short limits and, unless `allow` is empty, loopback allowed."""
    gather = config.gather.model_copy(update={"allow_private_hosts": list(allow),
                                              "retries": 0, **limits})
    return config.model_copy(update={"gather": gather})


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def test_links_answer_on_loopback(config, server):
    urls = [f"{server.url}/ok/feed", f"{server.url}/status/404", f"{server.url}/no-head",
            f"{server.url}/loop", f"{server.url}/redirect?to=/ok/moved"]
    results = {r.target: r for r in check_links(loopback(config), urls)}
    ok = results[urls[0]]
    assert (ok.verdict, ok.status) == ("ok", 200)
    missing = results[urls[1]]
    assert (missing.verdict, missing.status) == ("broken", 404)
    refused_head = results[urls[2]]
    assert (refused_head.verdict, refused_head.status) == ("ok", 200)
    assert ("HEAD", "/no-head") in server.methods and ("GET", "/no-head") in server.methods
    assert ("GET", "/ok/feed") not in server.methods  # HEAD was enough
    loop = results[urls[3]]
    assert loop.verdict == "unreachable" and "redirects" in loop.detail
    moved = results[urls[4]]
    assert moved.verdict == "ok" and moved.detail.endswith("/ok/moved")


def test_a_private_address_is_refused_unless_allowed(config, server):
    url = f"{server.url}/ok/feed"
    [result] = check_links(loopback(config, allow=()), [url])
    assert result.verdict == "refused" and "loopback address" in result.detail
    assert server.methods == []  # never asked


def test_a_server_slower_than_the_read_timeout_is_unreachable(config):
    with FeedServer(latency=1.5) as slow:
        [result] = check_links(loopback(config, read_timeout=0.3, total_timeout=2.0),
                               [f"{slow.url}/ok/feed"])
    assert result.verdict == "unreachable" and "timed out" in result.detail


def test_a_slow_server_within_the_limits_answers(config):
    with FeedServer(latency=0.2) as slow:
        [result] = check_links(loopback(config, read_timeout=2.0), [f"{slow.url}/ok/feed"])
    assert (result.verdict, result.status) == ("ok", 200)


def test_answers_are_kept_per_issue_and_only_new_links_asked(config, server, tmp_path):
    from pipeline.store.store import Store

    from .helpers import MONDAY

    store = Store.open(f"sqlite:///{tmp_path}/checks.db")
    store.create_issue("2026-W48", MONDAY, MONDAY, {}, frozenset(), MONDAY)
    cfg = loopback(config)
    first = [variant("general", f"{server.url}/ok/a")]
    run_checks(cfg, store, "2026-W48", first, [b""], MONDAY)
    assert server.methods == [("HEAD", "/ok/a")]
    second = [variant("general", f"{server.url}/ok/a", f"{server.url}/status/404")]
    assert links_due(cfg, second, store.check_results("2026-W48")) == [
        f"{server.url}/status/404"]
    run_checks(cfg, store, "2026-W48", second, [b""], MONDAY)
    report = checks_report(cfg, second, store.check_results("2026-W48"))
    assert [row.result.verdict for row in report.links] == ["ok", "broken"]
    assert [row.target.url for row in report.problems] == [f"{server.url}/status/404"]
    assert links_due(cfg, second, store.check_results("2026-W48"), refresh=True) == [
        f"{server.url}/ok/a", f"{server.url}/status/404"]
    store.close()


def test_a_spam_score_goes_stale_when_its_variant_changes(config):
    old = variant("general", "https://a.example/")
    from pipeline.checks import variant_hash

    scored = CheckResult("spam", "general", "scored", score=0.4,
                         content_hash=variant_hash(old))
    assert not checks_report(config, [old], [scored]).spam[0].stale
    new = variant("general", "https://b.example/")
    assert checks_report(config, [new], [scored]).spam[0].stale


def test_spamassassins_report_is_read():
    output = (b"X-Spam-Status: No, score=0.7 required=5.0 tests=HTML_MESSAGE\n\n"
              b"Content analysis details:   (0.7 points, 5.0 required)\n\n"
              b" pts rule name              description\n"
              b"---- ---------------------- ------------------\n"
              b" 0.0 HTML_MESSAGE           BODY: HTML included in message\n"
              b" 0.7 MIME_HTML_MOSTLY       BODY: Multipart message mostly text/html\n")
    scored = parse_report(output)
    assert scored is not None and scored.score == 0.7
    assert scored.why == "MIME_HTML_MOSTLY +0.7"
    assert parse_report(b"no report") is None


def loopback_checks(monkeypatch, server) -> None:
    """The admin's Check links on a network where every name is public and every
    connection goes to `server` (on loopback)."""
    import pipeline.web.admin_checks as admin_checks
    from pipeline.gather.fetch import Network

    from .test_gather_ssrf import PUBLIC, LoopbackBackend

    network = Network(lambda host, port: [PUBLIC], LoopbackBackend(server))
    real = admin_checks.run_checks
    monkeypatch.setattr(admin_checks, "run_checks",
                        lambda *a, **k: real(*a, **{**k, "network": network}))


def test_check_links_in_the_admin_warns_and_still_lets_the_editor_approve(
        project, monkeypatch, server):
    """Every link of the example issue goes to a loopback server (made-up public
    addresses, a backend that connects to loopback): none answers well, the page says
    so as a warning, and the issue can still be approved."""
    import pipeline.checks.spam as spam
    import pipeline.web.admin as admin_module

    from .test_web_admin import make_admin

    loopback_checks(monkeypatch, server)
    monkeypatch.setattr(spam, "installed", lambda: False)
    monkeypatch.setattr(admin_module, "spam_installed", lambda: False)
    monkeypatch.setattr("pipeline.web.admin_checks.spam_installed", lambda: False)
    admin = next(make_admin(project, f"sqlite:///{project}/var/admin.db", monkeypatch,
                            approval=True))
    assert admin.login().status_code == 303
    page = admin.client.get("/admin/issues/2026-W48").text
    assert "not checked yet" in page and 'id="check-links"' in page
    r = admin.post("/admin/issues/2026-W48/checks", segment="", view="desktop")
    assert r.status_code == 303
    page = admin.client.get("/admin/issues/2026-W48").text
    assert 'id="link-warning"' in page and "A warning, not a block" in page
    # The example links are https and the loopback server speaks plain HTTP: each
    # connection fails (404s and the rest are asked of it in the tests above).
    assert "<strong>unreachable</strong>" in page and "%%io:" not in page.split('id="link-checks"')[1].split("</table>")[0]
    assert admin.approve().status_code == 303
    assert admin.store.get_issue("2026-W48").status == "approved"
    admin.store.close()


def test_no_link_is_begun_after_the_time_and_the_next_run_asks_the_rest(config, tmp_path,
                                                                         monkeypatch):
    """The editor's request waits for the check: a slow site's links, asked one at a
    time (gather.concurrency 1), stop being begun after `seconds`; those left are not
    stored, so the page shows them "not checked" and the next run asks them."""
    from pipeline.store.store import Store

    from .helpers import MONDAY

    cfg = loopback(config, concurrency=1, read_timeout=5.0)
    with FeedServer(latency=0.4) as slow:
        urls = [f"{slow.url}/ok/{n}" for n in range(4)]
        results = check_links(cfg, urls, seconds=0.2)
        assert [r.target for r in results] == urls[:1]
        store = Store.open(f"sqlite:///{tmp_path}/checks.db")
        store.create_issue("2026-W48", MONDAY, MONDAY, {}, frozenset(), MONDAY)
        variants = [variant("general", *urls)]
        monkeypatch.setattr("pipeline.checks.CHECK_SECONDS", 0.2)
        first = run_checks(cfg, store, "2026-W48", variants, [b""], MONDAY)
        assert first.not_asked == 3
        assert [r.target for r in first.results if r.kind == "link"] == urls[:1]
        assert checks_report(cfg, variants, store.check_results("2026-W48")).unchecked == 3
        monkeypatch.setattr("pipeline.checks.CHECK_SECONDS", 30.0)
        second = run_checks(cfg, store, "2026-W48", variants, [b""], MONDAY)
        assert second.not_asked == 0
        assert [r.target for r in second.results if r.kind == "link"] == urls[1:]
        store.close()


@pytest.fixture
def slow_spamassassin(tmp_path, monkeypatch):
    """A `spamassassin` first on PATH that takes 0.5 s a message, then scores it 0.4."""
    folder = tmp_path / "bin"
    folder.mkdir()
    fake = folder / "spamassassin"
    fake.write_text("#!/bin/sh\ncat > /dev/null\nsleep 0.5\n"
                    "echo 'X-Spam-Status: No, score=0.4 required=5.0 tests=HTML_MESSAGE'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return fake


def test_the_spam_scores_share_one_deadline_and_the_next_run_scores_the_rest(
        config, tmp_path, monkeypatch, slow_spamassassin):
    """Six variants at 0.5 s each would hold the request 3 s; within 1.2 s in all, two
    are scored and the others are "not scored (time)", which the next run scores."""
    from pipeline.store.store import Store

    from .helpers import MONDAY

    store = Store.open(f"sqlite:///{tmp_path}/checks.db")
    store.create_issue("2026-W48", MONDAY, MONDAY, {}, frozenset(), MONDAY)
    variants = [variant(f"segment-{n}") for n in range(6)]
    monkeypatch.setattr("pipeline.checks.SPAM_SECONDS", 1.2)
    started = time.monotonic()
    first = run_checks(config, store, "2026-W48", variants, [b"message"] * 6, MONDAY)
    assert time.monotonic() - started < 2.0
    spam = checks_report(config, variants, store.check_results("2026-W48")).spam
    assert [row.result.score for row in spam[:2]] == [0.4, 0.4]
    assert [row.result.detail for row in spam[2:]] == ["not scored (time)"] * 4
    assert first.not_scored == 4
    monkeypatch.setattr("pipeline.checks.SPAM_SECONDS", 10.0)
    second = run_checks(config, store, "2026-W48", variants, [b"message"] * 6, MONDAY)
    assert [r.target for r in second.results] == [f"segment-{n}" for n in range(2, 6)]
    assert second.not_scored == 0
    spam = checks_report(config, variants, store.check_results("2026-W48")).spam
    assert all(row.result.score == 0.4 and not row.stale for row in spam)
    store.close()


def test_the_admin_shows_the_variants_not_scored_in_time(project, monkeypatch, server,
                                                           slow_spamassassin):
    from .test_web_admin import make_admin

    loopback_checks(monkeypatch, server)
    monkeypatch.setattr("pipeline.checks.SPAM_SECONDS", 0.8)
    admin = next(make_admin(project, f"sqlite:///{project}/var/admin.db", monkeypatch,
                            approval=True))
    assert admin.login().status_code == 303
    r = admin.post("/admin/issues/2026-W48/checks", segment="", view="desktop")
    page = admin.client.get(r.headers["location"]).text
    scores = page.split('id="spam-scores">')[1].split("</p>")[0]
    assert "<strong>0.4</strong>" in scores and "not scored (time)" in scores
    assert "variant(s) show &#34;not scored (time)&#34;" in page
    admin.store.close()
