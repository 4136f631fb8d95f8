"""Fast many-row statements for both backends.

SQLAlchemy's executemany processes every bound value of every row through its type
(timestamps, JSON) and builds a parameter dict per row, and an IN list of thousands of
values is rendered parameter by parameter: at a million subscribers that overhead is
most of an import. Here statements are compiled once, per-row values go through their
column's bind processor directly, constants are processed once, and the driver's own
executemany does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, CursorResult, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import StoreError


def new_id(result: CursorResult[Any]) -> int:
    """The id of the one row an INSERT made (SQLAlchemy types it optional: an INSERT of
    no rows, or of many, has none)."""
    key = result.inserted_primary_key
    if key is None:
        raise StoreError("the database returned no id for the inserted row")
    return int(key[0])


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                **constants: Any) -> None:
    if not rows:
        return
    columns = list(rows[0].keys())
    getter = itemgetter(*columns)
    values = ([(getter(row),) for row in rows] if len(columns) == 1
              else [getter(row) for row in rows])
    keys, params = _bound(conn, table, columns, values, constants)
    conn.exec_driver_sql(f"{_insert_into(conn, table, keys)} "
                         f"VALUES ({', '.join([_marker(conn)] * len(keys))})", params)


def insert_new(conn: Connection, table: Table, columns: Sequence[str],
               rows: Sequence[tuple[Any, ...]], **constants: Any) -> int:
    """Insert the rows (values for `columns`, then the constants) whose unique key is not
    stored yet, nor earlier in `rows`, in one statement; how many were inserted.
    Deciding what is new and writing it are one step, so two writers cannot both think
    a row theirs.

    One statement with no rows coming back, because SQLite's driver lets other threads
    run at every row it steps through: a thousand GIL hand-overs per batch in a
    threaded send cost more than the insert itself."""
    if not rows:
        return 0
    keys, params = _bound(conn, table, columns, rows, constants)
    one = f"({', '.join([_marker(conn)] * len(keys))})"
    sql = (f"{_insert_into(conn, table, keys)} VALUES {', '.join([one] * len(rows))} "
           "ON CONFLICT DO NOTHING")
    return conn.exec_driver_sql(sql, tuple(chain.from_iterable(params))).rowcount


def _marker(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _insert_into(conn: Connection, table: Table, keys: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)})"


def _bound(conn: Connection, table: Table, columns: Sequence[str],
           rows: Sequence[tuple[Any, ...]], constants: Mapping[str, Any],
           ) -> tuple[list[str], list[tuple[Any, ...]]]:
    """All column names (`columns`, then the constants'), and each row's values then the
    constants, converted by their column's type (the constants once)."""
    dialect = conn.dialect
    keys = [*columns, *constants]
    processors = [table.c[k].type._cached_bind_processor(dialect) for k in keys]
    fixed = tuple((p(v) if p else v) for p, v in zip(processors[len(columns):],
                                                      constants.values(), strict=True))
    convert = [(i, p) for i, p in enumerate(processors[: len(columns)]) if p]
    if not convert:
        return keys, [(*row, *fixed) for row in rows]
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for i, p in convert:
            values[i] = p(values[i])
        params.append((*values, *fixed))
    return keys, params


def select_in(conn: Connection, columns: Sequence[Column[Any]], key: Column[Any],
              values: Sequence[Any], *, where: Mapping[str, Any] | None = None,
              ) -> list[tuple[Any, ...]]:
    """SELECT columns FROM key's table WHERE key IN values [AND column = value ...], for
    thousands of values, with results converted by their column types (JSON decoded...)."""
    if not values:
        return []
    dialect = conn.dialect
    marker = _marker(conn)
    table = key.table
    names = ", ".join(f"{table.name}.{c.name}" for c in columns)
    extra = "".join(f" AND {table.name}.{name} = {marker}" for name in (where or {}))
    sql = (f"SELECT {names} FROM {table.name} WHERE {table.name}.{key.name} "
           f"IN ({', '.join([marker] * len(values))}){extra}")
    converters = [c.type._cached_result_processor(dialect, None) for c in columns]
    rows = conn.exec_driver_sql(sql, (*values, *(where or {}).values())).all()
    if not any(converters):
        return [tuple(r) for r in rows]
    return [tuple(conv(v) if conv else v for conv, v in zip(converters, r, strict=True))
            for r in rows]


def insert_ignoring_duplicates(conn: Connection, key: Column[Any]) -> Insert:
    """INSERT into key's table that skips rows whose key is already stored, atomically:
    the same event or suppression may arrive twice at the same moment."""
    return upserting(conn, key.table).on_conflict_do_nothing(index_elements=[key])


def add_to_counts(conn: Connection, table: Table, keys: Sequence[str],
                  rows: Sequence[Mapping[str, Any]]) -> None:
    """Add each row's other columns to the stored row with its `keys` (primary key),
    inserting it the first time, in one statement: a running count kept in the same
    transaction as what it counts. Rows go in key order, so two transactions adding to
    the same counts on PostgreSQL wait for each other instead of deadlocking."""
    if not rows:
        return
    statement = upserting(conn, table)
    added = [c for c in rows[0] if c not in keys]
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: table.c[c] + statement.excluded[c] for c in added})
    conn.execute(statement, sorted(rows, key=itemgetter(*keys)))


def upserting(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT into `table` with the backend's ON CONFLICT clauses."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"insert ... on conflict is not supported on {dialect}")
