"""Public archive benchmark: the median and p95 of each public path over N requests,
in-process through the Starlette app (TestClient), with 500 sent issues in the public
archive, warm (nothing changed since the last request) and cold (the archive changed
just before the request, so the page is rendered again); and the time of a full static
export (`insights publish --out`), with its file count and bytes. Target: <= 50 ms per
path, cold and warm.

The data set: the examples gathered, this week's issue sent (first_run) and its public
copy rendered once with pipeline.publish.snapshot.public_copy; 499 earlier issues are
sent and each keeps that copy under its own id, number and date (save_public_issue), so
each page carries a real issue's body and items.

    .venv/bin/python bench/archive.py [--issues 500] [--requests 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import python_speed  # noqa: E402
from pipeline.publish.export import export  # noqa: E402
from pipeline.publish.model import PublicIssue  # noqa: E402
from pipeline.publish.site import archive_pages  # noqa: E402
from pipeline.publish.snapshot import copy_hash, public_copy  # noqa: E402
from pipeline.store.schema import issues, public_issues  # noqa: E402
from pipeline.store.store import Store  # noqa: E402
from tests.helpers import MONDAY, copy_project, edit_config, first_run  # noqa: E402

TARGET_MS = 50.0
WEEK = "2026-W48"  # the examples' first issue, which first_run sends


def build(config, store: Store, history: int) -> PublicIssue:
    """The data set (see the module's docstring); returns the newest public copy."""
    started = time.perf_counter()
    sent = store.get_issue(WEEK)
    assert sent is not None and sent.status == "sent", "first_run did not send the issue"
    copy = public_copy(config, store, sent)
    sections = store.issue_sections(WEEK)
    item_ids = frozenset(i.id for entries in sections.values() for i in entries
                         if i.id is not None)
    # Numbers follow the weeks: the earlier issues take 1..history-1, this week's the last.
    with store.engine.begin() as conn:
        conn.execute(issues.update().where(issues.c.id == WEEK).values(number=10 ** 6))
    for k in range(history - 1, 0, -1):  # the oldest first
        start = sent.period_start - timedelta(weeks=k)
        year, week, _ = start.isocalendar()
        issue = store.create_issue(f"{year}-W{week:02d}", start, start + timedelta(weeks=1),
                                   sections, item_ids, start)
        with store.engine.begin() as conn:
            conn.execute(issues.update().where(issues.c.id == issue.id)
                         .values(number=history - k))
        store.set_issue_status(issue.id, "sent", start + timedelta(days=1))
        at = start + timedelta(days=1)
        old = replace(copy, id=issue.id, number=history - k, published=at, updated=at,
                      items=tuple(replace(i, issue_id=issue.id, published=at, updated=at)
                                  for i in copy.items))
        store.save_public_issue(old, copy_hash(old))
    with store.engine.begin() as conn:
        conn.execute(issues.update().where(issues.c.id == WEEK).values(number=history))
        conn.execute(public_issues.update().where(public_issues.c.issue_id == WEEK)
                     .values(number=history))
    newest = store.public_issue(WEEK)
    assert newest is not None and store.public_issue_count() == history
    print(f"  {history} public issues ({len(copy.body_html):,} bytes of body, "
          f"{len(copy.items)} items each) in {time.perf_counter() - started:.0f} s")
    return newest


def _stats(took: list[float]) -> tuple[float, float]:
    p95 = statistics.quantiles(took, n=20)[-1] if len(took) > 1 else took[0]
    return statistics.median(took), p95


def time_paths(client, store: Store, newest: PublicIssue, paths: dict[str, str],
               requests: int) -> dict[str, dict[str, list[float]]]:
    """Per path: its first request, then `requests` warm ones, then `requests` cold ones
    (the newest copy saved with a new title before each: a new archive_version)."""
    timings: dict[str, dict[str, list[float]]] = {}
    edits = 0

    def get(path: str) -> float:
        started = time.perf_counter()
        response = client.get(path)
        took = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return took

    for name, path in paths.items():
        first = get(path)
        warm = [get(path) for _ in range(requests)]
        cold = []
        for _ in range(requests):
            edits += 1
            changed = replace(newest, title=f"{newest.title} ({edits})")
            assert store.save_public_issue(changed, copy_hash(changed))
            cold.append(get(path))
        timings[name] = {"first": [first], "warm": warm, "cold": cold}
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=500, help="public (sent) issues")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per path")
    args = parser.parse_args()
    print(python_speed())
    from starlette.testclient import TestClient

    from pipeline.web import create_app

    os.environ.setdefault("INSIGHTS_SECRET_KEY", "bench-signing-key-0123456789")
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp))
        edit_config(project, 'url = "sqlite:///var/insights.db"',
                    f'url = "sqlite:///{tmp}/bench.db"')
        config, report = first_run(project)
        assert report.status == "sent", report.message
        store = Store.open(config.store_url)
        print(f"building: {args.issues} public issues, store {store.engine.url.drivername}")
        newest = build(config, store, args.issues)
        older = store.public_issues(1, args.issues // 2)[0]
        paths = {
            "/archive/": "/archive/",
            "/archive/page/10/": "/archive/page/10/",
            f"issue page (/archive/{older.id}/)": f"/archive/{older.id}/",
            "/archive/feed.xml": "/archive/feed.xml",
            "/archive/feed.json": "/archive/feed.json",
            "/archive/items.xml": "/archive/items.xml",
            "/archive/items.json": "/archive/items.json",
            "/sitemap.xml": "/sitemap.xml",
            "/": "/",
        }
        app = create_app(config, store=store, clock=lambda: MONDAY)
        with TestClient(app, base_url="https://testserver") as client:
            timings = time_paths(client, store, newest, paths, args.requests)
        out = Path(tmp) / "site"
        started = time.perf_counter()
        exported = export(archive_pages(config, store), out)
        export_s = time.perf_counter() - started
        files = [f for f in out.rglob("*") if f.is_file() and f.name != ".insights-export"]
        size = sum(f.stat().st_size for f in files)
        assert exported.ok, exported.problems
        store.close()
    print(f"{args.requests} requests per path, warm and cold; target <= {TARGET_MS:.0f} ms")
    worst = 0.0
    for name, runs in timings.items():
        line = [f"  {name:<34} first {runs['first'][0]:7.1f} ms"]
        for kind in ("warm", "cold"):
            median, p95 = _stats(runs[kind])
            worst = max(worst, p95)
            verdict = "ok" if p95 <= TARGET_MS else "OVER"
            line.append(f"{kind} median {median:6.1f} p95 {p95:6.1f} {verdict:<4}")
        print("   ".join(line))
    print(f"slowest p95: {worst:.1f} ms ({'within' if worst <= TARGET_MS else 'over'} "
          f"the {TARGET_MS:.0f} ms target)")
    print(f"static export: {export_s:.2f} s, {len(files)} files, {size / 1e6:.1f} MB "
          f"({exported.written} written)")


if __name__ == "__main__":
    main()
