"""Send an issue through the ledger: nothing is sent twice and nobody is skipped.

Per batch: record the batch and its recipients (pending) -> mark in_flight -> re-check
who may still be mailed -> hand to the backend -> accepted | failed | unknown. A rerun
resumes: accepted batches never go again; pending ones go; a batch left in flight by a
crash is resent only by idempotent backends (the outbox) and otherwise held as unknown
until the operator decides (`insights send --resolve-unknown resend|skip`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from subscribers import resolve
from subscribers.store import Audience

from ..children import die_with_parent, fewer_collections, next_message
from ..config import Config
from ..errors import AudienceError, AuthFailed, DeliveryError
from ..models import Issue, Recipient, RenderedVariant
from ..states import BatchState, IssueStatus, RecipientState
from ..store.store import Batch, Store
from . import Backend
from .backends import make_backend
from .decide import (
    AssumeDelivered,
    BackToPending,
    Hold,
    HoldInterrupted,
    MoveRecipients,
    Pause,
    Refuse,
    Release,
    ReportFailed,
    ReportHeld,
    ReportHeldRecipients,
    Resume,
    ResumeOptions,
    Retry,
    RetryPolicy,
    Split,
    StopAll,
    Tries,
    on_outcome,
    plan_resume,
    resolution,
)
from .gate import check_issue
from .stopping import stop_on_signals

log = logging.getLogger("insights.send")
HEARTBEAT_EVERY = 5.0  # seconds; the lock is taken over after minutes without one


@dataclass
class SendResult:
    delivered: dict[str, int] = field(default_factory=dict)  # segment -> recipients
    failed: list[str] = field(default_factory=list)  # batches refused (400)
    unknown: list[str] = field(default_factory=list)  # held for the operator
    paused: str | None = None  # why the send stopped early (resumable)
    skipped: int = 0  # recipients who left or were suppressed during the send
    output: str = ""

    @property
    def complete(self) -> bool:
        return not (self.failed or self.unknown or self.paused)


class _Stop(Exception):
    """Stop handing out batches (auth failure, or transient failures persisting)."""


def _recipient(row: Mapping[str, Any]) -> Recipient:
    return Recipient(row["subscriber_id"], row["email"], row["first_name"], row["segment"])


@dataclass
class Sender:
    config: Config
    store: Store
    audience: Audience
    issue: Issue
    variants: dict[str, RenderedVariant]
    backend: Backend
    clock: Callable[[], datetime]
    owner: str = ""
    parent_pid: int | None = None  # set in a sending child process: stop if it dies
    result: SendResult = field(default_factory=SendResult)
    stopped: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_beat: float = 0.0  # time.monotonic() of the last heartbeat
    interrupted: str | None = None  # the signal that asked this send to stop
    children: list[int] = field(default_factory=list)  # sending child processes' pids

    @property
    def lists(self) -> list[str]:
        return [entry.name for entry in self.config.lists]

    def interrupt(self, signal_name: str) -> None:
        """Stop handing out requests (from a signal handler: flags only, no locks), and
        ask the sending children to do the same."""
        self.interrupted = self.interrupted or signal_name
        self.stopped.set()
        self.backend.interrupt()
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop_reason(self) -> str | None:
        """Why the send stopped early, a signal included (read once the send is over)."""
        if self.result.paused or not self.interrupted:
            return self.result.paused
        return (f"stopped by {self.interrupted}: no new requests were made and those in "
                "flight finished")

    def orphaned(self) -> bool:
        """A sending child whose parent is gone (killed): it must not go on alone, as
        the parent's restart takes over the send lock and resumes from the ledger."""
        if self.parent_pid is None or os.getppid() == self.parent_pid:
            return False
        self.stopped.set()
        return True

    def go(self, batch: Batch, queued: Sequence[Recipient] | None = None) -> None:
        """Deliver one recorded batch; every outcome ends in the ledger. `queued` are its
        recipients when the caller has them (a fresh batch), else read from the ledger."""
        if self.stopped.is_set() or self.orphaned():
            return
        variant = self.variants.get(batch.segment)
        if variant is None:
            raise DeliveryError(f"issue {self.issue.id} has no variant for segment "
                                f"{batch.segment!r}; run `insights preview` to re-render")
        # Claimed before anything about its recipients changes: a batch another worker
        # holds, or one already accepted (its queued recipients sent with it), is not
        # this worker's to relabel. (A crash in the re-check leaves it held for the
        # operator, as a crash while posting would.)
        if not self.store.claim_batch(batch.id, self.clock()):
            return
        if queued is None:
            queued = [_recipient(r) for r in self.store.batch_recipients(batch.id)]
        recipients = self._still_eligible(batch, queued)
        if not recipients:
            self.store.finish_batch(batch.id, self.clock(), None)
            return
        self._attempt(batch, variant, recipients)
        self._beat()

    def _still_eligible(self, batch: Batch,
                        queued: Sequence[Recipient]) -> Sequence[Recipient]:
        """Those of `queued` who may still be mailed, right before the request goes; the
        others are recorded as skipped."""
        left = self.audience.no_longer_eligible([r.subscriber_id for r in queued], self.lists)
        if not left:
            return queued
        gone = [r.subscriber_id for r in queued if r.subscriber_id in left]
        if gone:
            self.store.set_recipients_state(batch.id, RecipientState.SKIPPED, subscriber_ids=gone,
                                            note="unsubscribed or suppressed before sending")
            with self.lock:
                self.result.skipped += len(gone)
        return [r for r in queued if r.subscriber_id not in left]

    def _beat(self, *, now: bool = False) -> None:
        """Record progress on the send lock, at most every HEARTBEAT_EVERY seconds: it
        only has to beat STALE_AFTER (minutes), and a write per batch is not free."""
        tick = time.monotonic()
        with self.lock:
            if not now and tick - self.last_beat < HEARTBEAT_EVERY:
                return
            self.last_beat = tick
        # Real time, whatever the send's clock says (`run --now` pretends a date): the
        # lock is taken over after STALE_AFTER of real silence, nothing else.
        self.store.heartbeat(self.issue.id, self.owner, datetime.now(UTC))

    def _attempt(self, batch: Batch, variant: RenderedVariant,
                 recipients: Sequence[Recipient]) -> None:
        """Post the batch until an answer settles it; what each answer means is decided
        by decide.on_outcome, what it does to the ledger here."""
        delivery = self.config.delivery
        policy = RetryPolicy(delivery.max_retries, delivery.backoff)
        tries = Tries()
        while True:
            went_out = self.clock()
            try:
                outcome = self.backend.send_batch(self.issue.id, batch.id, batch.seq, variant,
                                                  recipients)
            except DeliveryError as e:
                action, tries = on_outcome(e, tries, policy, random.random())
            else:
                if self.store.finish_batch(batch.id, self.clock(),
                                           outcome.message_id) == BatchState.FAILED:
                    with self.lock:
                        self.result.failed.append(
                            f"batch {batch.id} ({batch.segment}): some recipients refused "
                            "by the server (see `insights subscribers show`)")
                return None
            match action:
                case Retry(wait, reason):
                    log.info("batch %s: %s; trying again in %.1f s", batch.id, reason, wait)
                    if not self._wait_to_retry(batch, wait, reason):
                        return None
                    recipients = self._still_eligible(batch, recipients)
                    if not recipients:
                        self.store.finish_batch(batch.id, self.clock(), None)
                        return None
                case Pause(reason):
                    return self._pause(batch, reason)
                case Release(reason):
                    # Between two messages of a per-recipient backend: those sent are
                    # recorded, the rest are queued and go with the next run.
                    self.store.release_batch(batch.id, self.clock(), reason)
                    return None
                case Hold(reason):
                    held = len(recipients)
                    if self.backend.capabilities.per_recipient:
                        held = self.store.requeue_unknown_recipients(batch.id,
                                                                     RecipientState.UNKNOWN)
                    self.store.hold_batch(batch.id, error=reason)
                    with self.lock:
                        self.result.unknown.append(
                            held_line(batch.id, batch.segment, held, went_out, reason))
                    return None
                case Split(reason):
                    halves = self.store.split_batch(batch, self.clock())
                    if not halves:  # one recipient's request is too large: nothing to split
                        return self._refuse(batch, f"{reason} (a single recipient: cannot "
                                                   "split)")
                    for half in halves:
                        self.go(half)
                    return None
                case Refuse(reason):
                    return self._refuse(batch, reason)
                case StopAll(reason):
                    self.store.set_batch_state(batch.id, BatchState.PENDING, self.clock())
                    self.stopped.set()
                    raise AuthFailed(reason)

    def _wait_to_retry(self, batch: Batch, seconds: float, why: str) -> bool:
        """Wait before trying a batch again; True to go on. The provider answered that
        it did not take the request, so the batch is pending while we wait: a kill now
        leaves it to the next run, which sends it (nothing to hold for the operator).
        A stop (a signal, or a pause elsewhere) ends the wait and leaves it pending."""
        if not self.store.release_batch(batch.id, self.clock(), f"waiting to retry: {why}"):
            return False  # not ours any more (a takeover): its new owner sends it
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._beat(now=True)  # still here, however long the provider asks us to wait
            if self.stopped.wait(min(left, HEARTBEAT_EVERY * 6)):
                return False
        # Only from pending: a batch someone else took meanwhile (and sent, or holds as
        # unknown) is theirs, never this worker's to send again.
        return self.store.claim_batch(batch.id, self.clock(), only_pending=True)

    def _refuse(self, batch: Batch, why: str) -> None:
        # Refused for good: failed, reported, and resent only by --retry-failed.
        self.store.set_batch_state(batch.id, BatchState.FAILED, self.clock(), error=why)
        with self.lock:
            self.result.failed.append(f"batch {batch.id} ({batch.segment}): {why}")

    def _pause(self, batch: Batch, why: str) -> None:
        # Nothing was delivered for this batch: back to pending, picked up by the next run.
        self.store.set_batch_state(batch.id, BatchState.PENDING, self.clock(), error=why)
        with self.lock:
            self.result.paused = f"batch {batch.id} ({batch.segment}): {why}"
        self.stopped.set()


def send_issue(
    config: Config, store: Store, audience: Audience, issue: Issue,
    variants: Sequence[RenderedVariant], backend: Backend, clock: Callable[[], datetime],
    *, resolve_unknown: str | None = None, retry_failed: bool = False,
    resolve_batches: Sequence[int] = (),
) -> SendResult:
    """`resolve_unknown` decides the held batches (all, or those in `resolve_batches`)."""
    problems = check_issue(config, variants)
    if problems:
        raise DeliveryError(f"issue {issue.id} fails the pre-send check: " + "; ".join(problems))
    allowed = ((IssueStatus.APPROVED, IssueStatus.SENDING) if config.approval_required
               else (IssueStatus.DRAFT, IssueStatus.APPROVED, IssueStatus.SENDING))
    owner = f"{socket.gethostname()}:{os.getpid()}"
    store.acquire_send_lock(issue.id, owner, datetime.now(UTC))  # real time: see _beat
    try:
        store.set_issue_status(issue.id, IssueStatus.SENDING, clock(), expect=allowed)
        with fewer_collections(), store.one_writer() as ledger:
            return _send(config, ledger, audience, issue, variants, backend, clock, owner,
                         resolve_unknown=resolve_unknown, retry_failed=retry_failed,
                         resolve_batches=resolve_batches)
    finally:
        store.release_send_lock(issue.id, owner)


