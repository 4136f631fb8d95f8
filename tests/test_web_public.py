"""The subscriber-facing web routes: unsubscribe (with RFC 8058 one-click), preferences,
double opt-in confirmation, sign-up, the web version of an issue and event .ics files.
On SQLite and PostgreSQL, through Starlette's TestClient."""

from __future__ import annotations

import email
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.policy import default as default_policy
from pathlib import Path

import pytest
from icalendar import Calendar
from itsdangerous import TimestampSigner
from starlette.testclient import TestClient

from pipeline.config import Config, load_config
from pipeline.deliver.outbox import OutboxBackend
from pipeline.job import run_weekly
from pipeline.models import Item
from pipeline.render.context import PLACEHOLDERS
from pipeline.store.store import Store
from pipeline.web import create_app
from subscribers.store import Audience
from subscribers.tokens import CONFIRM_MAX_AGE, Tokens

from .helpers import MONDAY, edit_config, first_run, manifest, require_approval, seed, use_store

KEY = "web-public-tests-key-0123456789ab"  # 32 characters
ONE_CLICK = "List-Unsubscribe=One-Click"
# From examples/subscribers.csv: a physician interested in immuno-oncology, in North
# America, who gets the general variant.
ETHAN = "ethan.thompson@example.org"


@dataclass
class Site:
    config: Config
    store: Store
    audience: Audience
    tokens: Tokens
    client: TestClient
    project: Path

    def manage_url(self, kind: str, address: str) -> str:
        return f"/{kind}/{self.tokens.manage(address)}"

    def segment_of(self, address: str) -> str | None:
        """The variant `address` would get in the next send (None: not sent to)."""
        for r in self.audience.resolve([e.name for e in self.config.lists],
                                       self.config.segment_rules, "general"):
            if r.email.casefold() == address.casefold():
                return r.segment
        return None

    def transactional(self) -> list[email.message.EmailMessage]:
        folder = self.project / "outbox" / "transactional"
        return [email.message_from_bytes(p.read_bytes(), policy=default_policy)
                for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def make_client(config: Config, store: Store) -> TestClient:
    return TestClient(create_app(config, store=store, clock=lambda: MONDAY),
                      base_url="https://testserver")


@pytest.fixture
def web_project(project: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)
    use_store(project, store_url)
    return project


def open_site(project: Path, *, seeded: bool = True) -> Site:
    config = load_config(project / "config.toml")
    if seeded:
        seed(config)
    store = Store.open(config.store_url)
    return Site(config, store, Audience(store.engine), Tokens(KEY), make_client(config, store),
                project)


@pytest.fixture
def site(web_project: Path) -> Iterator[Site]:
    opened = open_site(web_project)
    yield opened
    opened.store.close()


def add_list(project: Path, name: str, title: str, double_opt_in: bool) -> None:
    edit_config(project, "[[sources]]", f'[[lists]]\nname = "{name}"\ntitle = "{title}"\n'
                f"double_opt_in = {str(double_opt_in).lower()}\n\n[[sources]]")


def confirm_link(message: email.message.EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"https://news\.example\.org(/confirm/[A-Za-z0-9_.\-]+)", text)
    assert found, text
    return found.group(1)


# -- /u: unsubscribe ---------------------------------------------------------------------

def test_the_unsubscribe_page_changes_nothing_until_its_button_is_pressed(site):
    url = site.manage_url("u", ETHAN)
    page = site.client.get(url)
    assert page.status_code == 200 and "set-cookie" not in page.headers  # no tracking
    assert ETHAN in page.text and f'action="{url}"' in page.text and 'method="post"' in page.text
    assert site.audience.get(ETHAN).lists == {"members": "confirmed"}
    assert not site.audience.is_suppressed(ETHAN) and site.segment_of(ETHAN) == "general"

    done = site.client.post(url)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert site.manage_url("p", ETHAN) in done.text  # the way back, or to adjust
    assert site.audience.get(ETHAN).lists == {"members": "unsubscribed"}
    assert site.audience.suppression_reason(ETHAN) == "unsubscribed"
    assert site.segment_of(ETHAN) is None
    [left] = [e for e in site.audience.show(ETHAN)["consent_events"]
              if e["action"] == "unsubscribed"]
    assert left["ip"] == "testclient"  # the consent record says from where
    assert "You are already unsubscribed" in site.client.get(url).text


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_answers_200_without_cookies_and_twice(site, encoding):
    url = site.manage_url("u", ETHAN)
    client = make_client(site.config, site.store)  # a mail provider: no cookies, no page
    for _ in range(2):
        if encoding == "urlencoded":
            answer = client.post(url, content=ONE_CLICK.encode(), follow_redirects=False,
                                 headers={"content-type": "application/x-www-form-urlencoded"})
        else:
            answer = client.post(url, files={"List-Unsubscribe": (None, "One-Click")},
                                 follow_redirects=False)
            assert answer.request.headers["content-type"].startswith("multipart/form-data")
        assert "cookie" not in answer.request.headers
        assert answer.status_code == 200, answer.text
        assert "set-cookie" not in answer.headers  # nor does it set one
        assert site.audience.get(ETHAN).lists == {"members": "unsubscribed"}
        assert site.audience.is_suppressed(ETHAN)
    events = site.audience.show(ETHAN)["consent_events"]
    assert [e["source"] for e in events if e["action"] == "unsubscribed"] == ["web:unsubscribe"]


def test_a_tampered_link_is_refused_and_changes_nothing(site):
    good = site.tokens.manage(ETHAN)
    for token in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
                  site.tokens.manage("someone.else@example.org").split(".")[0] + "."
                  + good.split(".", 1)[1], "not-a-token", "%C3%A9t%C3%A9"):
        for kind in ("u", "p"):
            for method in ("GET", "POST"):
                answer = site.client.request(method, f"/{kind}/{token}",
                                             data={"lists_shown": "1"})
                assert answer.status_code == 400, (kind, method, token)
                assert "does not work" in answer.text and "Traceback" not in answer.text
                assert "the subject &#34;unsubscribe&#34; to unsubscribe@news.example.org" in answer.text
    assert site.audience.get(ETHAN).lists == {"members": "confirmed"}
    assert not site.audience.is_suppressed(ETHAN)
    assert site.audience.count("members") == 320


