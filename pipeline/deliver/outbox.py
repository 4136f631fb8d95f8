"""The outbox backend (the default): write everything that would be sent to a folder.

outbox/<issue-id>/
    <segment>.html / .txt     the variant as rendered, placeholders intact
    <segment>.eml             a complete message as the first recipient would receive it
    batches/<segment>-NNNN.json  the exact SendGrid request body of each batch
                                 (rewritten whole if the batch is sent again)
    manifest.csv              every recipient of the issue: email, segment, batch
outbox/transactional/<time>-<hash>.eml   one-off messages (double opt-in confirmations)
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from subscribers.model import neutralise

from ..errors import DeliveryError
from ..models import Recipient, RenderedVariant
from . import BatchOutcome, Capabilities, RecipientLedger
from .message import message_bytes

MessageFactory = Callable[..., bytes]  # (variant, recipient[, test]) -> bytes
BodyFactory = Callable[[str, int, RenderedVariant, Sequence[Recipient]], dict[str, Any]]


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one (crash safety)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextmanager
def wrap_errors(folder: Path, doing: str = "cannot write to outbox") -> Iterator[None]:
    """The file system's errors as the one DeliveryError the send reports (as reader's
    wrap_exceptions): which folder, and why."""
    try:
        yield
    except OSError as e:
        raise DeliveryError(f"{doing} {folder}: {e.strerror or e}") from e


def file_safe(address: str) -> str:
    """An address as part of a file name: a local part may hold "/" or "..", which must
    not choose where the file goes."""
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", address).lstrip(".")


class OutboxBackend:
    name = "outbox"
    capabilities = Capabilities(idempotent=True)  # a batch again rewrites the same file

    def __init__(self, root: Path, make_message: MessageFactory, make_body: BodyFactory,
                 now: datetime) -> None:
        self.root = root
        self.make_message = make_message
        self.make_body = make_body
        self.now = now

    def folder(self, issue_id: str) -> Path:
        return self.root / issue_id

    def prepare(self, issue_id: str, variants: Sequence[RenderedVariant],
                ledger: RecipientLedger) -> None:
        folder = self.folder(issue_id)
        with wrap_errors(folder):
            (folder / "batches").mkdir(parents=True, exist_ok=True)
            for v in variants:
                write_atomically(folder / f"{v.segment}.html", v.html.encode("utf-8"))
                write_atomically(folder / f"{v.segment}.txt", v.text.encode("utf-8"))

    def send_batch(self, issue_id: str, batch_id: int, seq: int, variant: RenderedVariant,
                   recipients: Sequence[Recipient]) -> BatchOutcome:
        folder = self.folder(issue_id)
        body = self.make_body(issue_id, batch_id, variant, recipients)
        with wrap_errors(folder):
            write_atomically(folder / "batches" / f"{variant.segment}-{seq:04d}.json",
                             json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8"))
            # The sample: the first batch's first address in alphabetical order, so the
            # same data always gives the same file (golden tests rely on it).
            sample = folder / f"{variant.segment}.eml"
            if recipients and seq == 1:
                first = min(recipients, key=lambda r: r.email.casefold())
                write_atomically(sample, self.make_message(variant, first))
        return BatchOutcome(message_id=f"outbox-{issue_id}-{batch_id}")

    def send_test(self, issue_id: str, variant: RenderedVariant,
                  recipients: Sequence[Recipient]) -> str | None:
        folder = self.folder(issue_id) / "tests"
        with wrap_errors(folder):
            folder.mkdir(parents=True, exist_ok=True)
            for r in recipients:
                data = self.make_message(variant, r, True)
                write_atomically(folder / f"{variant.segment}-{file_safe(r.email)}.eml", data)
        return str(folder)

    def send_message(self, message: EmailMessage) -> str:
        folder = self.root / "transactional"
        data = message_bytes(message)
        name = f"{self.now:%Y%m%dT%H%M%S}-{hashlib.sha256(data).hexdigest()[:12]}.eml"
        with wrap_errors(folder):
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / name, data)
        return str(folder / name)

    def interrupt(self) -> None:
        pass  # a batch is one file: the one being written finishes

    def finish(self, issue_id: str) -> str:
        folder = self.folder(issue_id)
        with wrap_errors(folder, "cannot write the manifest in"):
            return self._write_manifest(folder)

    @staticmethod
    def _write_manifest(folder: Path) -> str:
        rows: list[dict[str, Any]] = []
        for part in sorted((folder / "batches").glob("*.json")):
            body = json.loads(part.read_text(encoding="utf-8"))
            segment = body["custom_args"]["segment"]
            batch = body["custom_args"]["batch_id"]
            # An address may start with "=" or "+" (valid, and a spreadsheet formula).
            rows.extend({"email": neutralise(p["to"][0]["email"]), "segment": segment,
                         "batch": batch} for p in body["personalizations"])
        with (folder / ".manifest.tmp").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["email", "segment", "batch"])
            writer.writeheader()
            writer.writerows(sorted(rows, key=lambda r: (r["segment"], r["email"])))
        os.replace(folder / ".manifest.tmp", folder / "manifest.csv")
        return str(folder)
