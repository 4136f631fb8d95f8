"""The running counts the admin reads (mail events per issue, send progress), on SQLite
and PostgreSQL: always what counting the stored rows again gives, also after a crash."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from pipeline.models import Recipient
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


def test_a_crash_between_storing_and_counting_events_leaves_neither(store_url, monkeypatch):
    """Killed mid-request, the transaction is rolled back: SendGrid's retry then stores
    and counts the events once."""
    from pipeline.store import events

    store = Store.open(store_url)
    try:
        batch = [mail("d1", "delivered", "ann"), mail("o1", "open", "ann")]

        def killed(conn, new):
            raise RuntimeError("killed")

        with monkeypatch.context() as m:
            m.setattr(events, "_count", killed)
            with pytest.raises(RuntimeError):
                store.record_events(batch, NOW)
        assert store.event_counts(ISSUE) == recount(store.engine, ISSUE) == {}
        assert store.record_events(batch, NOW) == 2
        assert store.event_counts(ISSUE) == recount(store.engine, ISSUE) == {
            "trainees": {"delivered": 1, "open": 1, "open_unique": 1}}
    finally:
        store.close()


# -- send progress --------------------------------------------------------------------------

@contextmanager
def killed_before_the_recount(monkeypatch, module, recounting) -> Iterator[None]:
    """Within: `module`'s changes die after their write and before their recount, as a
    killed process would (its transaction is rolled back)."""
    @contextmanager
    def killed(conn, which):
        with recounting(conn, which):
            yield
            raise RuntimeError("killed")

    with monkeypatch.context() as m, pytest.raises(RuntimeError, match="killed"):
        m.setattr(module, "recounting", killed)
        yield


def progress_recount(engine, issue_id: str) -> dict[str, dict[str, int]]:
    """Every recipient's outcome counted from the ledger's rows (a queued recipient of an
    accepted batch was sent with it)."""
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for segment, state, n in conn.execute(text(
                "SELECT b.segment, CASE WHEN r.state = 'queued' AND b.state = 'accepted' "
                "THEN 'sent' ELSE r.state END AS outcome, COUNT(*) FROM send_recipients r "
                "JOIN send_batches b ON b.id = r.batch_id WHERE b.issue_id = :i "
                "GROUP BY b.segment, outcome"), {"i": issue_id}):
            out.setdefault(segment, {})[state] = n
    return out


def people(first: int, n: int, segment: str = "general") -> list[Recipient]:
    return [Recipient(i, f"p{i}@example.org", "P", segment) for i in range(first, first + n)]


def test_send_progress_equals_a_recount_through_every_change_of_the_ledger(store_url):
    store = Store.open(store_url)
    steps: list[str] = []

    def check(step: str) -> None:
        steps.append(step)
        assert store.send_progress(ISSUE) == progress_recount(store.engine, ISSUE), steps
        assert store.send_progress_of([ISSUE, OTHER]) == {
            issue: progress for issue, progress in (
                (ISSUE, progress_recount(store.engine, ISSUE)),
                (OTHER, progress_recount(store.engine, OTHER))) if progress}, steps

    try:
        for issue in (ISSUE, OTHER):
            store.create_issue(issue, NOW, NOW, {}, frozenset(), NOW)
        a, _ = store.record_batch(ISSUE, "general", people(0, 3), NOW)
        b, _ = store.record_batch(ISSUE, "nurses", people(10, 2, "nurses"), NOW)
        store.record_batch(OTHER, "general", people(0, 4), NOW)
        check("recorded")
        assert store.record_batch(ISSUE, "general", people(0, 3), NOW) is None  # all known
        resized, fresh = store.record_batch(ISSUE, "general", people(2, 3), NOW)
        assert resized.size == len(fresh) == 2
        check("a resumed send recorded two of three")
        store.set_recipients_state(a.id, "skipped", subscriber_ids=[1], note="left")
        assert store.claim_batch(a.id, NOW)
        assert store.finish_batch(a.id, NOW, "msg-a") == "accepted"
        check("accepted with one skipped")
        assert store.claim_batch(b.id, NOW)
        store.hold_batch(b.id, "no answer")
        check("held")
        store.set_batch_state(b.id, "pending", NOW)
        assert store.claim_batch(b.id, NOW)
        store.set_recipient(b.id, 10, "sent", None)  # a per-recipient backend
        check("one sent one by one")
        store.set_recipient(b.id, 11, "unknown", None)
        assert store.finish_batch(b.id, NOW, None) == "unknown"
        store.move_recipients(b.id, "sent", ("unknown",))
        assert store.finish_batch(b.id, NOW, None) == "accepted"
        check("resolved, then accepted")
        big, _ = store.record_batch(ISSUE, "general", people(20, 5), NOW)
        assert store.claim_batch(big.id, NOW)
        halves = store.split_batch(big, NOW)
        check("split")
        assert store.claim_batch(halves[0].id, NOW)
        assert store.finish_batch(halves[0].id, NOW, "msg-h") == "accepted"
        store.set_batch_state(halves[1].id, "failed", NOW, error="400")
        check("one half accepted, one refused")
        store.set_batch_state(a.id, "unknown", NOW)  # out of 'accepted' again, by hand
        check("an accepted batch held by hand")
        store.record_batch(ISSUE, "general", people(30, 2), NOW)
        assert store.cancel_unsent(ISSUE, NOW) == 4  # the resumed two and these two
        assert store.record_cancelled(ISSUE, "nurses", people(40, 3, "nurses"), NOW) == 3
        check("cancelled")
        # general: p0, p2 queued again in the batch held by hand, p1 skipped; p3, p4
        # and p30, p31 cancelled; p20, p21 sent in the accepted half, p22-24 in the
        # refused one, queued (for --retry-failed).
        assert store.send_progress(ISSUE) == {
            "general": {"skipped": 1, "queued": 5, "sent": 2, "cancelled": 4},
            "nurses": {"sent": 2, "cancelled": 3}}
    finally:
        store.close()


def test_a_crash_in_a_change_of_a_batch_changes_neither_it_nor_the_totals(store_url,
                                                                          monkeypatch):
    from pipeline.store import ledger, send_totals

    store = Store.open(store_url)
    try:
        store.create_issue(ISSUE, NOW, NOW, {}, frozenset(), NOW)
        batch, _ = store.record_batch(ISSUE, "general", people(0, 3), NOW)
        assert store.claim_batch(batch.id, NOW)

        with killed_before_the_recount(monkeypatch, ledger, send_totals.recounting):
            store.finish_batch(batch.id, NOW, "msg")
        assert [b.state for b in store.batches(ISSUE)] == ["in_flight"]
        assert store.send_progress(ISSUE) == progress_recount(store.engine, ISSUE) == {
            "general": {"queued": 3}}
        assert store.finish_batch(batch.id, NOW, "msg") == "accepted"  # the resumed send
        assert store.send_progress(ISSUE) == {"general": {"sent": 3}}
    finally:
        store.close()


def test_the_migration_totals_the_batches_recorded_before_it(store_url):
    from alembic import command

    store = Store.open(store_url)
    try:
        store.create_issue(ISSUE, NOW, NOW, {}, frozenset(), NOW)
        sent, _ = store.record_batch(ISSUE, "general", people(0, 4), NOW)
        store.set_recipients_state(sent.id, "skipped", subscriber_ids=[0])
        store.finish_batch(sent.id, NOW, "msg")
        big, _ = store.record_batch(ISSUE, "nurses", people(10, 4, "nurses"), NOW)
        store.split_batch(big, NOW)
        expected = progress_recount(store.engine, ISSUE)
        assert expected == {"general": {"sent": 3, "skipped": 1}, "nurses": {"queued": 4}}
        command.downgrade(db._alembic_config(store.engine), "0010")
        db.upgrade(store.engine)
        assert store.send_progress(ISSUE) == expected
    finally:
        store.close()


# -- members per list -----------------------------------------------------------------------

LISTS, STATUSES = ("members", "other"), ("confirmed", "unconfirmed", "unsubscribed")


def assert_members_recounted(audience) -> None:
    with audience.engine.connect() as conn:
        stored = {(name, status): n for name, status, n in conn.execute(text(
            "SELECT list_name, status, COUNT(*) FROM memberships GROUP BY list_name, status"))}
    assert {(name, status): audience.count(name, status)
            for name in LISTS for status in STATUSES} == {
        (name, status): stored.get((name, status), 0) for name in LISTS for status in STATUSES}


def test_each_lists_count_equals_a_recount_through_every_change_of_consent(store_url):
    from subscribers.formats import Row

    store = Store.open(store_url)
    audience = store.audience()
    try:
        def row(i: int, status: str | None = None) -> Row:
            return Row(i + 2, f"p{i}@example.org", f"P{i}", {}, status)

        audience.import_rows([row(i) for i in range(5)] + [row(5, "unsubscribed")],
                             "members", status="confirmed", source="t", now=NOW)
        assert audience.count("members") == 5
        later = NOW.replace(hour=15)  # another import: its people are not this one's
        audience.import_rows([row(0), row(1)], "other", status="confirmed", source="t",
                             now=later)
        assert audience.count("other") == 2
        audience.import_rows([row(2, "unsubscribed")], "members", status="confirmed",
                             source="t", now=NOW)
        assert_members_recounted(audience)
        audience.add("p6@example.org", "members", status="unconfirmed", source="t", now=NOW)
        audience.add("p0@example.org", "members", status="confirmed", source="t", now=NOW)
        assert audience.sign_up("p7@example.org", "other", source="t", now=NOW) == "confirm"
        assert_members_recounted(audience)
        assert audience.confirm("p6@example.org", "members", source="t", now=NOW)
        assert audience.confirm("p2@example.org", "members", source="t", now=NOW)
        assert_members_recounted(audience)
        audience.unsubscribe("p0@example.org", "members", source="t", now=NOW)
        audience.unsubscribe("p1@example.org", None, source="t", now=NOW)
        audience.unsubscribe("p1@example.org", None, source="t", now=NOW)  # twice: no change
        assert_members_recounted(audience)
        audience.suppress("p3@example.org", "unsubscribed", "by hand", NOW)
        assert audience.sign_up("p3@example.org", "members", source="t", now=NOW) == "confirm"
        assert audience.forget("p4@example.org", NOW)
        assert_members_recounted(audience)
        # p0 left, p1 left everything, p3 must confirm again, p4 is erased; p2 and p6
        # confirmed themselves.
        assert audience.count("members") == 2 and audience.count("other") == 1
    finally:
        store.close()


def test_a_crash_in_a_change_of_consent_changes_neither_it_nor_the_counts(store_url,
                                                                         monkeypatch):
    from subscribers import members
    from subscribers import store as audience_store

    store = Store.open(store_url)
    audience = store.audience()
    try:
        audience.add("ann@example.org", "members", status="confirmed", source="t", now=NOW)

        with killed_before_the_recount(monkeypatch, audience_store, members.recounting):
            audience.unsubscribe("ann@example.org", "members", source="t", now=NOW)
        assert audience.get("ann@example.org").lists == {"members": "confirmed"}
        assert_members_recounted(audience)
        assert audience.count("members") == 1
    finally:
        store.close()


def test_the_migration_counts_the_members_stored_before_it(store_url):
    from alembic import command

    store = Store.open(store_url)
    audience = store.audience()
    try:
        for i, status in enumerate(["confirmed", "confirmed", "unconfirmed"]):
            audience.add(f"p{i}@example.org", "members", status=status, source="t", now=NOW)
        audience.unsubscribe("p1@example.org", "members", source="t", now=NOW)
        command.downgrade(db._alembic_config(store.engine), "0010")
        db.upgrade(store.engine)
        assert_members_recounted(audience)
        assert audience.count("members") == 1
    finally:
        store.close()