def test_links_from_a_test_email_or_a_preview_change_nothing(site):
    # An editor trying the unsubscribe link of a test send keeps their subscription.
    token = site.tokens.manage(ETHAN, test=True)
    provider = make_client(site.config, site.store)
    for kind in ("u", "p"):
        for method in ("GET", "POST"):
            answer = site.client.request(method, f"/{kind}/{token}", data={"lists_shown": "1"})
            assert answer.status_code == 200, (kind, method)
            assert "This link is from a test email" in answer.text
            assert "changes nothing" in answer.text and ETHAN not in answer.text
    one_click = provider.post(f"/u/{token}", content=ONE_CLICK.encode(),
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200
    assert site.audience.get(ETHAN).lists == {"members": "confirmed"}
    assert not site.audience.is_suppressed(ETHAN)
    assert not [e for e in site.audience.show(ETHAN)["consent_events"]
                if e["action"] == "unsubscribed"]


# -- /p: preferences ----------------------------------------------------------------------

def test_the_preferences_page_shows_where_the_person_stands(site):
    page = site.client.get(site.manage_url("p", ETHAN))
    assert page.status_code == 200
    html = page.text
    assert ETHAN in html and 'value="Ethan Thompson"' in html
    assert re.search(r'name="list" value="members" checked', html)
    assert "IO Insights (society members)" in html
    assert re.search(r'value="immuno-oncology" checked', html)
    assert not re.search(r'value="liver" checked', html)
    assert re.search(r'<option value="north-america" selected>North America', html)
    assert f'action="{site.manage_url("u", ETHAN)}"' in html  # unsubscribe from everything
    assert site.client.post(site.manage_url("p", ETHAN), data={}).status_code == 200
    assert site.audience.get(ETHAN).lists == {"members": "confirmed"}  # a bare POST: nothing


def test_saved_preferences_change_the_next_send(site):
    url = site.manage_url("p", ETHAN)
    form = {"lists_shown": "1", "interests_shown": "1", "list": "members",
            "interest": ["liver", "bone"], "region": "europe", "name": "Ethan J. Thompson"}
    saved = site.client.post(url, data=form)
    assert saved.status_code == 200
    assert "Interests: Liver, Bone." in saved.text and "Region: Europe." in saved.text
    person = site.audience.get(ETHAN)
    assert person.attributes["interests"] == ["liver", "bone"]
    assert person.attributes["region"] == "europe" and person.name == "Ethan J. Thompson"
    assert person.attributes["organisation"] == "Mercy Valley Cancer Institute"  # kept
    assert site.segment_of(ETHAN) == "liver"  # the liver segment's rule now matches

    left = site.client.post(url, data={**form, "list": [], "list_was": "members"})
    assert "You left IO Insights (society members)." in left.text
    assert site.audience.get(ETHAN).lists == {"members": "unsubscribed"}
    assert site.segment_of(ETHAN) is None
    assert not site.audience.is_suppressed(ETHAN)  # left one list, not everything

    back = site.client.post(url, data=form)
    assert "You joined IO Insights (society members)." in back.text
    assert site.segment_of(ETHAN) == "liver"
    membership = site.audience.show(ETHAN)["memberships"][0]
    assert membership["consent_source"] == "web:preferences"


def test_hostile_preference_values_are_ignored(site):
    url = site.manage_url("p", ETHAN)
    answer = site.client.post(url, data={
        "lists_shown": "1", "interests_shown": "1", "list": ["members", "admins", "' OR 1=1"],
        "interest": ["immuno-oncology", "<script>alert(1)</script>"], "region": "mars",
        "name": "\u202eEthan\x00 <b>Thompson</b>\u2066\n" + "x" * 5000})
    assert answer.status_code == 200
    assert "<script>alert(1)" not in answer.text and "<b>Thompson</b>" not in answer.text
    person = site.audience.get(ETHAN)
    assert person.lists == {"members": "confirmed"}
    assert person.attributes["interests"] == ["immuno-oncology"]
    assert person.attributes["region"] == "north-america"
    assert person.name.startswith("Ethan <b>Thompson</b> xxx") and len(person.name) == 100
    files = site.client.post(url, files={"list": ("x.txt", b"members"), "region": ("r", b"")})
    assert files.status_code == 200


def test_a_name_saved_in_preferences_is_stored_clean(site):
    answer = site.client.post(site.manage_url("p", ETHAN), data={
        "name": "\u3164\u200bZoe\u0308\u2067 \r\nM\u00fcller\u202c\t"})
    assert answer.status_code == 200 and "Name updated." in answer.text
    assert site.audience.get(ETHAN).name == "Zoë Müller"


def test_who_unsubscribed_from_everything_can_come_back_through_preferences(site):
    site.client.post(site.manage_url("u", ETHAN))
    page = site.client.get(site.manage_url("p", ETHAN))
    assert "You unsubscribed from everything" in page.text
    assert not re.search(r'name="list" value="members" checked', page.text)
    site.client.post(site.manage_url("p", ETHAN), data={"lists_shown": "1", "list": "members"})
    assert site.audience.suppression_reason(ETHAN) is None
    assert site.segment_of(ETHAN) == "general"


@pytest.mark.parametrize("reason", ["bounce", "complaint", "manual"])
def test_a_suppressed_person_cannot_resubscribe_through_preferences(site, reason):
    site.client.post(site.manage_url("p", ETHAN),
                     data={"lists_shown": "1", "list_was": "members"})  # leaves
    site.audience.suppress(ETHAN, reason, "test", MONDAY)
    answer = site.client.post(site.manage_url("p", ETHAN),
                              data={"lists_shown": "1", "list": "members"})
    assert answer.status_code == 200 and "We cannot subscribe this address" in answer.text
    assert site.audience.get(ETHAN).lists == {"members": "unsubscribed"}
    assert site.audience.suppression_reason(ETHAN) == reason
    assert site.segment_of(ETHAN) is None
    assert site.transactional() == []


def test_an_erased_person_gets_a_friendly_page(site):
    site.audience.forget(ETHAN, MONDAY)
    for method in ("GET", "POST"):
        answer = site.client.request(method, site.manage_url("p", ETHAN),
                                     data={"lists_shown": "1", "list": "members"})
        assert answer.status_code == 404 and "No subscription found" in answer.text
    assert site.audience.get(ETHAN) is None and site.segment_of(ETHAN) is None
    assert site.client.post(site.manage_url("u", ETHAN)).status_code == 200


def test_joining_a_double_opt_in_list_from_preferences_sends_a_confirmation(web_project):
    add_list(web_project, "digest", "IO Insights monthly digest", double_opt_in=True)
    site = open_site(web_project)
    try:
        page = site.client.get(site.manage_url("p", ETHAN))
        assert "IO Insights monthly digest" in page.text
        answer = site.client.post(site.manage_url("p", ETHAN), data={
            "lists_shown": "1", "list": ["members", "digest"]})
        assert "We sent you an email to confirm IO Insights monthly digest" in answer.text
        assert site.audience.get(ETHAN).lists == {"members": "confirmed",
                                                  "digest": "unconfirmed"}
        [sent] = site.transactional()
        assert sent["To"] == ETHAN
        assert site.client.post(confirm_link(sent)).status_code == 200
        assert site.audience.get(ETHAN).lists["digest"] == "confirmed"
    finally:
        site.store.close()


# -- /confirm: double opt-in ----------------------------------------------------------------

def test_confirming_takes_a_post_and_an_expired_link_is_refused(site):
    new = "new.reader@example.org"
    assert site.audience.sign_up(new, "members", source="test", now=MONDAY) == "confirm"
    url = f"/confirm/{site.tokens.confirm(new, 'members')}"
    page = site.client.get(url)
    assert page.status_code == 200 and new in page.text and f'action="{url}"' in page.text
    assert site.audience.get(new).lists == {"members": "unconfirmed"}
    assert site.segment_of(new) is None

    done = site.client.post(url)
    assert done.status_code == 200 and "you are subscribed" in done.text
    assert site.segment_of(new) == "general"
    assert site.audience.show(new)["memberships"][0]["consent_source"] == "web:confirm"
    assert "Already confirmed" in site.client.post(url).text

    late = "late.reader@example.org"
    site.audience.sign_up(late, "members", source="test", now=MONDAY)
    old = int(time.time()) - CONFIRM_MAX_AGE - 60
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: old)
        expired = f"/confirm/{site.tokens.confirm(late, 'members')}"
    for method in ("GET", "POST"):
        answer = site.client.request(method, expired)
        assert answer.status_code == 400 and "has expired" in answer.text
        assert 'href="/subscribe"' in answer.text  # sign up again
    assert site.audience.get(late).lists == {"members": "unconfirmed"}
    assert site.client.post(url[:-3] + "xyz").status_code == 400


