"""Admin benchmark: every admin page's median and p95 over N requests, in-process
through the Starlette app (TestClient), with 1,000,000 subscribers, 100 sent issues and
this week's draft. Target: <= 150 ms per page.

The data set: the example sources gathered and this week's issue drafted and rendered
(its variants are real HTML); 100 earlier issues carry the same items and variants, are
sent, and each has its batches of 1,000 recipients (1,000 batches). The newest
`--full-ledgers` sent issues also carry every recipient's ledger row (1,000,000 each,
0.1% skipped) and, the newest one, its mail events (delivered, opens, clicks): a
hundred full ledgers would be 100,000,000 rows and ~10 GB, and no page reads more
than one issue's recipients (the issues list reads batches; see store.ledger).

    .venv/bin/python bench/admin.py [--subscribers 1000000] [--issues 100] [--requests 20]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import python_speed  # noqa: E402
from bench.send import people  # noqa: E402
from pipeline.accounts import add_editor  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.draft import build_issue  # noqa: E402
from pipeline.gather import gather  # noqa: E402
from pipeline.render.issue import render_issue  # noqa: E402
from pipeline.store.events import MailEvent, insert_events  # noqa: E402
from pipeline.store.schema import issues, send_batches, send_totals  # noqa: E402
from pipeline.store.store import Store  # noqa: E402
from subscribers.store import Audience  # noqa: E402
from tests.helpers import MONDAY, copy_project, edit_config  # noqa: E402

TARGET_MS = 150.0
BATCH = 1000
EDITOR, PASSWORD = "bench@example.org", "bench password 0123"


def build(config, store: Store, subscribers: int, history: int, full_ledgers: int) -> dict:
    """The data set (see the module's docstring); returns the ids of the pages to time."""
    started = time.perf_counter()
    Audience(store.engine).import_rows(people(subscribers), "members", status="confirmed",
                                       source="bench", now=MONDAY)
    print(f"  {subscribers:,} subscribers imported in {time.perf_counter() - started:.0f} s")
    gather(config, store, MONDAY)
    draft, _ = build_issue(config, store, MONDAY)
    assert draft is not None
    rendered = render_issue(config, store, draft)
    sections = store.issue_sections(draft.id)
    item_ids = frozenset(i.id for entries in sections.values() for i in entries)
    segments = [v.segment for v in rendered]
    sent_ids = []
    for k in range(history, 0, -1):  # the oldest first, so numbers follow the weeks
        start = draft.period_start - timedelta(weeks=k)
        year, week, _ = start.isocalendar()
        issue = store.create_issue(f"{year}-W{week:02d}", start, start + timedelta(weeks=1),
                                   sections, item_ids, start)
        store.save_variants(issue.id, rendered, start)
        store.set_issue_status(issue.id, "sent", start + timedelta(days=1))
        sent_ids.append(issue.id)
    with store.engine.begin() as conn:  # this week's draft comes last, as it would
        conn.execute(issues.update().where(issues.c.id == draft.id)
                     .values(number=history + 2))
    _write_ledgers(store, sent_ids, segments, subscribers, full_ledgers)
    if full_ledgers:
        _write_events(store, sent_ids[-1], segments, subscribers)
    print(f"  data set built in {time.perf_counter() - started:.0f} s")
    return {"draft": draft.id, "newest_sent": sent_ids[-1], "oldest_sent": sent_ids[0],
            "segments": segments}


def _write_ledgers(store: Store, sent_ids: list[str], segments: list[str], subscribers: int,
                   full_ledgers: int) -> None:
    batches_per_issue = -(-subscribers // BATCH)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        for issue_id in sent_ids:
            batches = [
                {"issue_id": issue_id, "segment": segments[b % len(segments)], "seq": b + 1,
                 "state": "accepted", "size": min(BATCH, subscribers - b * BATCH),
                 "message_id": f"bench-{issue_id}-{b}", "created_at": at, "updated_at": at}
                for b in range(batches_per_issue)]
            conn.execute(send_batches.insert(), batches)
            # The running totals the ledger keeps as it records and accepts batches.
            accepted = Counter[str]()
            for batch in batches:
                accepted[batch["segment"]] += batch["size"]
            conn.execute(send_totals.insert(), [
                {"issue_id": issue_id, "segment": segment, "accepted": n, "not_accepted": 0}
                for segment, n in accepted.items()])
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        mark = "?" if store.engine.dialect.paramstyle == "qmark" else "%s"
        insert = (f"INSERT INTO send_recipients (issue_id, email_key, email, first_name, "
                  f"subscriber_id, segment, batch_id, state) VALUES "
                  f"({', '.join([mark] * 8)})")
        for issue_id in sent_ids[len(sent_ids) - full_ledgers:]:
            cursor.execute(f"SELECT id, segment FROM send_batches WHERE issue_id = {mark} "
                           "ORDER BY seq", (issue_id,))
            batch_rows = cursor.fetchall()
            for first in range(0, subscribers, 100_000):
                rows = []
                for i in range(first, min(first + 100_000, subscribers)):
                    batch_id, segment = batch_rows[i // BATCH]
                    email = f"member{i}@hospital{i % 997}.example.org"
                    rows.append((issue_id, email, email, f"Member {i}", i + 1, segment,
                                 batch_id, "skipped" if i % 1000 == 999 else "queued"))
                cursor.executemany(insert, rows)
            raw.commit()
    finally:
        raw.close()


def _write_events(store: Store, issue_id: str, segments: list[str], subscribers: int) -> None:
    """Through the store, as the webhook records them: the running counts with them."""
    started = time.perf_counter()
    at = datetime(2026, 1, 2, tzinfo=UTC)
    events = []
    for i in range(subscribers):
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        segment = segments[(i // BATCH) % len(segments)]
        kinds = ["delivered"] + (["open", "open"] if i % 10 < 3 else []) + (
            ["click"] if i % 25 == 0 else [])
        events.extend(MailEvent(f"{kind}-{i}-{n}", kind, issue_id, segment, digest, at)
                      for n, kind in enumerate(kinds))
    with store.engine.begin() as conn:
        for first in range(0, len(events), 50_000):
            insert_events(conn, events[first:first + 50_000], at)
    print(f"  {len(events):,} mail events for {issue_id} in "
          f"{time.perf_counter() - started:.0f} s")


def time_pages(client, anonymous, pages: dict[str, str], requests: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    for name, path in pages.items():
        who = anonymous if name == "login" else client
        response = who.get(path)  # warm: templates compiled, caches filled
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        took = []
        for _ in range(requests):
            started = time.perf_counter()
            response = who.get(path)
            took.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        timings[name] = took
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--issues", type=int, default=100, help="sent issues")
    parser.add_argument("--full-ledgers", type=int, default=2,
                        help="newest sent issues that carry every recipient's row")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--store", help="store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    print(python_speed())
    from starlette.testclient import TestClient

    from pipeline.web import create_app

    os.environ.setdefault("INSIGHTS_SECRET_KEY", "bench-signing-key-0123456789")
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project(Path(tmp))
        url = args.store or f"sqlite:///{tmp}/bench.db"
        edit_config(project, 'url = "sqlite:///var/insights.db"', f'url = "{url}"')
        config = load_config(project / "config.toml")
        store = Store.open(config.store_url)
        print(f"building: {args.subscribers:,} subscribers, {args.issues} sent issues "
              f"({args.full_ledgers} with full ledgers), store {store.engine.url.drivername}")
        ids = build(config, store, args.subscribers, args.issues, args.full_ledgers)
        add_editor(store, EDITOR, PASSWORD, MONDAY)
        app = create_app(config, store=store, clock=lambda: MONDAY)
        with TestClient(app, base_url="https://testserver") as client, \
                TestClient(app, base_url="https://testserver") as anonymous:
            page = client.get("/admin/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            signed = client.post("/admin/login", follow_redirects=False, data={
                "csrf": csrf, "email": EDITOR, "password": PASSWORD})
            assert signed.status_code == 303, signed.text[:300]
            other = ids["segments"][-1]
            pages = {
                "login": "/admin/login",
                "issues": "/admin/issues",
                "draft (desktop)": f"/admin/issues/{ids['draft']}",
                "draft (mobile, last segment)":
                    f"/admin/issues/{ids['draft']}?segment={other}&view=mobile",
                "newest sent (full ledger, events)": f"/admin/issues/{ids['newest_sent']}",
                "oldest sent": f"/admin/issues/{ids['oldest_sent']}",
            }
            timings = time_pages(client, anonymous, pages, args.requests)
        store.close()
    print(f"{args.requests} requests per page; target <= {TARGET_MS:.0f} ms")
    worst = 0.0
    for name, took in timings.items():
        median = statistics.median(took)
        p95 = statistics.quantiles(took, n=20)[-1] if len(took) > 1 else took[0]
        worst = max(worst, p95)
        verdict = "ok" if p95 <= TARGET_MS else "OVER"
        print(f"  {name:<36} median {median:8.1f} ms   p95 {p95:8.1f} ms   {verdict}")
    print(f"slowest p95: {worst:.1f} ms ({'within' if worst <= TARGET_MS else 'over'} "
          f"the {TARGET_MS:.0f} ms target)")


if __name__ == "__main__":
    main()
