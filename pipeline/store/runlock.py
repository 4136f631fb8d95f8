"""One weekly run or send at a time per store.

Two `insights run` (or `send`) started together would both gather, compose and create
the week's issue, and the loser would trip over the winner's rows mid-way (a unique
constraint deep in a stage). The second one instead stops at once with one line, before
it writes anything. Held for the whole command: a lock file beside a SQLite database
(flock: released by the kernel however the process ends), a session advisory lock on
PostgreSQL (released when its connection closes)."""

from __future__ import annotations

import fcntl
import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from ..errors import StoreUnavailable
from .db import shareable, store_label

# pg_try_advisory_lock takes a bigint: a fixed key, ours alone in this database.
ADVISORY_KEY = zlib.crc32(b"io-insights weekly run")


def _busy(engine: Engine, holder: str) -> StoreUnavailable:
    return StoreUnavailable(f"the store {store_label(engine)} is in use by another insights "
                            f"run or send{holder}; try again when it has finished")


@contextmanager
def exclusive_run(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        if not shareable(engine):  # an in-memory database: no other process sees it
            yield
            return
        with _lock_file(engine, Path(str(engine.url.database) + ".run-lock")):
            yield
        return
    with engine.connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar():
            raise _busy(engine, "")
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            conn.commit()


@contextmanager
def _lock_file(engine: Engine, path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            raise _busy(engine, f" ({holder})" if holder else "") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{socket.gethostname()}:{os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
