"""SendGrid's Event Webhook: signed batches of events about the mail we sent.

Bounces, spam reports and unsubscribes suppress the address; deliveries, opens and
clicks (and those) are counted per issue and segment. SendGrid retries a batch for 24
hours and may deliver an event twice, so everything here is idempotent: the events are
keyed by sg_event_id and a suppression that exists is left as it is.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from subscribers.model import email_hash, email_key

from ..errors import ConfigError, WebhookRejected
from ..ports import Consent
from ..store.events import MailEvent
from ..store.store import Store
from .common import client_key, web

log = logging.getLogger("insights.webhooks")

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
KEY_ENV = "INSIGHTS_SENDGRID_WEBHOOK_KEY"  # read in app.py
MAX_AGE = timedelta(minutes=10)   # older signed requests are refused as replays
MAX_AHEAD = timedelta(minutes=5)  # clocks drift, but not this far
# Read before the signature is checked, so anyone can make us read it. SendGrid posts a
# batch every 30 seconds or when it reaches about 768 KB (its Event Webhook guide); a
# realistic 1,000-event batch with our custom args measures 0.8 MB
# (test_a_realistic_batch_fits_the_cap). 8 MB is ten times that, and small enough that
# MAX_WEBHOOK_BODIES of them at once cost little.
MAX_BODY_BYTES = 8 * 1024 * 1024
# SendGrid sends its batch at once; a body still arriving after this is a slow client
# holding a slot (the whole body, not each chunk, so a trickle cannot stretch it).
BODY_SECONDS = 10.0
# Bodies one client may have us read at once: SendGrid posts one batch at a time per
# connection, and a stranger's slow bodies must not take every slot.
BODIES_PER_CLIENT = 2
# At most MAX_WEBHOOK_BODIES (common.py) are read at once; more answer 503, and SendGrid
# retries later.
RETRY_AFTER = "30"
TEST_BATCH_ID = "0"  # `insights send --test-to` mail: not part of any issue's counts

SUPPRESSION_REASONS = {"bounce": "bounce", "spamreport": "complaint",
                       "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed"}
COUNTED = frozenset({"delivered", "open", "click", "blocked", *SUPPRESSION_REASONS})


# -- verification (pure) -------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def load_webhook_key(public_key_b64: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key, as its settings page shows it (base64 DER)."""
    fix = (f"set {KEY_ENV} to the Verification Key shown under SendGrid's Settings > "
           "Mail Settings > Event Webhook > Signed Event Webhook")
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64,
                                                                 validate=True))
    except (ValueError, UnsupportedAlgorithm) as e:  # binascii.Error is a ValueError
        raise ConfigError(f"{KEY_ENV} is not a valid public key ({e}): {fix}") from e
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ConfigError(f"{KEY_ENV} is not an ECDSA P-256 key: {fix}")
    return key


def check_headers(signature_b64: str | None, timestamp: str | None, now: datetime, *,
                  max_age: timedelta = MAX_AGE, max_ahead: timedelta = MAX_AHEAD) -> None:
    """What can be refused before reading a body: missing headers, a timestamp that is
    no recent unix time."""
    if not signature_b64 or not timestamp:
        raise WebhookRejected(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise WebhookRejected(f"{TIMESTAMP_HEADER} is not a unix time: {timestamp[:20]!r}")
    # Compared as numbers first: a far-off time (year 30000) is no datetime at all.
    age = now.timestamp() - int(timestamp)
    if age > max_age.total_seconds():
        raise WebhookRejected(f"stale request: signed at unix time {timestamp}, more than "
                              f"{max_age} ago")
    if -age > max_ahead.total_seconds():
        raise WebhookRejected(f"request signed in the future (unix time {timestamp}): check "
                              "this server's clock")


def verify_signature(key: ec.EllipticCurvePublicKey, signature_b64: str | None,
                     timestamp: str | None, body: bytes, now: datetime, *,
                     max_age: timedelta = MAX_AGE, max_ahead: timedelta = MAX_AHEAD) -> None:
    """Raise WebhookRejected unless SendGrid signed `timestamp + body` recently."""
    check_headers(signature_b64, timestamp, now, max_age=max_age, max_ahead=max_ahead)
    assert signature_b64 is not None and timestamp is not None  # check_headers saw to it
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature) as e:
        raise WebhookRejected("the signature does not match the body and timestamp") from e


# -- parsing (pure) ------------------------------------------------------------------------

@dataclass(frozen=True)
class SendGridEvent:
    event_id: str
    event: str  # SendGrid's name, except a soft bounce (type "blocked") is "blocked"
    email: str
    at: datetime
    issue_id: str | None  # our custom_args, copied by SendGrid into each event
    segment: str | None
    batch_id: str | None

    @property
    def suppression(self) -> str | None:
        """Why this event stops all further mail to the address, if it does."""
        return SUPPRESSION_REASONS.get(self.event)

    @property
    def counted(self) -> bool:
        return (self.event in COUNTED and self.issue_id is not None
                and self.batch_id != TEST_BATCH_ID)


def _text(value: Any, limit: int) -> str | None:
    """A non-empty string that fits its column, else None."""
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _event_time(value: Any, received: datetime) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, ValueError, OSError):
            pass
    return received


