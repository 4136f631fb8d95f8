"""`insights`: the command line. A thin shell: each command loads the config, calls the
library and prints. Library errors become one clear line and an exit code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click
from rich.console import Console

from . import __version__
from .config import Config, load_config
from .errors import ConfigError, InsightsError
from .states import RunStatus

if TYPE_CHECKING:
    from .store.store import Store

console = Console()
err_console = Console(stderr=True)


class State:
    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The store for one command, closed however the command ends."""
        from .store.store import Store

        store = Store.open(self.config.store_url)
        try:
            yield store
        finally:
            store.close()


    @contextmanager
    def exclusive_run(self) -> Iterator[None]:
        """Held around `run` and `send`: a second one at the same time stops at once with
        one line instead of racing the first through the store (see store.runlock)."""
        from .store import db
        from .store.runlock import exclusive_run

        engine = db.make_engine(self.config.store_url)
        try:
            with exclusive_run(engine):
                yield
        finally:
            engine.dispose()


pass_state = click.make_pass_decorator(State)


def print_changes(heading: str, changes: list[str]) -> None:
    """What changed since an approval, in editors' words, one a line. Titles are feed
    text: printed as they are, never read as the console's markup."""
    if changes:
        console.print(heading, highlight=False)
        for change in changes:
            console.print(f"  - {change}", markup=False, highlight=False, soft_wrap=True)


def print_changes_since_approval(state: State, issue_id: str) -> None:
    """After an edit: what now differs from the approved issue (nothing if it never was)."""
    from .editing import changes_in_words

    with state.store() as store:
        changes = changes_in_words(state.config, store, issue_id)
    print_changes("Changed since it was approved (approve it again to send it):", changes)


