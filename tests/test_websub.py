"""WebSub pings: one form-encoded publish POST per feed whose bytes changed, against a
real loopback hub; retried while the hub is busy or away, never raised."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from pipeline.publish.http import etag_of
from pipeline.publish.websub import changed_feeds, ping_hub

from .hubserver import HubServer
from .publish_fakes import DictPages

FEEDS = ["/archive/feed.xml", "/archive/feed.json", "/archive/items.xml"]
URLS = [f"https://news.example.org{path}" for path in FEEDS]


def pages() -> DictPages:
    return DictPages({"/archive/feed.xml": b"<feed>1</feed>", "/archive/feed.json": b"{}",
                      "/archive/items.xml": b"<feed>items</feed>", "/archive/": b"<html>"})


def test_only_feeds_whose_bytes_changed_are_pinged():
    site = pages()
    first = changed_feeds(site, FEEDS, {})
    assert first == {path: etag_of(site.bodies[path]) for path in FEEDS}
    assert changed_feeds(site, FEEDS, first) == {}  # nothing changed: nothing to ping
    site.bodies["/archive/feed.xml"] = b"<feed>2</feed>"
    assert changed_feeds(site, FEEDS, first) == {"/archive/feed.xml": etag_of(b"<feed>2</feed>")}
    del site.bodies["/archive/items.xml"]  # renders nothing: nothing to announce
    assert changed_feeds(site, FEEDS, {}).keys() == {"/archive/feed.xml", "/archive/feed.json"}


def test_one_publish_ping_per_changed_feed_and_none_when_nothing_changed():
    site = pages()
    with HubServer() as hub:
        changed = changed_feeds(site, FEEDS, {})
        assert ping_hub(hub.url, [f"https://news.example.org{p}" for p in changed], wait=0) == []
        assert hub.feeds() == URLS
        assert all(p.form == {"hub.mode": ["publish"], "hub.url": [u]}
                   for p, u in zip(hub.pings, URLS, strict=True))
        assert {p.content_type for p in hub.pings} == {"application/x-www-form-urlencoded"}
        assert {p.path for p in hub.pings} == {"/hub"}

        assert ping_hub(hub.url, [f"https://news.example.org{p}"
                                  for p in changed_feeds(site, FEEDS, changed)], wait=0) == []
        assert len(hub.pings) == 3  # nothing changed: no ping


def test_a_busy_hub_is_tried_again_until_it_takes_the_ping():
    with HubServer() as hub:
        hub.answers = [503, 503]
        assert ping_hub(hub.url, URLS[:1], wait=0.01) == []
        assert hub.feeds() == URLS[:1] * 3
        hub.pings.clear()
        hub.answers, hub.then = [429], 204
        assert ping_hub(hub.url, URLS[:1], wait=0.01) == []
        assert len(hub.pings) == 2


def test_a_hub_that_keeps_failing_gives_one_problem_line_per_feed():
    with HubServer() as hub:
        hub.then = 503
        problems = ping_hub(hub.url, URLS[:2], attempts=3, wait=0.01)
        assert len(hub.pings) == 6  # three tries each
        assert problems == [f"WebSub ping for {u}: the hub {hub.url} answered 503 Service "
                            "Unavailable: hub says 503 (3 tries)" for u in URLS[:2]]


def test_a_refusal_is_not_tried_again():
    with HubServer() as hub:
        hub.answers = [400]
        [problem] = ping_hub(hub.url, URLS[:2], wait=0.01)
        assert len(hub.pings) == 2  # the refused feed once, the next one still pinged
        assert problem == (f"WebSub ping for {URLS[0]}: the hub {hub.url} answered "
                           "400 Bad Request: hub says 400")  # one line, no terminal codes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_hub_that_is_down_is_a_problem_not_an_exception():
    hub = f"http://127.0.0.1:{free_port()}/hub"
    started = time.monotonic()
    [problem] = ping_hub(hub, URLS[:1], attempts=3, wait=0.05)
    assert problem.startswith(f"WebSub ping for {URLS[0]}: the hub {hub} did not answer "
                              "(ConnectError")
    assert problem.endswith("(3 tries)")
    assert time.monotonic() - started >= 0.05 + 0.1  # waited, doubling, between tries


def test_a_hub_that_never_answers_times_out_and_is_tried_again():
    with socket.socket() as silent:  # accepts connections (the kernel does), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hub = f"http://127.0.0.1:{silent.getsockname()[1]}/hub"
        with httpx.Client(timeout=0.2) as client:
            [problem] = ping_hub(hub, URLS[:1], client=client, attempts=2, wait=0.01)
    assert "did not answer (ReadTimeout" in problem and problem.endswith("(2 tries)")


@pytest.mark.parametrize("hub", ["", "not a url", "ftp://hub.example/", "http://[::1/hub"])
def test_a_hub_url_that_cannot_be_asked_is_one_problem_not_retried(hub):
    started = time.monotonic()
    [problem] = ping_hub(hub, URLS[:1], attempts=3, wait=1.0)
    assert problem.startswith(f"WebSub ping for {URLS[0]}: the hub {hub!r} could not be asked")
    assert time.monotonic() - started < 0.5  # no backoff for what no retry can mend


def test_no_feed_no_ping():
    assert ping_hub("http://127.0.0.1:9/hub", []) == []
