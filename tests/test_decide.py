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
