"""Signed tokens for the links in every email: unsubscribe, preferences, confirm.

The key comes from INSIGHTS_SECRET_KEY, never from config.toml. Unsubscribe and
preference tokens do not expire (an old email must still let someone leave);
confirmation tokens do.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import secrets
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, Signer, URLSafeTimedSerializer
from itsdangerous.signer import HMACAlgorithm

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


class _KeyedHMAC(HMACAlgorithm):
    """itsdangerous's HMAC with the keyed state prepared once per key and copied per
    signature: the same bytes, at half the cost (a send signs a million)."""

    def __init__(self, digest_method: Any = None) -> None:
        super().__init__(digest_method)
        self._keyed: dict[bytes, hmac.HMAC] = {}

    def get_signature(self, key: bytes, value: bytes) -> bytes:
        keyed = self._keyed.get(key)
        if keyed is None:
            keyed = self._keyed[key] = hmac.new(key, digestmod=self.digest_method)
        mac = keyed.copy()
        mac.update(value)
        return mac.digest()


class _ManageSigner(Signer):
    """A Signer whose derived key is worked out once, not once per signature."""

    @functools.cached_property
    def _derived(self) -> bytes:
        return super().derive_key()

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        return self._derived if secret_key is None else super().derive_key(secret_key)


class Tokens:
    def __init__(self, key: str) -> None:
        self._key = key
        self._serializers: dict[str, URLSafeTimedSerializer] = {}

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        # Built once per purpose: a send signs two links for every recipient.
        if purpose not in self._serializers:
            self._serializers[purpose] = URLSafeTimedSerializer(
                self._key, salt=f"io-insights/{purpose}")
        return self._serializers[purpose]

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

    @functools.cached_property
    def _manage(self) -> Signer:
        # Output identical to Signer(key, salt, digest_method=sha256): links in emails
        # already sent must still verify (tests/test_tokens.py holds it to that).
        return _ManageSigner(self._key, salt="io-insights/manage", digest_method=hashlib.sha256,
                             algorithm=_KeyedHMAC(hashlib.sha256))

    def manage(self, email: str) -> str:
        """The token in a reader's unsubscribe and preferences links: the address, signed.

        It does not expire (an old email must still let its reader leave) and a send
        makes one per recipient, so it is a plain signature over the address rather than
        a timed, serialised payload: a fraction of the cost at a million recipients.
        """
        encoded = base64.urlsafe_b64encode(email.casefold().encode()).rstrip(b"=")
        return self._manage.sign(encoded).decode("ascii")

    def read_manage(self, token: str) -> str:
        """The address a manage token was made for, or AudienceError."""
        try:
            encoded = self._manage.unsign(token.encode("ascii"))
            return base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)).decode()
        except (BadSignature, UnicodeError, ValueError):
            raise AudienceError(
                "this link is not valid (it may have been cut or altered)") from None

    def confirm(self, email: str, list_name: str) -> str:
        return self.make("confirm", {"e": email.casefold(), "l": list_name})
