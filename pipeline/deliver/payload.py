"""The SendGrid v3 mail/send request body for one batch. Pure: the same inputs give the
same body, which is what the outbox writes and what the sendgrid backend posts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from subscribers.tokens import Tokens, secret_key

from ..config import Config
from ..models import Recipient, RenderedVariant
from .message import TEST_SUBJECT_PREFIX, Personal, Personalizer, list_id

MAX_PERSONALIZATIONS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000


def categories(issue_id: str, segment: str) -> list[str]:
    return [f"issue-{issue_id}", f"segment-{segment}"]


def mail_body(config: Config, tokens: Tokens, issue_id: str, batch_id: int,
              variant: RenderedVariant, recipients: Sequence[Recipient], *,
              test: bool = False) -> dict[str, Any]:
    """One request: the variant once, and one personalization (envelope) per recipient
    with their substitutions and their own List-Unsubscribe headers. (`test`: a test
    send's, "[TEST]" in the subject and links that change nothing.)"""
    _within_cap(recipients)
    personal = Personalizer(config, tokens, test=test)
    return _body(config, issue_id, batch_id, variant,
                 [_personalization(personal(r.email, r.first_name), r.email)
                  for r in recipients], test=test)


def _within_cap(recipients: Sequence[Recipient]) -> None:
    if len(recipients) > MAX_PERSONALIZATIONS:
        raise ValueError(f"{len(recipients)} recipients in one request; the cap is "
                         f"{MAX_PERSONALIZATIONS}")


def _personalization(p: Personal, email: str) -> dict[str, Any]:
    return {
        "to": [{"email": email}],
        "substitutions": p.values,
        "headers": {
            "List-Unsubscribe": p.list_unsubscribe,
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }


class PreparePersonalization:
    """(email, first name) -> that recipient's personalization, JSON-encoded. Picklable:
    it runs in the process that resolves the audience, so the sending process only
    joins the pieces (see encoded_body). It signs with INSIGHTS_SECRET_KEY from the
    environment (which that child inherits), like the backend it comes from."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._personal: Personalizer | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "_personal": None}

    def __call__(self, email: str, first_name: str) -> bytes:
        if self._personal is None:
            self._personal = Personalizer(self.config, Tokens(secret_key(required=True)))
        return orjson.dumps(_personalization(self._personal(email, first_name), email))


_HEAD = b'{"personalizations":[]'


def encoded_body(config: Config, tokens: Tokens, issue_id: str, batch_id: int,
                 variant: RenderedVariant, recipients: Sequence[Recipient]) -> bytes:
    """mail_body as JSON bytes; from the recipients' prepared personalizations when
    they all have one (the same bytes either way: tests/test_sendgrid.py checks)."""
    if not recipients or any(r.prepared is None for r in recipients):
        return orjson.dumps(mail_body(config, tokens, issue_id, batch_id, variant, recipients))
    _within_cap(recipients)
    rest = orjson.dumps(_body(config, issue_id, batch_id, variant, []))
    assert rest.startswith(_HEAD)  # personalizations is the body's first key
    joined = b",".join([r.prepared for r in recipients])  # type: ignore[misc]
    return b'{"personalizations":[' + joined + b"]" + rest[len(_HEAD):]


def _body(config: Config, issue_id: str, batch_id: int, variant: RenderedVariant,
          personalizations: list[dict[str, Any]], *, test: bool = False) -> dict[str, Any]:
    nl, sg = config.newsletter, config.delivery.sendgrid
    body: dict[str, Any] = {
        "personalizations": personalizations,
        "from": {"email": nl.from_email, "name": nl.from_name},
        "subject": (TEST_SUBJECT_PREFIX if test else "") + variant.subject,
        # text/plain must come before text/html (SendGrid's rule, and MIME's order).
        "content": [{"type": "text/plain", "value": variant.text},
                    {"type": "text/html", "value": variant.html}],
        "headers": {"List-Id": list_id(config)},
        "categories": categories(issue_id, variant.segment) + (["test"] if test else []),
        "custom_args": {"issue_id": issue_id, "batch_id": str(batch_id),
                        "segment": variant.segment},
        "mail_settings": {"sandbox_mode": {"enable": sg.sandbox_mode}},
        "tracking_settings": {"click_tracking": {"enable": sg.click_tracking,
                                                 "enable_text": sg.click_tracking},
                              "open_tracking": {"enable": sg.open_tracking}},
    }
    if nl.reply_to:
        body["reply_to"] = {"email": nl.reply_to}
    if sg.asm_group_id and not test:
        body["asm"] = {"group_id": sg.asm_group_id}
    if sg.ip_pool_name:
        body["ip_pool_name"] = sg.ip_pool_name
    assert len(json.dumps(body["custom_args"])) < MAX_CUSTOM_ARGS_BYTES
    return body
