"""Print what a tick did (`insights tick`) and where the week stands (`insights status`),
every time in the newsletter's zone and in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape

from .notices import when
from .store.schedule import ActionRecord
from .week import TickReport, WeekStatus, next_line, plan


def tick_lines(report: TickReport) -> list[str]:
    """One line per action performed (its details indented below), one per action due
    that another process holds, and when something is next due."""
    lines: list[str] = []
    for done in report.performed:
        lines.append(done.lines[0])
        lines += [f"  {line}" for line in done.lines[1:]]
    for other in report.elsewhere:
        lines.append(f"{plan(other.action)}: {_held_by(other.record, report.tz)}")
    lines += report.archive
    if not report.performed and not report.archive:
        lines.append(f"nothing due; {next_line(report.next, report.tz)}")
    else:
        lines.append(next_line(report.next, report.tz))
    return lines


def print_tick(report: TickReport, console: Console) -> None:
    for line in tick_lines(report):
        style = "red" if "FAILED" in line else ""
        console.print(f"[{style}]{escape(line)}[/]" if style else escape(line),
                      soft_wrap=True, highlight=False)


def _held_by(record: ActionRecord | None, tz: ZoneInfo) -> str:
    if record is None:
        return "taken by another process"
    now = datetime.now(UTC)
    if record.done_at is not None:
        return f"done by another process ({record.outcome})"
    if record.owner is not None and record.lease_until > now:
        return (f"being done by {record.owner} (lease until "
                f"{when(record.lease_until, tz)})")
    return (f"waiting to be tried again from {when(record.lease_until, tz)}"
            f" (last time: {record.outcome or 'no outcome'})")


def print_status(status: WeekStatus, console: Console) -> None:
    tl, tz = status.timeline, status.timeline.tz

    def t(moment: datetime) -> str:
        return when(moment, tz)

    console.print(f"[bold]IO Insights schedule[/bold] at {t(status.now)}, in {tz.key}",
                  highlight=False)
    slots = (f"one step (the old cron {tl.send!r})" if tl.one_step else
             f"draft {tl.draft!r}, send {tl.send!r}")
    console.print(f"  {slots}; approval {tl.approval}, late by at most "
                  f"{_duration(tl.late_by)}, remind {_duration(tl.remind)} before",
                  highlight=False, soft_wrap=True)
    if status.deprecated:
        console.print(f"  [yellow]{escape(status.deprecated)}[/yellow]", soft_wrap=True)
    console.print(f"  next draft slot: {t(status.next_draft)}", highlight=False)
    console.print(f"  next send slot:  {t(status.next_send)}", highlight=False)

    for line in status.cycles:
        issue = line.issue
        name = f"{line.cycle.period}" + (f" (no. {issue.number})" if issue else "")
        console.print(f"[bold]Issue {name}[/bold]: {escape(line.state)}", highlight=False,
                      soft_wrap=True)
        if issue is not None and issue.created_at:
            console.print(f"  drafted    {t(issue.created_at)}", highlight=False)
        else:
            console.print(f"  draft slot {t(line.cycle.draft_at)}", highlight=False)
        console.print(f"  send slot  {t(line.slot)}", highlight=False)
        console.print(f"  deadline   {t(line.deadline)}", highlight=False)

    for action in status.due:
        console.print(f"[bold]Due now[/bold]: {escape(plan(action))} (at the next tick)",
                      highlight=False, soft_wrap=True)
    console.print(escape(next_line(status.next, tz).replace("next:", "Next:", 1)),
                  highlight=False, soft_wrap=True)

    if not status.actions:
        console.print("No scheduler actions yet (run `insights tick`, or schedule it).")
        return
    console.print("[bold]Last actions[/bold] (newest first):")
    width = max(len(r.key) for r in status.actions)
    for record in status.actions:
        tries = f", {record.attempts} tries" if record.attempts > 1 else ""
        outcome = f": {_gist(record.outcome)}" if record.outcome else ""
        console.print(f"  {record.key:<{width}}  {_record_state(record, tz)}{tries}"
                      f"{escape(outcome)}", highlight=False, soft_wrap=True)


def _gist(outcome: str) -> str:
    """The first clause of an action's outcome line ("held issue 2026-W49"): the whole
    line is in the audit log."""
    return outcome.split("; ", 1)[0].split(": ", 1)[0].removesuffix(".")


def _record_state(record: ActionRecord, tz: ZoneInfo) -> str:
    if record.done_at is not None:
        return f"done {when(record.done_at, tz)}"
    if record.owner is not None and record.lease_until > datetime.now(UTC):
        return f"running ({record.owner})"
    if record.owner is not None:
        return f"lease expired ({record.owner}): taken over at the next tick"
    return f"retry from {when(record.lease_until, tz)}"


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} h"
