"""`insights subscribers ...` and `insights segments`: the audience from the shell.

Thin: each command opens the store, calls Audience and prints.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from pipeline.errors import AudienceError

from .formats import EXPORT_COLUMNS, FORMATS, export_row
from .model import LIST_ATTRIBUTES
from .store import Audience

if TYPE_CHECKING:  # for types only: the commands get both from pipeline.cli's State (ctx.obj)
    from pipeline.config import Config
    from pipeline.store.store import Store

console = Console()


@contextmanager
def opened(ctx: click.Context) -> Iterator[tuple[Config, Audience]]:
    """(config, Audience) for the command; ctx.obj is pipeline.cli.State."""
    with opened_store(ctx) as (config, store):
        yield config, store.audience()


@contextmanager
def opened_store(ctx: click.Context) -> Iterator[tuple[Config, Store]]:
    with ctx.obj.store() as store:
        yield ctx.obj.config, store


def _now() -> datetime:
    return datetime.now(UTC)


@click.group()
def subscribers() -> None:
    """Import, export, add, inspect and remove subscribers."""


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--list", "list_name", required=True, help="The list (from [[lists]]) to fill.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="File format; auto tells them apart by the header.")
@click.option("--confirmed", is_flag=True,
              help="For a double opt-in list: these people already confirmed elsewhere.")
@click.pass_context
def import_(ctx: click.Context, file: Path, list_name: str, fmt: str, confirmed: bool) -> None:
    """Import subscribers from a generic CSV (email, name, attribute columns), a
    Mailchimp audience export or a listmonk export.

    Idempotent: importing the same file again changes nothing. Nobody who unsubscribed
    or is suppressed is ever resubscribed. Invalid rows are listed with their line
    number; the valid rows still import.
    """
    with opened(ctx) as (config, audience):
        list_def = config.list_def(list_name)
        status = "unconfirmed" if list_def.double_opt_in and not confirmed else "confirmed"
        detected, summary = audience.import_file(file, fmt, list_name, status=status,
                                                 now=_now())
    for line, reason in summary.errors[:100]:
        click.echo(f"{file}:{line}: invalid: {reason}", err=True)
    for line, reason in summary.notes[:100]:
        click.echo(f"{file}:{line}: skipped: {reason}", err=True)
    hidden = max(0, len(summary.errors) - 100) + max(0, len(summary.notes) - 100)
    if hidden:
        click.echo(f"... and {hidden} more lines like these", err=True)
    click.echo(f"Imported {file.name} ({detected}) into {list_name!r}: {summary.line()}")
    for reason, n in sorted(summary.skip_reasons.items()):
        click.echo(f"  skipped {n}: {reason}")


@subscribers.command("export")
@click.option("--list", "list_name", help="Only members of this list (with their status).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of standard output.")
@click.pass_context
def export(ctx: click.Context, list_name: str | None, fmt: str, out: Path | None) -> None:
    """Export subscribers as CSV (re-importable: export then import changes nothing)
    or as JSON lines."""
    with opened(ctx) as (config, audience):
        if list_name:
            config.list_def(list_name)
        try:
            stream = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
        except OSError as e:
            raise AudienceError(f"cannot write {out}: {e.strerror}") from None
        try:
            n = write_export(audience, list_name, fmt, stream)
        finally:
            if out:
                stream.close()
    if out:
        click.echo(f"Exported {n} subscribers to {out}", err=True)


def write_export(audience: Audience, list_name: str | None, fmt: str, stream: Any) -> int:
    """CSV: cells a spreadsheet would run as formulas are neutralised (a leading "'",
    which import removes again), and CRLF ends each row, so a CR inside a value is
    quoted; `formats.export_row` says what goes in which column. Or JSON lines."""
    n = 0
    if fmt == "json":
        for person in audience.export(list_name):
            stream.write(json.dumps(person, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
        return n
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for person in audience.export(list_name):
        writer.writerow(export_row(
            person["email"], person["name"], person["attributes"],
            status=person["lists"].get(list_name, "") if list_name else "",
            lists=";".join(f"{k}={v}" for k, v in sorted(person["lists"].items()))))
        n += 1
    return n


@subscribers.command("add")
@click.argument("email")
@click.option("--list", "list_name", required=True, help="The list to subscribe to.")
@click.option("--name", default="", help="Full name.")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE",
              help="An attribute (repeatable), e.g. --attr role=fellow --attr interests=liver;lung")
@click.pass_context
def add(ctx: click.Context, email: str, list_name: str, name: str, attrs: tuple[str, ...]) -> None:
    """Subscribe one person. On a double opt-in list they stay unconfirmed and get a
    confirmation email (through the configured delivery backend) until they click it."""
    from pipeline.deliver.backends import make_backend
    from pipeline.signup import mail_confirmation, sign_up

    from .formats import split_values
    from .tokens import Tokens, secret_key

    attributes: dict[str, Any] = {}
    for item in attrs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--attr")
        key = key.strip().lower()
        attributes[key] = split_values(value) if key in LIST_ATTRIBUTES else value.strip()
    with opened(ctx) as (config, audience):
        tokens = Tokens(secret_key(required=config.list_def(list_name).double_opt_in))
        now = _now()

        def send_now(address: str, to_list: str) -> str:
            return mail_confirmation(config, tokens, make_backend(config, now), address,
                                     to_list, now)

        done = sign_up(audience, config, email, list_name, by="operator",
                       send_confirmation=send_now, source="cli", now=now, name=name,
                       attributes=attributes)
    if done.outcome == "refused":
        click.echo(f"{done.email} unsubscribed or is suppressed (bounce, complaint or "
                   "erasure): not subscribed again.")
    elif done.outcome == "already":
        click.echo(f"{done.email} is already on {list_name!r} ({done.status}).")
    elif done.outcome == "confirming":
        click.echo(f"{done.email} added to {list_name!r} as unconfirmed; "
                   f"confirmation email sent ({done.sent}).")
    else:
        click.echo(f"{done.email} added to {list_name!r}.")


@subscribers.command("confirm")
@click.argument("token")
@click.pass_context
def confirm(ctx: click.Context, token: str) -> None:
    """Confirm a double opt-in subscription from the token in a confirmation link."""
    from .tokens import CONFIRM_MAX_AGE, Tokens, secret_key

    payload = Tokens(secret_key(required=True)).read("confirm", token, max_age=CONFIRM_MAX_AGE)
    with opened(ctx) as (_config, audience):
        changed = audience.confirm(payload["e"], payload["l"], source="cli:confirm", now=_now())
    click.echo(f"{payload['e']} {'confirmed' if changed else 'was already confirmed'} "
               f"on {payload['l']!r}.")


@subscribers.command("unsubscribe")
@click.argument("email")
@click.option("--list", "list_name", help="Only this list; without it, from everything.")
@click.pass_context
def unsubscribe(ctx: click.Context, email: str, list_name: str | None) -> None:
    """Unsubscribe someone from one list, or from everything (which also suppresses)."""
    with opened(ctx) as (_config, audience):
        audience.unsubscribe(email, list_name, source="cli", now=_now())
    click.echo(f"{email} unsubscribed from {list_name or 'everything'}.")


@subscribers.command("suppress")
@click.argument("email")
@click.option("--reason", type=click.Choice(["manual", "bounce", "complaint"]),
              default="manual", show_default=True)
@click.option("--note", default="", help="Why, for the record.")
@click.pass_context
def suppress(ctx: click.Context, email: str, reason: str, note: str) -> None:
    """Add an address to the global suppression list: no send will ever include it."""
    with opened(ctx) as (_config, audience):
        audience.suppress(email, reason, note or "cli", _now())
    click.echo(f"{email} suppressed ({reason}).")


@subscribers.command("show")
@click.argument("email")
@click.pass_context
def show(ctx: click.Context, email: str) -> None:
    """Print everything stored about a person (for a subject-access request)."""
    from .model import email_key

    with opened_store(ctx) as (_config, store):
        data = store.audience().show(email)
        data["sends"] = store.sends_to(email_key(email))
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@subscribers.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def forget(ctx: click.Context, email: str, yes: bool) -> None:
    """Erase a person's data (right to erasure), keeping only a hashed suppression
    entry so they are never mailed again."""
    if not yes:
        click.confirm(f"Erase everything about {email}?", abort=True)
    from .model import email_hash, email_key

    with opened_store(ctx) as (config, store):
        existed = store.audience().forget(email, _now())
        sends = store.forget_address(email_key(email), email_hash(email))
    click.echo(f"{email}: {'erased' if existed else 'nothing stored'}; "
               f"{sends} send record(s) anonymised; a hashed suppression entry remains.")
    if sends and config.delivery.backend == "outbox":
        click.echo(f"Note: files already written under {config.resolve(config.delivery.outbox_dir)}"
                   " still contain the address; delete them if they are kept.")


@subscribers.command("count")
@click.option("--list", "list_name", help="Only this list.")
@click.pass_context
def count(ctx: click.Context, list_name: str | None) -> None:
    """Print how many confirmed subscribers there are (on a list, or on any)."""
    with opened(ctx) as (config, audience):
        if list_name:
            config.list_def(list_name)  # an unknown list is an error, not zero
        click.echo(str(audience.count(list_name)))


@click.command("segments")
@click.pass_context
def segments(ctx: click.Context) -> None:
    """Show each segment, its rule and how many eligible subscribers it gets now, and
    the overlaps the priority order resolved (people matching several segments)."""
    with opened(ctx) as (config, audience):
        rules = config.segment_rules
        counts: Counter[str] = Counter()
        overlaps: Counter[tuple[str, ...]] = Counter()
        for c in audience.candidates([entry.name for entry in config.lists], rules):
            counts[c.matches[0] if c.matches else config.default_segment or "(nobody)"] += 1
            if len(c.matches) > 1:
                overlaps[c.matches] += 1
    table = Table(title="Segments, in priority order")
    for col in ("segment", "rule", "subscribers"):
        table.add_column(col, justify="right" if col == "subscribers" else "left")
    for seg in config.segments:
        table.add_row(seg.name, json.dumps(seg.where), str(counts[seg.name]))
    if config.default_segment:
        table.add_row(config.default_segment, "(everyone else)",
                      str(counts[config.default_segment]))
    elif counts["(nobody)"]:
        table.add_row("(no segment)", "not sent: default segment is off",
                      str(counts["(nobody)"]))
    console.print(table)
    if overlaps:
        click.echo("Overlaps resolved by priority (matched -> sent):")
        for matched, n in overlaps.most_common():
            click.echo(f"  {n:>6}  {' + '.join(matched)} -> {matched[0]}")
    for seg in config.segments:
        # Rules are free to name any attribute, so a misspelt one is not a config error:
        # it just matches nobody. Say so rather than let its people go elsewhere quietly.
        if seg.where is not None and not counts[seg.name] and not any(
                seg.name in matched for matched in overlaps):
            click.echo(f"Segment {seg.name!r} matches nobody on the lists now: check the "
                       "attribute names and values in its rule.")
