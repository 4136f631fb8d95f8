"""What a send does next, as pure decisions.

`on_outcome(error, tries, policy, jitter)` reads the provider's answer to a batch's
request (as one of the delivery errors) and says what to do next; `Sender._attempt`
(sender.py) carries it out against the ledger. `plan_resume(batches, capabilities,
options)` says what a send does first with the batches an earlier run left. Kept apart
from I/O so every case is tested as a table (tests/test_decide.py), as reader's update
Decider is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ..errors import (
    AuthFailed,
    BatchRejected,
    BatchTooLarge,
    DeliveryError,
    OutcomeUnknown,
    RateLimited,
    SendStopped,
    TransientFailure,
)
from ..states import BatchState, RecipientState
from ..store.records import Batch
from . import Capabilities

MAX_RATE_LIMIT_WAITS = 20


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int  # transient failures retried before the send pauses
    backoff: float  # the first wait, in seconds; doubles each time, plus jitter
    max_rate_limit_waits: int = MAX_RATE_LIMIT_WAITS


@dataclass(frozen=True)
class Tries:
    """What one batch has been through so far in this send."""

    transient: int = 0
    rate_limited: int = 0


@dataclass(frozen=True)
class Retry:
    """The provider took nothing: wait (the batch pending meanwhile), then try again."""

    wait: float
    reason: str


@dataclass(frozen=True)
class Pause:
    """Failures persist: the batch goes back to pending and the whole send stops
    (resumable by the next `insights send`)."""

    reason: str


@dataclass(frozen=True)
class Refuse:
    """Refused for good (400): failed, reported, resent only by --retry-failed."""

    reason: str


@dataclass(frozen=True)
class Split:
    """Too large (413): its recipients go into two new batches."""

    reason: str


@dataclass(frozen=True)
class Hold:
    """The request went out and no answer came back: held for the operator."""

    reason: str


@dataclass(frozen=True)
class Release:
    """Stopped between two messages (a signal): nothing in flight, the rest pending."""

    reason: str


@dataclass(frozen=True)
class StopAll:
    """The credentials were refused: every worker stops, the batch stays pending."""

    reason: str


Action = Retry | Pause | Refuse | Split | Hold | Release | StopAll


def on_outcome(error: DeliveryError, tries: Tries, policy: RetryPolicy,
               jitter: float = 0.0) -> tuple[Action, Tries]:
    """The next step after `error`, and the tries counted with it. `jitter` in [0, 1)
    spreads the retries of many workers (the caller draws it; this stays pure)."""
    if isinstance(error, RateLimited):
        waited = replace(tries, rate_limited=tries.rate_limited + 1)
        if waited.rate_limited > policy.max_rate_limit_waits:
            return Pause(f"still rate limited after {tries.rate_limited} waits"), waited
        return Retry(error.retry_after, f"rate limited: {error}"), waited
    if isinstance(error, TransientFailure):
        failed = replace(tries, transient=tries.transient + 1)
        if failed.transient > policy.max_retries:
            return Pause(f"{error} (after {failed.transient} tries)"), failed
        delay = policy.backoff * 2 ** (failed.transient - 1)
        return Retry(delay + jitter * delay, str(error)), failed
    if isinstance(error, SendStopped):
        return Release("stopped before sending"), tries
    if isinstance(error, OutcomeUnknown):
        return Hold(str(error)), tries
    if isinstance(error, BatchTooLarge):
        return Split(str(error)), tries
    if isinstance(error, BatchRejected):
        return Refuse(str(error)), tries
    if isinstance(error, AuthFailed):
        return StopAll(str(error)), tries
    raise error  # not an answer about this batch: a bug or a setup error, shown as it is


# -- resuming: what a send does first with the batches an earlier run left ----------------

Resolution = Literal["resend", "skip"]


def resolution(word: str | None) -> Resolution | None:
    """The operator's word on held batches (--resolve-unknown), checked."""
    if word is None:
        return None
    if word == "resend":
        return "resend"
    if word == "skip":
        return "skip"
    raise ValueError(f"--resolve-unknown: expected resend or skip, not {word!r}")


