"""Signed tokens for the links in every email: unsubscribe, preferences, confirm.

The key comes from INSIGHTS_SECRET_KEY, never from config.toml. Unsubscribe and
preference tokens do not expire (an old email must still let someone leave);
confirmation tokens do.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from pipeline.errors import AudienceError

ENV_VAR = "INSIGHTS_SECRET_KEY"
CONFIRM_MAX_AGE = 7 * 24 * 3600
log = logging.getLogger(__name__)
_ephemeral: str | None = None


def secret_key(*, required: bool) -> str:
    """The signing key. When it is missing and not strictly needed (writing previews
    to the outbox), a random key is used for this process only and a warning logged."""
    global _ephemeral
    key = os.environ.get(ENV_VAR, "")
    if key:
        if len(key) < 16:
            raise AudienceError(f"{ENV_VAR} is too short: use at least 16 random characters")
        return key
    if required:
        raise AudienceError(
            f"{ENV_VAR} is not set: links in emails are signed with it. Generate one with "
            f"`python -c 'import secrets; print(secrets.token_urlsafe(32))'` and export it."
        )
    if _ephemeral is None:
        log.warning("%s is not set: using a throw-away key; links in this run's output "
                    "will not verify later", ENV_VAR)
        _ephemeral = secrets.token_urlsafe(32)
    return _ephemeral


class Tokens:
    def __init__(self, key: str) -> None:
        self._key = key

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._key, salt=f"io-insights/{purpose}")

    def make(self, purpose: str, payload: Any) -> str:
        return self._serializer(purpose).dumps(payload)

    def read(self, purpose: str, token: str, max_age: int | None = None) -> Any:
        try:
            return self._serializer(purpose).loads(token, max_age=max_age)
        except SignatureExpired:
            raise AudienceError("this link has expired; ask for a new one") from None
        except BadSignature:
            raise AudienceError(
                "this link is not valid (it may have been cut or altered)") from None

    def unsubscribe(self, email: str) -> str:
        return self.make("unsubscribe", {"e": email.casefold()})

    def preferences(self, email: str) -> str:
        return self.make("preferences", {"e": email.casefold()})

    def confirm(self, email: str, list_name: str) -> str:
        return self.make("confirm", {"e": email.casefold(), "l": list_name})
