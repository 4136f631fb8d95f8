"""The configured delivery backend (outbox, SendGrid or SMTP), built from the config."""

from __future__ import annotations

from datetime import datetime

from subscribers.tokens import Tokens, secret_key

from ..config import Config
from ..errors import ConfigError
from ..models import Recipient, RenderedVariant
from . import Backend
from .message import build_message, message_bytes, personal_values
from .outbox import OutboxBackend
from .payload import mail_body


def recipient_message(config: Config, tokens: Tokens, now: datetime,
                      variant: RenderedVariant, recipient: Recipient,
                      test: bool = False) -> bytes:
    """One recipient's message; `test`: "[TEST]" in the subject, links that change
    nothing."""
    personal = personal_values(config, tokens, recipient.email, recipient.first_name,
                               test=test)
    return message_bytes(build_message(config, variant, recipient, personal, now, test=test))


def make_backend(config: Config, now: datetime) -> Backend:
    """The backend `config` names. No backend holds the store: a send hands each its
    ledger (Backend.prepare)."""
    backend = config.delivery.backend
    if backend == "outbox":
        tokens = Tokens(secret_key(required=False))
        return OutboxBackend(
            config.resolve(config.delivery.outbox_dir),
            lambda v, r, test=False: recipient_message(config, tokens, now, v, r, test),
            lambda issue_id, batch_id, v, rs: mail_body(config, tokens, issue_id, batch_id, v, rs),
            now,
        )
    if backend == "sendgrid":
        from .sendgrid import SendGridBackend

        return SendGridBackend(config, Tokens(secret_key(required=True)))
    if backend == "smtp":
        from .smtp import SmtpBackend

        return SmtpBackend(config, Tokens(secret_key(required=True)), now)
    raise ConfigError(f"{config.path}: delivery.backend: unknown backend {backend!r}")
