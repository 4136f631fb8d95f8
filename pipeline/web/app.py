"""The ASGI app: routes from admin (editors), public (subscribers), webhooks (SendGrid)
and static (the logo), over one Store opened for the process."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from subscribers.tokens import Tokens, secret_key

from ..config import Config
from ..errors import StoreUnavailable
from ..publish.model import PublicArchive
from ..publish.site import archive_pages
from ..store.store import Store
from . import (
    admin,
    admin_archive,
    admin_checks,
    admin_content,
    admin_timeline,
    public,
    webhooks,
)
from .archive import routes as archive_routes
from .common import SESSION_HOURS, Web, store_unavailable
from .embed import content_security_policy
from .static import static_mount

# No page runs scripts, and none may be framed by another site but the sign-up form
# embedded where [syndication] embed_origins allows (embed.py).
SECURITY_HEADERS = [
    (b"content-security-policy", content_security_policy().encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # tokens travel in our URLs
]


class SecurityHeaders:
    """SECURITY_HEADERS on every response; a header a response set itself is kept (the
    embeddable sign-up form names the sites that may frame it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own = {name.lower() for name, _ in headers}
                message["headers"] = headers + [
                    (name, value) for name, value in SECURITY_HEADERS if name not in own]
            await send(message)

        await self.app(scope, receive, with_headers)


class RedirectsStayHome:
    """No Location header echoes the request's Host: Starlette builds some redirects
    (a path's trailing slash) from it, and behind a proxy that passes Host through, a
    forged one would send our readers, token in the URL, to another site. An absolute
    Location to anywhere but newsletter.base_url becomes the same path, relative."""

    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        parts = urlsplit(base_url)
        self.home = (parts.scheme, parts.netloc.lower())

    def _safe(self, location: bytes) -> bytes:
        parts = urlsplit(location.decode("latin-1"))
        if not (parts.scheme or parts.netloc) or (parts.scheme, parts.netloc.lower()) == self.home:
            return location
        path = "/" + parts.path.lstrip("/")  # "//evil" would be another host again
        return urlunsplit(("", "", path, parts.query, parts.fragment)).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def relative_location(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(k, self._safe(v) if k.lower() == b"location" else v)
                                      for k, v in message.get("headers", [])]
            await send(message)

        await self.app(scope, receive, relative_location)


def create_app(config: Config, *, store: Store | None = None,
               clock: Callable[[], datetime] | None = None,
               webhook_key: str | None = None,
               archive: PublicArchive | None = None) -> Starlette:
    """The app for `config`. The signing key (INSIGHTS_SECRET_KEY) signs both the
    session cookies and the links in emails, so it is required here. The public pages
    read `archive` (default: the store's public copies)."""
    key = secret_key(required=True)
    store = store or Store.open(config.store_url)
    public_archive: PublicArchive = archive if archive is not None else store
    state = Web(config=config, store=store, tokens=Tokens(key),
                clock=clock or (lambda: datetime.now(UTC)),
                webhook_key=webhook_key or os.environ.get(webhooks.KEY_ENV) or None,
                pages=archive_pages(config, public_archive))
    app = Starlette(
        routes=[*admin.routes, *admin_checks.routes, *admin_timeline.routes,
                *admin_content.routes, *admin_archive.routes, *public.routes, *archive_routes,
                *webhooks.routes,
                static_mount(config.resolve(config.render.static))],
        exception_handlers={StoreUnavailable: store_unavailable},
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(RedirectsStayHome, base_url=config.newsletter.base_url),
            Middleware(SessionMiddleware, secret_key=key, session_cookie="insights_admin",
                       max_age=SESSION_HOURS * 3600, same_site="strict",
                       https_only=config.newsletter.base_url.startswith("https://")),
        ],
    )
    app.state.web = state
    return app
