"""Send benchmark: 1,000,000 synthetic subscribers in 8 segments delivered through the
real `sendgrid` client to a loopback SendGrid with 50 ms latency per request.
Prints wall time, requests made and peak RSS. Targets: <= 15 s, <= 200 MB.

    .venv/bin/python bench/send.py [--subscribers 1000000] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing import Event, Process, Queue
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.audience import INTERESTS, REGIONS, ROLES  # noqa: E402
from bench.machine import python_speed  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.deliver.shards import auto_processes, usable_cores  # noqa: E402
from pipeline.job import run_weekly  # noqa: E402
from pipeline.store.store import Store  # noqa: E402
from subscribers.formats import Row  # noqa: E402
from subscribers.store import Audience  # noqa: E402

SEGMENTS = """
[[segments]]
name = "trainees"
where = { role = ["resident", "fellow"] }
[[segments]]
name = "nurses-techs"
where = { role = ["nurse", "technologist"] }
[[segments]]
name = "industry"
where = { role = "industry" }
[[segments]]
name = "liver"
where = { interests = { contains = "liver" } }
[[segments]]
name = "lung"
where = { interests = { contains = "lung" } }
[[segments]]
name = "kidney-bone"
where = { interests = ["kidney", "bone"] }
[[segments]]
name = "europe"
where = { region = "europe" }
"""


def serve(latency: float, url: Queue, stop: Event, counts: Queue) -> None:
    from tests.sendgrid_server import SendGridServer

    # Validation is what the tests do; here the server only accepts and counts, in its
    # own process, so the figure is the sender's.
    with SendGridServer("SG.bench", latency=latency, record_bodies=False,
                        validate=False) as server:
        url.put(server.url)
        stop.wait()
        most = max(server.received.values(), default=0)  # 0: nothing was sent
        counts.put((server.requests, len(server.received), most))


def people(n: int):
    import random

    rng = random.Random(3)
    for i in range(n):
        yield Row(i + 2, f"member{i}@hospital{i % 997}.example.org", f"Member {i}",
                  {"role": rng.choice(ROLES), "region": rng.choice(REGIONS),
                   "interests": rng.sample(INTERESTS, rng.randint(0, 2))})


def import_people(store_url: str, n: int) -> None:
    """Set-up, in its own process so the import's memory is not counted as the send's."""
    store = Store.open(store_url)
    Audience(store.engine).import_rows(people(n), "members", status="confirmed",
                                       source="bench", now=datetime.now(UTC))
    store.close()


def send(config_path: Path, out: Queue) -> None:
    """The measured part: the weekly job in a fresh process, as `insights run` runs it."""
    config = load_config(config_path)
    started = time.perf_counter()
    report = run_weekly(config, datetime(2026, 11, 23, 14, tzinfo=UTC))
    took = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = tuple(r.ru_utime + r.ru_stime for r in (own, children))
    out.put((report.status, report.message, took, cpu, own.ru_maxrss / 1024,
             children.ru_maxrss / 1024))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, help="override delivery.concurrency")
    parser.add_argument("--processes", type=int, help="override delivery.processes (auto)")
    args = parser.parse_args()
    print(python_speed())
    url_q: Queue = Queue()
    counts_q: Queue = Queue()
    stop = Event()
    server = Process(target=serve, args=(args.latency, url_q, stop, counts_q), daemon=True)
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        # The shipped config has editors approve each issue; the bench sends as composed.
        text = (ROOT / "config.toml").read_text().replace(
            'approval = "required"', 'approval = "optional"', 1)
        text = text[: text.index("# A segment may also set its variant")] + SEGMENTS
        text = text.replace('backend = "outbox"', 'backend = "sendgrid"')
        text = text.replace('host = "https://api.sendgrid.com"',
                            f'host = "{url_q.get(timeout=30)}"')
        if args.concurrency:
            text = text.replace("concurrency = 4 ", f"concurrency = {args.concurrency} ")
        if args.processes:
            text = text.replace('processes = "auto" ', f"processes = {args.processes} ")
        (project / "config.toml").write_text(text)
        shutil.copytree(ROOT / "templates", project / "templates")
        shutil.copytree(ROOT / "examples", project / "examples")
        os.environ["SENDGRID_API_KEY"] = "SG.bench"
        os.environ.setdefault("INSIGHTS_SECRET_KEY", "bench-signing-key-0123456789")
        config = load_config(project / "config.toml")
        setup = Process(target=import_people, args=(config.store_url, args.subscribers))
        setup.start()
        setup.join()
        out: Queue = Queue()
        sender = Process(target=send, args=(project / "config.toml", out))
        sender.start()
        status, message, took, cpu, own, children = out.get()
        sender.join()
    stop.set()
    requests, addresses, most = counts_q.get(timeout=60)
    server.join(timeout=10)
    assert status == "sent", message
    assert addresses == args.subscribers and most == 1
    d = config.delivery
    processes = d.processes if d.processes != "auto" else auto_processes(
        args.subscribers, usable_cores())  # everyone here is confirmed
    print(f"{args.subscribers:,} subscribers, {len(config.variant_names)} variants, "
          f"{args.latency * 1000:.0f} ms per request, {processes} sending process(es) "
          f"(processes = {d.processes!r}) x concurrency {d.concurrency}")
    print(f"send (gather + compose + render + deliver): {took:.1f} s (target <= 15 s), "
          f"{requests:,} requests, every address exactly once")
    print(f"CPU: {cpu[0]:.1f} s the sending process, {cpu[1]:.1f} s its helpers, on "
          f"{os.cpu_count()} cores (the loopback server not counted)")
    print(f"peak RSS: {own:.0f} MB the sending process, {children:.0f} MB its largest "
          "helper (a sending or resolving child) (target <= 200 MB each)")


if __name__ == "__main__":
    main()
