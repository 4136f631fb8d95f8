"""The SendGrid v3 mail/send request body for one batch. Pure: the same inputs give the
same body, which is what the outbox writes and what the sendgrid backend posts."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from operator import itemgetter
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


class PersonalizationJSON:
    """(email, first name) -> orjson.dumps(_personalization(personal(email, name),
    email)): the same bytes in about half the time, for a send makes a million.

    The JSON around a recipient's values is the same for everyone, so it is cut once
    from a personalization made with markers in place of the values; each recipient's
    values, JSON-escaped, are then put in by bytes formatting (tests/test_sendgrid.py
    holds the two ways to the same bytes)."""

    # Private-use characters: JSON leaves them as they are, and no config holds them.
    _MARKERS = {"email": "\ue000e\ue000", "shown": "\ue000s\ue000",
                "shown_html": "\ue000h\ue000", "token": "\ue000t\ue000"}

    def __init__(self, personal: Personalizer) -> None:
        self._personal = personal
        m = self._MARKERS
        sample = orjson.dumps(_personalization(
            personal.assemble(m["email"], m["shown"], m["shown_html"], m["token"]),
            m["email"]))
        by_marker = {v.encode(): i for i, v in enumerate(m.values())}
        pattern = re.compile(b"|".join(re.escape(marker) for marker in by_marker))
        slots = [by_marker[found] for found in pattern.findall(sample)]
        assert sorted(set(slots)) == [0, 1, 2, 3], "a value is missing from the template"
        self._in_order = itemgetter(*slots)
        self._template = pattern.sub(b"%b", sample.replace(b"%", b"%%"))

    def __call__(self, email: str, first_name: str) -> bytes:
        shown, shown_html = self._personal.names(first_name)
        values = (orjson.dumps(email)[1:-1], orjson.dumps(shown)[1:-1],
                  orjson.dumps(shown_html)[1:-1],
                  self._personal.token(email).encode("ascii"))  # URL-safe: no escaping
        in_order: tuple[bytes, ...] = self._in_order(values)
        return self._template % in_order


class PreparePersonalization:
    """(email, first name) -> that recipient's personalization, JSON-encoded. Picklable:
    it runs in the process that resolves the audience, so the sending process only
    joins the pieces (see encoded_body). It signs with INSIGHTS_SECRET_KEY from the
    environment (which that child inherits), like the backend it comes from."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._encode: PersonalizationJSON | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "_encode": None}

    def __call__(self, email: str, first_name: str) -> bytes:
        if self._encode is None:
            self._encode = PersonalizationJSON(
                Personalizer(self.config, Tokens(secret_key(required=True))))
        return self._encode(email, first_name)


_HEAD = b'{"personalizations":[]'


def encoded_body(config: Config, tokens: Tokens, issue_id: str, batch_id: int,
                 variant: RenderedVariant, recipients: Sequence[Recipient]) -> bytes:
    """orjson.dumps(mail_body(...)), byte for byte, with the personalizations the
    resolving process prepared (Recipient.prepared) and the others encoded here."""
    _within_cap(recipients)
    rest = orjson.dumps(_body(config, issue_id, batch_id, variant, []))
    assert rest.startswith(_HEAD)  # personalizations is the body's first key
    encode: PersonalizationJSON | None = None
    parts = []
    for r in recipients:
        if r.prepared is None:  # resolved here, or read back from the ledger
            encode = encode or PersonalizationJSON(Personalizer(config, tokens))
            parts.append(encode(r.email, r.first_name))
        else:
            parts.append(r.prepared)
    if not parts:
        return rest
    # The personalizations (a megabyte) are copied once, by the join: the head and the
    # rest of the body ride on the first and last of them.
    parts[0] = b'{"personalizations":[' + parts[0]
    parts[-1] = parts[-1] + b"]" + memoryview(rest)[len(_HEAD):]
    return b",".join(parts)


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
