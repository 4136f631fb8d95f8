"""The running counts the admin reads (mail events per issue), on SQLite and PostgreSQL:
always what counting the stored rows again gives."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import text

from pipeline.store import db
from pipeline.store.events import MailEvent, insert_events
from pipeline.store.store import Store

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
ISSUE, OTHER = "2026-W48", "2026-W49"


def person(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def mail(event_id: str, event: str, who: str, issue: str | None = ISSUE,
         segment: str | None = "trainees") -> MailEvent:
    return MailEvent(event_id, event, issue, segment, person(who), NOW)


def recount(engine, issue_id: str) -> dict[str, dict[str, int]]:
    """The counts from the stored events themselves (what the admin counted per view)."""
    counts: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for segment, event, n, people in conn.execute(text(
                "SELECT segment, event, COUNT(*), COUNT(DISTINCT email_hash) FROM mail_events "
                "WHERE issue_id = :i GROUP BY segment, event"), {"i": issue_id}):
            of_segment = counts.setdefault(segment or "", {})
            of_segment[event] = n
            if event in ("open", "click"):
                of_segment[f"{event}_unique"] = people
    return counts


def test_event_counts_equal_a_recount_after_duplicates_repeats_and_two_issues(store_url):
    store = Store.open(store_url)
    try:
        first = [
            mail("d1", "delivered", "ann"), mail("d2", "delivered", "bob"),
            mail("o1", "open", "ann"), mail("o2", "open", "ann"),  # twice in one request
            mail("o1", "open", "ann"),                               # the same event again
            mail("c1", "click", "ann"),
            mail("o3", "open", "cy", segment="nurses"),
            mail("o4", "open", "ann", issue=OTHER),                  # another issue
            mail("x1", "open", "dee", segment=None),                 # no segment
            mail("t1", "delivered", "eve", issue=None),              # of no issue
        ]
        assert store.record_events(first, NOW) == 9
        # SendGrid's retry of the whole request, and later opens by the same people.
        assert store.record_events(first, NOW) == 0
        later = [mail("o5", "open", "ann"), mail("o6", "open", "bob"),
                 mail("o3", "open", "cy", segment="nurses"), mail("c2", "click", "ann"),
                 mail("o7", "open", "ann", issue=OTHER), mail("x2", "open", "dee", segment=None)]
        assert store.record_events(later, NOW) == 5
        assert store.event_counts(ISSUE) == {
            "trainees": {"delivered": 2, "open": 4, "open_unique": 2, "click": 2,
                         "click_unique": 1},
            "nurses": {"open": 1, "open_unique": 1},
            "": {"open": 2, "open_unique": 1},
        }
        for issue in (ISSUE, OTHER):
            assert store.event_counts(issue) == recount(store.engine, issue)
        assert store.event_counts(OTHER) == {"trainees": {"open": 2, "open_unique": 1}}
        assert store.event_counts("2026-W50") == {}
    finally:
        store.close()


def test_two_requests_with_a_persons_first_open_count_them_once(store_url):
    """SendGrid posts batches in parallel: a person's first open may come in two at the
    same moment. The second waits for the first's counts and sees its open."""
    store = Store.open(store_url)
    try:
        with store.engine.begin() as conn:
            assert insert_events(conn, [mail("a", "open", "ann")], NOW) == 1
            other = threading.Thread(target=store.record_events,
                                     args=([mail("b", "open", "ann")], NOW))
            other.start()
            time.sleep(0.5)  # the other request is now waiting for this transaction
        other.join(timeout=20)
        assert store.event_counts(ISSUE) == {"trainees": {"open": 2, "open_unique": 1}}
        assert store.event_counts(ISSUE) == recount(store.engine, ISSUE)
    finally:
        store.close()


def test_the_migration_counts_the_events_stored_before_it(store_url):
    engine = db.make_engine(store_url)
    db.upgrade(engine, "0010")
    stored = [("e1", "delivered", "ann", "trainees"), ("e2", "open", "ann", "trainees"),
              ("e3", "open", "ann", "trainees"), ("e4", "open", "bob", "trainees"),
              ("e5", "click", "bob", None), ("e6", "bounce", "cy", "nurses")]
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO mail_events (event_id, event, issue_id, segment, email_hash, at, "
            "received_at) VALUES (:id, :event, :issue, :segment, :hash, :at, :at)"),
            [{"id": i, "event": e, "issue": ISSUE, "segment": s, "hash": person(who),
              "at": NOW.replace(tzinfo=None)} for i, e, who, s in stored]
            + [{"id": "n1", "event": "open", "issue": None, "segment": None,
                "hash": person("ann"), "at": NOW.replace(tzinfo=None)}])
    engine.dispose()
    store = Store.open(store_url)  # migrates to head
    try:
        assert store.event_counts(ISSUE) == {
            "trainees": {"delivered": 1, "open": 3, "open_unique": 2},
            "": {"click": 1, "click_unique": 1}, "nurses": {"bounce": 1}}
        # After it, new events add to what it counted: ann opened before, dee did not.
        store.record_events([mail("e7", "open", "ann"), mail("e8", "open", "dee"),
                             mail("e9", "click", "bob", segment=None)], NOW)
        assert store.event_counts(ISSUE) == recount(store.engine, ISSUE)
        assert store.event_counts(ISSUE)["trainees"]["open_unique"] == 3
    finally:
        store.close()
