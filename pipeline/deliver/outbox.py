"""The outbox backend (the default): write everything that would be sent to a folder.

outbox/<issue-id>/
    <segment>.html / .txt     the variant as rendered, placeholders intact
    <segment>.eml             a complete message as the first recipient would receive it
    batches/<segment>-NNNN.csv  each batch's recipients (rewritten whole on a resend)
    manifest.csv              every recipient of the issue: email, segment, batch
outbox/transactional/<time>-<hash>.eml   one-off messages (double opt-in confirmations)
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from ..errors import DeliveryError
from ..models import Recipient, RenderedVariant
from . import BatchOutcome
from .message import message_bytes

MessageFactory = Callable[[RenderedVariant, Recipient], bytes]


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one (crash safety)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class OutboxBackend:
    name = "outbox"

    def __init__(self, root: Path, make_message: MessageFactory, now: datetime) -> None:
        self.root = root
        self.make_message = make_message
        self.now = now
        self._samples: set[str] = set()

    def folder(self, issue_id: str) -> Path:
        return self.root / issue_id

    def prepare(self, issue_id: str, variants: Sequence[RenderedVariant]) -> None:
        folder = self.folder(issue_id)
        try:
            (folder / "batches").mkdir(parents=True, exist_ok=True)
            for v in variants:
                write_atomically(folder / f"{v.segment}.html", v.html.encode("utf-8"))
                write_atomically(folder / f"{v.segment}.txt", v.text.encode("utf-8"))
        except OSError as e:
            raise DeliveryError(f"cannot write to outbox {folder}: {e.strerror}") from e

    def send_batch(self, issue_id: str, batch_id: int, seq: int, variant: RenderedVariant,
                   recipients: Sequence[Recipient]) -> BatchOutcome:
        folder = self.folder(issue_id)
        lines = ["email,segment,batch"] + [
            f"{_csv_field(r.email)},{variant.segment},{batch_id}" for r in recipients
        ]
        try:
            write_atomically(folder / "batches" / f"{variant.segment}-{seq:04d}.csv",
                             ("\n".join(lines) + "\n").encode("utf-8"))
            sample = folder / f"{variant.segment}.eml"
            if recipients and variant.segment not in self._samples and not sample.exists():
                write_atomically(sample, self.make_message(variant, recipients[0]))
            self._samples.add(variant.segment)
        except OSError as e:
            raise DeliveryError(f"cannot write to outbox {folder}: {e.strerror}") from e
        return BatchOutcome(message_id=f"outbox-{issue_id}-{batch_id}")

    def send_message(self, message: EmailMessage) -> str:
        folder = self.root / "transactional"
        data = message_bytes(message)
        name = f"{self.now:%Y%m%dT%H%M%S}-{hashlib.sha256(data).hexdigest()[:12]}.eml"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / name, data)
        except OSError as e:
            raise DeliveryError(f"cannot write to outbox {folder}: {e.strerror}") from e
        return str(folder / name)

    def finish(self, issue_id: str) -> str:
        folder = self.folder(issue_id)
        rows = []
        for part in sorted((folder / "batches").glob("*.csv")):
            with part.open(newline="", encoding="utf-8") as fh:
                rows.extend(csv.DictReader(fh))
        with (folder / ".manifest.tmp").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["email", "segment", "batch"])
            writer.writeheader()
            writer.writerows(sorted(rows, key=lambda r: (r["segment"], r["email"])))
        os.replace(folder / ".manifest.tmp", folder / "manifest.csv")
        return str(folder)


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value
