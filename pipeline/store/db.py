"""Engines and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError, StoreUnavailable

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# How long a SQLite connection waits for another process's write before "locked" (read
# for each new connection).
BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str, *, connections: int | None = None) -> Engine:
    """An engine for `url`; SQLite files get their folder created and safe pragmas.
    `connections` caps the pool (its threads then take turns)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        # orjson: JSON columns (subscriber attributes) are read and written per person,
        # a million times in a large send; the stdlib json is several times slower.
        # Its threads queue for the connection, and one may sit in SQLite's busy
        # timeout behind another process's write: wait well beyond that, not the 30 s
        # default (a finish written late is better than a batch left in flight).
        pool = ({"pool_size": connections, "max_overflow": 0, "pool_timeout": 600}
                if connections else {})
        engine = create_engine(url, json_serializer=_json_dumps, json_deserializer=orjson.loads,
                               **pool)
    except (SQLAlchemyError, ImportError) as e:
        raise StoreError(f"cannot open store {url!r}: {e}") from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "handle_error", _unavailable)
    return engine


def store_label(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True).replace("+psycopg", "", 1)


def _unavailable(context: Any) -> None:
    """The one place driver errors that mean "not now" become StoreUnavailable: a lock
    held by another process (SQLite, after its busy timeout), or no connection at all
    (PostgreSQL down, refused, dropped). Every other error is left as it is."""
    error, engine = context.original_exception, context.engine
    name = engine.dialect.name if engine is not None else ""
    label = store_label(engine) if engine is not None else "the store"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if name == "sqlite" and isinstance(error, sqlite3.OperationalError) and (
            "locked" in text or "busy" in text):
        raise StoreUnavailable(f"the store {label} is locked by another process; "
                               "try again") from error
    if context.connection is None or context.is_disconnect:  # while connecting, or dropped
        raise StoreUnavailable(f"the store {label} is unreachable: {text}") from error


def shareable(engine: Engine) -> bool:
    """Whether another connection or process opening this engine's URL reaches the same
    data (an in-memory SQLite database exists only in its own connection)."""
    return engine.url.database not in (None, "", ":memory:")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Pragmas are per connection, so they must run for every new one: WAL lets the web
    # app read while a send writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 16 MB of page cache per connection (default 2 MB); the importer raises its own
    # connection's to 64 MB. Every pooled connection keeps its cache, so a large default
    # would multiply by the number of sending threads.
    cursor.execute("PRAGMA cache_size=-16384")
    # Checkpoint the WAL every ~40 MB instead of every 4 MB: a large import fsyncs the
    # database ten times less often; readers are unaffected.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    try:
        command.upgrade(_alembic_config(engine), revision)
    except SQLAlchemyError as e:
        raise StoreError(f"migration failed on {engine.url!r}: {e}") from e


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