def parse_event(raw: Any, received: datetime) -> SendGridEvent | str:
    """One event, or why it is skipped."""
    if not isinstance(raw, dict):
        return "not an object"
    event_id, email = _text(raw.get("sg_event_id"), 100), _text(raw.get("email"), 320)
    if event_id is None or email is None:
        return "no sg_event_id or no email"
    name = _text(raw.get("event"), 30)
    if name is None:
        return "no event name"
    if name == "bounce" and raw.get("type", "bounce") != "bounce":
        name = "blocked"  # a soft bounce: the address may work tomorrow
    return SendGridEvent(
        event_id=event_id, event=name, email=email, at=_event_time(raw.get("timestamp"),
                                                                   received),
        issue_id=_text(raw.get("issue_id"), 20), segment=_text(raw.get("segment"), 100),
        batch_id=_text(raw.get("batch_id"), 20))


def parse_events(body: bytes, received: datetime) -> tuple[list[SendGridEvent], list[str]]:
    """The events of a batch, and one message per event skipped (naming its index)."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise WebhookRejected(f"the body is not JSON: {e}", status_code=400) from e
    if not isinstance(raw, list):
        raise WebhookRejected("the body is not a JSON array of events", status_code=400)
    events: list[SendGridEvent] = []
    skipped: list[str] = []
    for index, item in enumerate(raw):
        parsed = parse_event(item, received)
        if isinstance(parsed, str):
            skipped.append(f"event {index} skipped: {parsed}")
        else:
            events.append(parsed)
    return events, skipped


# -- effects -------------------------------------------------------------------------------

def apply_events(events: Sequence[SendGridEvent], audience: Consent, store: Store,
                 now: datetime) -> int:
    """Suppress, then record; returns how many events were new. Suppressions come first
    so that a crash in between is repaired by SendGrid's retry: the retried events are
    recorded then, and suppressing again changes nothing."""
    for e in events:
        reason, note = e.suppression, f"sendgrid {e.event} {e.event_id}"
        if reason == "unsubscribed":
            # Through Audience.unsubscribe, not a bare suppression: the memberships end
            # and a consent event is logged, so the person's own reconfirmation later
            # lifts it, exactly as for our own unsubscribe link.
            audience.unsubscribe(e.email, None, source=note, now=now)
        elif reason:
            audience.suppress(e.email, reason, note, now)
    return store.record_events([
        MailEvent(e.event_id, e.event, e.issue_id, e.segment, email_hash(email_key(e.email)),
                  e.at) for e in events if e.counted], now)


async def read_body(request: Request, limit: int = MAX_BODY_BYTES,
                    seconds: float = BODY_SECONDS) -> bytes:
    """The body, read as it streams in: refused as soon as it passes `limit` (or says it
    will), and when it has not all arrived within `seconds`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WebhookRejected(f"body larger than {limit} bytes", status_code=413)
    body = bytearray()
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise WebhookRejected(f"body larger than {limit} bytes", status_code=413)
    except TimeoutError:
        raise WebhookRejected(f"the body did not arrive within {seconds:g} seconds",
                              status_code=408) from None
    return bytes(body)


async def read_body_bounded(request: Request) -> bytes:
    """read_body, with at most MAX_WEBHOOK_BODIES read at once (each up to MAX_BODY_BYTES),
    BODIES_PER_CLIENT of them from one client."""
    state = web(request)
    slots, readers, who = state.webhook_bodies, state.webhook_readers, client_key(request)
    if slots.locked() or readers.get(who, 0) >= BODIES_PER_CLIENT:
        raise WebhookRejected("too many webhook requests at once", status_code=503)
    readers[who] = readers.get(who, 0) + 1  # one event loop: no lock needed
    try:
        async with slots:
            return await read_body(request, MAX_BODY_BYTES, BODY_SECONDS)
    finally:
        readers[who] -= 1
        if not readers[who]:
            del readers[who]


def rejected(e: WebhookRejected) -> JSONResponse:
    log.warning("SendGrid webhook refused (%d): %s", e.status_code, e)
    retry = {"retry-after": RETRY_AFTER} if e.status_code == 503 else None
    return JSONResponse({"error": str(e)}, status_code=e.status_code, headers=retry)


async def receive_events(request: Request) -> JSONResponse:
    state = web(request)
    if not state.webhook_key:
        message = (f"the SendGrid event webhook is not configured: set {KEY_ENV} to "
                   "SendGrid's verification key")
        log.error(message)
        return JSONResponse({"error": message}, status_code=503)
    try:
        key = load_webhook_key(state.webhook_key)
    except ConfigError as e:
        log.error("%s", e)  # our configuration, not the caller, is wrong
        return JSONResponse({"error": "the webhook's verification key is misconfigured"},
                            status_code=403)
    now = state.clock()
    try:
        # Headers first: a request that cannot be SendGrid's takes no body slot.
        check_headers(request.headers.get(SIGNATURE_HEADER),
                      request.headers.get(TIMESTAMP_HEADER), now)
        body = await read_body_bounded(request)

        def verified_events() -> tuple[list[Any], list[str]]:
            verify_signature(key, request.headers.get(SIGNATURE_HEADER),
                             request.headers.get(TIMESTAMP_HEADER), body, now)
            return parse_events(body, now)

        # Hashing and parsing megabytes is CPU work: off the event loop, like the stores.
        events, skipped = await run_in_threadpool(verified_events)
    except WebhookRejected as e:
        return rejected(e)
    for message in skipped:
        log.warning("SendGrid webhook: %s", message)
    # The stores are synchronous: run them off the event loop.
    new = await run_in_threadpool(apply_events, events, state.audience, state.store, now)
    return JSONResponse({"received": len(events) + len(skipped), "new": new,
                         "skipped": len(skipped)})


routes = [Route("/webhooks/sendgrid", receive_events, methods=["POST"])]
