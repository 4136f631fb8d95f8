"""`insights schedule`: the weekly job under APScheduler, stopping cleanly on signals."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from datetime import datetime
from types import FrameType

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_SCHEDULER_STARTED
from apscheduler.schedulers import SchedulerNotRunningError
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

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping the scheduler", signal.Signals(signum).name)
        try:
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:  # the signal came before start(): just leave
            raise SystemExit(0) from None

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    def announce(_event: object = None) -> None:
        job_ = scheduler.get_job("weekly")
        if job_ is not None and job_.next_run_time is not None:
            log.info("next run at %s", job_.next_run_time.isoformat())

    def started(_event: object) -> None:
        log.info("scheduler started: cron %r in %s", config.schedule.cron,
                 config.newsletter.timezone)
        announce()

    scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
    scheduler.add_listener(announce, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    log.info("scheduler stopped")
