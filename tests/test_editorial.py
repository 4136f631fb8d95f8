"""The draft step (draft_for_slot) and the editors' notices, on the bundled examples with
the outbox backend: the notices land in outbox/transactional/."""

from __future__ import annotations

import email
import email.policy
import logging
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from pipeline.config import Config, load_config
from pipeline.deliver import backends
from pipeline.editorial import (
    DraftHeld,
    DraftReady,
    HeldAtSlot,
    NothingNew,
    PastDeadline,
    Reminder,
    Sent,
    draft_for_slot,
    notify_editors,
)
from pipeline.notices import LinkCheck, links_sentence, when
from pipeline.store.store import Store

from .feedserver import FeedServer
from .helpers import CHICAGO, add_rss_item, edit_config, require_approval, seed

THURSDAY = datetime(2026, 11, 26, 9, 0, tzinfo=CHICAGO)  # the draft slot of 2026-W49
SLOT = datetime(2026, 11, 30, 7, 0, tzinfo=CHICAGO)  # its send slot: 13:00 UTC
DEADLINE = SLOT + timedelta(hours=24)
EDITORS = ("chief@example.org", "ed@example.org")


def configure(project: Path, *edits: tuple[str, str]) -> Config:
    require_approval(project)  # the shipped timeline, as it ships
    for old, new in edits:
        edit_config(project, old, new)
    config = load_config(project / "config.toml")
    seed(config)
    return config


@pytest.fixture
def config(project: Path) -> Config:
    return configure(project)


@pytest.fixture
def store(config: Config):
    store = Store.open(config.store_url)
    for editor in EDITORS:
        store.save_editor(editor, "not-a-real-hash", THURSDAY)
    yield store
    store.close()


def outbox(config: Config) -> list[EmailMessage]:
    folder = config.resolve("outbox") / "transactional"
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted(folder.glob("*.eml"))]


def notice_of(config: Config, kind: str) -> EmailMessage:
    """The one notice of this kind (the outbox names files by time and hash, not order)."""
    [message] = [m for m in outbox(config) if m["X-Insights-Notice"] == kind]
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain text and HTML, each with its line breaks (wrapping) as single spaces."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return " ".join(text.get_content().split()), " ".join(html.get_content().split())


def test_draft_for_the_slots_period_tells_each_editor(config: Config, store: Store) -> None:
    result = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)

    assert result.kind == "drafted" and result.notified == 2
    assert result.issue is not None and result.issue.id == "2026-W49"
    # The week of the slot, not the week of `now` (Thursday is in 2026-W48).
    assert result.issue.period_start == datetime(2026, 11, 30, tzinfo=CHICAGO)
    assert store.get_variants("2026-W49")  # rendered
    assert "2 editors told" in result.lines[0] and "13:00 UTC" in result.lines[0]

    sent = outbox(config)
    assert sorted(m["To"] for m in sent) == list(EDITORS)
    message = sent[0]
    assert message["Subject"] == ("IO Insights no. 1 is ready for review: "
                                  "send Mon 30 Nov 07:00 CST")
    assert message["X-Insights-Notice"] == "draft-ready"
    assert message["Auto-Submitted"] == "auto-generated"
    text, html = parts(message)
    for body in (text, html):
        assert "https://news.example.org/admin/issues/2026-W49" in body
        assert "Mon 30 Nov 07:00 CST (13:00 UTC)" in body  # the slot, zone and UTC
        assert "Tue 01 Dec 07:00 CST (13:00 UTC)" in body  # the deadline
        assert "Pre-send check passed" in body
        assert "trainees" in body and "320 recipients in all" in body
        assert "Society news (8)" in body
    assert "trainees: 71 recipients, 22 items" in text
    assert "IO Insights no. 1 — week of 30 November 2026" in text  # the variants' subject
    # As shipped, the draft asks no link ([checks] at_draft is off): nothing stored or said.
    assert store.check_results("2026-W49") == [] and "link" not in text.split("Who")[0]


def test_an_existing_issue_is_not_drafted_again(config: Config, store: Store) -> None:
    draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    again = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY + timedelta(hours=1))
    assert again.kind == "exists" and again.notified == 0 and again.issue is not None
    assert len(outbox(config)) == 2


