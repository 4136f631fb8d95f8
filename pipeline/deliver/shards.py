"""Several sending processes for one send (delivery.processes): the audience's
subscriber ids split into shares, a spawned child process sending each share but the
first, and the children's results folded into the send's.

The GIL lets one process build and post about as many payloads as one core allows; a
million recipients want both cores. Each child resolves its own share of subscriber
ids, records its batches and sends them, under the parent's send lock: the ledger
(one row per issue and address, batches claimed atomically) keeps every address to
one copy whichever process records it.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any

from subscribers import resolve

from ..children import die_with_parent, fewer_collections, next_message
from ..config import Config
from ..errors import AuthFailed, DeliveryError
from ..models import Issue, RenderedVariant
from ..ports import Recipients
from ..store.store import Store
from . import Backend
from .backends import make_backend
from .sender import IdRange, Sender, SendResult
from .stopping import stop_on_signals


def shares(config: Config, audience: Recipients, backend: Backend) -> list[IdRange]:
    """The id ranges to send in parallel, one per process: the first is this one's."""
    if not backend.capabilities.parallel_safe:
        return [(None, None)]
    wanted = config.delivery.processes
    if wanted == "auto":
        wanted = auto_processes(audience.count(), usable_cores())
    return audience.split_ids(wanted)


def auto_processes(confirmed: int, cores: int) -> int:
    """Sending processes for `processes = "auto"`: two (if there are two cores) from
    resolve.PARALLEL_FROM confirmed subscribers, one below. Two sending 1,000,000 were
    2-3 s faster than one with a child resolving for it, every time (bench/send.py,
    runs in turn: 22-28 s against 25-30 s); below the threshold starting the second
    costs more than it saves, and more than two would share one SQLite writer."""
    return min(2, cores) if confirmed >= resolve.PARALLEL_FROM else 1


def usable_cores() -> int:
    """Cores this process may run on (a container or taskset may allow fewer than the
    host has)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ShareJob:
    """What a sending child needs to send its share (pickled to a spawned process)."""

    config: Config
    issue: Issue
    variants: list[RenderedVariant]
    owner: str  # the parent's send lock, which the child heartbeats
    parent_pid: int  # the child stops if this process is gone
    id_range: IdRange


@dataclass
class RunningShare:
    """A sending child, started; `collect` waits for its report."""

    process: BaseProcess
    queue: Queue[tuple[str, Any]]

    @property
    def pid(self) -> int:
        pid = self.process.pid
        assert pid is not None  # started
        return pid

    def collect(self, result: SendResult) -> str | None:
        """Wait for the child's report and fold it into the send's result; the child's
        AuthFailed message, if that is how it stopped."""
        try:
            kind, payload = next_message(self.queue, self.process, lambda code: DeliveryError(
                f"exit code {code}"))
        except DeliveryError as e:
            kind, payload = "error", f"it stopped without a report ({e})"
        finally:
            self.process.join(timeout=30)
        if kind == "done":
            failed, unknown, paused, skipped = payload
            result.failed += failed
            result.unknown += unknown
            result.paused = result.paused or paused
            result.skipped += skipped
        elif kind == "auth":
            return str(payload)
        else:
            result.paused = result.paused or (
                f"a sending process failed: {payload}; run `insights send` again: it "
                "resumes from the ledger")
        return None


def start_share(job: ShareJob) -> RunningShare:
    context = multiprocessing.get_context("spawn")
    queue: Queue[tuple[str, Any]] = context.Queue()
    process = context.Process(target=_send_share, daemon=True,
                              name=f"send-{job.id_range[0]}", args=(job, queue))
    process.start()
    return RunningShare(process, queue)


def _send_share(job: ShareJob, queue: Queue[tuple[str, Any]]) -> None:
    """Child process: resolve and send one share; report what the parent must know."""
    die_with_parent()
    try:
        def clock() -> datetime:
            return datetime.now(UTC)

        store = Store.open(job.config.store_url, migrate=False)
        try:
            backend = make_backend(job.config, clock())
            with fewer_collections(), store.one_writer() as ledger:
                sender = Sender(job.config, ledger, ledger.audience(), job.issue,
                                {v.segment: v for v in job.variants}, backend, clock,
                                job.owner, job.parent_pid)
                with stop_on_signals(sender.interrupt):
                    sender.send([], store.audience(), job.id_range)
        finally:
            store.close()
        r = sender.result
        queue.put(("done", (r.failed, r.unknown, sender.stop_reason(), r.skipped)))
    except AuthFailed as e:
        queue.put(("auth", str(e)))
    except Exception as e:  # report, never leave the parent waiting  # noqa: BLE001
        queue.put(("error", f"{type(e).__name__}: {e}"))
