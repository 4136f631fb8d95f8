"""Gather benchmark: 50 feeds on loopback servers with 200 ms latency per response.

Prints the wall time of the first run (every feed fetched and parsed) and of a second
run in which every feed answers 304 Not Modified. Targets: <= 1.5 s and <= 0.3 s.

Real sources live on many hosts, so by default each feed is served from its own
loopback address (127.0.0.1, 127.0.0.2, ...); `--one-host` puts them all on one, where
the per-host politeness limit (`gather.concurrency`, 8) bounds the speed instead.

    .venv/bin/python bench/gather.py [--feeds 50] [--latency 0.2] [--one-host]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from multiprocessing import Event, Process, Queue
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import python_speed  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.gather import gather  # noqa: E402
from pipeline.store.store import Store  # noqa: E402
from tests.feedserver import FeedServer  # noqa: E402

CONFIG = """
[newsletter]
name = "Bench"
from_email = "bench@news.example.org"
from_name = "Bench"
postal_address = "1 Example Road"
base_url = "https://news.example.org"
[store]
url = "sqlite:///bench.db"
[[lists]]
name = "members"
title = "Members"
"""


def serve(hosts: int, latency: float, urls: Queue, stop: Event) -> None:
    """The feed servers, in their own process so they do not share our GIL."""
    with ExitStack() as stack:
        servers = [stack.enter_context(FeedServer(latency, host=f"127.0.0.{i + 1}"))
                   for i in range(hosts)]
        urls.put([s.url for s in servers])
        stop.wait()


def run(feeds: int, latency: float, one_host: bool) -> tuple[float, float]:
    hosts = 1 if one_host else feeds
    urls: Queue = Queue()
    stop = Event()
    server = Process(target=serve, args=(hosts, latency, urls, stop), daemon=True)
    server.start()
    try:
        return _measure(feeds, urls.get(timeout=30), stop)
    finally:
        stop.set()
        server.join(timeout=10)


def _measure(feeds: int, server_urls: list[str], stop: Event) -> tuple[float, float]:
    hosts = len(server_urls)
    with tempfile.TemporaryDirectory() as tmp:
        text = CONFIG + "".join(
            f'\n[[sources]]\nname = "feed{i}"\nurl = "{server_urls[i % hosts]}/ok/feed{i}"\n'
            f'section = "news"\n' for i in range(feeds))
        (Path(tmp) / "config.toml").write_text(text)
        config = load_config(Path(tmp) / "config.toml")
        store = Store.open(config.store_url)
        now = datetime.now(UTC)
        started = time.perf_counter()
        first = gather(config, store, now)
        t1 = time.perf_counter() - started
        started = time.perf_counter()
        second = gather(config, store, now)
        t2 = time.perf_counter() - started
        store.close()
    failed = [r.error for r in first + second if r.failed]
    assert not failed, failed[:3]
    assert sum(r.new for r in first) == 3 * feeds
    assert all(r.not_modified for r in second)
    return t1, t2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--one-host", action="store_true")
    args = parser.parse_args()
    print(python_speed())
    layout = "one host" if args.one_host else f"{args.feeds} loopback hosts"
    print(f"{args.feeds} feeds on {layout}, {args.latency * 1000:.0f} ms latency each")
    t1, t2 = run(args.feeds, args.latency, args.one_host)
    print(f"first run:    {t1:.2f} s (target <= 1.5 s)")
    print(f"all-304 run:  {t2:.2f} s (target <= 0.3 s)")


if __name__ == "__main__":
    main()