def parse_now(value: str | None, config: Config) -> datetime:
    """--now: an ISO date-time; without an offset it is read in the newsletter's zone."""
    if not value:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected an ISO date-time like 2026-12-07T08:00, got {value!r}",
                                 param_hint="--now") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=config.newsletter.tz)
    # The timeline looks weeks either side of it: near year 1 or 9999 that overflows.
    if not 1970 <= when.year <= 9000:
        raise click.BadParameter(f"expected a date-time between 1970 and 9000, got {value!r}",
                                 param_hint="--now")
    return when.astimezone(UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="INSIGHTS_CONFIG", default="config.toml",
              show_default=True, type=click.Path(dir_okay=False),
              help="The config file (also INSIGHTS_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.version_option(__version__, prog_name="insights")
@click.pass_context
def cli(ctx: click.Context, config_path: str, verbose: bool) -> None:
    """IO Insights: gather society news, research and events each week, compose an
    issue, render one email variant per segment and deliver it."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Our own progress lines (the scheduler's next run) are INFO; libraries stay quiet.
    for name in ("insights", "pipeline", "subscribers"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    ctx.obj = State(config_path)


@cli.command()
@click.option("--now", help="Pretend it is this moment (ISO; newsletter time zone if no offset).")
@pass_state
def run(state: State, now: str | None) -> None:
    """Run the weekly job once: gather, compose, render, deliver, print the report.

    Safe to repeat: an issue already sent this week is not built or delivered again,
    and an interrupted delivery resumes where it stopped.
    """
    from .job import run_weekly
    from .report import print_report

    config = state.config
    with state.exclusive_run():
        report = run_weekly(config, parse_now(now, config))
    print_report(report, console)
    if report.status == RunStatus.INCOMPLETE:
        sys.exit(1)


@cli.command()
@click.option("--resolve-unknown", type=click.Choice(["resend", "skip"]),
              help="Decide batches whose outcome is unknown (request made, no answer): "
                   "resend them, or count them as delivered.")
@click.option("--batch", "batches", type=int, multiple=True, metavar="N",
              help="With --resolve-unknown: decide only this held batch (repeatable); the "
                   "others stay held.")
@click.option("--retry-failed", is_flag=True,
              help="Send again the batches the provider refused (after fixing the cause).")
@click.option("--early", is_flag=True,
              help="Send an issue whose week has not begun yet (a draft made ahead).")
@click.option("--test-to", help="Comma-separated editor addresses: send each variant with "
                                "[TEST] in the subject; not recorded as the issue's send.")
@click.option("--segment", "segments", multiple=True,
              help="With --test-to: only this segment's variant (repeatable).")
@pass_state
def send(state: State, resolve_unknown: str | None, batches: tuple[int, ...],
         retry_failed: bool, early: bool, test_to: str | None,
         segments: tuple[str, ...]) -> None:
    """Deliver the newest unsent issue, or resume an interrupted delivery: accepted
    batches are never sent again; batches with an unknown outcome wait for your word."""
    from .job import send_current, send_tests
    from .report import print_report

    config = state.config
    now = datetime.now(UTC)
    if test_to:
        from subscribers.model import normalise_email

        try:
            addresses = [normalise_email(a) for a in test_to.split(",") if a.strip()]
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--test-to") from None
        if not addresses:
            raise click.BadParameter("give at least one address", param_hint="--test-to")
        if resolve_unknown or retry_failed:
            raise click.UsageError("--test-to sends tests only; give --resolve-unknown and "
                                   "--retry-failed without it")
        with state.store() as store:
            lines = send_tests(config, store, addresses, now, segments=list(segments) or None)
        for line in lines:
            console.print(f"[TEST] {line}", highlight=False)
        return
    if batches and not resolve_unknown:
        raise click.UsageError("--batch goes with --resolve-unknown resend|skip")
    if segments:
        raise click.UsageError("--segment chooses the variants of a test send: give it with "
                               "--test-to (a real send goes to every segment)")
    with state.exclusive_run():
        report = send_current(config, now, resolve_unknown=resolve_unknown,
                              retry_failed=retry_failed, resolve_batches=batches,
                              early=early)
    print_report(report, console)
    if report.status in (RunStatus.INCOMPLETE, RunStatus.TOO_EARLY):
        sys.exit(1)


@cli.command()
@click.option("--segment", "segments", multiple=True, help="Only this segment (repeatable).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the variants to.")
@click.option("--now", help="Pretend it is this moment (to preview a future period).")
@click.option("--png", is_flag=True,
              help="Also screenshot each variant at 375 and 600 px wide (needs chromium).")
@pass_state
def preview(state: State, segments: tuple[str, ...], out_dir: Path, now: str | None,
            png: bool) -> None:
    """Write the current draft's variants (HTML, text) to a folder and print their paths.

    When this period has no issue yet, one is composed (as a draft, nothing is sent).
    """
    from .preview import write_preview

    config = state.config
    paths = write_preview(config, out_dir, list(segments), parse_now(now, config))
    if png:
        from .screenshots import screenshot

        paths += screenshot([p for p in paths if p.suffix == ".html"])
    for path in paths:
        click.echo(str(path))


@cli.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@pass_state
def db_upgrade(state: State) -> None:
    """Create or migrate the store's tables to the latest schema (idempotent)."""
    from .store import db as store_db

    engine = store_db.make_engine(state.config.store_url)
    store_db.upgrade(engine)
    console.print(f"Schema at revision {store_db.current_revision(engine)} "
                  f"({engine.url.render_as_string(hide_password=True)})")
    engine.dispose()


@cli.command()
@click.argument("issue_id")
@click.option("--file", "note_file", type=click.File("r", encoding="utf-8"),
              help="Read the note (Markdown) from this file ('-' for standard input).")
@click.option("--text", "note_text", help="The note (Markdown) itself.")
@pass_state
def note(state: State, issue_id: str, note_file: TextIO | None, note_text: str | None) -> None:
    """Set the editor's note (Markdown) of a draft issue and re-render its variants.
    An approved issue goes back to draft."""
    from .editing import edit_note
    if note_file is not None and note_text is None:
        text = note_file.read()
    elif note_text is not None and note_file is None:
        text = note_text
    else:
        raise click.UsageError("give the note with exactly one of --file or --text")
    with state.store() as store:
        issue = edit_note(state.config, store, issue_id, text, datetime.now(UTC))
    console.print(f"Note set on {issue_id} (now {issue.status}); "
                  f"{len(state.config.variant_names)} variants re-rendered.")
    print_changes_since_approval(state, issue_id)


@cli.command()
@pass_state
def sources(state: State) -> None:
    """Show each source's health: last success, consecutive failures, last error."""
    from rich.table import Table

    config = state.config
    with state.store() as store:
        known = {s.name: s for s in store.all_source_states()}
    table = Table(title="Sources")
    for col in ("source", "kind", "section", "last success", "failures in a row", "last error"):
        table.add_column(col)
    for source in config.sources:
        st = known.get(source.name)
        last = f"{st.last_success_at:%Y-%m-%d %H:%M} UTC" if st and st.last_success_at else "never"
        failures = st.consecutive_failures if st else 0
        flag = " [bold red]FLAGGED[/]" if failures >= config.gather.flag_after_failures else ""
        table.add_row(source.name + ("" if source.enabled else " (disabled)"), source.kind,
                      source.section, last, f"{failures}{flag}",
                      (st.last_error or "") if st else "not fetched yet")
    console.print(table)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@pass_state
def serve(state: State, host: str, port: int) -> None:
    """Serve the web app: /admin for editors; unsubscribe, preferences, confirmation,
    sign-up and web versions for subscribers; /webhooks/sendgrid for SendGrid events.

    Links in emails use newsletter.base_url: put this behind the HTTPS proxy that
    answers there. Needs INSIGHTS_SECRET_KEY (and INSIGHTS_SENDGRID_WEBHOOK_KEY for
    the event webhook)."""
    import uvicorn

    from .web import create_app

    app = create_app(state.config)
    console.print(f"Serving on http://{host}:{port}/admin (public links: "
                  f"{state.config.newsletter.base_url})")
    # proxy_headers: the client address (login and sign-up rate limits) comes from the
    # proxy's X-Forwarded-For, trusted from loopback only (uvicorn's default). No access
    # log: every unsubscribe and preferences URL carries a subscriber's token.
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info",
                access_log=False)