def test_the_period_must_be_the_slots(config: Config, store: Store) -> None:
    with pytest.raises(ValueError, match="2026-W49, not 2026-W48"):
        draft_for_slot(config, store, "2026-W48", SLOT, THURSDAY)


def test_nothing_new_skips_the_week_and_says_so(project: Path) -> None:
    config = configure(project, ('[[sources]]\nname = "pubmed-io"',
                                 '[[sources]]\nenabled = false\nname = "pubmed-io"'),
                       ('[[sources]]\nname = "jior-toc"',
                        '[[sources]]\nenabled = false\nname = "jior-toc"'),
                       ('[[sources]]\nname = "society-events"',
                        '[[sources]]\nenabled = false\nname = "society-events"'))
    store = Store.open(config.store_url)
    store.save_editor("ed@example.org", "x", THURSDAY)
    first = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert first.issue is not None
    store.set_issue_status(first.issue.id, "sent", THURSDAY)

    week = timedelta(days=7)
    result = draft_for_slot(config, store, "2026-W50", SLOT + week, THURSDAY + week)
    assert result.kind == "nothing-new" and result.issue is None and result.notified == 1
    assert store.get_issue("2026-W50") is None
    notice = notice_of(config, "nothing-new")
    assert notice["Subject"] == ("IO Insights: no issue for the week of Mon 07 Dec 2026: "
                                 "nothing new")
    text, _ = parts(notice)
    assert "will be skipped" in text and "Mon 07 Dec 07:00 CST (13:00 UTC)" in text
    store.close()


def test_events_only_is_skipped_unless_configured(project: Path) -> None:
    config = configure(project, ('[[sources]]\nname = "society-news"',
                                 '[[sources]]\nenabled = false\nname = "society-news"'),
                       ('[[sources]]\nname = "pubmed-io"',
                        '[[sources]]\nenabled = false\nname = "pubmed-io"'),
                       ('[[sources]]\nname = "jior-toc"',
                        '[[sources]]\nenabled = false\nname = "jior-toc"'))
    store = Store.open(config.store_url)
    store.save_editor("ed@example.org", "x", THURSDAY)
    result = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert result.kind == "events-only" and result.issue is None and result.notified == 1
    assert store.get_issue("2026-W49") is None
    text, _ = parts(notice_of(config, "nothing-new"))
    assert "Only reminders of events" in text and "will be skipped" in text
    store.close()

    edit_config(project, "max_items_per_section = 8",
                "max_items_per_section = 8\nevents_only_issues = true")
    config = load_config(project / "config.toml")
    store = Store.open(config.store_url)
    result = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert result.kind == "drafted" and result.issue is not None
    store.close()


def required_source_down(project: Path) -> Config:
    return configure(project, ('url = "examples/feeds/pubmed-research.rss"',
                               'url = "examples/feeds/missing.rss"\nrequired = true'))


def test_a_failed_required_source_holds_the_draft_and_tells_once(project: Path) -> None:
    config = required_source_down(project)
    store = Store.open(config.store_url)
    store.save_editor("ed@example.org", "x", THURSDAY)

    held = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert held.kind == "held" and held.issue is None and held.notified == 1
    assert store.get_issue("2026-W49") is None
    assert "pubmed-io" in held.lines[0]
    [notice] = outbox(config)
    assert notice["Subject"] == ("IO Insights: the draft for the week of Mon 30 Nov 2026 "
                                 "is held: pubmed-io failed")
    text, html = parts(notice)
    for body in (text, html):
        assert "pubmed-io" in body and "missing.rss" in body
        assert "insights draft --anyway" in body

    # The tick retries it hourly: held again, but the editors were told already.
    again = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY + timedelta(hours=1))
    assert again.kind == "held" and again.notified == 0
    assert len(outbox(config)) == 1

    anyway = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY + timedelta(hours=2),
                            anyway=True)
    assert anyway.kind == "drafted" and anyway.issue is not None
    text, _ = parts(notice_of(config, "draft-ready"))
    assert "Sources that failed" in text and "pubmed-io" in text
    store.close()


