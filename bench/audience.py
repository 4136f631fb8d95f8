"""Audience benchmark: import 1,000,000 synthetic subscribers from a CSV file, then
resolve them into 8 segments. Prints rows per second, resolve time and peak RSS.
Targets: import >= 50,000 rows/s; resolve <= 5 s; peak RSS <= 200 MB.

    .venv/bin/python bench/audience.py [--rows 1000000] [--store URL]
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import python_speed  # noqa: E402
from pipeline.store.store import Store  # noqa: E402
from subscribers.segments import compile_rule  # noqa: E402
from subscribers.store import Audience  # noqa: E402

ROLES = ["physician"] * 5 + ["resident", "fellow", "nurse", "technologist", "industry"]
INTERESTS = ["liver", "lung", "kidney", "bone", "immuno-oncology"]
REGIONS = ["north-america", "europe", "asia-pacific", "latin-america", "middle-east-africa"]
SEGMENTS = [
    ("trainees", compile_rule({"role": ["resident", "fellow"]})),
    ("nurses-techs", compile_rule({"role": ["nurse", "technologist"]})),
    ("industry", compile_rule({"role": "industry"})),
    ("liver", compile_rule({"interests": {"contains": "liver"}})),
    ("lung", compile_rule({"interests": {"contains": "lung"}})),
    ("kidney-bone", compile_rule({"interests": ["kidney", "bone"]})),
    ("europe", compile_rule({"region": "europe"})),
    ("io", compile_rule({"any": [{"interests": {"contains": "immuno-oncology"}},
                                 {"organisation": {"exists": True}}]})),
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_peak_rss_mb() -> float:
    """The largest of the helper processes on the other core: the import's parser and
    the resolve's upper half."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["email", "name", "role", "interests", "region", "organisation"])
        for i in range(rows):
            writer.writerow([
                f"member{i}@hospital{i % 997}.example.org", f"Member {i}", rng.choice(ROLES),
                ";".join(rng.sample(INTERESTS, rng.randint(0, 2))), rng.choice(REGIONS),
                f"Hospital {i % 997}" if i % 3 == 0 else ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--store", help="store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    print(python_speed())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subscribers.csv"
        write_csv(path, args.rows)
        store = Store.open(args.store or f"sqlite:///{tmp}/bench.db")
        audience = Audience(store.engine)
        print(f"{args.rows:,} rows, store {store.engine.url.render_as_string(True)}")
        rss_before = peak_rss_mb()

        started = time.perf_counter()
        _fmt, summary = audience.import_file(path, "auto", "members", status="confirmed",
                                             now=datetime.now(UTC))
        took = time.perf_counter() - started
        assert summary.added == args.rows, summary.line()
        print(f"import:  {took:.1f} s, {args.rows / took:,.0f} rows/s (target >= 50,000)")

        started = time.perf_counter()
        counts = Counter(r.segment for r in audience.resolve(["members"], SEGMENTS, "general"))
        took = time.perf_counter() - started
        assert sum(counts.values()) == args.rows
        print(f"resolve: {took:.2f} s into {len(SEGMENTS)} segments + default "
              f"(target <= 5 s): {dict(counts.most_common())}")
        print(f"peak RSS: {peak_rss_mb():.0f} MB (target <= 200 MB; "
              f"{rss_before:.0f} MB before the import); "
              f"the largest helper process (parsing the import, resolving the upper "
              f"ids): {child_peak_rss_mb():.0f} MB")
        store.close()


if __name__ == "__main__":
    main()