@dataclass(frozen=True)
class ResumeOptions:
    resolve_unknown: Resolution | None = None  # the operator's word
    batches: frozenset[int] = frozenset()  # with resolve_unknown: only these (none: all)
    retry_failed: bool = False


@dataclass(frozen=True)
class HoldInterrupted:
    """In flight at a crash: its request went out, so its outcome is unknown (with a
    per-recipient backend, only the recipient then in flight is)."""

    batch: Batch
    reason: str
    recipients_too: bool


@dataclass(frozen=True)
class BackToPending:
    """In flight at a crash, on an idempotent backend: sending it again does no harm."""

    batch: Batch


@dataclass(frozen=True)
class MoveRecipients:
    """Its recipients in `from_state` go to `to_state` (the operator's decision, or
    --retry-failed)."""

    batch: Batch
    from_state: str
    to_state: str


@dataclass(frozen=True)
class AssumeDelivered:
    batch: Batch


@dataclass(frozen=True)
class Resume:
    """Send it in this run."""

    batch: Batch


@dataclass(frozen=True)
class ReportHeld:
    """Still held for the operator; `reason` the batch's own."""

    batch: Batch
    reason: str


@dataclass(frozen=True)
class ReportHeldRecipients:
    """A per-recipient batch: who in it is still of unknown outcome (read at the time)."""

    batch: Batch


@dataclass(frozen=True)
class ReportFailed:
    batch: Batch


ResumeAction = (HoldInterrupted | BackToPending | MoveRecipients | AssumeDelivered | Resume
                | ReportHeld | ReportHeldRecipients | ReportFailed)
INTERRUPTED = "interrupted while in flight (crash or kill)"


def plan_resume(batches: Sequence[Batch], capabilities: Capabilities,
                options: ResumeOptions) -> list[ResumeAction]:
    """The ledger steps, in order, that pick a send up where an earlier run left it:
    accepted batches never go again, pending ones go, in-flight ones are held (or sent
    again where that is harmless), held and refused ones as the operator said."""
    held = [b for b in batches if b.state == BatchState.UNKNOWN]
    interrupted = [b for b in batches if b.state == BatchState.IN_FLIGHT]
    if not capabilities.idempotent or capabilities.per_recipient:
        held = sorted([*held, *(replace(b, state=BatchState.UNKNOWN, error=INTERRUPTED)
                                for b in interrupted)], key=lambda b: b.id)
    missing = sorted(options.batches - {b.id for b in held})
    if missing:
        raise DeliveryError(
            f"--batch {', '.join(map(str, missing))}: not held as unknown (held: "
            f"{', '.join(str(b.id) for b in held) or 'none'})")
    plan: list[ResumeAction] = []
    for b in interrupted:
        if capabilities.per_recipient or not capabilities.idempotent:
            plan.append(HoldInterrupted(b, INTERRUPTED, capabilities.per_recipient))
        else:
            plan.append(BackToPending(b))
    again = capabilities.idempotent and not capabilities.per_recipient
    pending = [b for b in batches if b.state == BatchState.PENDING
               or (b.state == BatchState.IN_FLIGHT and again)]
    plan += [Resume(b) for b in sorted(pending, key=lambda b: b.id)]
    failed = [b for b in batches if b.state == BatchState.FAILED]
    if options.retry_failed:
        for b in failed:
            plan += [MoveRecipients(b, RecipientState.FAILED, RecipientState.QUEUED), Resume(b)]
    for b in held:
        chosen = not options.batches or b.id in options.batches
        decide = options.resolve_unknown if chosen else None
        if capabilities.per_recipient:
            if decide:
                plan.append(MoveRecipients(b, RecipientState.UNKNOWN, RecipientState.QUEUED
                                       if decide == "resend" else RecipientState.SENT))
            plan += [ReportHeldRecipients(b), Resume(b)]  # its never-tried ones still go
        elif decide == "resend":
            plan.append(Resume(b))
        elif decide == "skip":
            plan.append(AssumeDelivered(b))
        else:
            plan.append(ReportHeld(b, b.error or ""))
    if not options.retry_failed:
        plan += [ReportFailed(b) for b in failed]
    return plan