def test_an_optional_source_failing_does_not_hold(project: Path) -> None:
    config = configure(project, ('url = "examples/feeds/pubmed-research.rss"',
                                 'url = "examples/feeds/missing.rss"'))
    store = Store.open(config.store_url)
    result = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert result.kind == "drafted"
    store.close()


@pytest.fixture
def drafted(config: Config, store: Store) -> Store:
    draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    for path in (config.resolve("outbox") / "transactional").glob("*.eml"):
        path.unlink()
    return store


@pytest.mark.parametrize(("notice", "subject", "phrases"), [
    (Reminder("2026-W49", SLOT, DEADLINE),
     "Reminder: IO Insights no. 1 is not approved; send Mon 30 Nov 07:00 CST",
     ["Approve it before Mon 30 Nov 07:00 CST (13:00 UTC)", "Skip this week"]),
    (HeldAtSlot("2026-W49", SLOT, DEADLINE),
     "IO Insights no. 1 is held: not approved; approve by Tue 01 Dec 07:00 CST to send",
     ["nothing was sent", "Approve it by Tue 01 Dec 07:00 CST (13:00 UTC)", "Send now"]),
    (PastDeadline("2026-W49", DEADLINE, approved=False),
     "IO Insights no. 1 was not sent: past its deadline Tue 01 Dec 07:00 CST",
     ["Nobody approved it by the deadline", "Send now"]),
    (PastDeadline("2026-W49", DEADLINE, approved=True),
     "IO Insights no. 1 was not sent: past its deadline Tue 01 Dec 07:00 CST",
     ["It was approved, but its send did not start", "Send now"]),
    (Sent("2026-W49", 1204, "Issue 2026-W49 (no. 1) delivered to 1204 recipients."),
     "IO Insights no. 1 went out to 1,204 recipients", ["delivered to 1204 recipients"]),
])
def test_each_notice_says_what_happens_next(config: Config, drafted: Store, notice,
                                            subject: str, phrases: list[str]) -> None:
    assert notify_editors(config, drafted, notice, THURSDAY) == 2
    sent = outbox(config)
    assert len(sent) == 2 and sent[0]["Subject"] == subject
    text, html = parts(sent[0])
    for body in (text, html):
        assert "https://news.example.org/admin/issues/2026-W49" in body
        for phrase in phrases:
            assert phrase in body


@pytest.mark.parametrize("notice", [Reminder("2026-W49", SLOT, DEADLINE),
                                    HeldAtSlot("2026-W49", SLOT, DEADLINE)])
def test_an_issue_changed_after_its_approval_is_not_said_to_be_unapproved(
        config: Config, drafted: Store, notice) -> None:
    from pipeline.editing import approve, edit_item, edit_note

    approve(config, drafted, "2026-W49", EDITORS[0], THURSDAY)
    dropped = drafted.issue_sections("2026-W49")["news"][0]
    edit_item(config, drafted, "2026-W49", dropped.id, "drop", THURSDAY)
    edit_note(config, drafted, "2026-W49", "Back on Monday.", THURSDAY)
    assert notify_editors(config, drafted, notice, THURSDAY) == 2
    for body in parts(outbox(config)[0]):
        assert "IO Insights no. 1 was approved, then changed, so the approval no longer " \
            "holds. What changed: Dropped: " in body
        assert "Note added" in body and "obody ha" not in body
    text, html = parts(outbox(config)[0])
    assert f"Dropped: {dropped.title};" in text
    assert f"Dropped: {dropped.title};".replace("'", "&#39;") in html


def test_a_notice_takes_the_issue_itself(config: Config, drafted: Store) -> None:
    issue = drafted.get_issue("2026-W49")
    assert issue is not None
    assert notify_editors(config, drafted, DraftReady(issue, SLOT, DEADLINE), THURSDAY) == 2


