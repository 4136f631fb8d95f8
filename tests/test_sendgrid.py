"""Delivery through the real `sendgrid` client to a loopback SendGrid that validates
every request against SendGrid's OpenAPI spec, with scripted faults."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest

from pipeline.config import load_config
from pipeline.job import run_weekly, send_current, send_tests
from pipeline.store.store import Store
from subscribers.store import Audience
from subscribers.tokens import Tokens

from .helpers import MONDAY, edit_config, first_run, seed
from .sendgrid_server import SendGridServer

KEY = "SG.test-key"
SECRET = "test-signing-key-0123456789abcdef"


@pytest.fixture
def sendgrid(monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", SECRET)
    with SendGridServer(KEY) as server:
        yield server


def use_sendgrid(project, server, batch_size=40, concurrency=4, extra=""):
    edit_config(project, 'backend = "outbox"', 'backend = "sendgrid"')
    edit_config(project, "batch_size = 1000", f"batch_size = {batch_size}")
    edit_config(project, "concurrency = 4 ", f"concurrency = {concurrency} ")
    edit_config(project, "max_retries = 5 ", f"backoff = 0.01\nmax_retries = 2 {extra}")
    edit_config(project, 'host = "https://api.sendgrid.com"',
                f'host = "{server.url}"\ntimeout = 5')


def everyone_once(server):
    assert server.rejected == [], server.rejected[:1]
    assert len(server.received) == 320 and set(server.received.values()) == {1}


def test_a_full_send_is_valid_and_reaches_everyone_once(project, sendgrid):
    use_sendgrid(project, sendgrid)
    _config, report = first_run(project)
    assert report.status == "sent", report.message
    everyone_once(sendgrid)
    assert sendgrid.requests == sendgrid.accepted == 6 + sum(
        (s.recipients - 1) // 40 for s in report.segments)
    body = sendgrid.bodies[0]
    p = body["personalizations"][0]
    assert p["headers"]["List-Unsubscribe"].startswith("<https://news.example.org/u/")
    assert p["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert set(p["substitutions"]) == {"%%io:first_name%%", "%%io:first_name_html%%",
                                       "%%io:unsubscribe_url%%", "%%io:preferences_url%%",
                                       "%%io:email%%"}
    assert body["custom_args"]["issue_id"] == "2026-W48" and body["custom_args"]["batch_id"]
    assert body["categories"][0] == "issue-2026-W48"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["headers"]["List-Id"].endswith("<members.news.example.org>")
    # A rerun the same week posts nothing.
    before = sendgrid.requests
    assert run_weekly(load_config(project / "config.toml"),
                      MONDAY + timedelta(hours=1)).status == "already-sent"
    assert sendgrid.requests == before


def test_debug_logging_does_not_write_every_recipient_to_the_log(project, sendgrid, caplog):
    # python_http_client logs each request body at DEBUG: for a send, every address and
    # its signed unsubscribe link. The body goes as already-encoded bytes that log as
    # their size.
    use_sendgrid(project, sendgrid)
    with caplog.at_level(logging.DEBUG, logger="python_http_client"):
        _config, report = first_run(project)
    assert report.status == "sent", report.message
    everyone_once(sendgrid)
    payload_lines = [r.getMessage() for r in caplog.records if "PAYLOAD" in r.getMessage()]
    assert len(payload_lines) == sendgrid.requests
    assert all(re.fullmatch(r"PAYLOAD: <[\d,]+ bytes of JSON>", line) for line in payload_lines)
    assert not any("@" in r.getMessage() for r in caplog.records
                   if r.name.startswith("python_http_client"))


def test_rate_limits_and_server_errors_are_retried_without_duplicates(project, sendgrid):
    use_sendgrid(project, sendgrid, concurrency=1)
    sendgrid.faults.extend(["429", "500", "500", "ok", "429"])
    _config, report = first_run(project)
    assert report.status == "sent", report.message
    everyone_once(sendgrid)


def test_persistent_server_errors_pause_the_send_and_a_rerun_resumes(project, sendgrid):
    use_sendgrid(project, sendgrid, concurrency=1)
    sendgrid.faults.extend(["ok", "ok", "500", "500", "500"])
    config, report = first_run(project)
    assert report.status == "incomplete" and "PAUSED" in report.message
    store = Store.open(config.store_url)
    assert store.get_issue("2026-W48").status == "sending"
    store.close()
    assert sum(sendgrid.received.values()) == 80
    report = send_current(config, MONDAY + timedelta(minutes=10))
    assert report.status == "sent", report.message
    everyone_once(sendgrid)


def test_a_dropped_answer_is_held_until_the_operator_decides(project, sendgrid):
    use_sendgrid(project, sendgrid, concurrency=1)
    sendgrid.faults.extend(["ok", "drop-after-accept", "ok", "drop-before-accept"])
    config, report = first_run(project)
    assert report.status == "incomplete" and "HELD" in report.message
    assert report.message.count("outcome unknown") == 1
    store = Store.open(config.store_url)
    held = store.batches("2026-W48", ["unknown"])
    store.close()
    assert len(held) == 2
    # Without a decision, a rerun sends nothing more: everything else was accepted.
    requests = sendgrid.requests
    again = send_current(config, MONDAY + timedelta(minutes=5))
    assert again.status == "incomplete" and sendgrid.requests == requests
    # The first held batch reached SendGrid, the second did not: the operator checks
    # SendGrid's activity feed. Here: resend the one that never arrived...
    arrived = {b.id for b in held if all(sendgrid.received[r["email"].lower()]
               for r in _recipients(config, b.id))}
    missing = [b for b in held if b.id not in arrived]
    assert len(arrived) == 1 and len(missing) == 1
    store = Store.open(config.store_url)
    store.finish_batch(next(iter(arrived)), MONDAY, "checked in SendGrid activity")
    store.close()
    done = send_current(config, MONDAY + timedelta(minutes=6), resolve_unknown="resend")
    assert done.status == "sent", done.message
    everyone_once(sendgrid)


def _recipients(config, batch_id):
    store = Store.open(config.store_url)
    try:
        return store.batch_recipients(batch_id, state=None)
    finally:
        store.close()


def test_a_worker_late_for_a_sent_batch_changes_nothing(project, sendgrid):
    """A batch-level backend leaves its recipients 'queued' in an accepted batch (sent
    with it). A worker still holding such a batch (a send lock taken over) must not
    re-check them and mark someone who left since as skipped: they were mailed."""
    from pipeline.deliver.sender import Sender
    from pipeline.models import Recipient

    use_sendgrid(project, sendgrid)
    config, report = first_run(project)
    assert report.status == "sent"
    store = Store.open(config.store_url)
    try:
        audience = Audience(store.engine)
        batch = store.batches("2026-W48")[0]
        [first, *_] = store.batch_recipients(batch.id, state=None)
        audience.unsubscribe(first["email"], None, source="test", now=MONDAY)

        class NeverPosts:
            def send_batch(self, *args):
                raise AssertionError("an accepted batch was sent again")

        issue = store.get_issue("2026-W48")
        sender = Sender(config, store, audience, issue,
                        {v.segment: v for v in store.get_variants(issue.id)}, NeverPosts(),
                        lambda: MONDAY)
        sender.go(batch, [Recipient(first["subscriber_id"], first["email"],
                                    first["first_name"], first["segment"])])
        assert sender.result.skipped == 0
        assert [r["state"] for r in store.sends_to(first["email_key"])] == ["sent"]
    finally:
        store.close()
    everyone_once(sendgrid)


def test_a_refused_batch_is_recorded_not_retried(project, sendgrid):
    use_sendgrid(project, sendgrid, concurrency=1)
    original = sendgrid.validator

    class RefuseSecond:
        calls = 0

        def iter_errors(self, body):
            RefuseSecond.calls += 1
            if RefuseSecond.calls == 2:
                yield type("E", (), {"path": ["subject"], "message": "subject is too long"})()
            yield from original.iter_errors(body)

    sendgrid.validator = RefuseSecond()
    config, report = first_run(project)
    assert report.status == "incomplete" and "FAILED" in report.message
    assert "subject is too long" in report.message
    store = Store.open(config.store_url)
    [failed] = store.batches("2026-W48", ["failed"])
    assert "HTTP 400" in failed.error and "subject is too long" in failed.error
    assert store.get_issue("2026-W48").status == "sending"
    store.close()
    assert sum(sendgrid.received.values()) == 320 - failed.size
    sendgrid.rejected.clear()
    fixed = send_current(config, MONDAY + timedelta(minutes=5), retry_failed=True)
    assert fixed.status == "sent"
    everyone_once(sendgrid)


def test_a_bad_api_key_stops_the_send_with_a_clear_line(project, sendgrid, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.wrong")
    use_sendgrid(project, sendgrid)
    config = load_config(project / "config.toml")
    seed(config)
    from pipeline.errors import AuthFailed

    with pytest.raises(AuthFailed, match="SENDGRID_API_KEY"):
        run_weekly(config, MONDAY)
    assert sendgrid.accepted == 0
    store = Store.open(config.store_url)
    assert not store.batches("2026-W48", ["accepted", "unknown", "in_flight"])
    store.close()
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    assert send_current(config, MONDAY + timedelta(minutes=1)).status == "sent"
    everyone_once(sendgrid)


def test_a_too_large_batch_is_split(project, sendgrid):
    use_sendgrid(project, sendgrid, concurrency=1)
    sendgrid.faults.extend(["413"])
    _config, report = first_run(project)
    assert report.status == "sent", report.message
    everyone_once(sendgrid)
    # The refused batch of 40 went again as two requests of 20, not whole and not lost.
    sizes = [len(b["personalizations"]) for b in sendgrid.bodies]
    assert sizes[:2] == [20, 20] and sendgrid.requests == sendgrid.accepted + 1
    store = Store.open(load_config(project / "config.toml").store_url)
    try:
        states = [b.state for b in store.batches("2026-W48")]
    finally:
        store.close()
    assert states.count("split") == 1 and set(states) == {"split", "accepted"}


def test_an_unsubscribe_during_the_send_is_honoured_by_the_next_batch(project, sendgrid):
    use_sendgrid(project, sendgrid, batch_size=20, concurrency=1)
    config = load_config(project / "config.toml")
    seed(config)
    store = Store.open(config.store_url)
    audience = Audience(store.engine)
    leaver = list(audience.resolve(["members"], config.segment_rules, "general"))[-1].email

    def unsubscribe_once(body):
        if sendgrid.accepted == 1:
            audience.unsubscribe(leaver, None, source="one-click", now=MONDAY)

    sendgrid.on_accept = unsubscribe_once
    report = run_weekly(config, MONDAY)
    store.close()
    assert report.status == "sent" and "1 left or were suppressed" in report.message
    assert sendgrid.received[leaver.lower()] == 0
    assert len(sendgrid.received) == 319 and set(sendgrid.received.values()) == {1}


def test_test_sends_go_to_editors_only_and_are_not_recorded(project, sendgrid):
    use_sendgrid(project, sendgrid)
    config = load_config(project / "config.toml")
    seed(config)
    from pipeline.preview import write_preview

    write_preview(config, project / "preview", [], MONDAY)
    store = Store.open(config.store_url)
    lines = send_tests(config, store, ["editor@example.org", "chief@example.org"], MONDAY)
    store.close()
    assert len(lines) == 6
    assert sendgrid.received == Counter({"editor@example.org": 6, "chief@example.org": 6})
    assert all(s.startswith("[TEST] ") for s in sendgrid.subjects["editor@example.org"])
    store = Store.open(config.store_url)
    assert store.batches("2026-W48") == [] and store.get_issue("2026-W48").status == "draft"
    store.close()
    # Their links work but change nothing: an editor trying one keeps their subscription.
    tokens = Tokens(SECRET)
    for body in sendgrid.bodies:
        for p in body["personalizations"]:
            header = p["headers"]["List-Unsubscribe"]
            links = [header.split("/u/", 1)[1].split(">", 1)[0],
                     p["substitutions"]["%%io:unsubscribe_url%%"].rsplit("/", 1)[1],
                     p["substitutions"]["%%io:preferences_url%%"].rsplit("/", 1)[1]]
            assert all(tokens.is_test_link(token) for token in links), links
            assert "mailto:" not in header  # a client using it would really unsubscribe


def test_the_pre_send_gate_refuses_an_http_unsubscribe_link(project, sendgrid):
    use_sendgrid(project, sendgrid)
    edit_config(project, 'base_url = "https://news.example.org"',
                'base_url = "http://news.example.org"')
    config = load_config(project / "config.toml")
    seed(config)
    from pipeline.errors import DeliveryError

    with pytest.raises(DeliveryError, match="List-Unsubscribe needs an https URL"):
        run_weekly(config, MONDAY)
    assert sendgrid.requests == 0


def test_sigkill_mid_send_then_restart_gives_everyone_exactly_one_copy(project, sendgrid):
    use_sendgrid(project, sendgrid, batch_size=20, concurrency=1)
    config = load_config(project / "config.toml")
    seed(config)
    env = {**os.environ, "SENDGRID_API_KEY": KEY, "INSIGHTS_SECRET_KEY": SECRET}
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml")]
    sendgrid.faults.extend(["ok"] * 5 + ["hang"])
    proc = subprocess.Popen(cmd + ["run", "--now", "2026-11-23T08:00"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert sendgrid.holding.wait(60), "the sixth request never came"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    sendgrid.release()
    assert sendgrid.accepted == 5
    restart_then_resend_the_held(cmd, env, sendgrid)


def restart_then_resend_the_held(cmd, env, sendgrid):
    # Restart: the batches in flight at the kill are held, everything else goes.
    again = subprocess.run(cmd + ["send"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "HELD" in again.stdout, again.stdout + again.stderr
    assert max(sendgrid.received.values()) == 1
    # SendGrid never accepted the held batches (they hung, then the client died): resend.
    done = subprocess.run(cmd + ["send", "--resolve-unknown", "resend"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    everyone_once(sendgrid)


def test_a_body_joined_from_prepared_personalizations_is_the_same_bytes(project, monkeypatch):
    """A send builds each recipient's part where the audience is resolved (another
    process) and joins them; the request must be exactly the one built whole."""
    import pickle

    import orjson

    from pipeline.deliver.payload import PreparePersonalization, encoded_body, mail_body
    from pipeline.models import Recipient, RenderedVariant

    monkeypatch.setenv("INSIGHTS_SECRET_KEY", SECRET)
    config = load_config(project / "config.toml")
    tokens = Tokens(SECRET)
    variant = RenderedVariant("general", "Subject ✓", "<p>h</p>", "t")
    people = [Recipient(1, "Ana@Example.org", "Ana", "general"),
              Recipient(2, "x@example.org", "", "general"),
              Recipient(3, "eve@example.org", "<img/src=x/onerror=alert(1)>", "general")]
    prepare = pickle.loads(pickle.dumps(PreparePersonalization(config)))  # as a child gets it
    prepared = [r._replace(prepared=prepare(r.email, r.first_name)) for r in people]
    whole = orjson.dumps(mail_body(config, tokens, "2026-W48", 7, variant, people))
    assert encoded_body(config, tokens, "2026-W48", 7, variant, prepared) == whole
    assert encoded_body(config, tokens, "2026-W48", 7, variant, people) == whole
    mixed = [prepared[0], people[1], prepared[2]]  # a resumed batch: built whole
    assert encoded_body(config, tokens, "2026-W48", 7, variant, mixed) == whole
    for few in (prepared[:1], []):
        assert encoded_body(config, tokens, "2026-W48", 7, variant, few) == orjson.dumps(
            mail_body(config, tokens, "2026-W48", 7, variant, few))


def test_personalizations_encoded_directly_are_the_bytes_of_the_dict_path(project):
    """PersonalizationJSON writes each recipient's JSON from a template: for awkward
    names, addresses and settings it must give exactly orjson's encoding of the dict."""
    import orjson

    from pipeline.deliver.message import Personalizer
    from pipeline.deliver.payload import PersonalizationJSON, _personalization

    config = load_config(project / "config.toml")
    odd = config.model_copy(update={"newsletter": config.newsletter.model_copy(update={
        "base_url": "https://news.example.org/io%20insights/ünï", "unsubscribe_email": None})})
    people = [("Ana@Example.org", "Ana"), ("x@example.org", ""),
              ("eve+%s@example.org", '"quoted" \\ back%slash %d'),
              ("zoë@exämple.org", "Zoë <b>&amp;</b> \u2028 \U0001f600"),
              ("tab@example.org", "a\tb\x00c")]
    for settings in (config, odd):
        for test in (False, True):
            personal = Personalizer(settings, Tokens(SECRET), test=test)
            encode = PersonalizationJSON(personal)
            for email, name in people:
                expected = orjson.dumps(_personalization(personal(email, name), email))
                assert encode(email, name) == expected, (email, name, test)


