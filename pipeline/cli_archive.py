"""`insights issues` (the list, and hiding an issue from the public archive or showing
it again) and `insights publish`: thin shells over pipeline.publish.workflow."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from .cli import State, console, pass_state

_AS = click.option("--as", "actor", default="cli", show_default=True,
                   help="Who makes the change (an editor's address): in the audit log.")


@click.group(invoke_without_command=True)
@click.pass_context
def issues(ctx: click.Context) -> None:
    """List the issues: period, number, status and when each was sent (and which an
    editor hid from the public archive). `hide` and `show` choose what the archive
    shows."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    assert state is not None
    with state.store() as store:
        found = store.list_issues()
    for issue in found:
        sent = f"sent {issue.sent_at:%Y-%m-%d %H:%M} UTC" if issue.sent_at else ""
        hidden = " (hidden from the archive)" if issue.archive_hidden else ""
        console.print(f"{issue.id}  no. {issue.number:<4} {issue.status:<9} {sent}{hidden}",
                      highlight=False)


def _visibility(state: State, issue_id: str, hidden: bool, actor: str) -> None:
    from .publish.workflow import set_hidden

    with state.store() as store:
        done = set_hidden(state.config, store, issue_id, hidden, actor, datetime.now(UTC))
    console.print(done.message, highlight=False, soft_wrap=True)
    _print_report_lines(done.report.lines(), done.report.problems)


@issues.command("hide")
@click.argument("issue_id")
@_AS
@pass_state
def issues_hide(state: State, issue_id: str, actor: str) -> None:
    """Hide a sent issue from the public archive: its page, the feeds, the sitemap and
    the export leave it out (its public copy is kept for `show`)."""
    _visibility(state, issue_id, True, actor)


@issues.command("show")
@click.argument("issue_id")
@_AS
@pass_state
def issues_show(state: State, issue_id: str, actor: str) -> None:
    """Show a hidden issue in the public archive again."""
    _visibility(state, issue_id, False, actor)


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Write the static site here (default: [syndication] publish_dir).")
@click.option("--refresh", is_flag=True,
              help="Render every sent issue's public copy again (after a template change); "
                   "a copy that comes out the same keeps its dates.")
@pass_state
def publish(state: State, out: Path | None, refresh: bool) -> None:
    """Keep the public copy of every sent issue that has none (a send does it; this
    mends one interrupted), export the static site and tell the WebSub hub of the feeds
    that changed. Exit 1 if something could not be published."""
    from .publish.workflow import publish as publish_archive

    # Always to publish_dir when set, changed or not: a file lost since, or an export a
    # send could not finish, is written again here (the send's publish skips an unchanged site).
    with state.store() as store:
        report = publish_archive(state.config, store, datetime.now(UTC),
                                 out=out or state.config.publish_dir, refresh=refresh)
    if not report.lines():
        console.print("Nothing to publish: every sent issue is in the archive.",
                      highlight=False)
    _print_report_lines(report.lines(), report.problems)
    if report.problems:
        sys.exit(1)


def _print_report_lines(lines: list[str], problems: list[str]) -> None:
    for line in lines:
        # Problems in red; every line is printed as text (an error may quote a title).
        style = "red" if line.removeprefix("archive: ") in problems else None
        console.print(line, style=style, highlight=False, markup=False, soft_wrap=True)