def test_hostile_titles_and_errors_are_data(project: Path) -> None:
    config = configure(project)
    add_rss_item(project / "examples/feeds/society-news.rss", "hostile",
                 "&lt;img src=x onerror=alert(1)&gt; Bold &amp;lt;b&amp;gt; claim",
                 "Wed, 25 Nov 2026 10:00:00 GMT")
    store = Store.open(config.store_url)
    store.save_editor("ed@example.org", "x", THURSDAY)
    result = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert result.kind == "drafted"
    text, html = parts(notice_of(config, "draft-ready"))
    # The feed's markup is gone (the parser keeps titles as text); what reads as markup
    # in the text is shown, escaped.
    logo = f'src="{config.newsletter.logo_url}"'
    assert all(logo in img for img in re.findall(r"<img\b[^>]*>", html))  # the masthead's only
    assert "Bold <b> claim" in text
    assert "<b> claim" not in html and "Bold &lt;b&gt; claim" in html

    hostile = "refused\r\nBcc: everyone@example.org\r\n\r\n<b>bold</b> " + "x" * 500
    notify_editors(config, store, DraftHeld("2026-W50", SLOT + timedelta(days=7),
                                            [("society-news\nBcc: a@example.org", hostile)]),
                   THURSDAY)
    message = notice_of(config, "draft-held")
    assert message["Bcc"] is None and "\n" not in message["Subject"]
    text, html = parts(message)
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "Bcc: everyone@example.org <b>bold</b>" in text  # one line, bounded
    assert "x" * 500 not in text
    store.close()


