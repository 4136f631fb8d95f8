"""Render benchmark: milliseconds per variant (Jinja2 -> MJML -> mjml-python -> css-inline,
plus the text part) for the bundled example issue. Target: <= 5 ms.

    .venv/bin/python bench/render.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import python_speed  # noqa: E402
from pipeline.render import render_variant  # noqa: E402
from pipeline.render.context import Readership, build_context  # noqa: E402
from pipeline.render.issue import variant_spec  # noqa: E402
from pipeline.store.store import Store  # noqa: E402
from pipeline.variants import plan_variant  # noqa: E402
from tests.helpers import copy_project, first_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(python_speed())
    with tempfile.TemporaryDirectory() as tmp:
        config, report = first_run(copy_project(Path(tmp)))
        store = Store.open(config.store_url)
        issue = store.get_issue(report.issue_id)
        sections = store.issue_sections(issue.id)
        store.close()
        templates = config.resolve(config.render.templates)
        print(f"issue {issue.id}: {sum(map(len, sections.values()))} items, "
              f"{len(config.variant_names)} variants, {args.repeat} renders each")
        for segment in config.variant_names:
            planned = plan_variant(sections, variant_spec(config, segment))
            readership = Readership(segment, "", [entry.title for entry in config.lists])
            context = build_context(config, issue, planned, readership)
            render_variant(templates, segment, context)  # warm the template cache
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                rendered = render_variant(templates, segment, context)
                times.append((time.perf_counter() - started) * 1000)
            print(f"{segment:<14} median {statistics.median(times):.2f} ms, "
                  f"p95 {sorted(times)[int(len(times) * 0.95)]:.2f} ms, "
                  f"{rendered.html_bytes / 1024:.1f} KB HTML (target <= 5 ms)")


if __name__ == "__main__":
    main()