def _send(config: Config, store: Store, audience: Audience, issue: Issue,
          variants: Sequence[RenderedVariant], backend: Backend, clock: Callable[[], datetime],
          owner: str, *, resolve_unknown: str | None, retry_failed: bool,
          resolve_batches: Sequence[int] = ()) -> SendResult:
    """`store` is the ledger's (see Store.one_writer); `audience` resolves who gets it."""
    backend.prepare(issue.id, variants)
    sender = Sender(config, store, store.audience(), issue,
                    {v.segment: v for v in variants}, backend, clock, owner)

    # 1. What an earlier run left behind (decide.plan_resume), carried out in order.
    options = ResumeOptions(resolution(resolve_unknown), frozenset(resolve_batches),
                            retry_failed)
    try:
        plan = plan_resume(store.batches(issue.id), backend.capabilities, options)
    except DeliveryError as e:
        raise DeliveryError(f"issue {issue.id}: {e}") from None
    resume: list[Batch] = []
    for step in plan:
        match step:
            case HoldInterrupted(batch, reason, recipients_too):
                if recipients_too:  # only the recipient being sent to was uncertain
                    store.requeue_unknown_recipients(batch.id, RecipientState.UNKNOWN)
                store.hold_batch(batch.id, error=reason)
            case BackToPending(batch):
                store.set_batch_state(batch.id, BatchState.PENDING, clock())
            case MoveRecipients(batch, from_state, to_state):
                store.requeue_unknown_recipients(batch.id, to_state, from_states=(from_state,))
            case AssumeDelivered(batch):
                store.finish_batch(batch.id, clock(), "operator: assumed delivered")
            case Resume(batch):
                resume.append(batch)
            case ReportHeld(batch, reason):
                sender.result.unknown.append(held_line(
                    batch.id, batch.segment, batch.size, batch.updated_at, reason))
            case ReportHeldRecipients(batch):
                held = store.held_recipients(batch.id)
                if held:
                    sender.result.unknown.append(held_line(
                        batch.id, batch.segment, len(held), batch.updated_at,
                        f"outcome unknown for {', '.join(held[:5])}"
                        f"{' ...' if len(held) > 5 else ''}"))
            case ReportFailed(batch):
                sender.result.failed.append(f"batch {batch.id} ({batch.segment}): "
                                            f"{batch.error}")

    # 2. Resumed batches, then everyone eligible now who is not in the ledger yet, by
    #    this process or (delivery.processes) by several, each with its share of the ids.
    shares = _shares(config, audience, backend)
    with stop_on_signals(sender.interrupt):
        children = []
        try:
            for share in shares[1:]:
                children.append(_start_share(config, issue, variants, owner, share))
                sender.children.append(children[-1][0].pid)  # a stop reaches it from now
            if sender.interrupted:  # it came while they were starting
                sender.interrupt(sender.interrupted)
            _resolve_and_send(config, store, audience, issue, sender, clock, resume,
                              shares[0] if children else None)
        finally:
            refused = [_collect_share(process, queue, sender.result)
                       for process, queue in children]
            sender.children = []  # joined: their pids may belong to others soon
    sender.result.paused = sender.stop_reason()
    if any(refused):  # the API key: every process stops alike; one line is enough
        raise AuthFailed(next(r for r in refused if r))
    result = sender.result
    recorded = store.batches(issue.id)
    left = [b for b in recorded if b.state in (BatchState.PENDING, BatchState.IN_FLIGHT)]
    if left and not result.paused and not result.unknown:
        # Every batch recorded must have gone: never call an issue sent with some left.
        result.paused = (f"{len(left)} batch(es) recorded but not sent (a sending process "
                         "stopped early); run `insights send` again to send them")
    if not result.paused and not recorded:
        # Nobody to send to (an empty or wholly unsubscribed audience, or the wrong list
        # names): marking the issue sent would use up the week for no one.
        result.paused = ("nobody is eligible on the lists "
                         f"{', '.join(sender.lists)} (import subscribers, or check [[lists]])")
    result.delivered = store.delivered_count(issue.id)
    result.output = backend.finish(issue.id)
    if result.complete:
        store.set_issue_status(issue.id, IssueStatus.SENT, clock(),
                               expect=[IssueStatus.SENDING])
    return result


