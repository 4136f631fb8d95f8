"""Send an issue through the ledger: nothing is sent twice and nobody is skipped.

Per batch: record the batch and its recipients (pending) -> mark in_flight -> re-check
who may still be mailed -> hand to the backend -> accepted | failed | unknown. A rerun
resumes: accepted batches never go again; pending ones go; a batch left in flight by a
crash is resent only by idempotent backends (the outbox) and otherwise held as unknown
until the operator decides (`insights send --resolve-unknown resend|skip`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..children import fewer_collections
from ..config import Config
from ..errors import AuthFailed, DeliveryError, StoreError
from ..models import Issue, RenderedVariant
from ..ports import Recipients
from ..states import BatchState, IssueStatus, RecipientState
from ..store.store import Batch, Store
from . import Backend
from .decide import (
    AssumeDelivered,
    BackToPending,
    HoldInterrupted,
    MoveRecipients,
    ReportFailed,
    ReportHeld,
    ReportHeldRecipients,
    Resume,
    ResumeOptions,
    plan_resume,
    resolution,
)
from .gate import check_issue
from .sender import Sender, SendResult, held_line, in_batches
from .shards import RunningShare, ShareJob, shares, start_share
from .stopping import stop_on_signals


def send_issue(
    config: Config, store: Store, audience: Recipients, issue: Issue,
    variants: Sequence[RenderedVariant], backend: Backend, clock: Callable[[], datetime],
    *, resolve_unknown: str | None = None, retry_failed: bool = False,
    resolve_batches: Sequence[int] = (),
) -> SendResult:
    """Send `issue` to everyone eligible that an earlier run has not sent it to;
    `resolve_unknown` decides the held batches (all, or those in `resolve_batches`)."""
    problems = check_issue(config, variants)
    if problems:
        raise DeliveryError(f"issue {issue.id} fails the pre-send check: " + "; ".join(problems))
    owner = f"{socket.gethostname()}:{os.getpid()}"
    with _locked(config, store, issue, owner, clock) as ledger:
        options = ResumeOptions(resolution(resolve_unknown), frozenset(resolve_batches),
                                retry_failed)
        return IssueSend(config, ledger, audience, issue, list(variants), backend, clock,
                         options, owner).run()


def cancel_send(config: Config, store: Store, issue_id: str, editor: str,
                now: datetime) -> int | None:
    """An editor cancels the issue's send: nothing more goes, and everyone it did not
    reach is recorded as cancelled. Done here when no send is running (paused, or its
    process gone): how many were cancelled. A running send stops at its next heartbeat
    and records them itself (IssueSend.finish): None then.

    Done here means on the caller's thread (the web app's thread pool, for the admin's
    Cancel): the whole audience is resolved and recorded before it returns, about as
    long as recording a send's batches (2.3 s at 200,000 subscribers on SQLite)."""
    if not store.cancel_send(issue_id, editor, now):
        issue = store.get_issue(issue_id)
        state = f"is {issue.status}" if issue else "does not exist"
        raise DeliveryError(f"issue {issue_id} {state}: only a send in progress can be "
                            "cancelled")
    # Not this process's "host:pid": a send running in this very process (a test's, or
    # a thread of the web app) must not take this for its own lock.
    owner = f"{socket.gethostname()}:cancel-{os.getpid()}"
    try:
        store.acquire_send_lock(issue_id, owner, datetime.now(UTC))
    except StoreError:
        return None  # a live send holds it: it records the rest as it stops
    try:
        return cancel_rest(config, store, store.audience(), issue_id, now)
    finally:
        store.release_send_lock(issue_id, owner)


def cancel_rest(config: Config, store: Store, audience: Recipients, issue_id: str,
                now: datetime) -> int:
    """Under the send lock of a cancelled send: its pending batches, and everyone
    eligible now who is not in its ledger yet, recorded as cancelled (counted in the
    report and on the issue's page; never sent, since the issue is cancelled). How many."""
    cancelled = store.cancel_unsent(issue_id, now)
    people = audience.resolve([entry.name for entry in config.lists], config.segment_rules,
                              config.default_segment or None)
    for segment, batch in in_batches(people, config.delivery.batch_size):
        cancelled += store.record_cancelled(issue_id, segment, batch, now)
    return cancelled


@contextmanager
def _locked(config: Config, store: Store, issue: Issue, owner: str,
            clock: Callable[[], datetime]) -> Iterator[Store]:
    """Inside: this process holds the issue's send lock, the issue is 'sending', and
    the ledger's store is yielded (see Store.one_writer)."""
    allowed = ((IssueStatus.APPROVED, IssueStatus.SENDING) if config.approval_required
               else (IssueStatus.DRAFT, IssueStatus.APPROVED, IssueStatus.SENDING))
    store.acquire_send_lock(issue.id, owner, datetime.now(UTC))  # real time: see Sender._beat
    try:
        store.set_issue_status(issue.id, IssueStatus.SENDING, clock(), expect=allowed)
        with fewer_collections(), store.one_writer() as ledger:
            yield ledger
    finally:
        store.release_send_lock(issue.id, owner)


@dataclass(frozen=True)
class LedgerRecipients:
    """The ledger as a per-recipient backend records into it (RecipientLedger)."""

    store: Store

    def queued(self, batch_id: int) -> set[int]:
        return {row["subscriber_id"] for row in self.store.batch_recipients(batch_id)}

    def sending(self, batch_id: int, subscriber_id: int) -> None:
        self.store.set_recipients_state(batch_id, RecipientState.IN_FLIGHT,
                                        subscriber_ids=[subscriber_id])

    def record(self, batch_id: int, subscriber_id: int, state: RecipientState,
               note: str | None) -> None:
        self.store.set_recipient(batch_id, subscriber_id, state, note)