# -- /subscribe: sign-up --------------------------------------------------------------------

def test_signing_up_starts_double_opt_in_with_an_email(site):
    form = site.client.get("/subscribe")
    assert form.status_code == 200 and 'name="website"' in form.text and 'class="hp"' in form.text
    answer = site.client.post("/subscribe", data={
        "email": "Fresh.Reader@Example.org", "name": "Fresh Reader", "list": "members",
        "interest": ["lung", "nonsense"], "website": ""})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    person = site.audience.get("fresh.reader@example.org")
    assert person.lists == {"members": "unconfirmed"}  # members is not double opt-in
    assert person.attributes == {"interests": ["lung"]} and person.name == "Fresh Reader"
    assert site.segment_of(person.email) is None
    [sent] = site.transactional()
    assert sent["To"].addresses[0].addr_spec.casefold() == "fresh.reader@example.org"
    site.client.post(confirm_link(sent))
    assert site.segment_of(person.email) == "lung"

    # A known address: the same answer, no change to what we hold, no enumeration.
    again = site.client.post("/subscribe", data={"email": ETHAN, "name": "Someone Else",
                                                 "list": "members"})
    assert again.status_code == 200 and again.text == answer.text
    assert site.audience.get(ETHAN).name == "Ethan Thompson"
    assert len(site.transactional()) == 1  # already confirmed: nothing to confirm