@cli.group()
def editors() -> None:
    """Editor accounts for the web app's /admin."""


@editors.command("add")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
@click.option("--no-password", is_flag=True,
              help="An account that receives the editors' notices but cannot sign in until "
                   "a password is set (an existing account is left as it is).")
@pass_state
def editors_add(state: State, email: str, password_stdin: bool, no_password: bool) -> None:
    """Create an editor account, or set a new password for an existing one."""
    from .accounts import add_editor, add_editor_without_password
    if no_password:
        if password_stdin:
            raise click.UsageError("--no-password and --password-stdin exclude each other")
        with state.store() as store:
            created = add_editor_without_password(store, email, datetime.now(UTC))
        console.print(f"Editor {email.strip().lower()} " + (
            "created without a password: notices only, no sign-in until one is set."
            if created else "exists: left as it is."), highlight=False, soft_wrap=True)
        return
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with state.store() as store:
        created = add_editor(store, email, password, datetime.now(UTC))
    console.print(f"Editor {email.strip().lower()} "
                  f"{'created' if created else 'has a new password'}.")


@editors.command("list")
@pass_state
def editors_list(state: State) -> None:
    """The editor accounts and when each last signed in."""
    with state.store() as store:
        accounts = store.list_editors()
    if not accounts:
        console.print("No editors yet: `insights editors add EMAIL`.")
    for email, last in accounts:
        console.print(f"{email}\tlast sign-in: "
                      f"{f'{last:%Y-%m-%d %H:%M} UTC' if last else 'never'}")


def _register_subcommands() -> None:
    from subscribers.cli import segments, subscribers

    from .cli_archive import issues, publish
    from .cli_content import issue_headers, items

    cli.add_command(issues)
    cli.add_command(publish)
    cli.add_command(subscribers)
    cli.add_command(segments)
    cli.add_command(items)
    cli.add_command(issue_headers)
    # The editorial week's commands (tick, schedule, status, draft, approve, demo) put
    # themselves on `cli` when their module is imported.
    from . import cli_week  # noqa: F401


_register_subcommands()


def main() -> None:
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("Aborted.")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except ConfigError as e:
        for line in str(e).splitlines():
            click.echo(f"config error: {line}", err=True)
        sys.exit(e.exit_code)
    except InsightsError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)
