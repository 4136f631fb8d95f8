"""The issue page's #diff and #delivery cards: what changed since the approval in editors'
words (the text diff behind a disclosure), and the delivery's totals, rates and the
opens and clicks a config does not count."""

from __future__ import annotations

import html
import re

from sqlalchemy import update

from pipeline.approval import NOT_ITEMISED
from pipeline.store.events import MailEvent
from pipeline.store.schema import issues

from . import test_web_admin
from .helpers import MONDAY

admin = test_web_admin.admin
signed_in = test_web_admin.signed_in
make_admin = test_web_admin.make_admin

ISSUE = "/admin/issues/2026-W48"
HOSTILE = '<script>alert("x")</script> Grants & <b>awards</b>'


def card(page: str, name: str) -> str:
    return page.split(f'<div class="card" id="{name}">')[1].split('<div class="card"')[0]


def changes(page: str) -> list[str]:
    """The phrases of the #diff card, as an editor reads them."""
    listed = card(page, "diff").split('<ul class="changes" id="changes">')[1].split("</ul>")[0]
    return [html.unescape(re.sub(r"<[^>]+>", "", li)).strip()
            for li in re.findall(r"<li[^>]*>(.*?)</li>", listed, re.DOTALL)]


def test_after_edits_the_diff_card_says_what_changed_in_words(signed_in):
    sections = signed_in.store.issue_sections("2026-W48")
    board = next(i for i in sections["events"] if i.title.startswith("IO Tumor Board"))
    news = sections["news"]
    assert signed_in.client.get(ISSUE).text.count('id="diff"') == 0  # nothing approved yet
    signed_in.approve()
    assert 'id="diff"' not in signed_in.client.get(ISSUE).text  # approved as it stands
    signed_in.post(f"{ISSUE}/items/{board.id}", action="drop")
    signed_in.post(f"{ISSUE}/content/{news[1].id}/text", title=HOSTILE)
    signed_in.post(f"{ISSUE}/content/{news[3].id}/lead")
    signed_in.post(f"{ISSUE}/items/{news[2].id}", action="pin")
    signed_in.post(f"{ISSUE}/note", note="Registration for **WCIO** closes Friday.")
    page = signed_in.client.get(ISSUE).text
    industry = [i for i in signed_in.store.issue_sections("2026-W48")["events"]
                if i.title.startswith("Y-90 Dosimetry")][0]
    assert changes(page) == [
        "Dropped: IO Tumor Board (monthly, online), 10 Dec",
        # industry shows 4 items a section: the dropped event and the lead leave room
        f"Now also in industry: {industry.title}, 21 Jan",
        f"Now also in industry: {news[4].title}",
        f"Headline changed: {news[1].title} → {HOSTILE}",
        f"Lead story: {news[3].title}",
        f"Moved: {news[2].title}",
        "Note added",
        "Preheader changed (every variant)"]
    # feed and editors' text is escaped: the title is shown, never run
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)" in page
    assert "<strong>Dropped:</strong> IO Tumor Board" in page
    # the text diff is there, behind a disclosure, after the words
    diff = card(page, "diff")
    details = diff.split('<details class="text-diff" id="text-diff">')[1]
    assert '<span class="add">+Registration for WCIO closes Friday.</span>' in details
    assert diff.index('id="changes"') < diff.index('id="text-diff"')
    signed_in.approve()  # approved again: nothing to describe
    assert 'id="diff"' not in signed_in.client.get(ISSUE).text


def test_an_approval_from_before_the_shape_was_kept_still_shows_its_changes(signed_in):
    signed_in.approve()
    approved = signed_in.store.get_issue("2026-W48").approved_content
    texts = {s: {"subject": t["subject"], "text": t["text"]}  # no preheader, no shape
             for s, t in approved.items() if not s.startswith("_")}
    with signed_in.store.engine.begin() as conn:
        conn.execute(update(issues).where(issues.c.id == "2026-W48")
                     .values(approved_content=texts))
    signed_in.post(f"{ISSUE}/content/headers", subject="Five things for the week",
                   preheader="")
    page = signed_in.client.get(ISSUE).text
    assert changes(page) == ["Subject changed (every variant)", NOT_ITEMISED]
    assert '<li class="note">' in card(page, "diff")
    assert "+Subject: Five things for the week" in card(page, "diff").split('id="text-diff"')[1]


def _cells(row: str) -> list[str]:
    """A delivery row's cells: 'count rate' for figures, the words of the others."""
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]


EVENTS = ["delivered", "delivered", "open", "open", "open", "click", "bounce"]


def _sent(project, store_url, monkeypatch, then=None):
    admin = next(make_admin(project, store_url, monkeypatch, approval=False, then=then))
    admin.login()
    admin.store.record_events([
        MailEvent(f"ev{i}", name, "2026-W48", "trainees", f"hash{i % 2}", MONDAY)
        for i, name in enumerate(EVENTS)], MONDAY)
    return admin


def _rows(page: str) -> dict[str, list[str]]:
    table = card(page, "delivery").split('<table class="delivery">')[1].split("</table>")[0]
    rows = [_cells(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.DOTALL)[1:]]
    return {r[0]: r[1:] for r in rows}


def test_delivery_has_a_total_row_rates_and_says_opens_are_not_counted(project, store_url,
                                                                       monkeypatch):
    admin = _sent(project, store_url, monkeypatch)  # the outbox backend: no tracking
    page = admin.client.get(ISSUE).text
    rows = _rows(page)
    sent = sum(s.get("sent", 0) for s in admin.store.send_progress("2026-W48").values())
    # sent | delivered, opened, clicked, click-to-open, bounced, spam reports,
    # unsubscribed, each with its rate (no recipient is queued, failed...: no column)
    assert list(rows)[0] == "general"  # the first row says it, down the column
    assert rows["general"] == ["30", "0 0.0%", "Open tracking is off: opens are not counted",
                               "Click tracking is off: clicks are not counted",
                               "Not counted without open and click tracking",
                               "0 0.0%", "0 –", "0 –"]
    assert rows["trainees"] == ["71", "2 2.8%", "1 1.4%", "0 0.0%", "0 0.0%"]
    assert rows["All segments"] == [f"{sent:,}", f"2 {100 * 2 / sent:.1f}%",
                                    f"1 {100 / sent:.1f}%", "0 0.0%", "0 0.0%"]
    assert "<th class=\"n\">Queued</th>" not in page
    assert ('<p class="muted tracking-off">The outbox backend tracks no opens or clicks: '
            "only the sendgrid backend does.</p>") in page
    admin.store.close()


def test_with_tracking_on_opens_and_clicks_have_rates(project, store_url, monkeypatch):
    def sendgrid_tracking(config, store):
        delivery = config.delivery.model_copy(update={
            "backend": "sendgrid", "sendgrid": config.delivery.sendgrid.model_copy(
                update={"open_tracking": True, "click_tracking": True})})
        return config.model_copy(update={"delivery": delivery})

    admin = _sent(project, store_url, monkeypatch, then=sendgrid_tracking)
    page = admin.client.get(ISSUE).text
    # 2 delivered, 2 people opened (3 opens), 1 clicked: 100%, 50%, click-to-open 50%
    assert _rows(page)["trainees"][1:5] == ["2 2.8%", "2 100.0%", "1 50.0%", "50.0%"]
    assert "tracking is off" not in page
    admin.store.close()
