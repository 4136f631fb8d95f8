"""One process's part of a send: the Sender resolves who gets the issue (its share of
the subscriber ids, see shards.py), records them in batches and delivers each batch on
a pool of threads, every outcome into the ledger. What an answer from the provider
means is decided in decide.on_outcome; what it does to the ledger, here.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..config import Config
from ..errors import AudienceError, AuthFailed, DeliveryError
from ..models import Issue, Recipient, RenderedVariant
from ..ports import Recipients
from ..states import BatchState, RecipientState
from ..store.schedule import StopRequest
from ..store.store import Batch, Store
from . import Backend
from .decide import (
    Hold,
    Pause,
    Refuse,
    Release,
    Retry,
    RetryPolicy,
    Split,
    StopAll,
    Tries,
    on_outcome,
)

log = logging.getLogger("insights.send")
HEARTBEAT_EVERY = 5.0  # seconds; the lock is taken over after minutes without one
IdRange = tuple[int | None, int | None]  # a share of subscriber ids (None: open-ended)


@dataclass
class SendResult:
    """What a send did, for the operator's report (every process's part folded in)."""

    delivered: dict[str, int] = field(default_factory=dict)  # segment -> recipients
    failed: list[str] = field(default_factory=list)  # batches refused (400)
    unknown: list[str] = field(default_factory=list)  # held for the operator
    paused: str | None = None  # why the send stopped early (resumable)
    skipped: int = 0  # recipients who left or were suppressed during the send
    cancelled: int = 0  # recipients not sent because an editor cancelled the send
    stop: StopRequest | None = None  # an editor paused or cancelled it (see Sender._beat)
    output: str = ""

    @property
    def complete(self) -> bool:
        return not (self.failed or self.unknown or self.paused or self.stop)


class _Stop(Exception):
    """Stop handing out batches (auth failure, or transient failures persisting)."""


def _recipient(row: Mapping[str, Any]) -> Recipient:
    return Recipient(row["subscriber_id"], row["email"], row["first_name"], row["segment"])


@dataclass
class Sender:
    """One process's sending: `send` its share, `go` one batch. `store` is the ledger's
    (see Store.one_writer), `audience` re-checks who may still be mailed."""

    config: Config
    store: Store
    audience: Recipients
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
        """Why the send stopped early, a signal or an editor included (read once the
        send is over)."""
        if self.result.stop and not self.result.paused:
            return self.result.stop.reason
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
        only has to beat STALE_AFTER (minutes), and a write per batch is not free. And
        read whether an editor paused or cancelled the send: then no batch more goes
        (those in flight finish), within HEARTBEAT_EVERY of the editor's click."""
        tick = time.monotonic()
        with self.lock:
            if not now and tick - self.last_beat < HEARTBEAT_EVERY:
                return
            self.last_beat = tick
        # Real time, whatever the send's clock says (`run --now` pretends a date): the
        # lock is taken over after STALE_AFTER of real silence, nothing else.
        self.store.heartbeat(self.issue.id, self.owner, datetime.now(UTC))
        stop = self.store.stop_request(self.issue.id)
        if stop is not None:
            with self.lock:
                self.result.stop = self.result.stop or stop
            self.stopped.set()

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
                        held = self.store.move_recipients(batch.id, RecipientState.UNKNOWN)
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

    def send(self, resume: Sequence[Batch], everyone: Recipients,
             id_range: IdRange | None = None) -> None:
        """Send the `resume` batches, then record and send everyone `everyone` resolves
        (within `id_range`, this process's share) who is not in the ledger yet.
        `everyone` reads through its own connections, not the ledger's: resolving
        streams for the whole send while the sending threads write."""
        delivery = self.config.delivery
        self._beat(now=True)  # an editor's pause or cancel holds before the first batch
        if self.stopped.is_set():
            return
        with ThreadPoolExecutor(delivery.concurrency, thread_name_prefix="send") as pool:
            running: set[Future[None]] = set()

            def submit(batch: Batch, recipients: Sequence[Recipient] | None = None) -> None:
                while len(running) >= delivery.concurrency * 2:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for f in done:
                        running.discard(f)
                        f.result()  # AuthFailed and bugs surface here
                if self.stopped.is_set():
                    raise _Stop
                running.add(pool.submit(self.go, batch, recipients))

            try:
                for batch in resume:
                    submit(batch)
                default = self.config.default_segment or None
                # A large audience is resolved wholly in a child process: this one's
                # core is busy building and posting (measured 2.5 s faster at
                # 1,000,000). The backend's per-recipient part of each request is
                # worked out there too.
                preparer = self.backend.capabilities.preparer
                people = everyone.resolve(self.lists, self.config.segment_rules, default,
                                          id_range=id_range, share=0.0,
                                          prepare=preparer() if preparer else None)
                for segment, buffer in in_batches(people, delivery.batch_size):
                    self._record(segment, buffer, submit)
            except _Stop:
                pass
            except AudienceError:
                # A signal to the whole process group (systemd's stop) may end the
                # resolving child first: when this send is stopping anyway, that is no
                # error.
                if not self.stopped.is_set():
                    raise
            finally:
                for f in running:
                    f.result()

    def _record(self, segment: str, buffer: list[Recipient],
                submit: Callable[..., None]) -> None:
        """Record `buffer` as a batch of `segment` (emptying it) and submit it."""
        if not buffer:
            return
        if self.stopped.is_set() or self.orphaned():
            raise _Stop  # nothing more is recorded: what is recorded is what gets sent
        recorded = self.store.record_batch(self.issue.id, segment, buffer, self.clock())
        buffer.clear()
        if recorded is not None:
            submit(*recorded)


def in_batches(recipients: Iterable[Recipient],
               size: int) -> Iterator[tuple[str, list[Recipient]]]:
    """(segment, `size` of its recipients) as each segment fills a batch, then each
    segment's remainder: how a send records the people it resolves."""
    buffers: dict[str, list[Recipient]] = {}
    for recipient in recipients:
        buffer = buffers.setdefault(recipient.segment, [])
        buffer.append(recipient)
        if len(buffer) >= size:
            yield recipient.segment, buffer
            buffers[recipient.segment] = []
    for segment, buffer in buffers.items():
        if buffer:
            yield segment, buffer


def held_line(batch_id: int, segment: str, recipients: int, went_out: datetime | None,
              why: str) -> str:
    """A held batch as the operator's report lists it, with what they need to decide."""
    when = f"request sent {went_out:%Y-%m-%d %H:%M:%S} UTC" if went_out else "request sent"
    return f"batch {batch_id} ({segment}, {recipients} recipient(s), {when}): {why}"
