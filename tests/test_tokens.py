"""Signed links: the token in every email reads back to its address, and nothing else
does."""

from __future__ import annotations

import pytest

from pipeline.errors import AudienceError
from subscribers.tokens import CONFIRM_MAX_AGE, Tokens, secret_key

KEY = "test-signing-key-0123456789abcdef"


def test_manage_token_reads_back_case_insensitively():
    tokens = Tokens(KEY)
    token = tokens.manage("Ana.Silva@Example.org")
    assert tokens.read_manage(token) == "ana.silva@example.org"
    assert token == tokens.manage("ana.silva@example.org")  # stable: same link every week


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # altered signature
    lambda t: "Yk" + t[2:],                                        # altered address
    lambda t: t.split(".")[0],                                     # signature cut off
    lambda t: "not-a-token",
])
def test_a_tampered_manage_token_is_refused(mangle):
    tokens = Tokens(KEY)
    with pytest.raises(AudienceError, match="not valid"):
        tokens.read_manage(mangle(tokens.manage("ana@example.org")))


def test_tokens_from_another_key_or_purpose_are_refused():
    token = Tokens(KEY).manage("ana@example.org")
    with pytest.raises(AudienceError):
        Tokens(KEY + "-other").read_manage(token)
    confirm = Tokens(KEY).confirm("ana@example.org", "members")
    with pytest.raises(AudienceError):
        Tokens(KEY).read_manage(confirm)
    assert Tokens(KEY).read("confirm", confirm, max_age=CONFIRM_MAX_AGE) == {
        "e": "ana@example.org", "l": "members"}


def test_expired_confirmation_is_refused():
    confirm = Tokens(KEY).confirm("ana@example.org", "members")
    with pytest.raises(AudienceError, match="expired"):
        Tokens(KEY).read("confirm", confirm, max_age=-1)


def test_secret_key_rules(monkeypatch):
    monkeypatch.delenv("INSIGHTS_SECRET_KEY", raising=False)
    with pytest.raises(AudienceError, match="INSIGHTS_SECRET_KEY is not set"):
        secret_key(required=True)
    assert len(secret_key(required=False)) >= 32  # throw-away key for previews
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", "short")
    with pytest.raises(AudienceError, match="too short"):
        secret_key(required=True)


def test_manage_tokens_are_plain_itsdangerous_signatures():
    # Links in emails already sent must verify for ever, so the fast signer must give
    # exactly what itsdangerous's own Signer gives (and read what it wrote).
    import base64
    import hashlib

    from itsdangerous import Signer

    plain = Signer(KEY, salt="io-insights/manage", digest_method=hashlib.sha256)
    tokens = Tokens(KEY)
    # Lengths 15, 16 and 17 bytes: base64 with no, two and one padding characters.
    for email in ("ana@example.org", "anna@example.org", "annas@example.org",
                  "Zoë.Müller@example.com", "x+tag@sub.example.net", "?>~~@example.org"):
        encoded = base64.urlsafe_b64encode(email.casefold().encode()).rstrip(b"=")
        expected = plain.sign(encoded).decode()
        assert tokens.manage(email) == expected
        assert tokens.read_manage(expected) == email.casefold()


def test_test_links_are_told_apart_and_never_read_as_a_readers_link():
    tokens = Tokens(KEY)
    test = tokens.manage("ana@example.org", test=True)
    real = tokens.manage("ana@example.org")
    assert test != real
    assert tokens.is_test_link(test) and not tokens.is_test_link(real)
    assert not tokens.is_test_link("not-a-token") and not tokens.is_test_link("é")
    assert not Tokens(KEY + "-other").is_test_link(test)
    with pytest.raises(AudienceError):
        tokens.read_manage(test)