def test_the_payload_matches_the_message_an_smtp_recipient_gets(project, monkeypatch):
    """The SendGrid payload and the SMTP/outbox message personalise the same way."""
    from pipeline.deliver.message import personal_values
    from pipeline.deliver.payload import mail_body
    from pipeline.models import Recipient, RenderedVariant
    from subscribers.tokens import Tokens

    config = load_config(project / "config.toml")
    tokens = Tokens(SECRET)
    people = [Recipient(1, "Ana@Example.org", "Ana", "general"),
              Recipient(2, "x@example.org", "", "general"),
              Recipient(3, "eve@example.org", "<img/src=x/onerror=alert(1)>", "general")]
    body = mail_body(config, tokens, "2026-W48", 7, RenderedVariant("general", "S", "h", "t"),
                     people)
    for person, p in zip(people, body["personalizations"], strict=True):
        personal = personal_values(config, tokens, person.email, person.first_name)
        assert p["substitutions"] == personal.values
        assert p["headers"]["List-Unsubscribe"] == personal.list_unsubscribe
        assert personal.list_unsubscribe == (f"<{personal.unsubscribe_url}>, "
                                             "<mailto:unsubscribe@news.example.org?subject=unsubscribe>")
    # A name is data, never markup, in the HTML part.
    assert body["personalizations"][2]["substitutions"]["%%io:first_name_html%%"] == (
        "&lt;img/src=x/onerror=alert(1)&gt;")


