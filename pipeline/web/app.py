"""The ASGI app: routes from admin (editors), public (subscribers) and webhooks
(SendGrid), over one Store opened for the process."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from subscribers.tokens import Tokens, secret_key

from ..config import Config
from ..store.store import Store
from . import admin, public, webhooks
from .common import Web

SESSION_HOURS = 12
# Email previews (in sandboxed srcdoc iframes) show remote images such as the logo; no
# page runs scripts, and no page may be framed by another site.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' https: data:; style-src 'self' 'unsafe-inline'; "
     b"script-src 'none'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # tokens travel in our URLs
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(config: Config, *, store: Store | None = None,
               clock: Callable[[], datetime] | None = None,
               webhook_key: str | None = None) -> Starlette:
    """The app for `config`. The signing key (INSIGHTS_SECRET_KEY) signs both the
    session cookies and the links in emails, so it is required here."""
    key = secret_key(required=True)
    state = Web(config=config, store=store or Store.open(config.store_url), tokens=Tokens(key),
                clock=clock or (lambda: datetime.now(UTC)),
                webhook_key=webhook_key or os.environ.get(webhooks.KEY_ENV) or None)
    app = Starlette(
        routes=[*admin.routes, *public.routes, *webhooks.routes],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(SessionMiddleware, secret_key=key, session_cookie="insights_admin",
                       max_age=SESSION_HOURS * 3600, same_site="strict",
                       https_only=config.newsletter.base_url.startswith("https://")),
        ],
    )
    app.state.web = state
    return app
