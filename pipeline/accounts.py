"""Editor passwords: argon2id hashes (argon2-cffi), verified in constant time whether
or not the account exists, so a login form does not reveal which addresses are editors."""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .errors import InsightsError
from .store.store import Store

MIN_PASSWORD = 12
_hasher = PasswordHasher()
# Verified against when the address is unknown: the same work as a real check.
_DUMMY_HASH = _hasher.hash("not a password of anyone's")
# Stored in place of a hash for an account that only receives the editors' notices: no
# password verifies against it (as "!" in /etc/shadow).
NO_PASSWORD = "!"


def _check_email(email: str) -> None:
    if "@" not in email or len(email) > 320:
        raise InsightsError(f"{email!r} is not an email address")


def add_editor(store: Store, email: str, password: str, now: datetime) -> bool:
    """Create the account or reset its password; True when it is new."""
    _check_email(email)
    if len(password) < MIN_PASSWORD:
        raise InsightsError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    return store.save_editor(email, _hasher.hash(password), now)


def add_editor_without_password(store: Store, email: str, now: datetime) -> bool:
    """An account that receives the editors' notices but cannot sign in until
    `add_editor` gives it a password. An existing account is left as it is (its password
    too); True when it is new."""
    _check_email(email)
    if store.editor_password_hash(email) is not None:
        return False
    return store.save_editor(email, NO_PASSWORD, now)


def check_login(store: Store, email: str, password: str, now: datetime) -> bool:
    stored = store.editor_password_hash(email)
    if stored == NO_PASSWORD:
        stored = None  # the same work as for an unknown address, and the same answer
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    if stored is None:
        return False
    store.record_login(email, now, _hasher.hash(password)
                       if _hasher.check_needs_rehash(stored) else None)
    return True
