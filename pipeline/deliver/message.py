"""Per-recipient personalisation and complete MIME messages. Pure apart from the clock."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from subscribers.tokens import Tokens

from ..config import Config
from ..models import Recipient, RenderedVariant
from ..render.context import PLACEHOLDERS

# Bodies are encoded with SMTP's 78-column lines (quoted-printable stays within 76);
# when written out, long header lines are kept whole rather than folded into RFC 2047
# encoded-words, which clients do not accept in List-Unsubscribe. See `message_bytes`.
MESSAGE_POLICY = SMTP
WIRE_POLICY = SMTP.clone(max_line_length=998)


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes on the wire."""
    return msg.as_bytes(policy=WIRE_POLICY)


@dataclass(frozen=True)
class Personal:
    """The values that differ per recipient, keyed by placeholder."""

    values: dict[str, str]
    unsubscribe_url: str


def personal_values(config: Config, tokens: Tokens, email: str, name: str) -> Personal:
    base = config.newsletter.base_url
    token = tokens.manage(email)
    unsubscribe = f"{base}/u/{token}"
    values = {
        PLACEHOLDERS["first_name"]: name or "colleague",
        # Names come from imports and forms: never markup in the HTML part.
        PLACEHOLDERS["first_name_html"]: html.escape(name or "colleague"),
        PLACEHOLDERS["unsubscribe_url"]: unsubscribe,
        PLACEHOLDERS["preferences_url"]: f"{base}/p/{token}",
        PLACEHOLDERS["email"]: email,
    }
    return Personal(values, unsubscribe)


def fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def list_id(config: Config) -> str:
    host = config.newsletter.base_url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return f"{config.newsletter.name} <{config.lists[0].name}.{host}>"


def unsubscribe_header(config: Config, url: str) -> str:
    parts = [f"<{url}>"]
    if config.newsletter.unsubscribe_email:
        parts.append(f"<mailto:{config.newsletter.unsubscribe_email}?subject=unsubscribe>")
    return ", ".join(parts)


def build_message(
    config: Config, variant: RenderedVariant, recipient: Recipient, personal: Personal,
    now: datetime, *, subject_prefix: str = "",
) -> EmailMessage:
    """The complete multipart/alternative message one recipient receives."""
    nl = config.newsletter
    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["Subject"] = subject_prefix + variant.subject
    msg["From"] = Address(nl.from_name, addr_spec=nl.from_email)
    msg["To"] = Address(addr_spec=recipient.email)
    if nl.reply_to:
        msg["Reply-To"] = nl.reply_to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=nl.from_email.split("@", 1)[1])
    msg["List-Id"] = list_id(config)
    msg["List-Unsubscribe"] = unsubscribe_header(config, personal.unsubscribe_url)
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # text/plain first: in multipart/alternative the last part is the preferred one.
    msg.set_content(fill(variant.text, personal.values), subtype="plain", charset="utf-8")
    msg.add_alternative(fill(variant.html, personal.values), subtype="html", charset="utf-8")
    return msg
