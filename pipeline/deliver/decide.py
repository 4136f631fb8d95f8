"""What a send does after the backend answered a batch's request: a pure decision.

`on_outcome(error, tries, policy, jitter)` reads the provider's answer (as one of the
delivery errors) and says what to do next; `Sender._attempt` (send.py) carries it out
against the ledger. Kept apart from I/O so every answer is tested as a table
(tests/test_decide.py), as reader's update Decider is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
