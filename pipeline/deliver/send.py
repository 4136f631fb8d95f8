"""Send an issue through the ledger, so nothing is sent twice and nobody is skipped.

Protocol per batch: record the batch and its recipients (pending) -> mark in_flight ->
hand to the backend -> mark accepted (or failed). A rerun resumes: accepted batches are
never sent again; batches left pending or in_flight by a crash are sent again when the
backend is idempotent (the outbox), and held for the operator otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from subscribers.store import Audience

from ..config import Config
from ..errors import DeliveryError
from ..models import Issue, Recipient, RenderedVariant
from ..store.store import Batch, Store
from . import Backend

BATCH_SIZE = 1000


@dataclass
class SendResult:
    delivered: dict[str, int] = field(default_factory=dict)  # segment -> recipients
    failed: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def complete(self) -> bool:
        return not self.failed


def _recipient(row: dict) -> Recipient:
    return Recipient(row["subscriber_id"], row["email"], row["first_name"], row["segment"])


def send_issue(
    config: Config, store: Store, audience: Audience, issue: Issue,
    variants: Sequence[RenderedVariant], backend: Backend, clock: Callable[[], datetime],
    batch_size: int = BATCH_SIZE,
) -> SendResult:
    by_segment = {v.segment: v for v in variants}
    result = SendResult()
    allowed = ("approved", "sending") if config.delivery.require_approval else (
        "draft", "approved", "sending")
    store.set_issue_status(issue.id, "sending", clock(), expect=allowed)
    backend.prepare(issue.id, variants)

    def go(batch: Batch, recipients: Sequence[Recipient]) -> None:
        variant = by_segment.get(batch.segment)
        if variant is None:
            raise DeliveryError(f"issue {issue.id} has no rendered variant for segment "
                                f"{batch.segment!r}; run `insights preview` to re-render")
        store.set_batch_state(batch.id, "in_flight", clock())
        try:
            outcome = backend.send_batch(issue.id, batch.id, batch.seq, variant, recipients)
        except DeliveryError as e:
            store.set_batch_state(batch.id, "failed", clock(), error=str(e))
            result.failed.append(f"batch {batch.id} ({batch.segment}): {e}")
            return
        store.set_batch_state(batch.id, "accepted", clock(), message_id=outcome.message_id)

    # 1. Batches an earlier, interrupted run recorded but did not finish.
    for batch in store.batches(issue.id, ["pending", "in_flight", "failed"]):
        go(batch, [_recipient(r) for r in store.batch_recipients(batch.id)])

    # 2. Everyone eligible now who is not in the ledger yet.
    buffers: dict[str, list[Recipient]] = {}
    list_names = [entry.name for entry in config.lists]
    default = config.default_segment or None
    for recipient in audience.resolve(list_names, config.segment_rules, default):
        buffer = buffers.setdefault(recipient.segment, [])
        buffer.append(recipient)
        if len(buffer) >= batch_size:
            _flush(store, issue, recipient.segment, buffer, go, clock)
    for segment, buffer in buffers.items():
        _flush(store, issue, segment, buffer, go, clock)

    result.delivered = store.delivered_count(issue.id)
    result.output = backend.finish(issue.id)
    if result.complete:
        store.set_issue_status(issue.id, "sent", clock(), expect=["sending"])
    return result


def _flush(store: Store, issue: Issue, segment: str, buffer: list[Recipient],
           go: Callable[[Batch, Sequence[Recipient]], None],
           clock: Callable[[], datetime]) -> None:
    if not buffer:
        return
    recorded = store.record_batch(issue.id, segment, buffer, clock())
    buffer.clear()
    if recorded is not None:
        batch, _already = recorded
        go(batch, [_recipient(r) for r in store.batch_recipients(batch.id)])
