"""Signed tokens for the links in every email: unsubscribe, preferences, confirm.

The key comes from INSIGHTS_SECRET_KEY, never from config.toml. Unsubscribe and
preference tokens do not expire (an old email must still let someone leave);
confirmation tokens do.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, Signer, URLSafeTimedSerializer

from pipeline.errors import AudienceError

ENV_VAR = "INSIGHTS_SECRET_KEY"
CONFIRM_MAX_AGE = 7 * 24 * 3600
MANAGE_SALT = "io-insights/manage"
MANAGE_TEST_SALT = "io-insights/manage-test"
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


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    """itsdangerous's base64_encode (URL-safe, unpadded) without its Python layers."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


class Tokens:
    def __init__(self, key: str) -> None:
        self._key = key
        self._serializers: dict[str, URLSafeTimedSerializer] = {}
        self._managers: dict[bool, tuple[Signer, hmac.HMAC]] = {}

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

    def _manage(self, test: bool) -> tuple[Signer, hmac.HMAC]:
        """The signer that reads manage tokens, and its keyed HMAC state (prepared once,
        copied per signature)."""
        if test not in self._managers:
            signer = Signer(self._key, salt=MANAGE_TEST_SALT if test else MANAGE_SALT,
                            digest_method=hashlib.sha256)
            self._managers[test] = (signer, hmac.new(signer.derive_key(),
                                                     digestmod=hashlib.sha256))
        return self._managers[test]

    def manage(self, email: str, *, test: bool = False) -> str:
        """The token in a reader's unsubscribe and preferences links: the address, signed.

        It does not expire (an old email must still let its reader leave) and a send
        makes one per recipient, so it is a plain signature over the address rather than
        a timed, serialised payload. The bytes are exactly those of the itsdangerous
        Signer that reads it back (tests/test_tokens.py holds it to that), worked out
        directly: the Signer's layers of calls were most of a million-recipient send's
        payload time, and links in emails already sent must still verify.

        `test`: for test sends and previews, signed for another purpose: the web app
        says such a link changes nothing, so an editor trying it keeps their subscription.
        """
        encoded = _b64(email.casefold().encode())
        mac = self._manage(test)[1].copy()
        mac.update(encoded)
        return (encoded + b"." + _b64(mac.digest())).decode("ascii")

    def read_manage(self, token: str) -> str:
        """The address a (reader's) manage token was made for, or AudienceError."""
        try:
            encoded = self._manage(False)[0].unsign(token.encode("ascii"))
            return base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)).decode()
        except (BadSignature, UnicodeError, ValueError):
            raise AudienceError(
                "this link is not valid (it may have been cut or altered)") from None

    def is_test_link(self, token: str) -> bool:
        """Whether a manage token came from a test send or a preview."""
        try:
            return bool(self._manage(True)[0].unsign(token.encode("ascii")))
        except (BadSignature, UnicodeError, ValueError):
            return False

    def confirm(self, email: str, list_name: str) -> str:
        return self.make("confirm", {"e": email.casefold(), "l": list_name})
