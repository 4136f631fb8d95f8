"""A send stopped while it waits to retry loses nobody: the provider answered that it
took nothing, so nothing is held for the operator. A kill (SIGKILL), Ctrl-C (SIGINT)
or a service stop (SIGTERM) is followed by `insights send`, which sends everyone left,
once. Only a request that went out and got no answer is held, batch by batch."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from pipeline.config import load_config
from pipeline.store.store import Store

from . import test_sendgrid, test_smtp
from .helpers import edit_config, seed
from .test_sendgrid import KEY, SECRET, everyone_once, use_sendgrid
from .test_smtp import use_smtp

sendgrid = test_sendgrid.sendgrid  # the loopback SendGrid fixture
smtp = test_smtp.smtp  # the loopback SMTP server fixture (aiosmtpd)


def start_send(project, server, faults):
    use_sendgrid(project, server, batch_size=20, concurrency=1)
    edit_config(project, "backoff = 0.01", "backoff = 60")  # a long back-off wait
    config = load_config(project / "config.toml")
    seed(config)
    env = {**os.environ, "SENDGRID_API_KEY": KEY, "INSIGHTS_SECRET_KEY": SECRET}
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml")]
    server.faults.extend(faults)
    proc = subprocess.Popen(cmd + ["run", "--now", "2026-11-23T08:00"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert server.refused.wait(60), "the 500 never came"
    time.sleep(0.5)  # the sender has the answer and is waiting to retry
    return config, cmd, env, proc


def resume_without_a_decision(cmd, env, server):
    again = subprocess.run(cmd + ["send"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "HELD" not in again.stdout
    everyone_once(server)


def test_sigkill_in_the_back_off_wait_then_send_gives_everyone_one_copy(project, sendgrid):
    _config, cmd, env, proc = start_send(project, sendgrid, ["ok"] * 3 + ["500"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert sendgrid.accepted == 3
    resume_without_a_decision(cmd, env, sendgrid)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_send_cleanly_and_send_resumes_it(project, sendgrid, signum):
    config, cmd, env, proc = start_send(project, sendgrid, ["ok"] * 3 + ["500"])
    stopped_at = time.monotonic()
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=30)
    assert time.monotonic() - stopped_at < 20  # not after the 60 s back-off
    assert proc.returncode == 1, out
    name = signal.Signals(signum).name
    assert f"stopped by {name}" in out and "insights send" in out, out
    assert "Traceback" not in out
    assert sendgrid.accepted == 3  # no new request after the signal
    store = Store.open(config.store_url)
    try:
        states = {b.state for b in store.batches("2026-W48")}
    finally:
        store.close()
    assert "in_flight" not in states and "unknown" not in states, states
    resume_without_a_decision(cmd, env, sendgrid)


def test_each_held_batch_is_listed_and_decided_on_its_own(project, sendgrid):
    use_sendgrid(project, sendgrid, batch_size=20, concurrency=1)
    config = load_config(project / "config.toml")
    seed(config)
    # Two requests go out and get no answer: both are held.
    sendgrid.faults.extend(["ok", "drop-before-accept", "ok", "drop-before-accept"])
    env = {**os.environ, "SENDGRID_API_KEY": KEY, "INSIGHTS_SECRET_KEY": SECRET}
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml")]
    first = subprocess.run(cmd + ["run", "--now", "2026-11-23T08:00"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 1 and "HELD" in first.stdout, first.stdout + first.stderr
    store = Store.open(config.store_url)
    try:
        held = store.batches("2026-W48", ["unknown"])
    finally:
        store.close()
    assert len(held) == 2
    again = subprocess.run(cmd + ["send"], env=env, capture_output=True, text=True, timeout=120)
    report = " ".join(again.stdout.split())
    for batch in held:
        listed = re.search(rf"batch {batch.id} \({batch.segment}, {batch.size} recipient\(s\), "
                           r"request sent \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", report)
        assert listed, report
    assert "--batch N" in report
    # Decide one: the other stays held.
    one = subprocess.run(cmd + ["send", "--resolve-unknown", "resend", "--batch",
                                str(held[0].id)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert one.returncode == 1, one.stdout
    assert f"batch {held[1].id} (" in one.stdout and f"batch {held[0].id} (" not in one.stdout
    wrong = subprocess.run(cmd + ["send", "--resolve-unknown", "skip", "--batch", "99999"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 1 and "--batch 99999: not held" in wrong.stderr, wrong.stderr
    last = subprocess.run(cmd + ["send", "--resolve-unknown", "resend", "--batch",
                                 str(held[1].id)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert last.returncode == 0, last.stdout + last.stderr
    everyone_once(sendgrid)


def test_send_refuses_a_draft_for_a_week_that_has_not_begun(project):
    from datetime import UTC, datetime, timedelta

    from pipeline.job import send_current
    from pipeline.preview import write_preview

    from .helpers import add_rss_item

    # A draft made ahead for a week three weeks from today (any date the tests run on).
    today = datetime.now(UTC)
    ahead = (today + timedelta(days=21 - today.weekday())).replace(hour=14)
    add_rss_item(project / "examples/feeds/society-news.rss", "ahead-1", "Made ahead",
                 f"{ahead - timedelta(days=1):%a, %d %b %Y %H:%M:%S} GMT")
    config = load_config(project / "config.toml")
    seed(config)
    write_preview(config, project / "preview", [], ahead)
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml")]
    refused = subprocess.run(cmd + ["send"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    out = " ".join(refused.stdout.split())
    assert "has not begun; nothing sent" in out and "insights send --early" in out, out
    assert not list((project / "outbox").glob("*/batches/*.json"))
    # Told explicitly, it goes.
    report = send_current(config, today, early=True)
    assert report.status == "sent", report.message


def test_sigterm_to_a_two_process_send_stops_both_and_send_resumes(project, sendgrid):
    edit_config(project, 'processes = "auto" ', "processes = 2 ")
    _config, cmd, env, proc = start_send(project, sendgrid, ["ok"] * 2 + ["500"] * 2)
    stopped_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # to the parent only, as `kill PID` does
    out, _ = proc.communicate(timeout=30)
    assert time.monotonic() - stopped_at < 20, out
    assert proc.returncode == 1 and "stopped by SIGTERM" in out, out
    resume_without_a_decision(cmd, env, sendgrid)


def test_sigterm_stops_an_smtp_batch_between_two_messages(project, smtp):
    use_smtp(project, smtp, concurrency=1)
    config = load_config(project / "config.toml")
    seed(config)
    env = {**os.environ, "INSIGHTS_SECRET_KEY": SECRET}
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml")]
    smtp.hang_at, smtp.hang_answer = 30, "250 OK"  # the 30th message is in flight
    proc = subprocess.Popen(cmd + ["run", "--now", "2026-11-23T08:00"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert smtp.hanging.wait(60)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    smtp.release.set()  # the message in flight is taken: it finishes, nothing more goes
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "stopped by SIGTERM" in out, out
    assert sum(smtp.received.values()) == 30  # not the rest of its batch of 25
    again = subprocess.run(cmd + ["send"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "HELD" not in again.stdout, again.stdout + again.stderr
    assert len(smtp.received) == 320 and set(smtp.received.values()) == {1}


def test_who_unsubscribes_during_a_retry_wait_is_not_mailed(project, sendgrid):
    import threading

    from pipeline.job import run_weekly
    from subscribers.store import Audience

    from .helpers import MONDAY

    use_sendgrid(project, sendgrid, batch_size=20, concurrency=1)
    edit_config(project, "backoff = 0.01", "backoff = 1.5")
    config = load_config(project / "config.toml")
    seed(config)
    sendgrid.faults.extend(["500"])
    left: list[str] = []

    def unsubscribe_the_waiting_batch():
        assert sendgrid.refused.wait(60)
        time.sleep(0.2)
        store = Store.open(config.store_url)
        try:
            (waiting,) = [b for b in store.batches("2026-W48", ["pending"])
                          if (b.error or "").startswith("waiting to retry")]
            left.extend(r["email"] for r in store.batch_recipients(waiting.id)[:3])
            audience = Audience(store.engine)
            for address in left:
                audience.unsubscribe(address, None, source="test", now=MONDAY)
        finally:
            store.close()

    thread = threading.Thread(target=unsubscribe_the_waiting_batch)
    thread.start()
    report = run_weekly(config, MONDAY)
    thread.join()
    assert report.status == "sent", report.message
    assert len(left) == 3 and all(sendgrid.received[a.lower()] == 0 for a in left)
    assert len(sendgrid.received) == 317
