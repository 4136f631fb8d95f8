"""/admin's forms for editors' own content: each needs the CSRF token and a signed-in
editor, refuses what cannot go into an issue with a message saying why, returns to the
item it changed, and re-renders every variant."""

from __future__ import annotations

import html
import re

import pytest

from . import test_web_admin

# The signed-out and signed-in admin fixtures (a draft awaiting approval, one editor).
admin = test_web_admin.admin
signed_in = test_web_admin.signed_in

ISSUE = "/admin/issues/2026-W48"
IMAGE = "https://cdn.example.org/lead.jpg"


def page(client) -> str:
    return client.client.get(ISSUE).text


def flash(client) -> str:
    found = re.search(r'<p class="(?:flash|error)" role="status">(.*?)</p>', page(client))
    return html.unescape(found.group(1)) if found else ""


def general(client):
    return next(v for v in client.store.get_variants("2026-W48") if v.segment == "general")


def news(client):
    return client.store.issue_sections("2026-W48")["news"]


POSTS = [
    ("content/add", {"section": "news", "title": "T", "link": "https://e.org/"}),
    ("content/headers", {"subject": "S", "preheader": ""}),
    ("content/sections", {"section": "events", "move": "up"}),
]


@pytest.mark.parametrize(("path", "data"), POSTS)
def test_every_content_form_needs_the_csrf_token_and_an_editor(admin, path, data):
    r = admin.client.post(f"{ISSUE}/{path}", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/login")
    admin.login()
    before = admin.store.get_variants("2026-W48")
    r = admin.client.post(f"{ISSUE}/{path}", data={**data, "csrf": "wrong"},
                          follow_redirects=False)
    assert r.status_code == 403
    assert admin.store.get_variants("2026-W48") == before
    item = news(admin)[0].id
    for tail in (f"content/{item}/text", f"content/{item}/lead"):
        assert admin.client.post(f"{ISSUE}/{tail}", data={"csrf": "wrong"},
                                 follow_redirects=False).status_code == 403


def test_add_an_item_with_an_image_as_the_lead_story(signed_in):
    signed_in.approve()
    r = signed_in.post(f"{ISSUE}/content/add", section="news",
                       title="A message from the president", link="https://www.example.org/p",
                       teaser="We *grow*.", image_url=IMAGE, image_alt="The president",
                       lead="yes", segment="general", view="desktop")
    [item] = [i for i in news(signed_in) if i.title == "A message from the president"]
    assert r.status_code == 303
    assert r.headers["location"].endswith(f"segment=general&view=desktop#item-{item.id}")
    assert signed_in.store.get_issue("2026-W48").status == "draft"
    assert signed_in.store.get_issue("2026-W48").lead_item_id == item.id
    assert "== LEAD STORY ==" in general(signed_in).text
    text = page(signed_in)
    assert f'id="item-{item.id}"' in text and "Lead story</span>" in text
    assert "Added by an editor" in text and "Item added; every variant re-rendered." in text
    assert "+== LEAD STORY ==" in html.unescape(text)  # in the approval diff


@pytest.mark.parametrize(("fields", "message"), [
    ({"title": "", "link": "https://e.org/"}, "title: write something"),
    ({"title": "A\nB", "link": "https://e.org/"}, "title: one line"),
    ({"title": "T", "link": "javascript:alert(1)"}, "link: a web address starting with https://"),
    ({"title": "T", "link": "data:text/html;base64,PHNjcmlwdD4="}, "link: a web address"),
    ({"title": "T", "link": "https://e.org/", "image_url": "http://e.org/i.jpg",
      "image_alt": "x"}, "image: an address starting with https://"),
    ({"title": "T", "link": "https://e.org/", "image_url": IMAGE}, "alt text: write something"),
    ({"title": "T", "link": "https://e.org/", "section": "events", "starts": "tomorrow"},
     "starts: 'tomorrow' is not a date and time"),
    ({"title": "T", "link": "https://e.org/", "section": "events"}, "an event needs the date"),
])
def test_what_cannot_go_into_an_issue_is_refused_with_a_message(signed_in, fields, message):
    before = signed_in.store.get_variants("2026-W48")
    r = signed_in.post(f"{ISSUE}/content/add", **{"section": "news", **fields})
    assert r.status_code == 400  # the page at once, at the form: no redirect
    assert message.lower() in html.unescape(refusal(r.text, "add-item-refused")).lower()
    assert signed_in.store.get_variants("2026-W48") == before


def refusal(page: str, element_id: str) -> str:
    found = re.search(rf'<p class="error" role="alert" id="{element_id}">(.*?)</p>', page)
    assert found, f"no #{element_id} on the page"
    return found.group(1)


def add_form(page: str) -> str:
    return page.split('<h3 id="add-item">')[1].split("</form>")[0]


def test_a_refused_add_keeps_what_the_editor_typed_escaped(signed_in):
    """Refused (an http image), the form comes back filled as it was sent, at the form,
    on the variant and view the editor had open; hostile text stays text."""
    typed = {"section": "events", "title": 'The "AGM" <script>alert(1)</script>',
             "link": "https://www.example.org/agm",
             "teaser": "Bring *everyone* & friends </textarea><b>bold</b>",
             "image_url": "http://insecure.example/hall.jpg", "image_alt": "The hall",
             "starts": "2026-12-03T18:30", "where": "Vienna", "lead": "yes",
             "sponsored": "yes"}
    r = signed_in.post(f"{ISSUE}/content/add", segment="liver", view="mobile", **typed)
    assert r.status_code == 400
    form = add_form(r.text)
    assert "<strong>Not added.</strong> Image: an address starting with https://" in \
        refusal(form, "add-item-refused")
    assert 'value="The &#34;AGM&#34; &lt;script&gt;alert(1)&lt;/script&gt;"' in form
    assert "<script>alert" not in r.text and "<b>bold</b>" not in r.text
    assert ('>Bring *everyone* &amp; friends &lt;/textarea&gt;&lt;b&gt;bold&lt;/b&gt;'
            "</textarea>") in form
    for name in ("link", "image_url", "image_alt", "starts", "where"):
        assert f'name="{name}"' in form and f'value="{html.escape(typed[name])}"' in form
    assert '<option value="events" selected>' in form
    assert 'name="lead" value="yes" checked' in form
    assert 'name="sponsored" value="yes" checked' in form
    # The browser lands at the form; the page is the one the editor had open, and its
    # links lead to the issue's page, not to the form's address.
    assert f'action="{ISSUE}/content/add#add-item"' in form
    assert 'name="segment" value="liver"' in form and 'name="view" value="mobile"' in form
    assert '<strong aria-current="page">liver</strong>' in r.text and f'href="{ISSUE}?segment=general' in r.text
    assert "Not added" not in page(signed_in)  # kept for that response only
    assert 'value="The &#34;AGM&#34;' not in page(signed_in)
    # Corrected and sent again, the item is added.
    r = signed_in.post(f"{ISSUE}/content/add",
                       **{**typed, "image_url": IMAGE, "title": "The AGM"})
    assert r.status_code == 303 and "#item-" in r.headers["location"]


def test_an_event_added_in_the_newsletters_time(signed_in):
    signed_in.post(f"{ISSUE}/content/add", section="events", title="Members' evening",
                   link="https://www.example.org/evening", starts="2026-12-03T18:30",
                   where="Vienna")
    assert "Members' evening" in general(signed_in).text
    assert "18:30" in general(signed_in).text


def test_edit_a_headline_shows_the_feeds_original_beside_it(signed_in):
    item = news(signed_in)[1]
    r = signed_in.post(f"{ISSUE}/content/{item.id}/text", title="A better headline",
                       teaser="Short and **clear**.")
    assert r.headers["location"].endswith(f"#item-{item.id}")
    text = general(signed_in).text
    assert "A better headline" in text and item.title not in text
    shown = page(signed_in)
    assert "The feed’s original" in shown and html.escape(item.title) in shown
    assert 'value="A better headline"' in shown and "Edited for this issue" in shown
    signed_in.post(f"{ISSUE}/content/{item.id}/text", title=item.title, teaser="")
    assert item.title in general(signed_in).text
    r = signed_in.post(f"{ISSUE}/content/{item.id}/text", title="x" * 300,
                       teaser="A teaser *kept* <i>as typed</i>")
    assert r.status_code == 400
    row = r.text.split(f'<tr id="item-{item.id}"')[1].split("</tr>")[0]
    assert "Title: 300 characters, at most 200" in refusal(row, f"edit-refused-{item.id}")
    assert '<details class="edit-item" open>' in row  # the form open, at the item
    assert f'action="{ISSUE}/content/{item.id}/text#item-{item.id}"' in row
    assert f'value="{"x" * 300}"' in row
    assert ">A teaser *kept* &lt;i&gt;as typed&lt;/i&gt;</textarea>" in row
    assert r.text.count("<details class=\"edit-item\" open>") == 1  # only that item's
    assert "A teaser *kept*" not in general(signed_in).text  # nothing saved


def test_lead_remove_sections_and_headers(signed_in):
    item = news(signed_in)[0]
    signed_in.post(f"{ISSUE}/content/{item.id}/lead")
    assert signed_in.store.get_issue("2026-W48").lead_item_id == item.id
    signed_in.post(f"{ISSUE}/content/{item.id}/lead", lead="no")
    assert signed_in.store.get_issue("2026-W48").lead_item_id is None
    r = signed_in.post(f"{ISSUE}/content/{item.id}/remove")
    assert "was not added by an editor" in flash(signed_in)
    r = signed_in.post(f"{ISSUE}/content/sections", section="events", move="up")
    assert r.headers["location"].endswith("#section-events")
    assert signed_in.store.get_issue("2026-W48").section_order == ("news", "events", "research")
    assert signed_in.post(f"{ISSUE}/content/sections", section="events",
                          move="sideways").status_code == 400
    signed_in.post(f"{ISSUE}/content/headers", subject="Hello\r\nBcc: x@evil.example",
                   preheader="")
    assert "subject: one line" in flash(signed_in)
    signed_in.post(f"{ISSUE}/content/headers", subject="The TACE guideline is out",
                   preheader="And more")
    assert general(signed_in).subject == "The TACE guideline is out"
    assert 'value="The TACE guideline is out"' in page(signed_in)
    audit = [e.action for e in signed_in.store.audit_entries("2026-W48")]
    assert {"lead", "sections", "headers"} <= set(audit)


def row(client, item_id: int) -> str:
    """The item's row of the issue page, as HTML."""
    found = re.search(rf'<tr id="item-{item_id}"[^>]*>(.*?)</tr>', page(client), re.S)
    assert found, f"no row for item {item_id}"
    return found.group(1)


def test_every_edit_returns_to_what_it_changed(signed_in):
    first, second = news(signed_in)[0].id, news(signed_in)[1].id
    anchors = [  # (form, fields, where the editor lands)
        (f"items/{first}", {"action": "pin"}, f"item-{first}"),
        (f"items/{second}", {"action": "up"}, f"item-{second}"),
        (f"items/{first}", {"action": "drop"}, f"item-{first}"),
        (f"items/{first}", {"action": "restore"}, f"item-{first}"),
        (f"content/{second}/text", {"title": "Better", "teaser": ""}, f"item-{second}"),
        (f"content/{second}/lead", {}, f"item-{second}"),
        ("content/sections", {"section": "research", "move": "up"}, "section-research"),
        ("note", {"note": "Hello"}, "note"),
        ("content/headers", {"subject": "S", "preheader": ""}, "headers"),
    ]
    for form, fields, anchor in anchors:
        r = signed_in.post(f"{ISSUE}/{form}", segment="liver", view="mobile", **fields)
        assert r.status_code == 303, form
        assert r.headers["location"] == f"{ISSUE}?segment=liver&view=mobile#{anchor}", form
        landed = signed_in.client.get(r.headers["location"]).text
        assert f'id="{anchor}"' in landed and '<p class="flash" role="status">' in landed, form
    r = signed_in.post(f"{ISSUE}/content/add", section="events", title="Members' evening",
                       link="https://www.example.org/evening", starts="2026-12-03T18:30")
    added = int(r.headers["location"].rsplit("#item-", 1)[1])  # the new item
    assert f'id="item-{added}"' in page(signed_in)
    r = signed_in.post(f"{ISSUE}/content/{added}/remove")  # gone: back to its section
    assert r.headers["location"].endswith("#section-events")


def test_each_item_row_shows_its_teaser_link_topics_and_the_variants_it_is_in(signed_in):
    sections = signed_in.store.issue_sections("2026-W48")
    item = next(i for i in sections["news"] if i.topics)
    shown = row(signed_in, item.id)
    host_path = item.link.split("://", 1)[1].split("?")[0].rstrip("/")
    link = re.search(r'<a class="item-link" ([^>]*)>([^<]*)</a>', shown)
    assert link.group(2) == host_path
    assert f'href="{html.escape(item.link)}"' in link.group(1)
    assert 'rel="noopener noreferrer"' in link.group(1) and 'target="_blank"' in link.group(1)
    assert [html.unescape(t) for t in re.findall(r'<span class="tag"[^>]*>([^<]*)</span>',
                                                 shown)] == list(item.topics)
    assert "In every variant" in shown
    feed_teaser = html.unescape(re.search(r'<p class="item-teaser">([^<]*)</p>',
                                          shown).group(1))
    assert feed_teaser and feed_teaser[:40] in general(signed_in).text.replace("\n  ", " ")
    # industry reads four research items: the fifth is in every variant but that one
    fifth = sections["research"][4]
    assert "In: trainees, nurses-techs, liver, lung, general" in row(signed_in, fifth.id)
    # an editor's teaser is the one shown; a dropped item is in no variant
    signed_in.post(f"{ISSUE}/content/{item.id}/text", title="", teaser="Now **short**.")
    assert '<p class="item-teaser">Now short.</p>' in row(signed_in, item.id)
    signed_in.post(f"{ISSUE}/items/{item.id}", action="drop")
    assert "In no variant" in row(signed_in, item.id)