def test_a_hostile_name_signing_up_is_stored_clean(site):
    answer = site.client.post("/subscribe", data={
        "email": "new.reader@example.org", "list": "members", "website": "",
        "name": "\u202eNew\u3164\x00 \r\nRe\u0301ader\u2069" + "\u200b" * 50 + "y" * 300})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    name = site.audience.get("new.reader@example.org").name
    assert name == ("New Réader" + "y" * 300)[:100]


def test_the_honeypot_pretends_and_stores_nothing(site):
    answer = site.client.post("/subscribe", data={
        "email": "bot@example.org", "list": "members", "website": "https://spam.example"})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert site.audience.get("bot@example.org") is None and site.transactional() == []


def test_sign_ups_are_rate_limited_per_address(site):
    for n in range(5):
        answer = site.client.post("/subscribe", data={"email": f"r{n}@example.org",
                                                      "list": "members"})
        assert answer.status_code == 200
    refused = site.client.post("/subscribe", data={"email": "r5@example.org", "list": "members"})
    assert refused.status_code == 429 and "Too many sign-ups" in refused.text
    assert site.audience.get("r5@example.org") is None


def test_an_invalid_address_shows_the_form_again(site):
    for data in ({"email": "not an address", "list": "members", "name": "<b>X</b>"},
                 {"email": "a@b", "list": "members"}, {"list": "members"}):
        answer = site.client.post("/subscribe", data=data)
        assert answer.status_code == 400 and "Please enter a valid email address" in answer.text
        assert "<b>X</b>" not in answer.text
    unknown_list = site.client.post("/subscribe", data={"email": "x@example.org", "list": "vip"})
    assert unknown_list.status_code == 400 and site.audience.get("x@example.org") is None