@dataclass
class IssueSend:
    """One send of one issue, under its send lock: what it works with, held once, and
    its phases: carry out the resume plan, send (this process and any sending
    children), then finish (the result, and the issue 'sent' if nothing is left)."""

    config: Config
    store: Store  # the ledger's (see Store.one_writer)
    audience: Recipients  # resolves who gets the issue, through its own connections
    issue: Issue
    variants: list[RenderedVariant]
    backend: Backend
    clock: Callable[[], datetime]
    options: ResumeOptions
    owner: str  # the send lock's holder
    sender: Sender = field(init=False)  # this process's

    def __post_init__(self) -> None:
        self.sender = Sender(self.config, self.store, self.store.audience(), self.issue,
                             {v.segment: v for v in self.variants}, self.backend,
                             self.clock, self.owner)

    @property
    def result(self) -> SendResult:
        return self.sender.result

    def run(self) -> SendResult:
        self.backend.prepare(self.issue.id, self.variants, LedgerRecipients(self.store))
        resume = self.resume()
        self.send(resume)
        return self.finish()

    def resume(self) -> list[Batch]:
        """Carry out, in order, what decide.plan_resume says about the batches an
        earlier run left; the batches to send again."""
        store, clock = self.store, self.clock
        try:
            plan = plan_resume(store.batches(self.issue.id), self.backend.capabilities,
                               self.options)
        except DeliveryError as e:
            raise DeliveryError(f"issue {self.issue.id}: {e}") from None
        resume: list[Batch] = []
        for step in plan:
            match step:
                case HoldInterrupted(batch, reason, recipients_too):
                    if recipients_too:  # only the recipient being sent to was uncertain
                        store.move_recipients(batch.id, RecipientState.UNKNOWN)
                    store.hold_batch(batch.id, error=reason)
                case BackToPending(batch):
                    store.set_batch_state(batch.id, BatchState.PENDING, clock())
                case MoveRecipients(batch, from_state, to_state):
                    store.move_recipients(batch.id, to_state, from_states=(from_state,))
                case AssumeDelivered(batch):
                    store.finish_batch(batch.id, clock(), None,
                                       note="operator: assumed delivered")
                case Resume(batch):
                    resume.append(batch)
                case ReportHeld(batch, reason):
                    self.result.unknown.append(held_line(
                        batch.id, batch.segment, batch.size, batch.updated_at, reason))
                case ReportHeldRecipients(batch):
                    held = store.held_recipients(batch.id)
                    if held:
                        self.result.unknown.append(held_line(
                            batch.id, batch.segment, len(held), batch.updated_at,
                            f"outcome unknown for {', '.join(held[:5])}"
                            f"{' ...' if len(held) > 5 else ''}"))
                case ReportFailed(batch):
                    self.result.failed.append(f"batch {batch.id} ({batch.segment}): "
                                              f"{batch.error}")
        return resume

    def send(self, resume: list[Batch]) -> None:
        """The resumed batches, then everyone eligible now who is not in the ledger yet,
        by this process or (delivery.processes) by several, each with its share."""
        sender = self.sender
        ranges = shares(self.config, self.audience, self.backend)
        with stop_on_signals(sender.interrupt):
            children: list[RunningShare] = []
            try:
                for id_range in ranges[1:]:
                    children.append(start_share(ShareJob(
                        self.config, self.issue, self.variants, self.owner, os.getpid(),
                        id_range)))
                    sender.children.append(children[-1].pid)  # a stop reaches it from now
                if sender.interrupted:  # it came while they were starting
                    sender.interrupt(sender.interrupted)
                sender.send(resume, self.audience, ranges[0] if children else None)
            finally:
                refused = [child.collect(sender.result) for child in children]
                sender.children = []  # joined: their pids may belong to others soon
        sender.result.paused = sender.stop_reason()
        if any(refused):  # the API key: every process stops alike; one line is enough
            raise AuthFailed(next(r for r in refused if r))

    def finish(self) -> SendResult:
        """The send's result; the issue marked sent if every recorded batch went, and
        what was not sent recorded as cancelled if an editor cancelled it."""
        store, result = self.store, self.result
        stop = store.stop_request(self.issue.id)
        if stop is not None and stop.cancelled:
            result.stop = stop
            result.paused = result.paused or stop.reason
            result.cancelled = cancel_rest(self.config, store, self.audience, self.issue.id,
                                           self.clock())
        recorded = store.batches(self.issue.id)
        left = [b for b in recorded if b.state in (BatchState.PENDING, BatchState.IN_FLIGHT)]
        if left and not result.paused and not result.unknown:
            # Every batch recorded must have gone: never call an issue sent with some left.
            result.paused = (f"{len(left)} batch(es) recorded but not sent (a sending "
                             "process stopped early); run `insights send` again to send them")
        if not result.paused and not recorded:
            # Nobody to send to (an empty or wholly unsubscribed audience, or the wrong
            # list names): marking the issue sent would use up the week for no one.
            result.paused = ("nobody is eligible on the lists "
                             f"{', '.join(self.sender.lists)} (import subscribers, or "
                             "check [[lists]])")
        result.delivered = store.delivered_count(self.issue.id)
        result.output = self.backend.finish(self.issue.id)
        if result.complete:
            store.set_issue_status(self.issue.id, IssueStatus.SENT, self.clock(),
                                   expect=[IssueStatus.SENDING])
        return result
