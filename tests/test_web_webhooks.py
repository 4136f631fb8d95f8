"""SendGrid's Event Webhook (/webhooks/sendgrid) on SQLite and PostgreSQL: signature and
freshness checks, suppressions, per-segment counts, idempotent retries."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from pipeline.config import load_config
from pipeline.store.store import Store
from pipeline.web import create_app
from pipeline.web.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER
from subscribers.store import Audience

from .helpers import use_store

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
ISSUE = "2026-W48"
URL = "/webhooks/sendgrid"


def public_b64(private: ec.EllipticCurvePrivateKey) -> str:
    """The key as SendGrid shows it: base64 of the DER SubjectPublicKeyInfo."""
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def signed_headers(private: ec.EllipticCurvePrivateKey, body: bytes,
                   at: datetime = NOW) -> dict[str, str]:
    timestamp = str(int(at.timestamp()))
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp,
            "content-type": "application/json"}


def event(name: str, email: str, event_id: str, **extra: Any) -> dict[str, Any]:
    return {"sg_event_id": event_id, "event": name, "email": email,
            "timestamp": int(NOW.timestamp()) - 120, "issue_id": ISSUE, "segment": "trainees",
            "batch_id": "3", **extra}


def encode(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events).encode()


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    store: Store
    key: ec.EllipticCurvePrivateKey
    client: TestClient
    clock: Clock = field(default_factory=Clock)

    @property
    def audience(self) -> Audience:
        return Audience(self.store.engine)

    def post(self, events: list[dict[str, Any]], at: datetime = NOW) -> Any:
        body = encode(events)
        return self.client.post(URL, content=body, headers=signed_headers(self.key, body, at))

    def state(self, emails: list[str]) -> tuple[Any, ...]:
        """Everything a webhook can change, for "nothing changed" checks."""
        return (self.store.event_counts(ISSUE),
                [self.audience.show(e)["suppression"] for e in emails])


@pytest.fixture
def project_config(project: Path, store_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("INSIGHTS_SECRET_KEY", "k" * 32)
    monkeypatch.delenv("INSIGHTS_SENDGRID_WEBHOOK_KEY", raising=False)
    use_store(project, store_url)
    return load_config(project / "config.toml")


@pytest.fixture
def site(project_config) -> Iterator[Site]:
    store = Store.open(project_config.store_url)
    key = ec.generate_private_key(ec.SECP256R1())
    clock = Clock()
    app = create_app(project_config, store=store, clock=clock, webhook_key=public_b64(key))
    with TestClient(app, base_url="https://testserver") as client:
        yield Site(store, key, client, clock)
    store.close()


BATCH = [
    event("bounce", "hard@example.org", "e1", type="bounce"),
    event("bounce", "untyped@example.org", "e2"),  # older payloads have no type
    event("spamreport", "complainer@example.org", "e3"),
    event("unsubscribe", "leaver@example.org", "e4"),
    event("group_unsubscribe", "group-leaver@example.org", "e5", segment="nurses"),
    event("delivered", "reader@example.org", "e6"),
    event("delivered", "other@example.org", "e7", segment="nurses"),
    event("open", "reader@example.org", "e8"),
    event("open", "Reader@Example.org", "e9"),  # the same person again
    event("open", "other@example.org", "e10", segment="nurses"),
    event("click", "reader@example.org", "e11"),
]
SUPPRESSED = {"hard@example.org": "bounce", "untyped@example.org": "bounce",
              "complainer@example.org": "complaint", "leaver@example.org": "unsubscribed",
              "group-leaver@example.org": "unsubscribed"}
EMAILS = [*SUPPRESSED, "reader@example.org", "other@example.org"]


def test_a_signed_batch_suppresses_and_counts_per_segment(site):
    response = site.post(BATCH)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 11, "new": 11, "skipped": 0}
    for email, reason in SUPPRESSED.items():
        assert site.audience.is_suppressed(email), email
        assert site.audience.show(email)["suppression"]["reason"] == reason
    assert not site.audience.is_suppressed("reader@example.org")
    assert site.store.event_counts(ISSUE) == {
        "trainees": {"bounce": 2, "spamreport": 1, "unsubscribe": 1, "delivered": 1,
                     "open": 2, "open_unique": 1, "click": 1, "click_unique": 1},
        "nurses": {"group_unsubscribe": 1, "delivered": 1, "open": 1, "open_unique": 1},
    }
    assert site.store.event_counts("2026-W49") == {}


def test_an_unsubscribe_event_ends_the_memberships(site):
    site.audience.add("leaver@example.org", "members", status="confirmed", source="test",
                      now=NOW - timedelta(days=30))
    assert site.post([event("group_unsubscribe", "leaver@example.org", "u1")]).status_code == 200
    assert site.audience.get("leaver@example.org").lists == {"members": "unsubscribed"}


def test_a_soft_bounce_does_not_suppress(site):
    response = site.post([event("bounce", "full-mailbox@example.org", "s1", type="blocked")])
    assert response.status_code == 200
    assert not site.audience.is_suppressed("full-mailbox@example.org")
    assert site.store.event_counts(ISSUE) == {"trainees": {"blocked": 1}}


def test_test_sends_suppress_but_are_not_counted(site):
    response = site.post([event("bounce", "editor@example.org", "t1", batch_id="0"),
                          event("delivered", "editor2@example.org", "t2", batch_id="0")])
    assert response.json() == {"received": 2, "new": 0, "skipped": 0}
    assert site.audience.is_suppressed("editor@example.org")
    assert site.store.event_counts(ISSUE) == {}


def forged(site: Site, body: bytes) -> dict[str, str]:
    return signed_headers(ec.generate_private_key(ec.SECP256R1()), body)


def tampered(site: Site, body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = signed_headers(site.key, body)
    return body.replace(b"reader@", b"victim@"), headers


REFUSALS = {
    "forged": lambda site, body: (body, forged(site, body)),
    "tampered": tampered,
    "stale": lambda site, body: (body, signed_headers(site.key, body,
                                                      NOW - timedelta(minutes=11))),
    "future": lambda site, body: (body, signed_headers(site.key, body,
                                                       NOW + timedelta(minutes=6))),
    "no headers": lambda site, body: (body, {}),
    "no signature": lambda site, body: (body, {
        TIMESTAMP_HEADER: signed_headers(site.key, body)[TIMESTAMP_HEADER]}),
    "no timestamp": lambda site, body: (body, {
        SIGNATURE_HEADER: signed_headers(site.key, body)[SIGNATURE_HEADER]}),
    "signature not base64": lambda site, body: (body, {
        SIGNATURE_HEADER: "not base64!", TIMESTAMP_HEADER: str(int(NOW.timestamp()))}),
    "timestamp not a number": lambda site, body: (body, {
        **signed_headers(site.key, body), TIMESTAMP_HEADER: "yesterday"}),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_unverified_requests_are_refused_and_change_nothing(site, case):
    before = site.state([*EMAILS, "victim@example.org"])
    body, headers = REFUSALS[case](site, encode(BATCH))
    response = site.client.post(URL, content=body, headers=headers)
    assert response.status_code == 403, response.text
    assert site.state([*EMAILS, "victim@example.org"]) == before
    if case in ("stale", "future"):
        assert ("stale" if case == "stale" else "future") in response.json()["error"]


def test_requests_within_the_window_are_accepted(site):
    # The edges of the window: 9 minutes old and 4 minutes ahead are still fine.
    assert site.post([event("delivered", "a@example.org", "w1")],
                     at=NOW - timedelta(minutes=9)).status_code == 200
    assert site.post([event("delivered", "b@example.org", "w2")],
                     at=NOW + timedelta(minutes=4)).status_code == 200
    assert site.store.event_counts(ISSUE) == {"trainees": {"delivered": 2}}


def test_without_a_configured_key_the_webhook_is_unavailable(project_config):
    store = Store.open(project_config.store_url)
    try:
        app = create_app(project_config, store=store, clock=Clock())
        key = ec.generate_private_key(ec.SECP256R1())
        body = encode(BATCH)
        with TestClient(app, base_url="https://testserver") as client:
            response = client.post(URL, content=body, headers=signed_headers(key, body))
        assert response.status_code == 503
        assert "INSIGHTS_SENDGRID_WEBHOOK_KEY" in response.json()["error"]
        assert store.event_counts(ISSUE) == {}
        assert not Audience(store.engine).is_suppressed("hard@example.org")
    finally:
        store.close()


def test_a_malformed_configured_key_refuses_everything(project_config):
    store = Store.open(project_config.store_url)
    try:
        app = create_app(project_config, store=store, clock=Clock(),
                         webhook_key="bm90IGEga2V5")  # base64 of "not a key"
        key = ec.generate_private_key(ec.SECP256R1())
        body = encode(BATCH)
        with TestClient(app, base_url="https://testserver") as client:
            response = client.post(URL, content=body, headers=signed_headers(key, body))
        assert response.status_code == 403
        assert store.event_counts(ISSUE) == {}
    finally:
        store.close()


def test_a_replayed_request_changes_nothing(site):
    body = encode(BATCH)
    headers = signed_headers(site.key, body)
    assert site.client.post(URL, content=body, headers=headers).json()["new"] == 11
    after_first = site.state(EMAILS)
    site.clock.now = NOW + timedelta(minutes=3)  # SendGrid's retry, still inside the window
    again = site.client.post(URL, content=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == {"received": 11, "new": 0, "skipped": 0}
    assert site.state(EMAILS) == after_first  # same counts; suppressions keep their first time


def test_a_retry_with_a_new_signature_changes_nothing(site):
    site.post(BATCH)
    after_first = site.state(EMAILS)
    site.clock.now = NOW + timedelta(hours=2)
    assert site.post(BATCH, at=site.clock.now).json()["new"] == 0
    assert site.state(EMAILS) == after_first


def test_duplicate_event_ids_in_one_request_count_once(site):
    twice = event("delivered", "reader@example.org", "d1")
    response = site.post([twice, twice, event("open", "reader@example.org", "d2")])
    assert response.json() == {"received": 3, "new": 2, "skipped": 0}
    assert site.store.event_counts(ISSUE) == {
        "trainees": {"delivered": 1, "open": 1, "open_unique": 1}}


@pytest.mark.parametrize("body", [b"[{\"event\": ", b"{\"event\": \"open\"}", b"\xff\xfe["])
def test_a_body_that_is_not_a_json_array_is_a_bad_request(site, body):
    response = site.client.post(URL, content=body, headers=signed_headers(site.key, body))
    assert response.status_code == 400
    assert response.json()["error"]
    assert site.store.event_counts(ISSUE) == {}


def test_events_without_an_address_or_id_are_skipped_and_the_rest_apply(site, caplog):
    no_email = event("bounce", "", "x1")
    del no_email["email"]
    no_id = event("spamreport", "nameless@example.org", "")
    response = site.post([no_email, event("bounce", "hard@example.org", "x2"), no_id,
                          "not an event", event("delivered", "reader@example.org", "x3")])
    assert response.status_code == 200
    assert response.json() == {"received": 5, "new": 2, "skipped": 3}
    assert site.audience.is_suppressed("hard@example.org")
    assert not site.audience.is_suppressed("nameless@example.org")
    assert site.store.event_counts(ISSUE) == {"trainees": {"bounce": 1, "delivered": 1}}
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "event 0 skipped" in warnings and "event 2 skipped" in warnings
    assert "event 3 skipped" in warnings


def test_addresses_are_stored_only_hashed(site):
    site.post(BATCH)
    with site.store.engine.connect() as conn:
        dumped = repr(conn.exec_driver_sql("SELECT * FROM mail_events").all())
    assert "@example.org" not in dumped and "reader" not in dumped


# -- hostile requests: absurd timestamps, huge, slow and many bodies ---------------------------

@pytest.mark.parametrize("timestamp", ["999999999999", "-1", "1e30", "NaN", "nan", "inf",
                                       "1" * 31, "１７６４０００００".encode(), "17640000.5", " 1764000000"])
def test_an_implausible_timestamp_is_refused_not_a_server_error(site, timestamp):
    body = encode([event("bounce", "hard@example.org", "t1")])
    headers = {**signed_headers(site.key, body), TIMESTAMP_HEADER: timestamp}
    answer = site.client.post(URL, content=body, headers=headers)
    assert answer.status_code == 403, answer.text
    assert site.audience.show("hard@example.org")["suppression"] is None


def realistic_event(n: int) -> dict[str, Any]:
    """A click event as SendGrid posts it, with our custom args (the largest kind)."""
    return event("click", f"reader.{n:06d}@university-hospital.example.org", f"sgev-{n:022d}",
                 sg_message_id=f"14c5d75ce93.dfd.64b469.filter0001.16648.{n:08X}.0",
                 **{"smtp-id": f"<14c5d75ce93.dfd.64b469@ismtpd-{n:06d}>"},
                 category=["io-insights", "weekly"], useragent=(
                     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
                     "like Gecko) Chrome/120.0.0.0 Safari/537.36"), ip="203.0.113.42",
                 url=f"https://society.example.org/news/2026/11/a-long-article-slug-{n}"
                     "?utm_source=io-insights&utm_medium=email", url_offset={"index": 3,
                                                                            "type": "html"},
                 tls=1, sg_template_id="", marketing_campaign_id=None)


def test_a_realistic_batch_fits_the_cap(site):
    from pipeline.web.webhooks import MAX_BODY_BYTES

    body = encode([realistic_event(n) for n in range(1000)])
    assert 500_000 < len(body) < MAX_BODY_BYTES / 5  # measured: about 0.8 MB
    answer = site.client.post(URL, content=body, headers=signed_headers(site.key, body))
    assert answer.status_code == 200 and answer.json()["received"] == 1000


async def asgi_post(app, chunks, headers: dict[str, str], pause: float = 0.0,
                    consumed: list[int] | None = None,
                    client: str = "203.0.113.9") -> tuple[int, dict[str, str]]:
    """POST `chunks` one receive() at a time (`pause` seconds apart), straight to the ASGI
    app: a slow or endless client, which TestClient cannot be."""
    import asyncio

    parts = iter(chunks)
    sent: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(pause)
        try:
            chunk = next(parts)
        except StopIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        if consumed is not None:
            consumed.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "https", "path": URL, "raw_path": URL.encode(),
             "query_string": b"", "root_path": "", "server": ("testserver", 443),
             "client": (client, 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await app(scope, receive, send)
    return sent["status"], sent["headers"]


def endless(size: int = 64 * 1024):
    while True:
        yield b"[" + b" " * (size - 1)


def test_a_huge_body_is_refused_while_it_streams(site):
    import asyncio

    from pipeline.web.webhooks import MAX_BODY_BYTES

    consumed: list[int] = []
    status, _ = asyncio.run(asgi_post(site.client.app, endless(), signed_headers(site.key, b""),
                                      consumed=consumed))
    assert status == 413
    assert MAX_BODY_BYTES < sum(consumed) <= MAX_BODY_BYTES + 64 * 1024  # never read whole
    declared = site.client.post(URL, content=b"[]", headers={
        **signed_headers(site.key, b"[]"), "content-length": str(MAX_BODY_BYTES + 1)})
    assert declared.status_code == 413


def test_a_slow_body_times_out(site, monkeypatch):
    import asyncio

    monkeypatch.setattr("pipeline.web.webhooks.BODY_SECONDS", 0.3)
    status, _ = asyncio.run(asgi_post(site.client.app, endless(10), signed_headers(site.key, b""),
                                      pause=0.05))
    assert status == 408


def test_bodies_read_at_once_are_bounded(site, monkeypatch):
    import asyncio

    monkeypatch.setattr("pipeline.web.webhooks.BODY_SECONDS", 1.0)
    site.client.app.state.web.webhook_bodies = asyncio.Semaphore(2)
    body = encode([event("delivered", "reader@example.org", "c1")])

    async def scenario() -> list[tuple[int, dict[str, str]]]:
        app, headers = site.client.app, signed_headers(site.key, body)
        slow = [asyncio.create_task(asgi_post(app, endless(10), headers, pause=0.05))
                for _ in range(2)]
        await asyncio.sleep(0.2)  # both are reading now
        third = await asgi_post(app, [body], headers)
        return [third, *await asyncio.gather(*slow)]

    (status, headers), *slow = asyncio.run(scenario())
    assert status == 503 and headers["retry-after"] == "30"
    assert [s for s, _ in slow] == [408, 408]
    assert site.post([event("delivered", "reader@example.org", "c2")]).status_code == 200


def test_one_client_cannot_take_every_body_slot(site, monkeypatch):
    """Slow bodies from one stranger hold at most BODIES_PER_CLIENT slots: SendGrid,
    posting from elsewhere, still gets in; a request without SendGrid's headers takes
    no slot at all."""
    import asyncio

    from pipeline.web.webhooks import BODIES_PER_CLIENT

    monkeypatch.setattr("pipeline.web.webhooks.BODY_SECONDS", 1.0)
    body = encode([event("delivered", "reader@example.org", "c1")])

    async def scenario():
        app, headers = site.client.app, signed_headers(site.key, body)
        slow = [asyncio.create_task(asgi_post(app, endless(10), headers, pause=0.05))
                for _ in range(BODIES_PER_CLIENT)]
        await asyncio.sleep(0.2)
        more = await asgi_post(app, [body], headers)  # the same stranger again
        unsigned = await asgi_post(app, endless(10), {}, pause=0.05, client="198.51.100.1")
        sendgrid = await asgi_post(app, [body], headers, client="192.0.2.10")
        return more, unsigned, sendgrid, await asyncio.gather(*slow)

    (more, _), (unsigned, _), (sendgrid, _), slow = asyncio.run(scenario())
    assert more == 503 and unsigned == 403 and sendgrid == 200
    assert [s for s, _ in slow] == [408] * BODIES_PER_CLIENT
