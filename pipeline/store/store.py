"""The pipeline's storage interface: items, source state, issues, variants, send ledger.

Everything above this module talks to `Store`; nothing else writes SQL for these tables.
"""

from __future__ import annotations

from sqlalchemy import Engine

from . import db
from .editors import EditorsMixin
from .events import EventsMixin
from .issues import IssuesMixin
from .items import ItemsMixin
from .ledger import LedgerMixin
from .records import Batch, SaveResult, SourceState

__all__ = ["Batch", "SaveResult", "SourceState", "Store"]


class Store(ItemsMixin, IssuesMixin, LedgerMixin, EventsMixin, EditorsMixin):
    """The pipeline's storage: one class per domain (items, issues, ledger, events,
    editors), composed here, as in lemon24/reader. Everything above talks to Store only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = db.make_engine(url)
        if migrate:
            db.upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()
