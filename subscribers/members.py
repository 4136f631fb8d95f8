"""How many members each list has in each status (list_members), kept running: every
membership written, changed or deleted changes the counts in the same transaction, so
they are never off, whatever instant a process dies at."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import ColumnElement, Connection, func, literal, select

from pipeline.store.bulk import add_to_counts, upserting

from .schema import list_members, memberships

KEY = ("list_name", "status")


def count_new(conn: Connection, list_name: str, statuses: Counter[str]) -> None:
    """Memberships just inserted on `list_name`, by status. Last in the transaction
    where it can be: on PostgreSQL the counts' rows stay locked until the commit."""
    add_to_counts(conn, list_members, KEY, [
        {"list_name": list_name, "status": status, "members": n}
        for status, n in statuses.items() if n])


def _add_counted(conn: Connection, which: ColumnElement[bool], sign: int) -> None:
    """Add (+1) or take away (-1) the memberships `which` selects, counted by the
    statement itself: it writes, so on SQLite it reads inside the transaction."""
    m = memberships.c
    counted = (select(m.list_name, m.status, literal(sign) * func.count())
               .where(which).group_by(m.list_name, m.status))
    statement = upserting(conn, list_members).from_select(
        ["list_name", "status", "members"], counted)
    conn.execute(statement.on_conflict_do_update(
        index_elements=[list_members.c.list_name, list_members.c.status],
        set_={"members": list_members.c.members + statement.excluded.members}))


@contextmanager
def recounting(conn: Connection, which: ColumnElement[bool]) -> Iterator[None]:
    """Around a change (or deletion) of the memberships `which` selects, whatever their
    status: they are taken out of the counts before and counted again after. Their rows
    are locked first (PostgreSQL): a concurrent change of the same person waits, then
    counts what this one left, and locks go memberships, then counts."""
    conn.execute(select(memberships.c.subscriber_id).where(which).with_for_update())
    _add_counted(conn, which, -1)
    yield
    _add_counted(conn, which, +1)