# -- /issues: the web version ---------------------------------------------------------------

def test_the_web_version_of_a_sent_issue_carries_nobodys_links(web_project):
    config, report = first_run(web_project)
    assert report.status == "sent", report.message
    site = open_site(web_project, seeded=False)
    try:
        answer = site.client.get("/issues/2026-W48/liver")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        [variant] = [v for v in site.store.get_variants("2026-W48") if v.segment == "liver"]
        assert f"<title>{variant.subject}</title>" in answer.text  # the email, as sent
        assert answer.text.lstrip().lower().startswith("<!doctype html")
        assert "Dear colleague," in answer.text
        assert not any(p in answer.text for p in PLACEHOLDERS.values())
        assert not re.search(r"%[a-z_]+%", answer.text)
        assert "/u/" not in answer.text and "/p/" not in answer.text
        assert "https://news.example.org/manage" in answer.text
        assert "/issues/2026-W48/liver" in answer.text  # its own view-in-browser link
        assert site.client.get("/manage").status_code == 200
        ics = re.search(r"https://news\.example\.org(/events/\d+\.ics)", answer.text).group(1)
        calendar = site.client.get(ics)  # the issue's own "add to calendar" link
        assert calendar.status_code == 200 and Calendar.from_ical(calendar.content).walk("VEVENT")
        for url in ("/issues/2026-W48/nobody", "/issues/2030-W01/general", "/issues/x/y"):
            assert site.client.get(url).status_code == 404
    finally:
        site.store.close()


def test_an_unsent_issue_has_no_web_version(web_project):
    require_approval(web_project)
    _config, report = first_run(web_project)
    assert report.status == "awaiting-approval"
    site = open_site(web_project, seeded=False)
    try:
        assert site.store.get_variants("2026-W48")  # rendered, but not sent
        assert site.client.get("/issues/2026-W48/general").status_code == 404
    finally:
        site.store.close()


# -- /events: add to calendar ---------------------------------------------------------------

def publish(site: Site, issue_id: str, carried: list[Item], status: str) -> None:
    site.store.create_issue(issue_id, MONDAY, MONDAY, {"events": carried},
                            frozenset(i.id for i in carried), MONDAY)
    if status != "draft":
        site.store.set_issue_status(issue_id, status, MONDAY)


@pytest.mark.parametrize("status", ["draft", "approved", "skipped", None])
def test_only_events_of_a_sending_or_sent_issue_download(site, status):
    [event] = site.store.save_items([Item(
        source="t", guid="e9", section="events", title="Not announced yet",
        event_start=datetime(2027, 3, 1, 9, 0, tzinfo=UTC))], MONDAY).new
    if status:
        publish(site, "2026-W03", [event], status)
    assert site.client.get(f"/events/{event.id}.ics").status_code == 404

def test_an_event_downloads_as_icalendar(site):
    start = datetime(2027, 1, 14, 15, 0, tzinfo=UTC)
    event, news = site.store.save_items([
        Item(source="t", guid="e1", section="events", title="Liver Tumour Board, live",
             link="https://society.example.org/events/board", event_start=start,
             event_end=datetime(2027, 1, 14, 16, 30, tzinfo=UTC),
             event_location="Room 4, Springfield", summary_html="<p>Cases &amp; Q&amp;A</p>"),
        Item(source="t", guid="n1", section="news", title="A news post",
             link="https://society.example.org/news/1"),
    ], MONDAY).new
    publish(site, "2026-W01", [event, news], "sent")
    answer = site.client.get(f"/events/{event.id}.ics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    [vevent] = Calendar.from_ical(answer.content).walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Liver Tumour Board, live"
    assert vevent.decoded("DTSTART") == start
    assert vevent.decoded("DTEND") == datetime(2027, 1, 14, 16, 30, tzinfo=UTC)
    assert str(vevent["LOCATION"]) == "Room 4, Springfield"
    assert str(vevent["URL"]) == "https://society.example.org/events/board"
    assert str(vevent["UID"]) == f"event-{event.id}@news.example.org"
    assert "Cases & Q&A" in str(vevent["DESCRIPTION"])
    # the time as the issue gave it, in the newsletter's zone, opens the description
    assert str(vevent["DESCRIPTION"]).startswith("Thu 14 Jan 2027, 09:00 CST\n\n")

    all_day = site.store.save_items([Item(
        source="t", guid="e2", section="events", title="Winter school", event_all_day=True,
        event_start=datetime(2027, 2, 1, tzinfo=UTC),
        event_end=datetime(2027, 2, 2, 23, 59, 59, tzinfo=UTC))], MONDAY).new[0]
    publish(site, "2026-W02", [all_day], "sending")  # its first readers come during the send
    [vevent] = Calendar.from_ical(site.client.get(f"/events/{all_day.id}.ics").content
                                  ).walk("VEVENT")
    assert str(vevent.decoded("DTSTART")) == "2027-02-01"
    assert str(vevent.decoded("DTEND")) == "2027-02-03"  # exclusive: two whole days

    for url in (f"/events/{news.id}.ics", "/events/999999.ics", "/events/99999999999999.ics",
                "/events/abc.ics"):
        assert site.client.get(url).status_code == 404, url


def test_an_all_day_session_of_a_series_downloads_as_its_own_date(site):
    [event] = site.store.save_items([Item(
        source="t", guid="d1", section="events", title="Abstract deadline",
        event_start=datetime(2026, 12, 15, tzinfo=UTC), event_all_day=True,
        event_end=datetime(2026, 12, 15, 23, 59, 59, tzinfo=UTC),
        event_series="deadline@example.org", event_recurrence="FREQ=YEARLY")], MONDAY).new
    publish(site, "2026-W40", [event], "sent")
    [vevent] = Calendar.from_ical(site.client.get(f"/events/{event.id}.ics").content
                                  ).walk("VEVENT")
    assert vevent.decoded("DTSTART") == date(2026, 12, 15)
    assert vevent.decoded("DTEND") == date(2026, 12, 16)
    # this session, not "Yearly, next: ..."; the same date as in the email
    assert str(vevent["DESCRIPTION"]) == "Tue 15 Dec 2026 (all day)"


# -- an unsubscribe during a send ----------------------------------------------------------

def test_a_one_click_unsubscribe_during_a_send_is_honoured_by_the_next_batch(web_project,
                                                                             monkeypatch):
    edit_config(web_project, "batch_size = 1000", "batch_size = 20")
    edit_config(web_project, "concurrency = 4 ", "concurrency = 1 ")
    site = open_site(web_project)
    leaver = list(site.audience.resolve(["members"], site.config.segment_rules,
                                        "general"))[-1].email
    url = site.manage_url("u", leaver)
    handed: list[list[str]] = []
    answers: list[int] = []
    real_send_batch = OutboxBackend.send_batch

    def send_then_unsubscribe(self, issue_id, batch_id, seq, variant, recipients):
        outcome = real_send_batch(self, issue_id, batch_id, seq, variant, recipients)
        handed.append([r.email for r in recipients])
        if len(handed) == 1:  # the first batch has gone: the reader clicks one-click now
            assert leaver not in handed[0]
            answers.append(site.client.post(
                url, content=ONE_CLICK.encode(), follow_redirects=False,
                headers={"content-type": "application/x-www-form-urlencoded"}).status_code)
        return outcome

    monkeypatch.setattr(OutboxBackend, "send_batch", send_then_unsubscribe)
    try:
        report = run_weekly(site.config, MONDAY)
        assert answers == [200]
        assert len(handed) > 2  # the leaver's batch went later
        assert report.status == "sent" and "1 left or were suppressed" in report.message
        mailed = [row[0] for row in manifest(web_project, "2026-W48")]
        assert leaver not in mailed and len(mailed) == len(set(mailed)) == 319
        assert sum(len(b) for b in handed) == 319
        [ledger] = site.store.sends_to(leaver.casefold())
        assert ledger["state"] == "skipped"
        assert set(site.store.delivered_count("2026-W48").values()) and sum(
            site.store.delivered_count("2026-W48").values()) == 319
    finally:
        site.store.close()


def test_a_head_request_changes_nothing(site):
    """Link scanners send HEAD as well as GET; Starlette answers HEAD on GET routes."""
    for kind in ("u", "p"):
        assert site.client.head(site.manage_url(kind, ETHAN)).status_code == 200
    assert site.audience.get(ETHAN).lists == {"members": "confirmed"}
    assert not site.audience.is_suppressed(ETHAN)
    site.audience.add("new.reader@example.org", "members", status="unconfirmed",
                      source="test", now=MONDAY)
    token = site.tokens.confirm("new.reader@example.org", "members")
    assert site.client.head(f"/confirm/{token}").status_code == 200
    assert site.audience.get("new.reader@example.org").lists == {"members": "unconfirmed"}


def test_a_blocked_person_saving_their_name_leaves_no_list(site):
    site.audience.suppress(ETHAN, "bounce", "webhook", MONDAY)
    answer = site.client.post(site.manage_url("p", ETHAN),
                              data={"lists_shown": "1", "name": "Ethan T."})
    assert answer.status_code == 200 and "You left" not in answer.text
    assert answer.headers["cache-control"] == "no-store"
    assert site.audience.get(ETHAN).lists == {"members": "confirmed"}


def test_a_bounce_after_an_unsubscribe_can_no_longer_be_lifted(site):
    site.client.post(site.manage_url("u", ETHAN))
    assert site.audience.suppression_reason(ETHAN) == "unsubscribed"
    site.audience.suppress(ETHAN, "bounce", "webhook", MONDAY)
    assert site.audience.suppression_reason(ETHAN) == "bounce"
    answer = site.client.post(site.manage_url("p", ETHAN),
                              data={"lists_shown": "1", "list": "members"})
    assert "We cannot subscribe this address" in answer.text
    assert site.segment_of(ETHAN) is None


def test_an_old_copy_of_the_preferences_page_undoes_nothing(site):
    """Back to the page as it was before "leave everything", then Save: the list shown
    ticked and still ticked is no change, so nobody is resubscribed by accident."""
    page = site.client.get(site.manage_url("p", ETHAN)).text
    assert 'name="list_was" value="members"' in page
    site.client.post(site.manage_url("u", ETHAN))
    stale = {"lists_shown": "1", "list_was": "members", "list": "members"}
    site.client.post(site.manage_url("p", ETHAN), data=stale)
    assert site.audience.get(ETHAN).lists == {"members": "unsubscribed"}
    assert site.audience.suppression_reason(ETHAN) == "unsubscribed"


def test_a_confirmation_that_cannot_be_sent_keeps_the_rest_of_the_form(web_project,
                                                                        monkeypatch):
    from pipeline.errors import DeliveryError
    from pipeline.web import preferences

    def mail_is_down(*_args):
        raise DeliveryError("the mail service is down")

    monkeypatch.setattr(preferences, "send_confirmation", mail_is_down)
    add_list(web_project, "digest", "IO Insights monthly digest", double_opt_in=True)
    site = open_site(web_project)
    try:
        answer = site.client.post(site.manage_url("p", ETHAN), data={
            "lists_shown": "1", "list": ["members", "digest"], "list_was": "members",
            "name": "Ethan J. Thompson"})
        assert answer.status_code == 200
        assert "We could not send the email to confirm IO Insights monthly digest" in answer.text
        assert site.audience.get(ETHAN).name == "Ethan J. Thompson"  # not lost
    finally:
        site.store.close()


def test_rate_limits_key_ipv6_clients_by_their_64_network():
    from types import SimpleNamespace

    from pipeline.web.common import client_key

    def key(host):
        return client_key(SimpleNamespace(client=SimpleNamespace(host=host)))

    assert key("2001:db8::1") == key("2001:db8:0:0:ffff::2") == "2001:db8::/64"
    assert key("2001:db8:0:1::1") != key("2001:db8::1")
    assert key("192.0.2.7") == "192.0.2.7"


# -- redirects ------------------------------------------------------------------------------

def test_no_redirect_echoes_a_hostile_host_header(site):
    token = site.tokens.manage(ETHAN)
    paths = ["/admin", "/admin/", "/admin/issues", "/admin/issues/", "/admin/login/",
             "/subscribe/", "/manage/", f"/u/{token}/", f"/p/{token}/", "/admin/issues?x=1",
             "//evil.example/admin/"]
    for host in ("evil.example", "news.example.org.evil.example", "evil.example:443"):
        for path in paths:
            r = site.client.get(path, headers={"host": host, "x-forwarded-host": host},
                                follow_redirects=False)
            if r.is_redirect:
                location = r.headers["location"]
                assert "evil" not in location, (host, path, location)
                assert location.startswith("/") and not location.startswith("//") or \
                    location.startswith("https://news.example.org/"), (path, location)
    r = site.client.get("/subscribe/", headers={"host": "evil.example"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/subscribe"


# -- a store that is locked or unreachable ----------------------------------------------------

def assert_unavailable_page(answer) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "30"
    assert "Please try again in a few minutes" in answer.text and "IO Insights" in answer.text
    for leak in ("SELECT", "INSERT", "sqlalchemy", "psycopg", "Traceback", "127.0.0.1"):
        assert leak not in answer.text


def test_an_unreachable_store_gives_subscribers_a_503_page(project, monkeypatch):
    from pipeline.store import db

    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)
    monkeypatch.setattr("pipeline.web.common.RETRY_SECONDS", 0.5)
    config = load_config(project / "config.toml")
    store = Store(db.make_engine("postgresql://postgres@127.0.0.1:1/insights"))  # refused
    tokens = Tokens(KEY)
    with make_client(config, store) as client:
        manage = tokens.manage(ETHAN)
        for method, path in (("GET", f"/u/{manage}"), ("POST", f"/u/{manage}"),
                             ("GET", f"/p/{manage}"), ("POST", f"/p/{manage}"),
                             ("POST", f"/confirm/{tokens.confirm(ETHAN, 'members')}"),
                             ("GET", "/issues/2026-W48/general")):
            assert_unavailable_page(client.request(method, path, data={"x": "1"}))
        assert_unavailable_page(client.post("/subscribe", data={
            "email": "new@example.org", "list": "members"}))
    store.close()


def hold_write_lock(path: Path):
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # a send (another process) in the middle of a write
    return holder


def test_a_locked_store_gives_a_503_after_the_one_click_retries(project, monkeypatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)
    monkeypatch.setattr("pipeline.store.db.BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr("pipeline.web.common.RETRY_SECONDS", 1.0)
    site = open_site(project)
    holder = hold_write_lock(project / "var" / "insights.db")
    try:
        url = site.manage_url("u", ETHAN)
        assert site.client.get(url).status_code == 200  # reading still works (WAL)
        started = time.monotonic()
        assert_unavailable_page(site.client.post(url, content=ONE_CLICK, headers={
            "content-type": "application/x-www-form-urlencoded"}))
        assert time.monotonic() - started >= 0.9  # it kept trying first
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert site.audience.suppression_reason(ETHAN) is None  # and said so: nothing changed
    site.store.close()


def test_the_one_click_unsubscribe_waits_out_a_short_lock(project, monkeypatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", KEY)
    monkeypatch.setattr("pipeline.store.db.BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr("pipeline.web.common.RETRY_SECONDS", 5.0)
    site = open_site(project)
    holder = hold_write_lock(project / "var" / "insights.db")
    release = threading.Timer(0.8, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        answer = site.client.post(site.manage_url("u", ETHAN), content=ONE_CLICK, headers={
            "content-type": "application/x-www-form-urlencoded"})
    finally:
        release.join()
        holder.close()
    assert answer.status_code == 200
    assert site.audience.suppression_reason(ETHAN) == "unsubscribed"
    site.store.close()
