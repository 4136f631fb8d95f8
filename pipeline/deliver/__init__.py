"""Deliver: hand each recorded batch to a backend (outbox, SendGrid, SMTP).

`send.py` owns the ledger protocol (record, send, mark); a backend only sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from ..models import Recipient, RenderedVariant


@dataclass(frozen=True)
class BatchOutcome:
    message_id: str | None = None


class Backend(Protocol):
    name: str

    def prepare(self, issue_id: str, variants: Sequence[RenderedVariant]) -> None:
        """Called once per send before any batch (write samples, open connections)."""

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
