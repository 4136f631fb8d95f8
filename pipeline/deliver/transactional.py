"""One-off emails to one person (double opt-in confirmations, the editors' notices),
through the configured backend. Rendered from templates/<name>.*.j2 like the newsletter."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from subscribers.tokens import CONFIRM_MAX_AGE, Tokens

from ..config import Config
from ..render import environment, mjml_to_html
from ..render.brand import newsletter_view
from .message import MESSAGE_POLICY

# The templates shipped with the project: an installation whose own templates folder
# predates a message (the notices) still gets it.
BUNDLED_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


def render_pair(config: Config, name: str, context: dict[str, Any]) -> tuple[str, str]:
    """templates/<name>.txt.j2 and <name>.mjml.j2 -> (plain text, HTML)."""
    templates = config.resolve(config.render.templates)
    if not (templates / f"{name}.mjml.j2").exists() and (
            BUNDLED_TEMPLATES / f"{name}.mjml.j2").exists():
        templates = BUNDLED_TEMPLATES
    text = environment(templates, True).get_template(f"{name}.txt.j2").render(context)
    html = mjml_to_html(environment(templates, False).get_template(f"{name}.mjml.j2")
                        .render(context))
    return text, html


def one_off_message(config: Config, to: str, subject: str, text: str, html: str,
                    now: datetime) -> EmailMessage:
    """A complete message from the newsletter to one address. `subject` is ours: a
    line break in it (from untrusted text) is folded away, never a header of its own."""
    nl = config.newsletter
    msg = EmailMessage(policy=MESSAGE_POLICY)
    msg["Subject"] = " ".join(subject.split())
    msg["From"] = Address(nl.from_name, addr_spec=nl.from_email)
    msg["To"] = Address(addr_spec=to)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=nl.from_email.split("@", 1)[1])
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


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
    text, html = render_pair(config, "confirm", context)
    return one_off_message(config, email, f"Please confirm your subscription to "
                           f"{list_def.title}", text, html, now)
