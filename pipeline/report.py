"""Print a RunReport for the operator: sources, segments, the issue and the outcome."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .deliver.gate import GMAIL_CLIP_BYTES
from .models import RunReport


def print_report(report: RunReport, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]IO Insights run[/bold] at {report.now:%Y-%m-%d %H:%M %Z} "
                  f"(period {report.period})")
    if report.sources:
        table = Table(title="Sources", title_justify="left")
        for col in ("source", "new", "already seen", "last success", "status"):
            table.add_column(col, justify="right" if col in ("new", "already seen") else "left")
        for s in report.sources:
            if s.failed:
                status = f"[red]failed[/red]: {s.error}"
                if s.flagged:
                    runs = s.consecutive_failures
                    status += f" [bold red](FLAGGED: failing {runs} runs in a row)[/]"
            elif s.not_modified:
                status = "not modified"
            else:
                status = "ok" + (f" [yellow]({'; '.join(s.warnings)})[/yellow]"
                                 if s.warnings else "")
            last = f"{s.last_success_at:%Y-%m-%d %H:%M}" if s.last_success_at else "never"
            table.add_row(s.name, str(s.new), str(s.seen), last, status)
        console.print(table)
    if report.segments:
        subjects = {seg.subject for seg in report.segments}
        waiting = report.status == "awaiting-approval"
        columns = ["segment", "would receive" if waiting else "recipients", "HTML size",
                   "items"]
        if len(subjects) > 1:
            columns.insert(2, "subject")
        else:
            console.print(f"Subject: {subjects.pop()}", soft_wrap=True, highlight=False)
        table = Table(title=f"Issue {report.issue_id} (no. {report.issue_number}) by segment",
                      title_justify="left")
        for col in columns:
            table.add_column(col, justify="left" if col in ("segment", "subject") else "right")
        for seg in report.segments:
            size = f"{seg.html_bytes / 1024:.1f} KB"
            if seg.html_bytes > GMAIL_CLIP_BYTES:
                size = f"[red]{size} (over Gmail's 102 KB clip)[/red]"
            cells = {"segment": seg.segment, columns[1]: str(seg.recipients),
                     "subject": seg.subject, "HTML size": size, "items": str(seg.items)}
            table.add_row(*(cells[c] for c in columns))
        console.print(table)
    style = {"sent": "green", "skipped": "yellow", "already-sent": "yellow"}.get(
        report.status, "red")
    console.print(f"[{style}]{report.message}[/{style}]", soft_wrap=True)
    if report.archive:
        console.print(report.archive, soft_wrap=True, highlight=False, markup=False)
    if report.output:
        console.print(f"Output: {report.output}", soft_wrap=True, highlight=False)