def held_line(batch_id: int, segment: str, recipients: int, went_out: datetime | None,
              why: str) -> str:
    """A held batch as the operator's report lists it, with what they need to decide."""
    when = f"request sent {went_out:%Y-%m-%d %H:%M:%S} UTC" if went_out else "request sent"
    return f"batch {batch_id} ({segment}, {recipients} recipient(s), {when}): {why}"


def _resolve_and_send(config: Config, store: Store, audience: Audience, issue: Issue,
                      sender: Sender, clock: Callable[[], datetime], resume: list[Batch],
                      id_range: tuple[int | None, int | None] | None) -> None:
    delivery = config.delivery
    with ThreadPoolExecutor(delivery.concurrency, thread_name_prefix="send") as pool:
        running: set[Future[None]] = set()

        def submit(batch: Batch, recipients: Sequence[Recipient] | None = None) -> None:
            while len(running) >= delivery.concurrency * 2:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    running.discard(f)
                    f.result()  # AuthFailed and bugs surface here
            if sender.stopped.is_set():
                raise _Stop
            running.add(pool.submit(sender.go, batch, recipients))

        try:
            for batch in resume:
                submit(batch)
            buffers: dict[str, list[Recipient]] = {}
            default = config.default_segment or None
            # A large audience is resolved wholly in a child process: this one's core is
            # busy building and posting (measured 2.5 s faster at 1,000,000).
            # The backend's per-recipient part of each request is worked out there too.
            preparer = sender.backend.capabilities.preparer
            people = audience.resolve(sender.lists, config.segment_rules, default,
                                      id_range=id_range, share=0.0,
                                      prepare=preparer() if preparer else None)
            for recipient in people:
                buffer = buffers.setdefault(recipient.segment, [])
                buffer.append(recipient)
                if len(buffer) >= delivery.batch_size:
                    _record(store, issue, recipient.segment, buffer, submit, clock, sender)
            for segment, buffer in buffers.items():
                _record(store, issue, segment, buffer, submit, clock, sender)
        except _Stop:
            pass
        except AudienceError:
            # A signal to the whole process group (systemd's stop) may end the resolving
            # child first: when this send is stopping anyway, that is no error.
            if not sender.stopped.is_set():
                raise
        finally:
            for f in running:
                f.result()


