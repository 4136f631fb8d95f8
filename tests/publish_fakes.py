"""A SitePages made from a dict (path -> body), for the export and WebSub tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline.publish.model import Page

SENT = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@dataclass
class DictPages:
    bodies: dict[str, bytes] = field(default_factory=dict)

    def paths(self) -> list[str]:
        return list(self.bodies)

    def render(self, path: str) -> Page | None:
        body = self.bodies.get(path)
        if body is None:
            return None
        kind = "text/html; charset=utf-8" if path.endswith("/") else "application/atom+xml"
        return Page(body, kind, SENT)
