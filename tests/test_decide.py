"""The send's decision after each answer from the provider, as a table (pure: no store,
no network). Sender._attempt carries these out; the SIGKILL and fault tests check that."""

from __future__ import annotations

import pytest

from pipeline.deliver.decide import (
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
from pipeline.errors import (
    AuthFailed,
    BatchRejected,
    BatchTooLarge,
    DeliveryError,
    OutcomeUnknown,
    RateLimited,
    SendStopped,
    TransientFailure,
)

POLICY = RetryPolicy(max_retries=3, backoff=0.5, max_rate_limit_waits=2)


@pytest.mark.parametrize("error,tries,jitter,action,after", [
    # 5xx, refused connections: exponential back-off with jitter, then pause.
    (TransientFailure("503"), Tries(), 0.0, Retry(0.5, "503"), Tries(transient=1)),
    (TransientFailure("503"), Tries(transient=1), 0.0, Retry(1.0, "503"), Tries(transient=2)),
    (TransientFailure("503"), Tries(transient=2), 0.5, Retry(3.0, "503"), Tries(transient=3)),
    (TransientFailure("503"), Tries(transient=3), 0.0, Pause("503 (after 4 tries)"),
     Tries(transient=4)),
    # 429: the provider's own wait, as often as the policy allows, then pause.
    (RateLimited("429", 7.0), Tries(), 0.9, Retry(7.0, "rate limited: 429"),
     Tries(rate_limited=1)),
    (RateLimited("429", 7.0), Tries(rate_limited=2, transient=1), 0.0,
     Pause("still rate limited after 2 waits"), Tries(transient=1, rate_limited=3)),
    # The two counts are apart: a 429 does not use up the 5xx retries.
    (TransientFailure("502"), Tries(rate_limited=2), 0.0, Retry(0.5, "502"),
     Tries(transient=1, rate_limited=2)),
    # Answers that settle the batch: the tries stay as they were.
    (OutcomeUnknown("timed out"), Tries(transient=1), 0.0, Hold("timed out"),
     Tries(transient=1)),
    (BatchTooLarge("413"), Tries(), 0.0, Split("413"), Tries()),
    (BatchRejected("400: bad from"), Tries(), 0.0, Refuse("400: bad from"), Tries()),
    (AuthFailed("401: key"), Tries(), 0.0, StopAll("401: key"), Tries()),
    (SendStopped("SIGTERM"), Tries(), 0.0, Release("stopped before sending"), Tries()),
])
def test_on_outcome(error, tries, jitter, action, after):
    assert on_outcome(error, tries, POLICY, jitter) == (action, after)


def test_an_error_that_is_no_answer_about_the_batch_is_raised_as_it_is():
    error = DeliveryError("the smtp backend needs the store")
    with pytest.raises(DeliveryError) as raised:
        on_outcome(error, Tries(), POLICY)
    assert raised.value is error


# -- plan_resume: what a send does first with what an earlier run left ---------------------

from pipeline.deliver import Capabilities  # noqa: E402
from pipeline.deliver.decide import (  # noqa: E402
    INTERRUPTED,
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
)
from pipeline.store.records import Batch  # noqa: E402

SENDGRID = Capabilities(parallel_safe=True)
OUTBOX = Capabilities(idempotent=True)
SMTP = Capabilities(per_recipient=True)


def batch(id, state, error=None):
    return Batch(id, "2026-W48", "general", id, state, 40, None, error)


ACCEPTED, PENDING = batch(1, "accepted"), batch(2, "pending")
FLIGHT, HELD, FAILED = batch(3, "in_flight"), batch(4, "unknown", "timed out"), batch(
    5, "failed", "400: bad")
HELD_NOW = batch(3, "unknown", INTERRUPTED)  # FLIGHT once held
LEFT = [ACCEPTED, PENDING, FLIGHT, HELD, FAILED]


@pytest.mark.parametrize("capabilities,options,plan", [
    # No word from the operator: the in-flight batch is held with the earlier one.
    (SENDGRID, ResumeOptions(), [
        HoldInterrupted(FLIGHT, INTERRUPTED, False), Resume(PENDING),
        ReportHeld(HELD_NOW, INTERRUPTED), ReportHeld(HELD, "timed out"),
        ReportFailed(FAILED)]),
    # "resend" for all; the refused one again too.
    (SENDGRID, ResumeOptions("resend", retry_failed=True), [
        HoldInterrupted(FLIGHT, INTERRUPTED, False), Resume(PENDING),
        MoveRecipients(FAILED, "failed", "queued"), Resume(FAILED),
        Resume(HELD_NOW), Resume(HELD)]),
    # "skip" for one batch only: the other stays held.
    (SENDGRID, ResumeOptions("skip", frozenset({4})), [
        HoldInterrupted(FLIGHT, INTERRUPTED, False), Resume(PENDING),
        ReportHeld(HELD_NOW, INTERRUPTED), AssumeDelivered(HELD), ReportFailed(FAILED)]),
    # The outbox rewrites the same file: an in-flight batch simply goes again.
    (OUTBOX, ResumeOptions(), [
        BackToPending(FLIGHT), Resume(PENDING), Resume(FLIGHT),
        ReportHeld(HELD, "timed out"), ReportFailed(FAILED)]),
    # SMTP: only the recipient in flight is uncertain; the rest of each batch goes.
    (SMTP, ResumeOptions(), [
        HoldInterrupted(FLIGHT, INTERRUPTED, True), Resume(PENDING),
        ReportHeldRecipients(HELD_NOW), Resume(HELD_NOW),
        ReportHeldRecipients(HELD), Resume(HELD), ReportFailed(FAILED)]),
    (SMTP, ResumeOptions("skip", frozenset({3})), [
        HoldInterrupted(FLIGHT, INTERRUPTED, True), Resume(PENDING),
        MoveRecipients(HELD_NOW, "unknown", "sent"), ReportHeldRecipients(HELD_NOW),
        Resume(HELD_NOW), ReportHeldRecipients(HELD), Resume(HELD), ReportFailed(FAILED)]),
])
def test_plan_resume(capabilities, options, plan):
    assert plan_resume(LEFT, capabilities, options) == plan


def test_an_accepted_batch_never_goes_again():
    for capabilities in (SENDGRID, OUTBOX, SMTP):
        for options in (ResumeOptions(), ResumeOptions("resend", retry_failed=True)):
            assert all(step.batch != ACCEPTED
                       for step in plan_resume(LEFT, capabilities, options))


def test_a_batch_number_that_is_not_held_is_refused_before_anything_changes():
    with pytest.raises(DeliveryError, match=r"--batch 2, 9: not held as unknown \(held: 3, 4\)"):
        plan_resume(LEFT, SENDGRID, ResumeOptions("resend", frozenset({2, 9})))
