"""The SendGrid backend: the official client (`sendgrid.SendGridAPIClient`), one request
per batch, and every failure mapped to what the send ledger must do about it."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
from collections.abc import Mapping, Sequence
from email.message import EmailMessage, Message
from typing import Any

import orjson
from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from subscribers.tokens import Tokens

from ..config import Config
from ..errors import (
    AuthFailed,
    BatchRejected,
    BatchTooLarge,
    DeliveryError,
    OutcomeUnknown,
    RateLimited,
    TransientFailure,
)
from ..models import Recipient, RenderedVariant
from . import BatchOutcome, Capabilities, RecipientLedger
from .payload import PreparePersonalization, encoded_body, mail_body

API_KEY_ENV = "SENDGRID_API_KEY"
JSON_UTF8 = "application/json; charset=utf-8"


def api_key() -> str:
    key = os.environ.get(API_KEY_ENV, "")
    if not key:
        raise AuthFailed(f"{API_KEY_ENV} is not set: the sendgrid backend needs an API key "
                         "with the Mail Send permission, from the environment (never config)")
    return key


class _JSONBytes(bytes):
    """An encoded request body that formats as its size. python_http_client formats
    every body into a debug log line ('PAYLOAD: ...') whether or not debug logging is
    on: for a 1000-recipient body that repr cost more than the rest of the request."""

    def __format__(self, spec: str) -> str:
        return f"<{len(self):,} bytes of JSON>"


class _EncodedBody:
    """A body already encoded, handed to the client where it expects a str: it calls
    .encode("utf-8") on bodies whose Content-Type is not the bare application/json."""

    def __init__(self, body: dict[str, Any] | bytes) -> None:
        self.data = _JSONBytes(body if isinstance(body, bytes) else orjson.dumps(body))

    def encode(self, encoding: str = "utf-8") -> bytes:
        return self.data


class SendGridBackend:
    name = "sendgrid"

    def __init__(self, config: Config, tokens: Tokens) -> None:
        # Not idempotent: a repeated request is a repeated email. Parallel-safe: one
        # client per process, nothing shared but the store.
        self.capabilities = Capabilities(parallel_safe=True, preparer=self.preparer)
        self.config = config
        self.tokens = tokens
        self.client = SendGridAPIClient(api_key(), host=config.delivery.sendgrid.host)
        # python_http_client waits forever unless told otherwise.
        self.client.client.timeout = config.delivery.sendgrid.timeout
        # Bodies are encoded here with orjson (a tenth of json.dumps' time on a
        # 1000-recipient body); the client sends a body as it is when the content
        # type is not the bare "application/json" it would encode for.
        self.client.client.request_headers["Content-Type"] = JSON_UTF8

    def prepare(self, issue_id: str, variants: Sequence[RenderedVariant],
                ledger: RecipientLedger) -> None:
        pass

    def send_batch(self, issue_id: str, batch_id: int, seq: int, variant: RenderedVariant,
                   recipients: Sequence[Recipient]) -> BatchOutcome:
        return BatchOutcome(message_id=self.post(encoded_body(
            self.config, self.tokens, issue_id, batch_id, variant, recipients)))

    def preparer(self) -> PreparePersonalization:
        """What the resolving process works out per recipient (see Recipient.prepared)."""
        return PreparePersonalization(self.config)

    def interrupt(self) -> None:
        pass  # one request a batch: the one in flight finishes

    def send_test(self, issue_id: str, variant: RenderedVariant,
                  recipients: Sequence[Recipient]) -> str | None:
        body = mail_body(self.config, self.tokens, issue_id, 0, variant, recipients, test=True)
        return self.post(body)

    def send_message(self, message: EmailMessage) -> str:
        """A one-off message (a confirmation) through the same API."""
        nl = self.config.newsletter
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        content = [{"type": "text/plain", "value": text.get_content()}] if text else []
        if html:
            content.append({"type": "text/html", "value": html.get_content()})
        body = {"personalizations": [{"to": [{"email": str(message["To"])}]}],
                "from": {"email": nl.from_email, "name": nl.from_name},
                "subject": str(message["Subject"]), "content": content,
                "categories": ["transactional"]}
        return self.post(body) or ""

    def finish(self, issue_id: str) -> str:
        return f"SendGrid at {self.config.delivery.sendgrid.host}"

    def post(self, body: dict[str, Any] | bytes) -> str | None:
        """POST /v3/mail/send; the X-Message-Id on 202, or the error the ledger needs."""
        try:
            response = self.client.client.mail.send.post(request_body=_EncodedBody(body))
        except http_errors.HTTPError as e:
            raise _classify(e) from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, ConnectionRefusedError | socket.gaierror):
                raise TransientFailure(f"cannot connect to SendGrid: {reason}") from None
            if isinstance(reason, TimeoutError | socket.timeout):
                raise OutcomeUnknown(f"no answer from SendGrid within "
                                     f"{self.config.delivery.sendgrid.timeout:g} s") from None
            raise OutcomeUnknown(f"connection to SendGrid failed mid-request: {reason}") from None
        except (http.client.RemoteDisconnected, ConnectionResetError, TimeoutError,
                http.client.IncompleteRead, BrokenPipeError) as e:
            # The request was written; whether SendGrid queued it is unknown.
            raise OutcomeUnknown(f"connection dropped before SendGrid answered "
                                 f"({type(e).__name__})") from None
        if response.status_code not in (200, 202):
            raise OutcomeUnknown(f"unexpected answer {response.status_code} from SendGrid")
        message_id: str | None = response.headers.get("X-Message-Id")
        return message_id


def _errors_text(error: http_errors.HTTPError) -> str:
    try:
        data = json.loads(error.body.decode("utf-8"))
        return "; ".join(f"{e.get('field') or ''}: {e.get('message')}".strip(": ")
                         for e in data.get("errors", [])) or str(data)[:300]
    except (ValueError, AttributeError):
        return (error.body or b"").decode("utf-8", "replace")[:300]


def _classify(error: http_errors.HTTPError) -> DeliveryError:
    status = error.status_code
    detail = _errors_text(error)
    if status in (401, 403):
        return AuthFailed(f"SendGrid refused the API key (HTTP {status}: {detail}); check "
                          f"{API_KEY_ENV} and that the key has the Mail Send permission")
    if status == 400:
        return BatchRejected(f"SendGrid rejected the batch (HTTP 400): {detail}")
    if status == 413:
        return BatchTooLarge(f"SendGrid: request too large (HTTP 413): {detail}")
    if status == 429:
        return RateLimited("SendGrid rate limit (HTTP 429)", _retry_after(error.headers))
    if status >= 500:
        return TransientFailure(f"SendGrid server error (HTTP {status}): {detail}")
    return BatchRejected(f"SendGrid answered HTTP {status}: {detail}")


def _retry_after(headers: Message | Mapping[str, str] | None) -> float:
    """Seconds to wait: X-RateLimit-Reset (an epoch time) or Retry-After (seconds)."""
    headers = headers or {}
    reset = headers.get("X-RateLimit-Reset")
    if reset and reset.strip().isdigit():
        return max(0.0, min(300.0, int(reset) - time.time()))
    after = headers.get("Retry-After")
    if after:
        try:
            return max(0.0, min(300.0, float(after)))
        except ValueError:
            pass
    return 1.0
