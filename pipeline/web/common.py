"""What every part of the web app shares: its context (config, store, audience, tokens,
clock), HTML templates, CSRF tokens and rate limits."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from subscribers.tokens import Tokens

from .. import notices
from ..config import Config
from ..errors import StoreUnavailable
from ..models import Item
from ..ports import Consent
from ..publish.model import SitePages
from ..render.when import item_when
from ..store.store import Store

WEB_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "web"
SESSION_HOURS = 12  # an editor's sign-in: the cookie's age and the server's session row
# Webhook bodies read at once: each may be up to webhooks.MAX_BODY_BYTES, read before
# its signature can be checked.
MAX_WEBHOOK_BODIES = 8
# How long the one-click unsubscribe keeps trying a locked or unreachable store before
# it answers 503 (each SQLite try also waits out its busy timeout).
RETRY_SECONDS = 5.0
log = logging.getLogger("insights.web")
T = TypeVar("T")


class RateLimiter:
    """At most `limit` events per key within `window` seconds (a sliding window kept in
    memory: one process serves the app, and a restart forgetting it is harmless).

    Bounded whatever clients do: keys are kept in order of their last event, so each
    event first forgets the keys idle for a whole window (they hold nothing) and then,
    past `max_keys`, the least recently seen; each key keeps at most `limit` times."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 50_000) -> None:
        self.limit, self.window, self.clock, self.max_keys = limit, window, clock, max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _expire(self, now: float) -> None:
        edge = now - self.window
        while self._hits:
            oldest = next(iter(self._hits.values()))
            if oldest[-1] > edge:
                break
            self._hits.popitem(last=False)

    def blocked(self, key: str) -> bool:
        now = self.clock()
        self._expire(now)
        hits = self._hits.get(key)
        if not hits:
            return False
        return len(hits) >= self.limit and hits[0] > now - self.window

    def hit(self, key: str) -> None:
        now = self.clock()
        self._expire(now)
        hits = self._hits.pop(key, None) or deque(maxlen=self.limit)
        hits.append(now)
        self._hits[key] = hits  # now the most recently seen
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)

    def allow(self, key: str) -> bool:
        """Count one event; False (and not counted) when the key is over its limit."""
        if self.blocked(key):
            return False
        self.hit(key)
        return True

    def __len__(self) -> int:
        return len(self._hits)


_CODE = re.compile(r"`([^`\n]+)`")


def code_spans(text: str) -> Markup:
    """A message written for the terminal too (`insights schedule` in backticks) as HTML:
    the backticked words in <code>. Escaped first: the text stays data."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text))))


@dataclass
class Web:
    """The app's state, one per process (request.app.state.web)."""

    config: Config
    store: Store
    tokens: Tokens
    clock: Callable[[], datetime]
    webhook_key: str | None = None  # SendGrid's public key (base64 DER), from the environment
    pages: SitePages | None = None  # the public archive (pipeline/publish/site.py)
    login_limit: RateLimiter = field(default_factory=lambda: RateLimiter(5, 300))
    subscribe_limit: RateLimiter = field(default_factory=lambda: RateLimiter(5, 3600))
    webhook_bodies: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_WEBHOOK_BODIES))
    webhook_readers: dict[str, int] = field(default_factory=dict)  # client -> bodies read now
    env: Environment = field(default_factory=lambda: Environment(
        loader=FileSystemLoader(WEB_TEMPLATES), autoescape=select_autoescape(default=True),
        trim_blocks=True, lstrip_blocks=True))

    def __post_init__(self) -> None:
        self.env.filters["period"] = self.period_label
        self.env.filters["when"] = lambda at: notices.when(at, self.config.newsletter.tz)
        self.env.filters["count"] = lambda n: f"{n:,}"
        self.env.filters["code"] = code_spans
        # "title: write something" as a sentence after "Not added."
        self.env.filters["capitalize_first"] = lambda text: text[:1].upper() + text[1:]
        self.env.filters["event_when"] = self.event_when

    def period_label(self, issue: Any) -> str:
        """An issue's week in the newsletter's time zone, last day included."""
        tz = self.config.newsletter.tz
        first = issue.period_start.astimezone(tz)
        last = (issue.period_end - timedelta(seconds=1)).astimezone(tz)
        return f"{first:%d %b} – {last:%d %b %Y}"

    def event_when(self, item: Item, since: datetime | None = None) -> str:
        """An event's time as the email shows it (render/when.py); `since`: the issue's
        start, whose year dates leave out."""
        tz = self.config.newsletter.tz
        return item_when(item, tz, since.astimezone(tz).year if since else None)

    @property
    def audience(self) -> Consent:
        return self.store.audience()

    def page(self, request: Request, template: str, status_code: int = 200,
             **context: Any) -> HTMLResponse:
        context.setdefault("newsletter", self.config.newsletter)
        # A callable, so only pages with a form of ours make a token (and a session
        # cookie): subscribers' pages set no cookie.
        context.setdefault("csrf", lambda: csrf_token(request))
        context.setdefault("editor", request.session.get("editor")
                           if "session" in request.scope else None)
        html = self.env.get_template(template).render(request=request, **context)
        # Pages show personal state (preferences, a draft): never cached, and the Back
        # button fetches them again instead of resubmitting a stale form.
        return HTMLResponse(html, status_code=status_code,
                            headers={"cache-control": "no-store"})


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """Every page's answer while the store is locked or unreachable (app.py registers
    it): a 503 that says to come back, with Retry-After, never a traceback."""
    assert isinstance(exc, StoreUnavailable)
    log.warning("answered 503: %s", exc)  # not the path: /u and /p paths carry tokens
    headers = {"retry-after": str(exc.retry_after)}
    if request.url.path.startswith("/webhooks/"):  # SendGrid retries a 503 later
        return JSONResponse({"error": "the store is unavailable; retry later"}, 503,
                            headers=headers)
    response = web(request).page(request, "public_unavailable.html.j2", 503)
    response.headers.update(headers)
    return response


async def with_store_retries(call: Callable[[], T], seconds: float | None = None) -> T:
    """`call` in the thread pool, tried again while the store is unavailable for up to
    `seconds` (RETRY_SECONDS): for writes a mail client makes once and may not repeat
    (RFC 8058's one-click POST), a short lock should not lose the request."""
    deadline = time.monotonic() + (RETRY_SECONDS if seconds is None else seconds)
    pause = 0.2
    while True:
        try:
            return await run_in_threadpool(call)
        except StoreUnavailable:
            if time.monotonic() + pause > deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)


def web(request: Request) -> Web:
    return request.app.state.web


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def client_key(request: Request) -> str:
    """The client for rate limits: its IPv6 /64 (one subscriber line has them all)."""
    host = client_ip(request)
    if ":" not in host:
        return host
    try:  # compressed forms ("2001:db8::1") must land in the same network as the rest
        return str(ipaddress.ip_network(f"{host}/64", strict=False))
    except ValueError:
        return host


async def read_form(request: Request, fields: int = 50) -> Any:
    """The posted form with small limits: no file parts, short fields. None of our forms
    needs more, and Starlette's defaults would spool large uploads to disk."""
    return await request.form(max_files=0, max_fields=fields)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use), for every form an editor posts."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, form: Any) -> None:
    expected = request.session.get("csrf", "")
    given = form.get("csrf", "")
    # Compared as bytes: compare_digest raises on a str that is not ASCII (a hostile form).
    if not expected or not isinstance(given, str) or not hmac.compare_digest(
            expected.encode(), given.encode("utf-8", "surrogatepass")):
        raise HTTPException(403, "This form has expired or did not come from this site: "
                                 "reload the page and try again.")
