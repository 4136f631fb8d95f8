"""The signed links in our emails, read in one place: `token_guarded` checks the token in
the path before a handler runs, and answers a link that cannot be used (broken,
expired, from a test send, for a list that closed) with the page that says why.

Manage links (/u, /p) carry the address and never expire; confirmation links (/confirm)
carry the address and the list, and expire after CONFIRM_MAX_AGE.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from subscribers.tokens import CONFIRM_MAX_AGE

from ..errors import AudienceError
from .common import web

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Link:
    """What a signed link that verified was made for."""

    token: str  # as in the path, for the page's form to post back to
    email: str
    list_name: str = ""  # a confirmation link's list ("" for manage links)


LinkHandler = Callable[[Request, Link], Awaitable[Response]]


def token_guarded(kind: Literal["manage", "confirm"]) -> Callable[[LinkHandler], Endpoint]:
    """The handler runs with the Link only when the path's token verifies as `kind`;
    any other request gets the page explaining why the link does not work."""
    read = _read_manage if kind == "manage" else _read_confirm

    def decorate(handler: LinkHandler) -> Endpoint:
        @wraps(handler)
        async def wrapped(request: Request) -> Response:
            found = read(request)
            if isinstance(found, Response):
                return found
            return await handler(request, found)

        return wrapped

    return decorate


def _read_manage(request: Request) -> Link | Response:
    token = request.path_params["token"]
    try:
        return Link(token, web(request).tokens.read_manage(token))
    except AudienceError as e:
        return refused_link(request, e)


def _read_confirm(request: Request) -> Link | Response:
    w = web(request)
    token = request.path_params["token"]
    try:
        payload = w.tokens.read("confirm", token, max_age=CONFIRM_MAX_AGE)
    except AudienceError as e:
        try:
            w.tokens.read("confirm", token)  # genuine but old: say so, not "invalid"
        except AudienceError:
            return bad_link(request, e)
        return message(request, "This confirmation link has expired",
                       f"Confirmation links work for {CONFIRM_MAX_AGE // 86400} days. Please "
                       "sign up again and we will send you a new one.", 400, subscribe=True)
    if not (isinstance(payload, dict) and isinstance(payload.get("e"), str)
            and isinstance(payload.get("l"), str)):
        return bad_link(request, "this link is not valid")
    if payload["l"] not in {entry.name for entry in w.config.lists}:
        return message(request, "This list no longer exists",
                       "The list this link was for has closed.", 404, subscribe=True)
    return Link(token, payload["e"], payload["l"])


def message(request: Request, title: str, text: str, status_code: int = 200,
            **links: Any) -> Response:
    """A short page: a heading, a paragraph and optional links (subscribe, preferences)."""
    return web(request).page(request, "public_message.html.j2", status_code=status_code,
                             title=title, text=text, **links)


def bad_link(request: Request, why: AudienceError | str) -> Response:
    text = (f"{str(why)[:1].upper()}{str(why)[1:]}. Please use the link in your most "
            "recent email from us, or copy the whole link into your browser.")
    address = web(request).config.newsletter.unsubscribe_email
    if address:  # a way out that needs no link at all
        text += (f" To unsubscribe without a link, send an email with the subject "
                 f"\"unsubscribe\" to {address}.")
    return message(request, "This link does not work", text, 400)


def refused_link(request: Request, why: AudienceError) -> Response:
    """The page for a /u or /p link that cannot be used: one from a test send or a
    preview (it works, and deliberately changes nothing), or a broken one."""
    if web(request).tokens.is_test_link(request.path_params["token"]):
        return message(request, "This link is from a test email",
                       "In the issue itself this link opens the reader's own page. From a "
                       "test email or a preview it changes nothing, so trying it leaves "
                       "your subscription as it is.", 200)
    return bad_link(request, why)