def test_two_overlapping_sends_never_deliver_twice(project, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    with SendGridServer(KEY, latency=0.4) as server:
        use_sendgrid(project, server, batch_size=20, concurrency=2)
        config = load_config(project / "config.toml")
        seed(config)
        from pipeline.preview import write_preview

        write_preview(config, project / "preview", [], MONDAY)  # the draft both will send
        env = {**os.environ, "SENDGRID_API_KEY": KEY, "INSIGHTS_SECRET_KEY": SECRET}
        cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml"),
               "send"]
        first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        while server.accepted == 0 and first.poll() is None:
            time.sleep(0.02)
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, out + err
        # Refused at the start by the run lock (the send lock stays behind it).
        assert second.returncode == 1, second.stderr
        assert "is in use by another insights run or send" in second.stderr, second.stderr
        everyone_once(server)


def test_a_too_large_request_for_one_recipient_fails_instead_of_vanishing(project, sendgrid):
    """Nothing left to split: the batch is failed and reported, and the issue is not
    marked sent as if that person had been mailed."""
    use_sendgrid(project, sendgrid, batch_size=1, concurrency=1)
    sendgrid.faults.extend(["413"])
    _config, report = first_run(project)
    assert report.status == "incomplete" and report.delivered == 319
    assert "FAILED (refused, not retried): batch 1 (" in report.message
    assert "(a single recipient: cannot split)" in report.message


