"""Per-recipient personalisation and complete MIME messages. Pure apart from the clock."""

from __future__ import annotations

import html
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from functools import partial
from typing import NamedTuple

from subscribers.tokens import Tokens

from ..config import Config
from ..models import Recipient, RenderedVariant
from ..render.placeholders import PLACEHOLDERS, fill, inert

# Bodies are encoded with SMTP's 78-column lines (quoted-printable stays within 76);
# when written out, long header lines are kept whole rather than folded into RFC 2047
# encoded-words, which clients do not accept in List-Unsubscribe. See `message_bytes`.
MESSAGE_POLICY = SMTP
WIRE_POLICY = SMTP.clone(max_line_length=998)
TEST_SUBJECT_PREFIX = "[TEST] "  # test sends, whatever the backend


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes on the wire."""
    return msg.as_bytes(policy=WIRE_POLICY)


class Personal(NamedTuple):
    """The values that differ per recipient, keyed by placeholder. (A NamedTuple: a
    send makes one per recipient.)"""

    values: dict[str, str]
    unsubscribe_url: str
    list_unsubscribe: str  # the List-Unsubscribe header value


class Personalizer:
    """Per-recipient values for one newsletter. Everything that does not depend on the
    recipient is worked out once here: a send asks a million times."""

    def __init__(self, config: Config, tokens: Tokens, *, test: bool = False) -> None:
        """`test`: links for test sends and previews, which change nothing when used."""
        nl = config.newsletter
        self.token = partial(tokens.manage, test=True) if test else tokens.manage
        self.unsubscribe_base = f"{nl.base_url}/u/"
        self.preferences_base = f"{nl.base_url}/p/"
        # No mailto in a test: a client using it would mail a real unsubscribe request.
        self.mailto = (f", <mailto:{nl.unsubscribe_email}?subject=unsubscribe>"
                       if nl.unsubscribe_email and not test else "")
        # Plain str: the keys go into JSON (orjson takes no str subclass as a key).
        self.keys = tuple(str(PLACEHOLDERS[k]) for k in (
            "first_name", "first_name_html", "unsubscribe_url", "preferences_url", "email"))

    def __call__(self, email: str, name: str) -> Personal:
        return self.assemble(email, *self.names(name), self.token(email))

    @staticmethod
    def names(name: str) -> tuple[str, str]:
        """The name as shown, as text and as HTML (names come from imports and forms:
        never markup in the HTML part, nor a placeholder anywhere)."""
        shown = inert(name) or "colleague"
        return shown, html.escape(shown)

    def assemble(self, email: str, shown: str, shown_html: str, token: str) -> Personal:
        """The values from their parts: the name as shown (as text and as HTML) and the
        signed token of the links."""
        unsubscribe = self.unsubscribe_base + token
        first, first_html, unsub, prefs, addr = self.keys
        values = {first: shown, first_html: shown_html, unsub: unsubscribe,
                  prefs: self.preferences_base + token, addr: email}
        return Personal(values, unsubscribe, f"<{unsubscribe}>{self.mailto}")


def personal_values(config: Config, tokens: Tokens, email: str, name: str, *,
                    test: bool = False) -> Personal:
    return Personalizer(config, tokens, test=test)(email, name)


def list_id(config: Config) -> str:
    host = config.newsletter.base_url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return f"{config.newsletter.name} <{config.lists[0].name}.{host}>"


def build_message(
    config: Config, variant: RenderedVariant, recipient: Recipient, personal: Personal,
    now: datetime, *, test: bool = False,
) -> EmailMessage:
    """The complete multipart/alternative message one recipient receives (`test`: a
    test send's, "[TEST]" in the subject)."""
    nl = config.newsletter
    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["Subject"] = (TEST_SUBJECT_PREFIX if test else "") + variant.subject
    msg["From"] = Address(nl.from_name, addr_spec=nl.from_email)
    msg["To"] = Address(addr_spec=recipient.email)
    if nl.reply_to:
        msg["Reply-To"] = nl.reply_to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=nl.from_email.split("@", 1)[1])
    msg["List-Id"] = list_id(config)
    msg["List-Unsubscribe"] = personal.list_unsubscribe
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # text/plain first: in multipart/alternative the last part is the preferred one.
    msg.set_content(fill(variant.text, personal.values), subtype="plain", charset="utf-8")
    msg.add_alternative(fill(variant.html, personal.values), subtype="html", charset="utf-8")
    return msg