def test_no_editors_is_a_warning(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    store = Store.open(config.store_url)
    with caplog.at_level(logging.WARNING, "insights.editorial"):
        assert notify_editors(config, store, NothingNew("2026-W49", SLOT, "Nothing new"),
                              THURSDAY) == 0
    assert "no editor accounts" in caplog.text
    store.close()


def test_one_editor_failing_does_not_stop_the_others(
        config: Config, drafted: Store, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    real = backends.make_backend

    def flaky(config: Config, now: datetime):
        backend = real(config, now)
        send = backend.send_message

        def send_message(message: EmailMessage) -> str:
            if message["To"] == EDITORS[0]:
                raise OSError("mailbox unavailable")
            return send(message)
        backend.send_message = send_message  # type: ignore[method-assign]
        return backend

    monkeypatch.setattr("pipeline.editorial.make_backend", flaky)
    with caplog.at_level(logging.ERROR, "insights.editorial"):
        assert notify_editors(config, drafted, Reminder("2026-W49", SLOT, DEADLINE),
                              THURSDAY) == 1
    assert [m["To"] for m in outbox(config)] == [EDITORS[1]]
    assert EDITORS[0] in caplog.text


def test_times_in_the_zone_and_utc() -> None:
    late = datetime(2026, 11, 30, 23, 0, tzinfo=CHICAGO)
    assert when(late, CHICAGO) == "Mon 30 Nov 23:00 CST (Tue 01 Dec 05:00 UTC)"
    assert when(SLOT.astimezone(UTC), CHICAGO) == "Mon 30 Nov 07:00 CST (13:00 UTC)"


def test_with_approval_optional_the_draft_goes_as_it_stands(project: Path) -> None:
    config = configure(project, ('approval = "required"', 'approval = "optional"'))
    store = Store.open(config.store_url)
    store.save_editor("ed@example.org", "x", THURSDAY)
    draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    message = notice_of(config, "draft-ready")
    text, _ = parts(message)
    assert "It goes as it stands at Mon 30 Nov 07:00 CST (13:00 UTC)" in text
    assert "approve it before" not in text.lower()
    # Plain text for a phone or a terminal: wrapped, only a URL may run longer.
    body = message.get_body(("plain",))
    assert body is not None
    assert all(len(line) <= 78 or "https://" in line for line in body.get_content().splitlines())
    store.close()


# -- [checks] at_draft: the draft's links asked on loopback --------------------------------


def links_project(project: Path, server: FeedServer, *paths: str) -> Config:
    """The shipped project with `[checks] at_draft` on and one news feed whose items
    link to `paths` (in this order in the issue) on the loopback `server`, allowed as a
    private host; the research
    and events feeds off, so those are the issue's links to check (our own pages are
    not checked)."""
    items = "".join(
        f"<item><title>Society news {n}</title><link>{server.url}{path}</link>"
        f"<guid>links-{n}</guid><pubDate>Tue, 24 Nov 2026 1{9 - n}:00:00 GMT</pubDate>"
        f"<description>Plain news {n}.</description></item>" for n, path in enumerate(paths))
    (project / "examples" / "feeds" / "society-news.rss").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"{items}</channel></rss>", encoding="utf-8")
    return configure(
        project, ("at_draft = false", "at_draft = true"),
        ("allow_private_hosts = []", 'allow_private_hosts = ["127.0.0.1"]'),
        ('url = "examples/feeds/pubmed-research.rss"',
         'url = "examples/feeds/pubmed-research.rss"\nenabled = false'),
        ('url = "examples/feeds/jvir-toc.atom"', 'url = "examples/feeds/jvir-toc.atom"\nenabled = false'),
        ('url = "examples/feeds/events.ics"', 'url = "examples/feeds/events.ics"\nenabled = false'))


def draft_ready(config: Config) -> EmailMessage:
    """The draft-ready notice (the same for each editor)."""
    return next(m for m in outbox(config) if m["X-Insights-Notice"] == "draft-ready")


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


def editors_store(config: Config) -> Store:
    store = Store.open(config.store_url)
    for editor in EDITORS:
        store.save_editor(editor, "not-a-real-hash", THURSDAY)
    return store


def test_at_draft_the_notice_says_which_links_did_not_answer(project: Path,
                                                            server: FeedServer) -> None:
    config = links_project(project, server, "/ok/a", "/status/404", "/status/410")
    store = editors_store(config)
    result = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert result.kind == "drafted" and result.notified == 2  # a warning, never a block
    assert result.lines[1] == "links: 2 of 3 did not answer"
    assert ("HEAD", "/ok/a") in server.methods and ("HEAD", "/status/404") in server.methods
    text, html = parts(draft_ready(config))
    for body in (text, html):
        assert (f"2 links did not answer: {server.url}/status/404 (404), "
                f"{server.url}/status/410 (410). A warning, not a block.") in body
    # The answers are the issue's: its page shows them without asking again.
    assert {r.target: r.verdict for r in store.check_results("2026-W49")} == {
        f"{server.url}/ok/a": "ok", f"{server.url}/status/404": "broken",
        f"{server.url}/status/410": "broken"}
    store.close()


def test_at_draft_every_link_answered(project: Path, server: FeedServer) -> None:
    config = links_project(project, server, "/ok/a", "/ok/b")
    store = editors_store(config)
    result = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert result.lines[1] == "links: every one of 2 answered"
    text, html = parts(draft_ready(config))
    assert "Every link answered (2 checked)." in text and "Every link answered" in html
    store.close()


def test_a_link_check_that_fails_is_reported_and_the_draft_stands(
        project: Path, server: FeedServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    config = links_project(project, server, "/ok/a")

    def broken(*args, **kwargs):
        raise RuntimeError("the check broke")

    monkeypatch.setattr("pipeline.editorial.run_checks", broken)
    store = editors_store(config)
    result = draft_for_slot(config, store, "2026-W49", SLOT, THURSDAY)
    assert result.kind == "drafted" and store.get_issue("2026-W49").status == "draft"
    assert result.lines[1] == "links not checked: RuntimeError: the check broke"
    assert "could not check the links of issue 2026-W49" in caplog.text
    text, _ = parts(draft_ready(config))
    assert ("The links could not be checked (RuntimeError: the check broke); "
            "\"Check links\" on its page asks them.") in text
    store.close()


MANY = [(f"https://a.example/{n}", "404") for n in range(12)]


@pytest.mark.parametrize(("links", "sentence"), [
    (LinkCheck(0), None),
    (LinkCheck(42), "Every link answered (42 checked)."),
    (LinkCheck(3, [("https://a.example/x", "404")]),
     "1 link did not answer: https://a.example/x (404). A warning, not a block."),
    (LinkCheck(20, MANY), "12 links did not answer: " + ", ".join(
        f"https://a.example/{n} (404)" for n in range(10)) + " and 2 more. A warning, not a "
     "block."),
    (LinkCheck(5, not_asked=2), "Every link asked answered (3 of 5). 2 were not asked in "
     "time (slow sites); \"Check links\" on its page asks them."),
    (LinkCheck(0, error="OSError: no route"), "The links could not be checked (OSError: "
     "no route); \"Check links\" on its page asks them."),
])
def test_what_the_draft_notice_says_of_its_links(links: LinkCheck, sentence: str | None) -> None:
    assert links_sentence(links) == sentence
