"""Only the template places per-recipient values. A feed, an ICS file, the editor's note
or a subscriber's name that carries a placeholder keeps it as literal text on every
backend: no recipient's address or unsubscribe link ends up where a stranger put it."""

from __future__ import annotations

import email
import json
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.deliver.message import personal_values
from pipeline.editing import edit_note
from pipeline.job import run_weekly, send_tests
from pipeline.render.issue import render_issue
from pipeline.render.placeholders import PLACEHOLDERS, fill, inert
from pipeline.store.store import Store
from subscribers.tokens import Tokens

from . import test_smtp
from .helpers import MONDAY, require_approval, seed
from .test_smtp import use_smtp

smtp = test_smtp.smtp  # the loopback SMTP server fixture (aiosmtpd)

SECRET = "test-signing-key-0123456789abcdef"
OLD = ["%email%", "%unsubscribe_url%", "%preferences_url%", "%first_name%",
       "%first_name_html%"]
NEW = list(PLACEHOLDERS.values())
EVERY = " ".join(OLD + NEW)  # every marker, old and new
LINK_QUERY = "e=%email%&u=%unsubscribe_url%&n=%%io:email%%&m=%%io:unsubscribe_url%%"


def hostile_sources(project: Path) -> None:
    """A news item and an event whose every field carries every placeholder."""
    feed = project / "examples/feeds/society-news.rss"
    item = (f"<item><title>Title {EVERY}</title>"
            f"<link>https://www.example.org/news/trap?{LINK_QUERY.replace('&', '&amp;')}</link>"
            "<guid isPermaLink=\"false\">trap-1</guid>"
            "<pubDate>Sun, 22 Nov 2026 17:00:00 GMT</pubDate>"
            f"<description><![CDATA[<p>Summary {EVERY}</p>"
            f"<a href=\"https://www.example.org/x?{LINK_QUERY}\">more</a>]]></description></item>")
    text = feed.read_text(encoding="utf-8")
    feed.write_text(text.replace("<item>", item + "<item>", 1), encoding="utf-8")
    ics = project / "examples/feeds/events.ics"
    event = ("BEGIN:VEVENT\r\nUID:trap-event@example.org\r\nDTSTAMP:20261120T120000Z\r\n"
             "DTSTART:20261210T150000Z\r\nDTEND:20261210T160000Z\r\n"
             f"SUMMARY:Event {EVERY}\r\nLOCATION:Room {EVERY}\r\n"
             f"DESCRIPTION:About {EVERY}\r\n"
             f"URL:https://www.example.org/events/trap?{LINK_QUERY}\r\nEND:VEVENT\r\n")
    text = ics.read_text(encoding="utf-8")
    ics.write_text(text.replace("END:VCALENDAR", event + "END:VCALENDAR"), encoding="utf-8")


def assert_only_template_placeholders(body: str, person: str, unsubscribe_url: str) -> None:
    """A filled body: the stranger's markers are literal text; the recipient's address
    is nowhere in it and their unsubscribe link only where the template put it (once)."""
    for old in OLD:
        assert old in body, old
    assert "%% io:unsubscribe_url%%" in body  # a new-style marker from a feed, made inert
    assert person not in body
    assert body.count(unsubscribe_url) == 1


