"""`insights demo` (`make run`): the editorial week on the bundled examples, on any date.

The example feeds are dated 9-22 November 2026, so the demo replays the week after them,
EXAMPLE_WEEK, at its own slots (from the config's `[schedule]`): the tick at the draft
slot, the example editor's approval an hour later, the tick at the send slot, each with
`--now`, as an operator could type them. Run again, each step finds its work done (the
ticks' leases, the issue sent) and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from pathlib import Path

from .config import Config
from .store.store import Store
from .timeline import Timeline, cycle_for_period

EXAMPLE_WEEK = (2026, 49)  # ISO week of Mon 30 Nov 2026: the week after the examples'
EXAMPLE_EDITOR = "editor@example.org"  # receives the notices; no password (no sign-in)
EXAMPLE_SUBSCRIBERS = "examples/subscribers.csv"  # relative to the config's folder
APPROVED_AFTER = timedelta(hours=1)  # the editor reads the draft's notice and approves


@dataclass(frozen=True)
class DemoWeek:
    period: str  # the issue's id, "2026-W49"
    draft_at: datetime  # UTC, as every moment of the timeline
    approve_at: datetime
    send_at: datetime


def demo_week(timeline: Timeline, week: tuple[int, int] = EXAMPLE_WEEK) -> DemoWeek:
    """The example week's draft slot, the approval and the send slot. Pure."""
    monday = datetime.fromisocalendar(week[0], week[1], 1).replace(tzinfo=timeline.tz)
    cycle = cycle_for_period(timeline, monday)
    if cycle is None:
        raise ValueError(f"[schedule] send {timeline.send!r} never fires in the week of "
                         f"{monday:%d %b %Y}")
    return DemoWeek(cycle.period, cycle.draft_at,
                    min(cycle.draft_at + APPROVED_AFTER, cycle.send_at), cycle.send_at)


def offline(config: Config) -> Config:
    """The config the demo runs the week with: on the machine only. Its draft checks no
    link (`[checks] at_draft`): the examples link to made-up sites and real ones (doi.org),
    and the demo must run, the same each time, without a network. Pure."""
    if not config.checks.at_draft:
        return config
    return config.model_copy(update={"checks": config.checks.model_copy(
        update={"at_draft": False})})


def local_now(moment: datetime, timeline: Timeline) -> str:
    """`--now` as one types it: the newsletter's wall clock, "2026-11-26T09:00"."""
    return moment.astimezone(timeline.tz).strftime("%Y-%m-%dT%H:%M")


@dataclass(frozen=True)
class NoticeFile:
    path: Path
    to: str
    kind: str  # X-Insights-Notice: draft-ready, sent, ...


def notice_files(config: Config) -> dict[Path, NoticeFile]:
    """The editors' notices the outbox holds (outbox/transactional/*.eml), by path."""
    folder = config.resolve(config.delivery.outbox_dir) / "transactional"
    found = {}
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else ():
        with path.open("rb") as f:
            headers = BytesHeaderParser().parse(f)
        if headers["X-Insights-Notice"]:  # not a sign-up confirmation
            found[path] = NoticeFile(path, str(headers["To"]),
                                     str(headers["X-Insights-Notice"]))
    return found


def week_summary(config: Config, week: DemoWeek) -> list[str]:
    """Where the example week stands: the issue, its recipients by segment, the outbox
    (the demo runs on the outbox backend only)."""
    store = Store.open(config.store_url)
    try:
        issue = store.get_issue(week.period)
        if issue is None:
            return [f"Issue {week.period}: not drafted (the draft step says why)."]
        delivered = store.delivered_count(issue.id)
    finally:
        store.close()
    lines = [f"Issue {issue.id} (no. {issue.number}): {issue.status}"
             + (f", to {sum(delivered.values())} subscribers" if delivered else "")]
    if delivered:
        order = {name: i for i, name in enumerate(config.variant_names)}
        lines.append("  by segment: " + ", ".join(
            f"{segment} {n}" for segment, n in sorted(
                delivered.items(), key=lambda kv: order.get(kv[0], len(order)))))
    outbox = config.resolve(config.delivery.outbox_dir)  # the demo's backend
    if (outbox / issue.id).is_dir():
        lines.append(f"  the issue: {shown_path(outbox / issue.id)}/ (each variant's .eml, "
                     ".html and .txt; manifest.csv lists every recipient)")
    notices = notice_files(config)
    if notices:
        kinds = ", ".join(n.kind for n in notices.values())
        lines.append(f"  the editors' notices: {shown_path(outbox / 'transactional')}/ "
                     f"({len(notices)}: {kinds})")
    return lines


def shown_path(path: Path) -> str:
    """A path as short as it is clear: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
