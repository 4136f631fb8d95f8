"""`insights subscribers ...`: import and inspect the audience."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console

from .csvimport import read_generic_csv
from .store import Audience

console = Console()


@click.group()
def subscribers() -> None:
    """Import and inspect subscribers."""


def _open(ctx: click.Context):  # -> (Config, Store); ctx.obj is pipeline.cli.State
    from pipeline.store.store import Store

    config = ctx.obj.config
    return config, Store.open(config.store_url)


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--list", "list_name", required=True,
              help="The list (from [[lists]]) to add them to.")
@click.pass_context
def import_(ctx: click.Context, file: Path, list_name: str) -> None:
    """Import subscribers from a CSV file (email, name and attribute columns).

    Idempotent: importing the same file again changes nothing. Nobody who unsubscribed
    or is suppressed is ever resubscribed. Invalid rows are listed with their line
    number; the valid rows still import.
    """
    config, store = _open(ctx)
    try:
        list_def = config.list_def(list_name)
        status = "unconfirmed" if list_def.double_opt_in else "confirmed"
        summary = Audience(store.engine).import_rows(
            read_generic_csv(file), list_name, status=status,
            source=f"import:{file.name}", now=datetime.now(UTC))
    finally:
        store.close()
    for line, reason in summary.errors[:50]:
        click.echo(f"{file}:{line}: {reason}", err=True)
    if len(summary.errors) > 50:
        click.echo(f"... and {len(summary.errors) - 50} more invalid rows", err=True)
    console.print(f"Imported {file} into list {list_name!r}: {summary.line()}")


@subscribers.command("count")
@click.option("--list", "list_name", help="Only this list.")
@click.pass_context
def count(ctx: click.Context, list_name: str | None) -> None:
    """Print how many confirmed subscribers there are (on a list, or on any)."""
    _config, store = _open(ctx)
    try:
        console.print(str(Audience(store.engine).count(list_name)))
    finally:
        store.close()
