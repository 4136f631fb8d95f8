"""An editor pauses or cancels a send while it runs (through the loopback SendGrid):
the send reads it at its heartbeat and hands out no batch more; resumed, it reaches
everyone else exactly once; cancelled, everyone it had not reached (batches recorded
and people not yet recorded alike) is recorded as cancelled, and nobody gets a copy
later or twice."""

from __future__ import annotations

import pytest

from pipeline.config import load_config
from pipeline.deliver import sender
from pipeline.deliver.send import cancel_send
from pipeline.job import run_weekly, send_current
from pipeline.store.store import Store

from . import test_sendgrid
from .helpers import MONDAY, seed
from .test_sendgrid import everyone_once, use_sendgrid

sendgrid = test_sendgrid.sendgrid  # the loopback SendGrid fixture
EDITOR = "ed@example.org"
BATCH = 20  # 320 subscribers: 16 requests or more (one per segment's remainder)


@pytest.fixture
def send_setup(project, sendgrid, monkeypatch):
    """Batches of 20 one at a time; the heartbeat (and so the editors' flags) read after
    every batch, not every 5 s: the test's whole send takes less."""
    monkeypatch.setattr(sender, "HEARTBEAT_EVERY", 0.0)
    use_sendgrid(project, sendgrid, batch_size=BATCH, concurrency=1)
    config = load_config(project / "config.toml")
    seed(config)
    store = Store.open(config.store_url)
    yield config, store, sendgrid
    store.close()


def after_requests(server, n, act):
    """Call `act` once, as the provider accepts the n-th request (before it answers)."""
    def on_accept(_body):
        if server.accepted == n:
            act()
    server.on_accept = on_accept


def test_paused_mid_send_nothing_more_goes_and_resumed_everyone_gets_one_copy(send_setup):
    config, store, server = send_setup
    after_requests(server, 3, lambda: store.set_paused("2026-W48", EDITOR, MONDAY))
    report = run_weekly(config, MONDAY)
    assert report.status == "incomplete" and f"paused by {EDITOR}" in report.message
    assert "nothing more goes until an editor resumes it" in report.message
    assert "`insights send` to resume" not in report.message  # the editor's Resume does
    assert server.accepted == 3  # the batch in flight finished; no request after it
    assert store.get_issue("2026-W48").status == "sending"
    assert report.delivered == 3 * BATCH

    # still paused: a send started now (the operator's, or a tick's) sends nothing
    again = send_current(config, MONDAY)
    assert f"paused by {EDITOR}" in again.message and server.accepted == 3

    store.set_paused("2026-W48", None, MONDAY)  # Resume
    server.on_accept = None
    resumed = send_current(config, MONDAY)
    assert resumed.status == "sent", resumed.message
    everyone_once(server)
    assert store.get_issue("2026-W48").status == "sent"


def test_cancelled_mid_send_the_rest_is_recorded_cancelled_and_never_sent(send_setup):
    config, store, server = send_setup
    answers = []
    after_requests(server, 3, lambda: answers.append(
        cancel_send(config, store, "2026-W48", EDITOR, MONDAY)))
    report = run_weekly(config, MONDAY)
    # The send was running (it holds the send lock): it records the rest itself.
    assert answers == [None]
    assert report.status == "incomplete" and f"cancelled by {EDITOR}" in report.message
    assert f"{320 - 3 * BATCH} not sent (recorded as cancelled)" in report.message
    assert server.accepted == 3 and server.rejected == []
    assert set(server.received.values()) == {1} and len(server.received) == 3 * BATCH
    issue = store.get_issue("2026-W48")
    assert issue.status == "cancelled"
    progress = store.send_progress("2026-W48")
    totals = {state: sum(s.get(state, 0) for s in progress.values())
              for state in ("sent", "cancelled", "queued")}
    # everyone is in the ledger once: those reached as sent, the rest as cancelled,
    # whether their batch was recorded before the cancel or not
    assert totals == {"sent": 3 * BATCH, "cancelled": 320 - 3 * BATCH, "queued": 0}
    assert {b.state for b in store.batches("2026-W48")} == {"accepted", "cancelled"}

    # Nothing sends it afterwards, and a second cancel is refused
    server.on_accept = None
    assert send_current(config, MONDAY).status == "skipped"
    assert server.accepted == 3
    with pytest.raises(Exception, match="only a send in progress can be cancelled"):
        cancel_send(config, store, "2026-W48", EDITOR, MONDAY)


def test_a_paused_send_cancelled_with_no_send_running_is_recorded_at_once(send_setup):
    config, store, server = send_setup
    after_requests(server, 2, lambda: store.set_paused("2026-W48", EDITOR, MONDAY))
    assert run_weekly(config, MONDAY).status == "incomplete"
    cancelled = cancel_send(config, store, "2026-W48", EDITOR, MONDAY)
    assert cancelled == 320 - 2 * BATCH
    progress = store.send_progress("2026-W48")
    assert sum(s.get("cancelled", 0) for s in progress.values()) == cancelled
    assert sum(s.get("sent", 0) for s in progress.values()) == 2 * BATCH
    assert not store.batches("2026-W48", ["pending", "in_flight"])
    assert store.get_issue("2026-W48").status == "cancelled"
