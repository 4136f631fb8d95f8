"""The pipeline's storage interface: items, source state, issues, variants, send ledger.

Everything above this module talks to `Store`; nothing else writes SQL for these tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from . import db
from .archive import ArchiveMixin
from .checks import ChecksMixin
from .content import ContentMixin
from .editors import EditorsMixin
from .events import EventsMixin
from .issues import IssuesMixin
from .items import ItemsMixin
from .ledger import LedgerMixin
from .records import Batch, SaveResult, SourceState
from .schedule import ScheduleMixin
from .send_totals import ProgressMixin

if TYPE_CHECKING:
    from subscribers.store import Audience

__all__ = ["Batch", "SaveResult", "SourceState", "Store"]


class Store(ItemsMixin, ContentMixin, IssuesMixin, LedgerMixin, ProgressMixin, EventsMixin,
            EditorsMixin, ScheduleMixin, ChecksMixin, ArchiveMixin):
    """The pipeline's storage: one class per domain (items, issues, editors' content,
    ledger, send progress, events, editors, the scheduler's leases and the audit log,
    checks, the public archive), composed here, as in lemon24/reader. Everything above
    talks to Store only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def audience(self) -> Audience:
        """The subscribers kept in this store: the one way the pipeline reaches them."""
        from subscribers.store import Audience  # a leaf that itself uses store.db

        return Audience(self.engine)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = db.make_engine(url)
        if migrate:
            db.upgrade(engine)
        return cls(engine)

    @contextmanager
    def one_writer(self) -> Iterator[Store]:
        """This store through one connection that its threads take turns on, for the
        many small writes of a send. SQLite drops a connection's page cache whenever
        another connection has written, so with a connection per sending thread every
        batch read the ledger's index again from disk; one connection keeps it warm
        (and holds one cache, not one per thread). Other databases: this store."""
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or not db.shareable(self.engine):
            yield self
            return
        engine = db.make_engine(url.render_as_string(hide_password=False), connections=1)
        try:
            yield Store(engine)
        finally:
            engine.dispose()

    def close(self) -> None:
        self.engine.dispose()
