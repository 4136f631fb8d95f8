"""`insights schedule`: the tick (pipeline/week.py) every minute, stopping cleanly on
SIGINT and SIGTERM: between ticks at once, during a tick once it is over, during a send
as `insights send` stops (no new requests; those in flight finish; the ledger resumes)."""

from __future__ import annotations

import logging
import os
import select
import signal
from collections.abc import Callable
from datetime import datetime
from types import FrameType

from apscheduler.triggers.cron import CronTrigger

from .config import Config

log = logging.getLogger("insights.schedule")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
EVERY = 60.0  # seconds between ticks: a slot is met within a minute


def next_run_time(config: Config, now: datetime) -> datetime | None:
    """The next draft or send slot after `now`, in the newsletter's zone."""
    timeline = config.timeline
    times = [CronTrigger.from_crontab(crontab, timezone=timeline.tz).get_next_fire_time(
        None, now) for crontab in {timeline.draft, timeline.send}]
    return min((t for t in times if t is not None), default=None)


def run_scheduler(config: Config, tick: Callable[[], tuple[datetime, str] | None], *,
                  every: float = EVERY) -> None:
    """Call `tick` every `every` seconds, in this (the main) thread, until SIGINT or
    SIGTERM. `tick` returns when something is next due and what, for the log."""
    tz = config.newsletter.tz
    asked: list[str] = []
    ticking: list[bool] = []  # non-empty while a tick runs

    def asked_to_stop(signum: int, _frame: FrameType | None) -> None:
        # A signal handler: flags and os.write only (no locks, no logging).
        if asked and signum == signal.SIGINT:  # the second Ctrl-C: out now, as a kill
            os.write(2, b"stopped at once; leases expire and the next tick resumes\n")
            os._exit(130)
        if not asked and ticking:
            os.write(2, f"{signal.Signals(signum).name}: stopping the scheduler after "
                        "this tick\n".encode())
        asked.append(signal.Signals(signum).name)

    # A signal must never be lost between "no signal yet" and the wait for the next
    # tick (a Python handler runs only between two bytecodes of the main thread). So the
    # wait is a select() on a wakeup fd: Python's C-level handler writes each signal's
    # number there the moment it arrives, before any Python handler runs, whichever is
    # installed: ours between ticks, the send's own while a send runs (stop_on_signals:
    # no new requests, those in flight finish, a second Ctrl-C stops at once). Nothing
    # is blocked, so the sending processes a send starts hear the SIGTERM that stops them.
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_read, False)
    os.set_blocking(wakeup_write, False)
    previous_fd = signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
    previous = {s: signal.signal(s, asked_to_stop) for s in STOP_SIGNALS}
    timeline = config.timeline
    log.info("scheduler started: draft %r, send %r in %s (approval %s), a tick every %g s",
             timeline.draft, timeline.send, config.newsletter.timezone, timeline.approval,
             every)
    received: list[str] = []
    try:
        while True:
            ticking.append(True)
            try:
                upcoming = tick()
            except Exception:  # a bad tick must not end the scheduler; the next retries
                log.exception("tick failed")
                upcoming = None
            finally:
                ticking.clear()
            received = _signals(wakeup_read, 0)
            if received or asked:
                break
            if upcoming is not None:
                moment, what = upcoming
                local = moment.astimezone(tz)
                log.info("next run at %s (%s): %s", local.isoformat(),
                         f"{local:%a %d %b %H:%M %Z}", what)
            received = _signals(wakeup_read, every)
            if received:
                break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(wakeup_read)
        os.close(wakeup_write)
    log.info("received %s, stopping the scheduler", (received or asked or ["a signal"])[0])
    log.info("scheduler stopped")


def _signals(wakeup_read: int, timeout: float) -> list[str]:
    """The names of the signals received (waiting up to `timeout` s for one)."""
    ready, _, _ = select.select([wakeup_read], [], [], timeout)
    if not ready:
        return []
    try:
        data = os.read(wakeup_read, 64)
    except BlockingIOError:
        return []
    return [signal.Signals(n).name for n in data if n in STOP_SIGNALS]
