"""Joining a list: one workflow for `insights subscribers add`, the web sign-up form and
the preferences centre. Who asks decides what their word is worth:

- "operator": someone running `subscribers add`. On a single opt-in list they add the
  person outright; on a double opt-in list the person stays unconfirmed and gets a
  confirmation email. Nobody who left or is suppressed is added back by an operator.
- "form": a sign-up form. Its address is unverified, so whatever the list nothing is
  mailed until the confirmation link is clicked; someone who left may sign up again
  (their click is what brings them back), a bounce, complaint, block or erasure never.
- "reader": a reader from the preferences link in their own email (their mailbox
  vouches for the address): a double opt-in list still asks them to confirm, a single
  opt-in list takes them at once.

The confirmation goes through `send_confirmation`, which the shell gives: the CLI sends
at once, the web form after its answer (see pipeline/web/subscription.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from subscribers.tokens import Tokens

from .config import Config
from .deliver import Backend
from .deliver.transactional import confirmation_message
from .ports import Consent

Asker = Literal["operator", "form", "reader"]
# "joined": on the list now, confirmed. "confirming": unconfirmed until they click the
# link in the confirmation email (`sent` says where it went). "already": a member
# already (`status` says how). "refused": suppressed or left: not subscribed again.
Outcome = Literal["joined", "confirming", "already", "refused"]
# (email, list name) -> where the confirmation went (the backend's answer)
ConfirmationSender = Callable[[str, str], str]
# A sign-up form's trap: a field hidden from people by CSS, which bots fill like every
# other (/subscribe and the public pages' forms carry it; the web handler reads it).
HONEYPOT_FIELD = "website"


@dataclass(frozen=True)
class SignUp:
    """What a sign-up did."""

    email: str  # as the audience stores it, for an operator; as given, for the others
    outcome: Outcome
    status: str | None = None  # their status on the list afterwards, when known
    sent: str | None = None  # where the confirmation went, when one was sent


def sign_up(audience: Consent, config: Config, email: str, list_name: str, *, by: Asker,
            send_confirmation: ConfirmationSender, source: str, now: datetime,
            name: str = "", attributes: dict[str, Any] | None = None,
            ip: str | None = None) -> SignUp:
    """`email` joins `list_name` as far as `by`'s word allows (see the module's doc).
    A DeliveryError from `send_confirmation` propagates; the person then stays
    unconfirmed, and signing up again sends another."""
    if by == "operator":
        return _added_by_operator(audience, config, email, list_name, send_confirmation,
                                  source=source, now=now, name=name, attributes=attributes,
                                  ip=ip)
    answer = audience.sign_up(email, list_name, source=source, now=now, name=name,
                              attributes=attributes, ip=ip)
    if answer == "refused":
        return SignUp(email, "refused")
    if answer == "confirmed":
        return SignUp(email, "already", "confirmed")
    if by == "reader" and not config.list_def(list_name).double_opt_in:
        audience.confirm(email, list_name, source=source, now=now, ip=ip)
        return SignUp(email, "joined", "confirmed")
    return SignUp(email, "confirming", "unconfirmed", send_confirmation(email, list_name))


def _added_by_operator(audience: Consent, config: Config, email: str, list_name: str,
                       send_confirmation: ConfirmationSender, *, source: str, now: datetime,
                       name: str, attributes: dict[str, Any] | None,
                       ip: str | None) -> SignUp:
    double_opt_in = config.list_def(list_name).double_opt_in
    person, added = audience.add(email, list_name,
                                 status="unconfirmed" if double_opt_in else "confirmed",
                                 source=source, now=now, name=name, attributes=attributes,
                                 ip=ip)
    status = person.lists.get(list_name)
    if added == "refused":
        return SignUp(person.email, "refused", status)
    if added == "already":
        return SignUp(person.email, "already", status)
    if not double_opt_in:
        return SignUp(person.email, "joined", status)
    return SignUp(person.email, "confirming", status,
                  send_confirmation(person.email, list_name))


def mail_confirmation(config: Config, tokens: Tokens, backend: Backend, email: str,
                      list_name: str, now: datetime) -> str:
    """The double opt-in email, through `backend` (DeliveryError if not); returns
    where it went."""
    return backend.send_message(confirmation_message(config, tokens, email, list_name, now))
