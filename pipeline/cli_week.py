"""The editorial week's commands: `insights tick`, `schedule`, `status`, `draft`,
`approve` and `demo`. Registered on the `insights` group (pipeline/cli.py), as thin
as the others: each loads the config, calls pipeline.week (or editing, demo) and prints."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import click

from .cli import (
    State,
    cli,
    console,
    editors_add,
    err_console,
    parse_now,
    pass_state,
    print_changes,
)
from .config import Config, load_config


@cli.command()
@click.option("--now", help="Decide as at this moment (ISO; newsletter time zone if no "
                            "offset); leases still run on the real clock.")
@pass_state
def tick(state: State, now: str | None) -> None:
    """Do whatever the editorial week has due now, once, and exit: draft, remind the
    editors, send, hold or report an issue late. For cron (every 5 minutes), a systemd
    timer or a Kubernetes CronJob: ticks on several hosts at once do each action once.
    Exit 1 if an action failed or a send is incomplete."""
    from .week import tick as run_tick
    from .week_report import print_tick

    config = state.config
    _warn_deprecated(config)
    report = run_tick(config, parse_now(now, config))
    print_tick(report, console)
    if report.failed:
        sys.exit(1)


@cli.command()
@pass_state
def schedule(state: State) -> None:
    """Run `insights tick` every minute until stopped with Ctrl-C or SIGTERM (between
    ticks it stops at once; a send stops as `insights send` does and resumes later)."""
    from .schedule import run_scheduler
    from .week import plan
    from .week import tick as run_tick
    from .week_report import tick_lines

    config = state.config
    _warn_deprecated(config)
    log = logging.getLogger("insights.schedule")

    def one_tick() -> tuple[datetime, str] | None:
        # The config is read again each tick: an edited timeline applies without restart.
        report = run_tick(load_config(state.config_path), datetime.now(UTC))
        for done in report.performed:
            for line in done.lines:
                (log.error if done.failed else log.info)("%s", line)
        for line in tick_lines(report)[len(report.performed):-1]:
            log.info("%s", line)  # actions another process holds
        if report.next is None:
            return None
        moment, actions = report.next
        return moment, "; ".join(plan(a) for a in actions)

    run_scheduler(config, one_tick)


@cli.command()
@click.option("--now", help="Show the week as at this moment (ISO; newsletter time zone "
                            "if no offset).")
@pass_state
def status(state: State, now: str | None) -> None:
    """Where the editorial week stands: the next draft and send slots (in the newsletter's
    zone and UTC), this week's and next week's issue and state, what the scheduler does
    next and when, and its last actions."""
    from .week import week_status
    from .week_report import print_status

    config = state.config
    print_status(week_status(config, parse_now(now, config)), console)


@cli.command("draft")
@click.option("--now", help="Draft as at this moment (ISO; newsletter time zone if no "
                            "offset).")
@click.option("--anyway", is_flag=True,
              help="Draft although a source marked `required` failed (what the editors' "
                   "held-draft notice asks for).")
@click.option("--as", "actor", default="cli", show_default=True,
              help="Who drafts (an editor's address): written to the audit log.")
@pass_state
def draft_command(state: State, now: str | None, anyway: bool, actor: str) -> None:
    """Draft the next issue now, as the scheduler does at its draft slot: gather,
    compose, render and tell the editors. It is the issue whose draft is due (or held
    by a failed required source), else the next week's, ahead of its slot; the
    scheduler does not draft it again. Exit 1 if nothing was drafted for a failure."""
    from .week import draft_now
    from .week_report import print_tick

    config = state.config
    report = draft_now(config, parse_now(now, config), anyway=anyway, actor=actor)
    print_tick(report, console)
    if any(done.outcome != "done" for done in report.performed):
        sys.exit(1)


@cli.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """The editorial week on the bundled examples, in one go (`make run`): import the
    example subscribers, create the example editor, tick at the draft slot of the week
    after the examples (Mon 30 Nov 2026), approve as the editor, tick at the send slot.
    Each step is the command shown above it; run again, nothing changes."""
    from rich.markup import escape

    from subscribers.cli import import_

    from .demo import (
        EXAMPLE_EDITOR,
        EXAMPLE_SUBSCRIBERS,
        demo_week,
        local_now,
        notice_files,
        offline,
        shown_path,
        week_summary,
    )
    from .week import tick as run_tick
    from .week_report import tick_lines

    state = ctx.find_object(State)
    assert state is not None
    config = offline(state.config)
    _warn_deprecated(config)
    if config is not state.config:
        console.print(escape("The demo checks no link at draft time ([checks] at_draft): "
                             "it runs on this machine only."), highlight=False, soft_wrap=True)
    timeline, tz = config.timeline, config.newsletter.tz
    week = demo_week(timeline)
    csv = config.resolve(EXAMPLE_SUBSCRIBERS)
    if not csv.is_file():
        raise click.UsageError(f"the demo runs the bundled examples: {csv} is missing")
    if config.delivery.backend != "outbox":  # never mail the examples' people for real
        raise click.UsageError("the demo writes its email to the outbox only: run it with "
                               "[delivery] backend = \"outbox\" (the bundled config.toml)")
    if not config.store_url.startswith("sqlite:"):  # a shared database: a real newsletter's
        raise click.UsageError("the demo keeps its example week in a SQLite file, not in "
                               f"{config.store.url.split('://')[0]} (a real newsletter's "
                               "store): run it with the bundled config.toml")

    def step(moment: datetime | None, what: str, command: str) -> None:
        """A step's heading (bold on a terminal), then the command it runs under it."""
        at = f"{moment.astimezone(tz):%a %d %b %Y %H:%M %Z}: " if moment else ""
        console.print(f"\n[bold]{at}{what}[/bold]", highlight=False, soft_wrap=True)
        console.print(f"[dim]$ insights {escape(command)}[/dim]", highlight=False,
                      soft_wrap=True)

    def ticked(moment: datetime) -> None:
        """`insights tick --now`, with where each notice to the editors went."""
        before = notice_files(config)
        report = run_tick(config, moment)
        lines = tick_lines(report)
        lines[-1:-1] = [f"  notice ({n.kind}) to {n.to}: {shown_path(path)}"
                        for path, n in notice_files(config).items() if path not in before]
        for line in lines:
            console.print(escape(line), highlight=False, soft_wrap=True)
        if report.failed:
            sys.exit(1)

    list_name = config.lists[0].name
    step(None, "The example subscribers and editor",
         f"subscribers import {EXAMPLE_SUBSCRIBERS} --list {list_name}")
    ctx.invoke(import_, file=csv, list_name=list_name, fmt="auto", confirmed=False)
    console.print(f"[dim]$ insights editors add {EXAMPLE_EDITOR} --no-password[/dim]",
                  highlight=False)
    ctx.invoke(editors_add, email=EXAMPLE_EDITOR, password_stdin=False, no_password=True)

    step(week.draft_at, "the draft slot", f"tick --now {local_now(week.draft_at, timeline)}")
    ticked(week.draft_at)

    step(week.approve_at, f"{EXAMPLE_EDITOR} approves",
         f"approve {week.period} --as {EXAMPLE_EDITOR} "
         f"--now {local_now(week.approve_at, timeline)}")
    with state.store() as store:
        drafted = store.get_issue(week.period) is not None
    if drafted:
        ctx.invoke(approve, issue_id=week.period, approver=EXAMPLE_EDITOR, seen_hash=None,
                   now=local_now(week.approve_at, timeline))
    else:
        console.print(f"No issue {week.period} to approve (the draft step says why).")

    step(week.send_at, "the send slot", f"tick --now {local_now(week.send_at, timeline)}")
    ticked(week.send_at)

    console.print("\n[bold]Where the example week stands[/bold]")
    for line in week_summary(config, week):
        console.print(line, highlight=False, soft_wrap=True)


