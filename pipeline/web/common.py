"""What every part of the web app shares: its context (config, store, audience, tokens,
clock), HTML templates, CSRF tokens and rate limits."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from subscribers.store import Audience
from subscribers.tokens import Tokens

from ..config import Config
from ..store.store import Store

WEB_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "web"


class RateLimiter:
    """At most `limit` events per key within `window` seconds (a sliding window kept in
    memory: one process serves the app, and a restart forgetting it is harmless)."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle keys rather than grow without bound
            self._hits = {k: v for k, v in self._hits.items() if v}
        return True


@dataclass
class Web:
    """The app's state, one per process (request.app.state.web)."""

    config: Config
    store: Store
    tokens: Tokens
    clock: Callable[[], datetime]
    webhook_key: str | None = None  # SendGrid's public key (base64 DER), from the environment
    login_limit: RateLimiter = field(default_factory=lambda: RateLimiter(5, 300))
    subscribe_limit: RateLimiter = field(default_factory=lambda: RateLimiter(5, 3600))
    env: Environment = field(default_factory=lambda: Environment(
        loader=FileSystemLoader(WEB_TEMPLATES), autoescape=select_autoescape(default=True),
        trim_blocks=True, lstrip_blocks=True))

    @property
    def audience(self) -> Audience:
        return Audience(self.store.engine)

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


def web(request: Request) -> Web:
    return request.app.state.web


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use), for every form an editor posts."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, form: Any) -> None:
    expected = request.session.get("csrf", "")
    given = form.get("csrf", "")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise HTTPException(403, "This form has expired or did not come from this site: "
                                 "reload the page and try again.")
