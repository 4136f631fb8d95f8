"""Gathering from real loopback servers that misbehave: each bad source fails alone."""

from __future__ import annotations

import gc
import time
from datetime import UTC, datetime

import pytest

from pipeline.config import load_config
from pipeline.gather import gather
from pipeline.gather.fetch import Network
from pipeline.store.store import Store

from .feedserver import FeedServer, closed_port

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)

CONFIG = """
[newsletter]
name = "IO Insights"
from_email = "insights@news.example.org"
from_name = "IO Insights"
postal_address = "1 Example Road"
base_url = "https://news.example.org"

[store]
url = "sqlite:///store.db"

[gather]
total_timeout = {total}
read_timeout = 1.0
retries = {retries}
backoff = 0.05
max_bytes = 5242880

[topics]
liver = ["liver"]

[[lists]]
name = "members"
title = "Members"
"""


def write_config(tmp_path, sources, total=1.5, retries=0):
    text = CONFIG.format(total=total, retries=retries)
    for name, url in sources.items():
        text += f'\n[[sources]]\nname = "{name}"\nurl = "{url}"\nsection = "news"\n'
    (tmp_path / "config.toml").write_text(text)
    return load_config(tmp_path / "config.toml")


def test_each_hostile_source_fails_alone_and_the_others_publish(tmp_path):
    from .feedserver import gzip_bomb

    gzip_bomb()  # build it before the clock starts
    with FeedServer() as server:
        sources = {
            "good": f"{server.url}/ok/good",
            "trickle": f"{server.url}/trickle",
            "huge": f"{server.url}/huge",
            "gzip-bomb": f"{server.url}/gzip-bomb",
            "laughs": f"{server.url}/laughs",
            "loop": f"{server.url}/loop",
            "missing": f"{server.url}/status/404",
            "broken": f"{server.url}/status/500",
            "refused": f"http://127.0.0.1:{closed_port()}/feed",
            "also-good": f"{server.url}/ok/also",
        }
        config = write_config(tmp_path, sources)
        store = Store.open(config.store_url)
        started = time.monotonic()
        reports = {r.name: r for r in gather(config, store, NOW)}
        elapsed = time.monotonic() - started
    assert elapsed < 15
    assert (reports["good"].new, reports["also-good"].new) == (3, 3)
    assert not reports["good"].failed and not reports["also-good"].failed
    expected = {
        "trickle": "timed out",
        "huge": "over the 5242880-byte cap",
        "gzip-bomb": "over the 5242880-byte cap",
        "loop": "redirects",
        "missing": "HTTP 404",
        "broken": "HTTP 500",
        "refused": "cannot connect",
    }
    for name, fragment in expected.items():
        assert reports[name].failed, name
        assert fragment in reports[name].error, (name, reports[name].error)
    # Billion laughs: no entity expansion. The entry comes through, title unexpanded, and
    # the feed is flagged as ill-formed.
    laughs = reports["laughs"]
    assert not laughs.failed and laughs.new == 1
    assert any("ill-formed" in w for w in laughs.warnings)
    stored = store.unissued_items(["news"], datetime(2000, 1, 1, tzinfo=UTC))
    assert [i.title for i in stored if i.source == "laughs"] == ["&lol9;"]
    assert {i.topics for i in stored if i.source == "good"} == {("liver",)}
    health = {s.name: s for s in store.all_source_states()}
    assert health["broken"].consecutive_failures == 1 and health["good"].consecutive_failures == 0
    store.close()


def test_second_run_uses_conditional_get_and_parses_nothing(tmp_path):
    with FeedServer() as server:
        config = write_config(tmp_path, {"a": f"{server.url}/ok/a", "b": f"{server.url}/ok/b"})
        store = Store.open(config.store_url)
        first = gather(config, store, NOW)
        second = gather(config, store, NOW)
    assert [r.new for r in first] == [3, 3]
    assert all(r.not_modified and r.new == 0 and not r.failed for r in second)
    store.close()


def test_transient_failure_is_retried(tmp_path):
    with FeedServer() as server:
        config = write_config(tmp_path, {"flaky": f"{server.url}/flaky/f"}, retries=2)
        store = Store.open(config.store_url)
        [report] = gather(config, store, NOW)
        assert server.hits["/flaky/f"] == 2
    assert not report.failed and report.new == 3
    store.close()


def test_source_failing_three_runs_is_flagged(tmp_path):
    with FeedServer() as server:
        config = write_config(tmp_path, {"down": f"{server.url}/status/500",
                                         "up": f"{server.url}/ok/up"})
        store = Store.open(config.store_url)
        runs = [gather(config, store, NOW) for _ in range(3)]
    flags = [r[0].flagged for r in runs]
    assert flags == [False, False, True]
    assert runs[2][0].consecutive_failures == 3 and not runs[2][1].flagged
    store.close()


@pytest.mark.parametrize("retries", [0])
def test_connection_refused_fails_fast(tmp_path, retries):
    config = write_config(tmp_path, {"refused": f"http://127.0.0.1:{closed_port()}/x"},
                          retries=retries)
    store = Store.open(config.store_url)
    started = time.monotonic()
    [report] = gather(config, store, NOW)
    assert time.monotonic() - started < 3
    assert report.failed and "cannot connect" in report.error
    store.close()


def test_the_heap_from_before_the_run_is_out_of_full_collections_while_fetching(tmp_path):
    # A full collection walking the modules, config and store held the GIL for 50-80 ms
    # and stalled every fetch thread; frozen objects are not walked. Unfrozen afterwards,
    # so nothing stays out of reach of the collector for good.
    seen: list[int] = []

    def resolver(host: str, port: int) -> list[str]:  # runs on the fetch thread
        seen.append(gc.get_freeze_count())
        return ["127.0.0.1"]

    with FeedServer() as server:
        config = write_config(tmp_path, {"a": f"http://feeds.test:{server.port}/ok/a"})
        config = config.model_copy(update={"gather": config.gather.model_copy(
            update={"allow_private_hosts": ["feeds.test"]})})
        store = Store.open(config.store_url)
        try:
            reports = gather(config, store, NOW, Network(resolver))
        finally:
            store.close()
    assert [r.new for r in reports] == [3]
    assert seen and min(seen) > 10_000  # the imported modules alone are more
    assert gc.get_freeze_count() == 0
