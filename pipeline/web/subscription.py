"""The links in every email and the sign-up form: unsubscribe (/u), double opt-in
confirmation (/confirm) and sign-up (/subscribe).

A GET never changes anything: mail scanners and link previewers fetch every link in a
message, so each change waits for a POST (a button the person presses, or the RFC 8058
one-click POST their mail client makes). The signed token in the URL is the capability;
there is no CSRF token on these forms.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from subscribers.model import clean_name as clean_stored_name
from subscribers.model import email_hash, normalise_email

from ..deliver.backends import make_backend
from ..errors import DeliveryError
from ..signup import HONEYPOT_FIELD, mail_confirmation, sign_up
from .common import Web, client_ip, client_key, web, with_store_retries
from .embed import EMBED_FIELD, embed_origins, framed_by
from .links import Link, message, token_guarded

log = logging.getLogger(__name__)
# Suppression reasons that only the person's own act may lift; any other reason
# (bounce, complaint, manual, forgotten) means we never write to the address again.
LIFTABLE = (None, "unsubscribed")
BLOCKED_REASONS = {
    "bounce": "mail to it bounced", "complaint": "it reported our mail as spam",
    "manual": "it was blocked on request", "forgotten": "its data was erased on request",
}


# -- helpers shared with the preferences centre --------------------------------------------

def clean_name(value: Any) -> str:
    """A name typed into a form, cleaned as the audience stores it (one line, no
    control or bidi characters, bounded); a value that is not text is no name."""
    return clean_stored_name(value) if isinstance(value, str) else ""


def send_confirmation(w: Web, email: str, list_name: str) -> str:
    """The double opt-in email, through the configured backend (DeliveryError if not)."""
    now = w.clock()
    return mail_confirmation(w.config, w.tokens, make_backend(w.config, now), email,
                             list_name, now)


# -- /u/<token>: unsubscribe from everything ---------------------------------------------

@token_guarded("manage")
async def unsubscribe(request: Request, link: Link) -> Response:
    w = web(request)
    email, token = link.email, link.token
    if request.method != "POST":  # GET, and HEAD (link scanners send both)
        reason = await run_in_threadpool(w.audience.suppression_reason, email)
        return w.page(request, "public_unsubscribe.html.j2", email=email, token=token,
                      done=reason is not None, already=reason is not None)
    # The button's POST and RFC 8058's one-click POST (body "List-Unsubscribe=One-Click",
    # urlencoded or multipart, no cookies) do the same thing, so the body is not read.
    # Idempotent: a second POST finds everything already left and answers the same.
    # A mail client makes the one-click POST once: a store locked for a moment (a send
    # writing) is waited out rather than the unsubscribe lost.
    await with_store_retries(lambda: w.audience.unsubscribe(
        email, None, source="web:unsubscribe", now=w.clock(), ip=client_ip(request)))
    return w.page(request, "public_unsubscribe.html.j2", email=email, token=token, done=True)


# -- /confirm/<token>: double opt-in -----------------------------------------------------

@token_guarded("confirm")
async def confirm(request: Request, link: Link) -> Response:
    w = web(request)
    email, list_name = link.email, link.list_name
    title = w.config.list_def(list_name).title
    if request.method != "POST":  # GET, and HEAD (link scanners send both)
        return w.page(request, "public_confirm.html.j2", email=email, list_title=title,
                      token=link.token, done=False)

    def confirm_now() -> str:
        reason = w.audience.suppression_reason(email)
        if reason not in LIFTABLE:
            return "blocked"
        if w.audience.confirm(email, list_name, source="web:confirm", now=w.clock(),
                              ip=client_ip(request)):
            return "confirmed"
        person = w.audience.get(email)
        return "already" if person and person.lists.get(list_name) == "confirmed" else "gone"

    outcome = await run_in_threadpool(confirm_now)
    if outcome == "blocked":
        return message(request, "We cannot subscribe this address",
                       "This address cannot receive our emails any more. If that is a "
                       "mistake, please reply to any of our emails.", 403)
    if outcome == "gone":
        return message(request, "Nothing to confirm",
                       "We no longer hold this sign-up. Please sign up again.", 404,
                       subscribe=True)
    return w.page(request, "public_confirm.html.j2", email=email, list_title=title,
                  done=True, already=outcome == "already")


# -- /subscribe: the sign-up form, and /subscribe/embed: the same for other sites' pages --

def _subscribe_form(request: Request, status_code: int = 200, error: str = "",
                    values: dict[str, Any] | None = None, *, embed: bool = False) -> Response:
    w = web(request)
    values = values or {}
    return w.page(request, "public_subscribe.html.j2", status_code=status_code, error=error,
                  lists=w.config.lists, interests=w.config.interest_choices,
                  values={"email": values.get("email", ""), "name": values.get("name", ""),
                          "list": values.get("list", w.config.lists[0].name),
                          "interests": values.get("interests", [])},
                  honeypot=HONEYPOT_FIELD, embed=embed, embed_field=EMBED_FIELD)


def _embedded(request: Request, response: Response) -> Response:
    """An answer of the embeddable form: frameable by the configured sites."""
    return framed_by(response, embed_origins(web(request).config))


async def subscribe_embed(request: Request) -> Response:
    """The sign-up form, compact (for a frame about 360 x 420), that other sites may
    frame; it posts to /subscribe, whose answer shows in the same frame."""
    return _embedded(request, _subscribe_form(request, embed=True))


async def subscribe(request: Request) -> Response:
    if request.method != "POST":  # GET, and HEAD (link scanners send both)
        return _subscribe_form(request)
    # The embed form says so in its query too: the rate limit answers before the body
    # is read, and its page must show in the frame.
    embed = request.query_params.get(EMBED_FIELD) == "1"
    if not web(request).subscribe_limit.allow(client_key(request)):
        refused = message(request, "Too many sign-ups",
                          "Too many sign-ups came from your network in the last hour. Please "
                          "try again later.", 429, embed=embed)
        return _embedded(request, refused) if embed else refused
    form = await request.form(max_files=0, max_fields=20, max_part_size=4096)
    embed = embed or form.get(EMBED_FIELD) == "1"
    answer = await _sign_up(request, form, embed)
    return _embedded(request, answer) if embed else answer


async def _sign_up(request: Request, form: Any, embed: bool) -> Response:
    w = web(request)
    values: dict[str, Any] = {
        "email": str(form.get("email") or "")[:320], "name": clean_name(form.get("name")),
        "list": str(form.get("list") or ""),
        "interests": [i for i in w.config.interest_choices if i in form.getlist("interest")],
    }
    if form.get(HONEYPOT_FIELD):
        return _check_inbox(request, embed)  # a bot: told what a person would be; nothing happens
    try:
        email = normalise_email(values["email"])
    except ValueError:
        return _subscribe_form(request, 400, "Please enter a valid email address, such as "
                               "name@example.org.", values, embed=embed)
    if values["list"] not in {entry.name for entry in w.config.lists}:
        return _subscribe_form(request, 400, "Please choose what you want to receive.", values,
                               embed=embed)

    if not w.subscribe_limit.allow(f"address:{email_hash(email)}"):
        # Many networks asking to mail one address: a flood aimed at someone's inbox.
        return _check_inbox(request, embed)

    def send_quietly(address: str, list_name: str) -> None:
        try:
            send_confirmation(w, address, list_name)
        except DeliveryError as e:
            log.error("sign-up confirmation for list %r not sent: %s", list_name, e)

    # The same answer, at the same speed, whether the address was new, known, already
    # confirmed or blocked: the form must not tell anyone who is on our lists. So the
    # email goes after the answer, and a failure to send it is logged, not shown.
    after_answer: list[BackgroundTask] = []

    def send_after_answer(address: str, list_name: str) -> str:
        after_answer.append(BackgroundTask(send_quietly, address, list_name))
        return "after the answer"

    await run_in_threadpool(lambda: sign_up(
        w.audience, w.config, email, values["list"], by="form",
        send_confirmation=send_after_answer, source="web:subscribe", now=w.clock(),
        name=values["name"], ip=client_ip(request),
        attributes={"interests": values["interests"]} if values["interests"] else None))
    answer = _check_inbox(request, embed)
    if after_answer:
        answer.background = after_answer[0]
    return answer


def _check_inbox(request: Request, embed: bool = False) -> Response:
    return message(request, "Check your inbox",
                   "If this address can receive our emails, a message asking you to confirm "
                   "is on its way. Your subscription starts when you click the link in it.",
                   embed=embed)


async def manage_help(request: Request) -> Response:
    """Where the web version's unsubscribe and preferences links lead: those are
    personal, so they live only in the reader's own copy of the email."""
    return message(request, "Manage your subscription",
                   "To unsubscribe or change what you receive, use the links at the bottom "
                   "of any email we sent you: they are personal to your address.",
                   subscribe=True)