def _record(store: Store, issue: Issue, segment: str, buffer: list[Recipient],
            submit: Callable[..., None], clock: Callable[[], datetime],
            sender: Sender) -> None:
    if not buffer:
        return
    if sender.stopped.is_set() or sender.orphaned():
        raise _Stop  # nothing more is recorded: what is recorded is what gets sent
    recorded = store.record_batch(issue.id, segment, buffer, clock())
    buffer.clear()
    if recorded is not None:
        submit(*recorded)


# -- several sending processes -------------------------------------------------------------
# The GIL lets one process build and post about as many payloads as one core allows; a
# million recipients want both cores. Each child resolves its own share of subscriber
# ids, records its batches and sends them, under the parent's send lock: the ledger
# (one row per issue and address, batches claimed atomically) keeps every address to
# one copy whichever process records it.

def _shares(config: Config, audience: Audience,
            backend: Backend) -> list[tuple[int | None, int | None]]:
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


def _start_share(config: Config, issue: Issue, variants: Sequence[RenderedVariant],
                 owner: str, share: tuple[int | None, int | None]) -> tuple[Any, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_send_share, daemon=True, name=f"send-{share[0]}",
                              args=(config, issue, list(variants), owner, os.getpid(),
                                    share, queue))
    process.start()
    return process, queue


def _send_share(config: Config, issue: Issue, variants: list[RenderedVariant], owner: str,
                parent_pid: int, share: tuple[int | None, int | None], queue: Any) -> None:
    """Child process: resolve and send one share; report what the parent must know."""
    die_with_parent()
    try:
        def clock() -> datetime:
            return datetime.now(UTC)

        store = Store.open(config.store_url, migrate=False)
        try:
            backend = make_backend(config, clock(), store)
            with fewer_collections(), store.one_writer() as ledger:
                sender = Sender(config, ledger, ledger.audience(), issue,
                                {v.segment: v for v in variants}, backend, clock, owner,
                                parent_pid)
                with stop_on_signals(sender.interrupt):
                    _resolve_and_send(config, ledger, store.audience(), issue, sender,
                                      clock, [], share)
        finally:
            store.close()
        r = sender.result
        queue.put(("done", (r.failed, r.unknown, sender.stop_reason(), r.skipped)))
    except AuthFailed as e:
        queue.put(("auth", str(e)))
    except Exception as e:  # report, never leave the parent waiting  # noqa: BLE001
        queue.put(("error", f"{type(e).__name__}: {e}"))


def _collect_share(process: Any, queue: Any, result: SendResult) -> str | None:
    """Wait for a child's report and fold it into the send's result; the child's
    AuthFailed message, if that is how it stopped."""
    try:
        kind, payload = next_message(queue, process, lambda code: DeliveryError(
            f"exit code {code}"))
    except DeliveryError as e:
        kind, payload = "error", f"it stopped without a report ({e})"
    finally:
        process.join(timeout=30)
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
            f"a sending process failed: {payload}; run `insights send` again: it resumes "
            "from the ledger")
    return None
