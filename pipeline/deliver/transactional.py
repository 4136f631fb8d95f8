"""One-off emails to one person (double opt-in confirmations), through the configured
backend. Rendered from templates/confirm.*.j2 like the newsletter."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from subscribers.tokens import CONFIRM_MAX_AGE, Tokens

from ..config import Config
from ..render import environment, mjml_to_html
from ..render.brand import newsletter_view
from .message import MESSAGE_POLICY


def confirmation_message(config: Config, tokens: Tokens, email: str, list_name: str,
                         now: datetime) -> EmailMessage:
    nl = config.newsletter
    list_def = config.list_def(list_name)
    context = {
        "newsletter": newsletter_view(nl),
        "list_title": list_def.title, "email": email,
        "confirm_url": f"{nl.base_url}/confirm/{tokens.confirm(email, list_name)}",
        "valid_days": CONFIRM_MAX_AGE // 86400,
    }
    templates = config.resolve(config.render.templates)
    text = environment(templates, True).get_template("confirm.txt.j2").render(context)
    html = mjml_to_html(environment(templates, False).get_template("confirm.mjml.j2")
                        .render(context))
    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["Subject"] = f"Please confirm your subscription to {list_def.title}"
    msg["From"] = Address(nl.from_name, addr_spec=nl.from_email)
    msg["To"] = Address(addr_spec=email)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=nl.from_email.split("@", 1)[1])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg
