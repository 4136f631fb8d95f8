"""Deliver: hand each recorded batch to a backend (outbox, SendGrid, SMTP).

`send.py` owns the ledger protocol (record, send, mark): `IssueSend` runs one send,
`sender.py` is one process's part of it, `shards.py` the sending children; a backend
only sends (and a per-recipient one records each outcome through a RecipientLedger).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

from ..models import Recipient, RenderedVariant
from ..states import RecipientState


@dataclass(frozen=True)
class BatchOutcome:
    message_id: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared (the send never probes a backend for them)."""

    # Sending a batch again does no harm (the outbox rewrites the same file): a batch
    # left in flight by a crash is simply sent again, never held for the operator.
    idempotent: bool = False
    # Delivers one message at a time and records each recipient's outcome in the
    # ledger (SMTP): after a crash only the message then in flight is uncertain.
    per_recipient: bool = False
    # Several sending processes may share one send (delivery.processes).
    parallel_safe: bool = False
    # Builds each recipient's part of a request where the audience is resolved (another
    # process): (email, first name) -> Recipient.prepared. Picklable.
    preparer: Callable[[], Callable[[str, str], Any]] | None = None


class RecipientLedger(Protocol):
    """A batch's recipients in the send ledger, as a backend that delivers one message
    at a time (SMTP) reads and records them. The send hands it over (Backend.prepare):
    a backend never holds the Store."""

    def queued(self, batch_id: int) -> set[int]:
        """Subscriber ids in the batch still to be sent."""

    def sending(self, batch_id: int, subscriber_id: int) -> None:
        """The recipient's message is about to be handed over: in flight."""

    def record(self, batch_id: int, subscriber_id: int, state: RecipientState,
               note: str | None) -> None:
        """The recipient's outcome (sent, failed, or queued again)."""


class Backend(Protocol):
    name: str
    capabilities: Capabilities

    def prepare(self, issue_id: str, variants: Sequence[RenderedVariant],
                ledger: RecipientLedger) -> None:
        """Called once per send before any batch (write samples, open connections);
        `ledger` is where per-recipient backends record each recipient's outcome."""

    def send_batch(self, issue_id: str, batch_id: int, seq: int, variant: RenderedVariant,
                   recipients: Sequence[Recipient]) -> BatchOutcome:
        """Deliver one batch or raise DeliveryError. Must be safe to call again for the
        same batch id after a crash (the outbox overwrites; SendGrid is told by the
        ledger not to repeat an accepted batch)."""

    def send_test(self, issue_id: str, variant: RenderedVariant,
                  recipients: Sequence[Recipient]) -> str | None:
        """Send the variant to editors with "[TEST]" in the subject; never in the ledger."""

    def send_message(self, message: EmailMessage) -> str:
        """Send one complete message to its one recipient (confirmations); returns an id."""

    def finish(self, issue_id: str) -> str:
        """Called after every batch went; returns where the output is, for the report."""

    def interrupt(self) -> None:
        """The send was asked to stop (a signal): a backend that sends a batch as many
        messages stops before the next one (raising SendStopped); others have nothing
        to do. Called from a signal handler: set flags only."""
