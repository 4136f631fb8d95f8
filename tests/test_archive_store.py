"""The public archive's storage on SQLite and PostgreSQL: only sent, kept, unhidden
issues are public; paging; the version moves exactly when something public does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import StoreError
from pipeline.publish.model import PublicIssue, PublicItem
from pipeline.store.store import Store

T0 = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def week(n: int) -> str:
    return f"2026-W{n:02d}"


def copy_of(n: int, sent: datetime, title: str = "", items: int = 2) -> PublicIssue:
    issue_id = week(n)
    return PublicIssue(
        id=issue_id, number=n, title=title or f"Issue {n}", summary=f"{items} updates",
        published=sent, updated=sent, body_html=f"<article>{n}</article>",
        image_url=None,
        items=tuple(PublicItem(id=n * 100 + i, issue_id=issue_id, section="news",
                               title=f"Item {n}.{i}", link=f"https://example.org/{n}/{i}",
                               summary="s", published=sent, updated=sent,
                               authors=("Lee K",), event_start=sent + timedelta(days=3),
                               event_when="Thu 26 Nov, 09:00 CST")
                    for i in range(items)))


def make_issue(store: Store, n: int, status: str) -> datetime:
    """Issue `n` in `status` (sent a week after the one before); returns its sent time."""
    start = T0 + timedelta(weeks=n)
    store.create_issue(week(n), start, start + timedelta(weeks=1), {}, frozenset(), start)
    if status != "draft":
        store.set_issue_status(week(n), status, start)
    return start


def kept(store: Store, n: int, status: str = "sent") -> PublicIssue:
    """Issue `n` in `status` with a public copy kept (as only a sent one would have)."""
    copy = copy_of(n, make_issue(store, n, status))
    assert store.save_public_issue(copy, f"hash-{n}")
    return copy


@pytest.fixture
def store(store_url):
    store = Store.open(store_url)
    yield store
    store.close()


def test_only_sent_kept_and_shown_issues_are_public(store):
    for n, status in enumerate(["sent", "draft", "approved", "cancelled", "skipped",
                                "sending", "sent"], start=1):
        kept(store, n, status)
    make_issue(store, 8, "sent")  # sent, but its copy is not kept yet
    store.set_archive_hidden(week(7), True, "editor@example.org", T0)

    assert [i.id for i in store.public_issues(20)] == [week(1)]
    assert store.public_issue_count() == 1
    assert store.public_issue(week(1)) is not None
    for n in range(2, 9):
        assert store.public_issue(week(n)) is None, n
    assert {i.issue_id for i in store.public_items(100)} == {week(1)}
    assert store.unpublished_sent_issue_ids() == [week(8)]


def test_a_public_copy_reads_back_as_it_was_kept(store):
    copy = kept(store, 1)
    assert store.public_issue(week(1)) == copy
    assert store.public_issues(1) == [copy]


def test_issues_newest_first_by_pages(store):
    for n in range(1, 26):
        kept(store, n)
    first = store.public_issues(20)
    assert [i.number for i in first] == list(range(25, 5, -1))
    assert [i.number for i in store.public_issues(20, offset=20)] == [5, 4, 3, 2, 1]
    assert store.public_issues(20, offset=40) == []
    assert store.public_issue_count() == 25


def test_the_list_of_every_issue_is_the_copies_without_their_bodies(store):
    for n in range(1, 26):
        kept(store, n)
    kept(store, 26, "draft")
    store.set_archive_hidden(week(3), True, "cli", T0)
    listed = store.public_issue_list()
    assert listed == [replace(i, body_html="", items=()) for i in store.public_issues(100)]
    assert [i.number for i in listed] == [n for n in range(25, 0, -1) if n != 3]


def test_items_newest_issue_first_each_in_its_order_up_to_the_limit(store):
    for n in range(1, 13):
        kept(store, n)  # two items each
    store.set_archive_hidden(week(12), True, "cli", T0)
    items = store.public_items(21)
    assert len(items) == 21
    assert [i.id for i in items[:4]] == [1100, 1101, 1000, 1001]
    assert items[-1].issue_id == week(1) and items[-1].id == 100
    assert all(i.published == i.updated == store.public_issue(i.issue_id).published
               for i in items[:2])
    assert items[0].authors == ("Lee K",) and items[0].event_when == "Thu 26 Nov, 09:00 CST"
    assert items[0].event_start == T0 + timedelta(weeks=11, days=3)
    assert len(store.public_items(1000)) == 22


def test_a_copy_changes_its_updated_time_only_with_its_content(store):
    first = kept(store, 1)
    later = T0 + timedelta(days=30)
    # The same content again, even with a new time: nothing changes.
    assert not store.save_public_issue(replace(first, updated=later), "hash-1")
    assert store.public_issue(week(1)).updated == first.updated
    # New content: its updated time moves, its published time stays the first one.
    edited = replace(first, title="Corrected", updated=later, published=later)
    assert store.save_public_issue(edited, "hash-1b")
    got = store.public_issue(week(1))
    assert (got.title, got.updated, got.published) == ("Corrected", later, first.published)


def test_the_version_moves_with_what_is_public_and_only_then(store):
    versions = [store.archive_version()]

    def moved() -> bool:
        versions.append(store.archive_version())
        return versions[-1] != versions[-2]

    kept(store, 1)
    assert moved()  # published
    make_issue(store, 2, "draft")
    store.set_editor_note(week(2), "A note", T0)
    assert not moved()  # a draft is not public
    store.save_public_issue(replace(copy_of(1, T0 + timedelta(weeks=1)),
                                    updated=T0 + timedelta(days=40)), "hash-1")
    assert not moved()  # the same content kept again
    store.set_archive_hidden(week(1), True, "cli", T0)
    assert moved()  # hidden
    store.set_archive_hidden(week(1), True, "cli", T0)
    assert not moved()  # hidden again: no change
    store.set_archive_hidden(week(1), False, "cli", T0)
    assert moved()  # shown
    assert versions[-1] == versions[1]  # as public as before it was hidden
    store.save_public_issue(replace(copy_of(1, T0), title="Corrected"), "hash-1b")
    assert moved()  # content changed
    store.record_feed_ping("/archive/feed.xml", '"abc"', T0)
    assert not moved()


def test_hiding_and_showing_is_audit_logged_once_per_change(store):
    kept(store, 1)
    assert store.set_archive_hidden(week(1), True, "editor@example.org", T0)
    assert not store.set_archive_hidden(week(1), True, "cli", T0)
    assert store.get_issue(week(1)).archive_hidden
    assert store.set_archive_hidden(week(1), False, "cli", T0 + timedelta(hours=1))
    assert not store.get_issue(week(1)).archive_hidden
    entries = [(e.actor, e.action) for e in store.audit_entries(week(1))]
    assert entries == [("cli", "archive-show"), ("editor@example.org", "archive-hide")]
    with pytest.raises(StoreError, match="no issue"):
        store.set_archive_hidden("2031-W01", True, "cli", T0)


def test_feed_pings_remember_the_last_etag_per_feed(store):
    assert store.feed_etags() == {}
    store.record_feed_ping("/archive/feed.xml", '"a"', T0)
    store.record_feed_ping("/archive/items.json", '"b"', T0)
    store.record_feed_ping("/archive/feed.xml", '"c"', T0 + timedelta(hours=1))
    assert store.feed_etags() == {"/archive/feed.xml": '"c"', "/archive/items.json": '"b"'}