def _warn_deprecated(config: Config) -> None:
    if config.deprecated:
        from rich.markup import escape

        err_console.print(f"[yellow]{escape(config.deprecated)}[/yellow]",
                          soft_wrap=True)


@cli.command()
@click.argument("issue_id")
@click.option("--as", "--by", "approver", default="cli", show_default=True,
              help="Who approves (an editor's address): recorded with the approval and "
                   "in the audit log.")
@click.option("--content", "seen_hash", metavar="HASH",
              help="The content hash you reviewed (12 characters or more, as /admin shows "
                   "it): refused if the issue changed since.")
@click.option("--now", help="Approve as at this moment (ISO; newsletter time zone if no "
                            "offset), as `insights tick --now` replays a week.")
@pass_state
def approve(state: State, issue_id: str, approver: str, seen_hash: str | None,
            now: str | None) -> None:
    """Approve a draft issue: the scheduler sends it at its send slot (or at the next
    tick, if the slot passed less than `late_by` ago). What is approved is recorded by
    hash: any later change returns it to draft. An issue already sent, or approved as
    it stands, is left as it is (said in one line)."""
    from .editing import approval_moot, changes_in_words
    from .editing import approve as approve_issue
    from .notices import when
    from .timeline import issue_slot

    config = state.config
    moment = parse_now(now, config)
    with state.store() as store:
        moot = approval_moot(config, store, issue_id)
        if moot:
            console.print(moot, highlight=False, soft_wrap=True)
            return
        changes = changes_in_words(config, store, issue_id)  # since the last approval
        issue = approve_issue(config, store, issue_id, approver, moment,
                              seen_hash=seen_hash)
    console.print(f"Issue {issue_id} approved by {approver} "
                  f"(content {(issue.approved_hash or '')[:12]}).", highlight=False)
    print_changes("Approved with these changes since its last approval:", changes)
    slot, deadline = issue_slot(config.timeline, issue.period_start, issue.send_at)
    tz = config.newsletter.tz
    if moment < slot:
        console.print(f"It goes at its send slot {when(slot, tz)} at the next "
                      "`insights tick`.", highlight=False, soft_wrap=True)
    elif moment <= deadline:
        console.print(f"Its send slot {when(slot, tz)} has passed: it goes at the next "
                      f"`insights tick` (until {when(deadline, tz)}).", highlight=False,
                      soft_wrap=True)
    else:
        console.print(f"It is past its deadline {when(deadline, tz)}: it is not sent "
                      "automatically; send it with \"Send now\" in /admin or `insights "
                      "send`.", highlight=False, soft_wrap=True)
