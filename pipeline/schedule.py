"""`insights schedule`: the weekly job under APScheduler, stopping cleanly on signals."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_SCHEDULER_STARTED
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from .config import Config

log = logging.getLogger("insights.schedule")


def make_trigger(config: Config) -> CronTrigger:
    return CronTrigger.from_crontab(config.schedule.cron, timezone=config.newsletter.tz)


def next_run_time(config: Config, now: datetime) -> datetime | None:
    return make_trigger(config).get_next_fire_time(None, now)


def run_scheduler(config: Config, job: Callable[[], None]) -> None:
    scheduler = BlockingScheduler(timezone=config.newsletter.tz)
    # A week is long: a run missed because the machine was down still happens when it
    # comes back (within a day), once, never twice in a row.
    scheduler.add_job(job, make_trigger(config), id="weekly", name="weekly issue",
                      coalesce=True, max_instances=1, misfire_grace_time=24 * 3600)

    # Signals are blocked in every thread and taken by one watcher thread with sigwait.
    # A Python signal handler would run only between two bytecodes of the main thread,
    # and a signal landing just before it blocks for the week-long wait would be lost.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    def watch_signals() -> None:
        signum = signal.sigwait(stop_signals)
        log.info("received %s, stopping the scheduler", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    def announce(_event: object = None) -> None:
        job_ = scheduler.get_job("weekly")
        if job_ is not None and job_.next_run_time is not None:
            log.info("next run at %s", job_.next_run_time.isoformat())

    def started(_event: object) -> None:
        # Only now can shutdown() work, so only now start listening for signals; one
        # that came earlier is still pending and is taken at once.
        threading.Thread(target=watch_signals, name="signals", daemon=True).start()
        log.info("scheduler started: cron %r in %s", config.schedule.cron,
                 config.newsletter.timezone)
        announce()

    scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
    scheduler.add_listener(announce, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        scheduler.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    log.info("scheduler stopped")