@pytest.fixture
def hostile(project, monkeypatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", SECRET)
    hostile_sources(project)
    return project


def test_markers_in_feeds_and_ics_stay_literal_in_outbox_bodies_and_messages(hostile):
    config = load_config(hostile / "config.toml")
    seed(config)
    report = run_weekly(config, MONDAY)
    assert report.status == "sent", report.message
    tokens = Tokens(SECRET)
    bodies = sorted((hostile / "outbox/2026-W48/batches").glob("*.json"))
    assert bodies
    for path in bodies:
        body = json.loads(path.read_text())
        text, html = (c["value"] for c in body["content"])
        assert "Title %email%" in text and "Event %email%" in text
        assert "Room %email% %unsubscribe_url%" in html
        for p in body["personalizations"]:
            # What SendGrid does with the substitutions, for each recipient.
            assert set(p["substitutions"]) == set(NEW)
            person = p["to"][0]["email"]
            unsubscribe = personal_values(config, tokens, person, "").unsubscribe_url
            for part in (text, html):
                filled = part
                for key, value in p["substitutions"].items():
                    filled = filled.replace(key, value)
                assert_only_template_placeholders(filled, person, unsubscribe)
            assert person not in body["subject"] and "%%io:" not in body["subject"]
    assert_message_is_clean((hostile / "outbox/2026-W48/general.eml").read_bytes())


def assert_message_is_clean(raw: bytes, person: str | None = None) -> None:
    """Both parts of a delivered message, checked for its own recipient (or `person`)."""
    msg = email.message_from_bytes(raw)
    unsubscribe = msg["List-Unsubscribe"].split("<", 1)[1].split(">", 1)[0]
    for part in msg.get_payload():
        assert_only_template_placeholders(part.get_payload(decode=True).decode(),
                                          person or msg["To"], unsubscribe)


def test_every_smtp_message_keeps_a_strangers_markers_as_text(hostile, smtp):
    smtp_box = smtp
    use_smtp(hostile, smtp_box)
    config = load_config(hostile / "config.toml")
    seed(config)
    assert run_weekly(config, MONDAY).status == "sent"
    assert len(smtp_box.messages) == 320
    for raw in smtp_box.messages[:40]:
        assert_message_is_clean(raw)


def test_sendgrid_request_bodies_carry_the_markers_as_text(hostile, monkeypatch):
    from .sendgrid_server import SendGridServer
    from .test_sendgrid import KEY, use_sendgrid

    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    with SendGridServer(KEY) as server:
        use_sendgrid(hostile, server)
        config = load_config(hostile / "config.toml")
        seed(config)
        assert run_weekly(config, MONDAY).status == "sent"
        assert server.rejected == []
        for body in server.bodies:
            text, html = (c["value"] for c in body["content"])
            assert "Title %email% %unsubscribe_url%" in text
            assert html.count(PLACEHOLDERS["unsubscribe_url"]) == 1
            assert text.count(PLACEHOLDERS["unsubscribe_url"]) == 1
            assert all(set(p["substitutions"]) == set(NEW) for p in body["personalizations"])


def test_test_sends_and_the_web_version_keep_them_literal(hostile):
    from starlette.testclient import TestClient

    from pipeline.web.app import create_app

    config = load_config(hostile / "config.toml")
    seed(config)
    store = Store.open(config.store_url)
    try:
        assert run_weekly(config, MONDAY).status == "sent"
        send_tests(config, store, ["editor@example.org"], MONDAY, issue_id="2026-W48")
    finally:
        store.close()
    tests = sorted((hostile / "outbox/2026-W48/tests").glob("*.eml"))
    assert tests
    assert_message_is_clean(tests[0].read_bytes(), "editor@example.org")
    with TestClient(create_app(config)) as client:
        page = client.get("/issues/2026-W48/general").text
    assert "%email%" in page and "%unsubscribe_url%" in page
    assert page.count("https://news.example.org/manage") == 2  # preferences, unsubscribe


def test_the_note_and_a_name_cannot_place_a_marker(project, monkeypatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", SECRET)
    require_approval(project)
    config = load_config(project / "config.toml")
    seed(config)
    assert run_weekly(config, MONDAY).status == "awaiting-approval"
    store = Store.open(config.store_url)
    try:
        # Markdown entity references decode to the same characters: no way around.
        note = f"Note {EVERY} &#37;&#37;io:email&#37;&#37; [x](https://e.example/?{LINK_QUERY})"
        edit_note(config, store, "2026-W48", note, MONDAY)
        variants = render_issue(config, store, store.get_issue("2026-W48"))
    finally:
        store.close()
    v = next(v for v in variants if v.segment == "general")
    name = '<b onclick="x">Eve</b> %%io:unsubscribe_url%% \u202e'
    personal = personal_values(config, Tokens(SECRET), "eve@example.org", name)
    html, text = fill(v.html, personal.values), fill(v.text, personal.values)
    assert html.count(personal.unsubscribe_url) == 1 and text.count(personal.unsubscribe_url) == 1
    assert "eve@example.org" not in html + text
    assert "Note %email% %unsubscribe_url%" in text
    assert "<b onclick" not in html and "&lt;b onclick=&#34;x&#34;&gt;Eve" in html.replace(
        "&quot;", "&#34;")
    assert "Dear <b" in text  # the text part shows the name as it is, as text


def test_inert_leaves_no_marker_and_changes_nothing_else():
    for key, marker in PLACEHOLDERS.items():
        assert marker not in inert(f"a {marker} b %%{marker}%% {marker}{marker}"), key
    assert inert("50% of %email% users") == "50% of %email% users"
    assert fill("%%io:email%%", {"%%io:email%%": "%%io:unsubscribe_url%%",
                                 "%%io:unsubscribe_url%%": "leak"}) == "%%io:unsubscribe_url%%"


def test_a_send_resumed_after_upgrade_refuses_variants_with_the_old_markers(project):
    from pipeline.deliver.gate import check_issue
    from pipeline.models import RenderedVariant

    config = load_config(project / "config.toml")
    old = RenderedVariant("general", "S", '<a href="%unsubscribe_url%">u</a> '
                          + config.newsletter.postal_address, "%unsubscribe_url% "
                          + config.newsletter.postal_address)
    problems = check_issue(config, [old])
    assert any("re-render" in p for p in problems), problems


@pytest.mark.parametrize("marker", NEW)
def test_a_field_that_is_exactly_a_marker_stays_inert(project, monkeypatch, marker):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", SECRET)
    from .helpers import add_rss_item

    add_rss_item(project / "examples/feeds/society-news.rss", "exact-1", marker,
                 "Sun, 22 Nov 2026 17:00:00 GMT", marker)
    config = load_config(project / "config.toml")
    seed(config)
    assert run_weekly(config, MONDAY).status == "sent"
    body = json.loads(next((project / "outbox/2026-W48/batches").glob("general-*.json"))
                      .read_text())
    text, html = (c["value"] for c in body["content"])
    # Only the template's own (the greeting, the footer's links), nothing from the feed.
    counts = {key: (html.count(key), text.count(key)) for key in NEW}
    assert counts == {"%%io:first_name%%": (0, 1), "%%io:first_name_html%%": (1, 0),
                      "%%io:unsubscribe_url%%": (1, 1), "%%io:preferences_url%%": (1, 1),
                      "%%io:email%%": (0, 0)}


def test_characters_xml_refuses_do_not_stop_the_issue(project):
    from .helpers import add_rss_item

    add_rss_item(project / "examples/feeds/society-news.rss", "ctl-1",
                 "Vertical\u000btab and &#xFFFE; noncharacter", "Sun, 22 Nov 2026 17:00:00 GMT",
                 "Form\u000cfeed")
    config = load_config(project / "config.toml")
    seed(config)
    report = run_weekly(config, MONDAY)
    assert report.status == "sent", report.message
    html = (project / "outbox/2026-W48/general.html").read_text()
    assert "Vertical tab and  noncharacter" in html  # the noncharacter dropped