def test_two_sending_processes_reach_everyone_once(project, sendgrid):
    use_sendgrid(project, sendgrid, batch_size=20, concurrency=1)
    edit_config(project, 'processes = "auto" ', "processes = 2 ")
    sendgrid.latency = 0.05  # so that the two processes' requests overlap
    _config, report = first_run(project)
    assert report.status == "sent", report.message
    everyone_once(sendgrid)
    # One request at a time per process: two at once means two processes sent.
    assert sendgrid.most_in_flight == 2
    store = Store.open(load_config(project / "config.toml").store_url)
    try:
        assert {b.state for b in store.batches("2026-W48")} == {"accepted"}
        (_, split), (split_, _) = Audience(store.engine).split_ids(2)  # two shares
        assert split == split_ is not None
    finally:
        store.close()


@pytest.mark.parametrize("parallel_from,processes", [(200_000, 1), (300, 2)])
def test_auto_sends_from_two_processes_only_for_a_large_audience(
        project, sendgrid, monkeypatch, parallel_from, processes):
    """processes = "auto" (the default): a second process does not pay for the bundled
    320 people; two share them once resolve.PARALLEL_FROM is lowered to 300."""
    from subscribers import resolve

    monkeypatch.setattr(resolve, "PARALLEL_FROM", parallel_from)
    monkeypatch.setattr("pipeline.deliver.shards.usable_cores", lambda: 2)
    use_sendgrid(project, sendgrid, batch_size=20, concurrency=1)
    sendgrid.latency = 0.05
    _config, report = first_run(project)
    assert report.status == "sent", report.message
    everyone_once(sendgrid)
    assert sendgrid.most_in_flight == processes


