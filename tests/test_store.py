"""The store on SQLite and PostgreSQL: migrations, item dedupe, the send ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.models import Item, Recipient
from pipeline.store import db
from pipeline.store.store import Store

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def paper(source, guid, doi=None, title="Microwave ablation for small HCC", link=None):
    return Item(source=source, guid=guid, section="research", title=title, doi=doi,
                link=link or f"https://{source}.example.org/{guid}", published_at=NOW)


def test_migrations_reach_head_and_are_idempotent(store_url):
    engine = db.make_engine(store_url)
    db.upgrade(engine)
    db.upgrade(engine)
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_items_dedupe_by_guid_doi_and_url(store_url):
    store = Store.open(store_url)
    first = store.save_items([paper("pubmed", "pubmed:41", doi="10.5555/a"),
                              paper("news", "n1", link="https://www.example.org/x?utm_source=rss")],
                             NOW)
    assert len(first.new) == 2
    again = store.save_items([
        paper("pubmed", "pubmed:41", doi="10.5555/a"),            # same guid
        paper("journal", "tag:j,2026:1", doi="10.5555/a"),          # same paper elsewhere
        paper("blog", "b1", link="https://example.org/x/"),          # same page, other URL form
        paper("journal", "tag:j,2026:2", doi="10.5555/b"),          # new
    ], NOW)
    assert [i.guid for i in again.new] == ["tag:j,2026:2"] and again.seen == 3
    store.close()


def test_edited_entry_updates_but_is_not_new(store_url):
    store = Store.open(store_url)
    store.save_items([paper("pubmed", "p1", doi="10.5555/c")], NOW)
    edited = paper("pubmed", "p1", doi="10.5555/c", title="Microwave ablation (corrected)")
    result = store.save_items([edited], NOW)
    assert result.new == () and result.seen == 1
    [stored] = store.unissued_items(["research"], NOW.replace(year=2025))
    assert stored.title == "Microwave ablation (corrected)"
    store.close()


def test_ledger_never_records_an_address_twice_per_issue(store_url):
    store = Store.open(store_url)
    store.create_issue("2026-W48", NOW, NOW, {}, frozenset(), NOW)
    people = [Recipient(i, f"p{i}@example.org", "P", "general") for i in range(5)]
    batch, recorded = store.record_batch("2026-W48", "general", people, NOW)
    assert batch.size == 5 and len(recorded) == 5
    # The same people (one in other case) plus one new: only the new one is recorded.
    again = [Recipient(0, "P0@EXAMPLE.ORG", "P", "general"),
             Recipient(9, "p9@example.org", "P", "general"), *people[1:]]
    batch2, recorded2 = store.record_batch("2026-W48", "general", again, NOW)
    assert batch2.size == 1 and [r.email for r in recorded2] == ["p9@example.org"]
    assert batch2.seq == 2
    assert store.record_batch("2026-W48", "general", people, NOW) is None
    store.close()


def test_an_address_twice_in_one_batch_is_recorded_once_first_come(store_url):
    store = Store.open(store_url)
    store.create_issue("2026-W48", NOW, NOW, {}, frozenset(), NOW)
    people = [Recipient(1, "a@example.org", "A", "general"),
              Recipient(2, "A@Example.ORG", "Other", "general"),   # same address, case
              Recipient(3, "b@example.org", "B", "general"),
              Recipient(3, "b@example.org", "B", "general"),       # the same person twice
              Recipient(4, "c@example.org", "C", "general")]
    batch, recorded = store.record_batch("2026-W48", "general", people, NOW)
    assert [(r.subscriber_id, r.email) for r in recorded] == [
        (1, "a@example.org"), (3, "b@example.org"), (4, "c@example.org")]
    assert batch.size == 3
    stored = store.batch_recipients(batch.id)
    assert sorted((r["subscriber_id"], r["email"]) for r in stored) == [
        (1, "a@example.org"), (3, "b@example.org"), (4, "c@example.org")]
    store.close()


def test_recipients_of_an_accepted_batch_count_as_sent_with_their_own_outcomes_kept(
        store_url):
    """A batch-level backend records no outcome per recipient: those still queued in an
    accepted batch are sent. Skipped, unknown and per-recipient outcomes stay theirs."""
    store = Store.open(store_url)
    store.create_issue("2026-W48", NOW, NOW, {}, frozenset(), NOW)
    people = [Recipient(i, f"p{i}@example.org", "P", "general") for i in range(4)]
    batch, _ = store.record_batch("2026-W48", "general", people[:3], NOW)
    waiting, _ = store.record_batch("2026-W48", "general", people[3:], NOW)
    store.set_recipients_state(batch.id, "skipped", subscriber_ids=[1], note="left")
    assert store.delivered_count("2026-W48") == {}
    assert store.send_progress("2026-W48") == {"general": {"queued": 3, "skipped": 1}}
    assert store.finish_batch(batch.id, NOW, "msg-1") == "accepted"
    assert store.delivered_count("2026-W48") == {"general": 2}
    assert store.send_progress("2026-W48") == {
        "general": {"sent": 2, "skipped": 1, "queued": 1}}
    assert [r["state"] for r in store.sends_to("p0@example.org")] == ["sent"]
    assert [r["state"] for r in store.sends_to("p1@example.org")] == ["skipped"]
    assert [r["state"] for r in store.sends_to("p3@example.org")] == ["queued"]
    # A per-recipient backend's outcome of unknown holds its batch back from 'accepted'.
    store.set_recipient(waiting.id, 3, "unknown", None)
    assert store.finish_batch(waiting.id, NOW, None) == "unknown"
    assert store.delivered_count("2026-W48") == {"general": 2}
    store.close()


def test_source_health_counts_consecutive_failures(store_url):
    store = Store.open(store_url)
    for _ in range(3):
        state = store.record_source_result("flaky", NOW, error="HTTP 500")
    assert state.consecutive_failures == 3 and state.last_error == "HTTP 500"
    state = store.record_source_result("flaky", NOW, etag='"v2"')
    assert state.consecutive_failures == 0 and state.last_success_at == NOW and state.etag == '"v2"'
    store.close()


def test_migrations_match_the_declared_schema(store_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import subscribers.schema  # noqa: F401  (declares the audience tables)
    from pipeline.store.schema import metadata

    engine = db.make_engine(store_url)
    db.upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()


def test_migration_0002_fills_email_hash_for_existing_subscribers(store_url):
    from sqlalchemy import text

    from subscribers.model import email_hash

    engine = db.make_engine(store_url)
    db.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO subscribers (email, email_key, name, attributes, "
                          "created_at, updated_at) VALUES ('A@Example.org', 'a@example.org', "
                          "'A', '{}', :t, :t)"), {"t": NOW.replace(tzinfo=None)})
    db.upgrade(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT email_hash FROM subscribers")).scalar() == email_hash(
            "a@example.org")
    engine.dispose()


def test_the_send_lock_is_taken_over_only_from_the_dead_or_a_silent_other_host(store_url):
    import os
    import socket
    import subprocess
    import sys
    from datetime import timedelta

    import pytest

    from pipeline.errors import StoreError

    store = Store.open(store_url)
    store.create_issue("2026-W48", NOW, NOW, {}, frozenset(), NOW)
    here = socket.gethostname()
    later = NOW + timedelta(hours=1)  # far past the heartbeat's staleness
    # A live process on this host keeps the lock however long it has been quiet (a
    # rate-limit wait is not death).
    store.acquire_send_lock("2026-W48", f"{here}:{os.getpid()}", NOW)
    with pytest.raises(StoreError, match="is being sent by"):
        store.acquire_send_lock("2026-W48", f"{here}:1", later)
    # A dead one here loses it at once.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    store.release_send_lock("2026-W48", f"{here}:{os.getpid()}")
    store.acquire_send_lock("2026-W48", f"{here}:{gone}", NOW)
    store.acquire_send_lock("2026-W48", f"{here}:{os.getpid()}", NOW)
    store.release_send_lock("2026-W48", f"{here}:{os.getpid()}")
    # Another host: only its heartbeat tells, so it is taken over once that is stale.
    store.acquire_send_lock("2026-W48", "elsewhere.example:42", NOW)
    with pytest.raises(StoreError, match="is being sent by elsewhere.example:42"):
        store.acquire_send_lock("2026-W48", f"{here}:{os.getpid()}", NOW + timedelta(minutes=5))
    store.acquire_send_lock("2026-W48", f"{here}:{os.getpid()}", later)
    store.close()


@pytest.mark.parametrize("state,may_claim", [
    ("pending", True), ("in_flight", False), ("unknown", False), ("failed", False),
    ("accepted", False), ("split", False)])
def test_a_worker_back_from_a_retry_wait_claims_only_a_pending_batch(store_url, state,
                                                                    may_claim):
    """While one worker waited to retry, another (after a takeover) may have taken the
    batch and sent it, or be holding it as unknown: it is not the first worker's any more."""
    store = Store.open(store_url)
    try:
        store.create_issue("2026-W48", NOW, NOW, {}, frozenset(), NOW)
        people = [Recipient(i, f"p{i}@example.org", "P", "general") for i in range(2)]
        batch, _ = store.record_batch("2026-W48", "general", people, NOW)
        assert store.claim_batch(batch.id, NOW)
        assert store.release_batch(batch.id, NOW, "waiting to retry: 503")
        assert not store.release_batch(batch.id, NOW, "twice")  # only from in_flight
        store.set_batch_state(batch.id, state, NOW)
        assert store.claim_batch(batch.id, NOW, only_pending=True) is may_claim
    finally:
        store.close()


def test_a_held_send_lock_without_a_heartbeat_is_named_not_a_crash(store_url):
    """A lock with no heartbeat recorded (set by hand, or by an older version) is refused
    with the holder's name, as any live holder's is."""
    import os
    import re
    import socket

    from sqlalchemy import text

    from pipeline.errors import StoreError

    store = Store.open(store_url)
    store.create_issue("2026-W48", NOW, NOW, {}, frozenset(), NOW)
    holder = f"{socket.gethostname()}:{os.getpid()}"  # alive: this very process
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE issues SET send_lock = :h, send_heartbeat = NULL"),
                     {"h": holder})
    with pytest.raises(StoreError, match=f"is being sent by {re.escape(holder)} "
                                         r"\(no progress recorded\); wait for it to finish"):
        store.acquire_send_lock("2026-W48", "elsewhere.example:42", NOW)
    store.close()
