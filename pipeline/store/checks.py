"""Checks before approval, as pipeline.checks found them: per issue, each link's answer
and each variant's spam score."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Engine, delete, insert, select

from .schema import issue_checks


class CheckResult(NamedTuple):
    kind: str  # "link" | "spam"
    target: str  # the URL, or the variant's segment
    verdict: str  # see pipeline.checks.targets.Verdict; "scored" | "skipped" for spam
    status: int | None = None
    score: float | None = None
    detail: str = ""
    content_hash: str | None = None
    checked_at: datetime | None = None


class ChecksMixin:
    engine: Engine

    def check_results(self, issue_id: str) -> list[CheckResult]:
        c = issue_checks.c
        query = (select(c.kind, c.target, c.verdict, c.status, c.score, c.detail,
                        c.content_hash, c.checked_at)
                 .where(c.issue_id == issue_id).order_by(c.kind, c.target))
        with self.engine.connect() as conn:
            return [CheckResult(*row) for row in conn.execute(query)]

    def save_check_results(self, issue_id: str, results: Sequence[CheckResult],
                           now: datetime) -> None:
        """Replace the results for these (kind, target)s; others are kept."""
        if not results:
            return
        c = issue_checks.c
        with self.engine.begin() as conn:
            for kind in {r.kind for r in results}:
                conn.execute(delete(issue_checks).where(
                    c.issue_id == issue_id, c.kind == kind,
                    c.target.in_([r.target for r in results if r.kind == kind])))
            conn.execute(insert(issue_checks), [
                {**r._asdict(), "issue_id": issue_id, "checked_at": r.checked_at or now}
                for r in results])