def test_auto_processes_is_one_below_the_threshold_and_never_more_than_the_cores():
    from pipeline.deliver.shards import auto_processes
    from subscribers.resolve import PARALLEL_FROM

    assert auto_processes(PARALLEL_FROM - 1, 8) == 1
    assert auto_processes(PARALLEL_FROM, 8) == 2
    assert auto_processes(PARALLEL_FROM, 1) == 1


def test_sigkill_of_a_two_process_send_then_restart_gives_everyone_one_copy(
        project, sendgrid):
    # The sending child must die with its parent: an orphan sending on beside the
    # restart would race it for the same people.
    use_sendgrid(project, sendgrid, batch_size=20, concurrency=1)
    edit_config(project, 'processes = "auto" ', "processes = 2 ")
    config = load_config(project / "config.toml")
    seed(config)
    env = {**os.environ, "SENDGRID_API_KEY": KEY, "INSIGHTS_SECRET_KEY": SECRET}
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml")]
    sendgrid.faults.extend(["ok"] * 5 + ["hang", "hang"])
    proc = subprocess.Popen(cmd + ["run", "--now", "2026-11-23T08:00"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while sendgrid.requests < 7:  # one request held in each process
        assert time.monotonic() < deadline, "both processes never reached the server"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    time.sleep(1)
    sendgrid.release()
    time.sleep(1.5)  # an orphan would now send on
    assert sendgrid.accepted == 5 and sendgrid.requests == 7  # nothing sent on after
    restart_then_resend_the_held(cmd, env, sendgrid)
