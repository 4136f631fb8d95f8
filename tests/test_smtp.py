"""The SMTP backend against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
from collections import Counter

import pytest
from aiosmtpd.controller import Controller

from pipeline.config import load_config
from pipeline.job import run_weekly, send_current
from pipeline.store.store import Store
from subscribers.store import Audience

from .helpers import MONDAY, edit_config, first_run, seed

SECRET = "test-signing-key-0123456789abcdef"


class Mailbox:
    """Records every message; can be told to hang on the n-th DATA."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.messages: list[bytes] = []
        self.hang_at: int | None = None
        self.hang_answer = "451 try again later"  # what the held message gets at release
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.count = 0
        self.refuse: set[str] = set()  # addresses answered "550 no such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.lower() in self.refuse:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's API)
        self.count += 1
        if self.hang_at is not None and self.count == self.hang_at:
            self.hanging.set()
            import asyncio

            while not self.release.is_set():
                await asyncio.sleep(0.05)
            if not self.hang_answer.startswith("250"):
                return self.hang_answer
        for rcpt in envelope.rcpt_tos:
            self.received[rcpt.lower()] += 1
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", SECRET)
    box = Mailbox()
    from .feedserver import closed_port

    box.port = closed_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    box.release.set()
    controller.stop()


def use_smtp(project, box, batch_size=25, concurrency=2):
    edit_config(project, 'backend = "outbox"', 'backend = "smtp"')
    edit_config(project, "batch_size = 1000", f"batch_size = {batch_size}")
    edit_config(project, "concurrency = 4 ", f"concurrency = {concurrency} ")
    edit_config(project, "max_retries = 5 ", "backoff = 0.01\nmax_retries = 5 ")
    edit_config(project, "[delivery.sendgrid]",
                f"[delivery.smtp]\nhost = \"127.0.0.1\"\nport = {box.port}\n"
                "security = \"none\"\ntimeout = 5\n\n[delivery.sendgrid]")


def test_smtp_delivers_one_complete_message_per_recipient(project, smtp):
    use_smtp(project, smtp)
    _config, report = first_run(project)
    assert report.status == "sent", report.message
    assert len(smtp.received) == 320 and set(smtp.received.values()) == {1}
    msg = email.message_from_bytes(smtp.messages[0])
    assert [p.get_content_type() for p in msg.get_payload()] == ["text/plain", "text/html"]
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "%%io:" not in msg.get_payload()[1].get_payload(decode=True).decode()


def test_sigkill_mid_smtp_send_then_restart_gives_everyone_exactly_one_copy(project, smtp):
    # One connection: the only message in flight at the kill is the one the server holds
    # (with two, the other connection's message may be accepted after the kill, and then
    # "resend" for every held recipient would be the wrong call for that one).
    use_smtp(project, smtp, concurrency=1)
    config = load_config(project / "config.toml")
    seed(config)
    env = {**os.environ, "INSIGHTS_SECRET_KEY": SECRET}
    cmd = [sys.executable, "-m", "pipeline", "--config", str(project / "config.toml")]
    smtp.hang_at = 57
    proc = subprocess.Popen(cmd + ["run", "--now", "2026-11-23T08:00"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert smtp.hanging.wait(60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    smtp.release.set()
    sent_before = sum(smtp.received.values())
    assert 50 <= sent_before <= 57
    again = subprocess.run(cmd + ["send"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "outcome unknown for" in again.stdout, again.stdout
    assert max(smtp.received.values()) == 1
    store = Store.open(config.store_url)
    held = [e for b in store.batches("2026-W48", ["unknown"]) for e in store.held_recipients(b.id)]
    store.close()
    assert len(held) == 1  # the message in flight
    # The server answered 451 to the held message(s): they never arrived. Resend them.
    assert all(smtp.received[h.lower()] == 0 for h in held)
    done = subprocess.run(cmd + ["send", "--resolve-unknown", "resend"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(smtp.received) == 320 and set(smtp.received.values()) == {1}


def test_double_opt_in_confirmation_goes_out_by_smtp(project, smtp):
    use_smtp(project, smtp)
    edit_config(project, "double_opt_in = false", "double_opt_in = true")
    env = {**os.environ, "INSIGHTS_SECRET_KEY": SECRET}
    result = subprocess.run([sys.executable, "-m", "pipeline", "--config",
                             str(project / "config.toml"), "subscribers", "add",
                             "new@example.org", "--list", "members"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert smtp.received == Counter({"new@example.org": 1})
    msg = email.message_from_bytes(smtp.messages[0], policy=email.policy.default)
    assert msg["Subject"].startswith("Please confirm your subscription")
    assert "https://news.example.org/confirm/" in msg.get_body(("plain",)).get_content()


def test_a_temporary_refusal_mid_batch_resends_only_who_was_not_sent(project, smtp):
    """451 on the 10th message of a batch: the retry goes on from there, and the nine
    already accepted get no second copy."""
    use_smtp(project, smtp)
    smtp.release.set()  # answer 451 at once, no hang
    smtp.hang_at = 10
    _config, report = first_run(project)
    assert report.status == "sent", report.message
    assert len(smtp.received) == 320 and set(smtp.received.values()) == {1}


def test_a_refused_recipient_is_reported_and_retried_with_retry_failed(project, smtp):
    use_smtp(project, smtp)
    config = load_config(project / "config.toml")
    seed(config)
    store = Store.open(config.store_url)
    refused = list(Audience(store.engine).resolve(["members"], config.segment_rules,
                                                  "general"))[5].email.lower()
    store.close()
    smtp.refuse.add(refused)
    report = run_weekly(config, MONDAY)
    assert report.status == "incomplete" and report.delivered == 319
    assert "some recipients refused by the server" in report.message
    assert refused not in smtp.received
    smtp.refuse.clear()  # the mailbox exists again
    again = send_current(config, MONDAY, retry_failed=True)
    assert again.status == "sent", again.message
    assert len(smtp.received) == 320 and set(smtp.received.values()) == {1}
