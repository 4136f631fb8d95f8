"""The SMTP backend: one MIME message per recipient over STARTTLS, SSL or plain SMTP.

SMTP has no batch request, so each recipient is recorded in the ledger (through the
RecipientLedger the send hands over in `prepare`): in_flight just before its message
is handed over, sent right after. A crash then leaves at most one
message per connection whose fate is unknown; the rest of the batch is known to be
sent or known never to have been tried.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import threading
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage

from subscribers.tokens import Tokens

from ..config import Config
from ..errors import (
    AuthFailed,
    DeliveryError,
    OutcomeUnknown,
    SendStopped,
    TransientFailure,
)
from ..models import Recipient, RenderedVariant
from ..states import RecipientState
from . import BatchOutcome, Capabilities, RecipientLedger
from .message import Personalizer, build_message, message_bytes

PASSWORD_ENV = "INSIGHTS_SMTP_PASSWORD"


class SmtpBackend:
    name = "smtp"
    # The ledger knows each recipient's outcome, not just the batch's.
    capabilities = Capabilities(per_recipient=True)

    def __init__(self, config: Config, tokens: Tokens, now: datetime) -> None:
        self.config = config
        self.tokens = tokens
        self.now = now
        # Issue sends only (given in prepare); one-off messages and test sends have none.
        self.ledger: RecipientLedger | None = None
        self.options = config.delivery.smtp
        self.personal = Personalizer(config, tokens)
        self.test_personal = Personalizer(config, tokens, test=True)
        # Set when the send is asked to stop (interrupt): a batch is many messages, one
        # at a time, and a stop must not wait for all of them.
        self.stopping = threading.Event()

    def _connect(self) -> smtplib.SMTP:
        o = self.options
        try:
            if o.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    o.host, o.port, timeout=o.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(o.host, o.port, timeout=o.timeout)
                if o.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if o.username:
                smtp.login(o.username, os.environ.get(PASSWORD_ENV, ""))
            return smtp
        except smtplib.SMTPAuthenticationError as e:
            raise AuthFailed(f"the SMTP server refused the login for {o.username!r} "
                             f"({e.smtp_code}); check delivery.smtp.username and "
                             f"{PASSWORD_ENV}") from None
        except smtplib.SMTPNotSupportedError:
            raise TransientFailure(f"{o.host}:{o.port} does not offer STARTTLS; set "
                                   "delivery.smtp.security") from None
        except (OSError, smtplib.SMTPException) as e:
            raise TransientFailure(f"cannot connect to SMTP {o.host}:{o.port}: {e}") from None

    def prepare(self, issue_id: str, variants: Sequence[RenderedVariant],
                ledger: RecipientLedger) -> None:
        self.ledger = ledger

    def send_batch(self, issue_id: str, batch_id: int, seq: int, variant: RenderedVariant,
                   recipients: Sequence[Recipient]) -> BatchOutcome:
        ledger = self.ledger
        if ledger is None:
            raise DeliveryError("the smtp backend needs the send ledger to send an issue")
        # The ledger says who in this batch is still to go: a retry after a temporary
        # refusal must not mail again those accepted before it.
        queued = ledger.queued(batch_id)
        smtp = self._connect()
        try:
            for r in recipients:
                if r.subscriber_id not in queued:
                    continue
                if self.stopping.is_set():
                    raise SendStopped(f"stopped before sending to {r.email}")
                data = self._message(variant, r)
                ledger.sending(batch_id, r.subscriber_id)
                try:
                    smtp.sendmail(self.config.newsletter.from_email, [r.email], data)
                except smtplib.SMTPRecipientsRefused as e:
                    code, reason = next(iter(e.recipients.values()))
                    ledger.record(batch_id, r.subscriber_id, RecipientState.FAILED,
                                  f"refused by the server: {code} {reason!r}")
                    continue
                except smtplib.SMTPResponseException as e:
                    # An answer (before the OSError clause: SMTP errors are OSErrors): the
                    # message was not taken, for now (4xx) or for good (5xx).
                    if 400 <= e.smtp_code < 500:
                        ledger.record(batch_id, r.subscriber_id, RecipientState.QUEUED, None)
                        raise TransientFailure(f"SMTP {e.smtp_code}: {e.smtp_error!r}") from None
                    ledger.record(batch_id, r.subscriber_id, RecipientState.FAILED,
                                  f"SMTP {e.smtp_code}: {e.smtp_error!r}")
                    continue
                except (TimeoutError, smtplib.SMTPServerDisconnected, OSError) as e:
                    # The message may or may not have been taken: only this one is unknown.
                    raise OutcomeUnknown(f"connection lost while sending to {r.email}: "
                                         f"{e}") from None
                ledger.record(batch_id, r.subscriber_id, RecipientState.SENT, None)
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
        return BatchOutcome(message_id=None)

    def _message(self, variant: RenderedVariant, r: Recipient, test: bool = False) -> bytes:
        personal = (self.test_personal if test else self.personal)(r.email, r.first_name)
        return message_bytes(build_message(self.config, variant, r, personal, self.now,
                                           test=test))

    def send_test(self, issue_id: str, variant: RenderedVariant,
                  recipients: Sequence[Recipient]) -> str | None:
        smtp = self._connect()
        try:
            for r in recipients:
                smtp.sendmail(self.config.newsletter.from_email, [r.email],
                              self._message(variant, r, test=True))
        finally:
            smtp.quit()
        return f"SMTP {self.options.host}:{self.options.port}"

    def send_message(self, message: EmailMessage) -> str:
        smtp = self._connect()
        try:
            smtp.send_message(message)
        finally:
            smtp.quit()
        return f"SMTP {self.options.host}:{self.options.port}"

    def interrupt(self) -> None:
        self.stopping.set()  # checked before each message of a batch

    def finish(self, issue_id: str) -> str:
        return f"SMTP {self.options.host}:{self.options.port}"
