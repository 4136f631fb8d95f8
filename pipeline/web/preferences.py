"""/p/<token>: the preferences centre. Which lists, interests, region and name.

Joining a list again here is the person's own act (recorded as "web:preferences"); a
double opt-in list still sends a confirmation first. An address suppressed for a bounce,
a complaint, a block or an erasure is never subscribed again, whatever the form says.
The form only changes what it shows: unknown list names and interest values in a POST
are ignored, and interests we do not offer stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from subscribers.model import Subscriber

from ..config import Config
from ..errors import DeliveryError
from ..signup import sign_up
from .common import Web, client_ip, web
from .links import Link, message, token_guarded
from .subscription import BLOCKED_REASONS, LIFTABLE, clean_name, send_confirmation


@dataclass(frozen=True)
class Choices:
    """What a POST asks for, reduced to values we offer. None: leave as it is."""

    lists: frozenset[str] | None  # the lists wanted
    # the lists the form showed ticked: only what the reader changed is applied, so an
    # old copy of the page (Back after "leave everything") undoes nothing
    lists_was: frozenset[str] | None
    interests: list[str] | None  # the full new value (offered and kept)
    region: str | None  # "" clears it
    name: str | None


@dataclass
class Outcome:
    changes: list[str] = field(default_factory=list)  # what changed, for the page
    problems: list[str] = field(default_factory=list)  # what could not be done


def read_choices(form: FormData, config: Config, person: Subscriber) -> Choices:
    """The form's values, filtered to the choices offered (pure)."""
    # The hidden *_shown fields say the form had those parts: a POST without them (not
    # from our form) must not read as "untick everything".
    lists = was = None
    if "lists_shown" in form:
        names = {e.name for e in config.lists}
        lists = frozenset(n for n in form.getlist("list") if n in names)
        was = frozenset(n for n in form.getlist("list_was") if n in names)
    offered = config.interest_choices
    current = _as_list(person.attributes.get("interests"))
    interests = None
    if "interests_shown" in form:  # the form was the full preferences form
        ticked = set(form.getlist("interest"))
        interests = ([str(v) for v in current if v not in offered]
                     + [value for value in offered if value in ticked])
    region = form.get("region")
    allowed_regions = {"", *config.region_choices, str(person.attributes.get("region") or "")}
    return Choices(
        lists=lists,
        lists_was=was,
        interests=interests,
        region=region if isinstance(region, str) and region in allowed_regions else None,
        name=clean_name(form["name"]) if "name" in form else None,
    )


def list_rows(config: Config, person: Subscriber, reason: str | None) -> list[dict[str, Any]]:
    """Each configured list and where this person stands on it."""
    rows = []
    for entry in config.lists:
        status = person.lists.get(entry.name)
        rows.append({"name": entry.name, "title": entry.title, "status": status,
                     # checked only when they actually receive it
                     "subscribed": status == "confirmed" and reason is None,
                     "pending": status == "unconfirmed"})
    return rows


def _apply(w: Web, email: str, person: Subscriber, reason: str | None, choices: Choices,
           ip: str) -> Outcome:
    out = Outcome()
    if choices.lists is not None:
        _apply_lists(w, email, person, reason, choices.lists, choices.lists_was, ip, out)
    _apply_profile(w, email, person, choices, out)
    return out


def _apply_lists(w: Web, email: str, person: Subscriber, reason: str | None,
                 wanted: frozenset[str], was: frozenset[str] | None, ip: str,
                 out: Outcome) -> None:
    audience, now = w.audience, w.clock()
    for row in list_rows(w.config, person, reason):
        name, title = row["name"], row["title"]
        shown_ticked = row["subscribed"] if was is None else name in was
        if name in wanted and shown_ticked:
            continue  # left as the page showed it: an old copy of the page changes nothing
        # Only what the form showed ticked can be unticked: a blocked address's boxes are
        # disabled (so never sent) and must not read as "leave everything".
        if name not in wanted and row["subscribed"] and shown_ticked:
            audience.unsubscribe(email, name, source="web:preferences", now=now)
            out.changes.append(f"You left {title}.")
        elif name in wanted and not row["subscribed"]:
            if reason not in LIFTABLE:
                out.problems.append(f"We cannot subscribe this address to {title}: "
                                    f"{BLOCKED_REASONS.get(reason or '', 'it is blocked')}.")
                continue
            try:
                joined = sign_up(audience, w.config, email, name, by="reader",
                                 send_confirmation=lambda e, n: send_confirmation(w, e, n),
                                 source="web:preferences", now=now, ip=ip)
            except DeliveryError:  # the rest of the form still applies
                out.problems.append(f"We could not send the email to confirm {title} "
                                    "just now: please try again in a few minutes.")
                continue
            if joined.outcome == "confirming":
                out.changes.append(f"We sent you an email to confirm {title}: your "
                                   "subscription starts when you click its link.")
            elif joined.outcome == "joined":
                out.changes.append(f"You joined {title}.")


def _apply_profile(w: Web, email: str, person: Subscriber, choices: Choices,
                   out: Outcome) -> None:
    attributes: dict[str, Any] = {}
    if (choices.interests is not None
            and choices.interests != _as_list(person.attributes.get("interests"))):
        attributes["interests"] = choices.interests or None
        shown = [w.config.interest_choices.get(i, i) for i in choices.interests]
        out.changes.append("Interests: " + (", ".join(shown) or "none") + ".")
    if choices.region is not None and choices.region != (person.attributes.get("region") or ""):
        attributes["region"] = choices.region or None
        out.changes.append("Region: " + (w.config.region_choices.get(choices.region)
                                         or choices.region or "not set") + ".")
    name = choices.name if choices.name is not None and choices.name != person.name else None
    if name is not None:
        out.changes.append("Name updated.")
    if attributes or name is not None:
        w.audience.update_profile(email, name=name, attributes=attributes, now=w.clock())


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _page(request: Request, w: Web, link: Link, person: Subscriber, reason: str | None,
          outcome: Outcome | None = None) -> Response:
    interests = set(map(str, _as_list(person.attributes.get("interests"))))
    region = str(person.attributes.get("region") or "")
    regions = dict(w.config.region_choices)
    if region and region not in regions:  # keep a value set elsewhere selectable
        regions[region] = region
    return w.page(
        request, "public_preferences.html.j2", email=link.email, token=link.token,
        person=person, lists=list_rows(w.config, person, reason),
        blocked=BLOCKED_REASONS.get(reason or "") if reason not in LIFTABLE else None,
        left_everything=reason == "unsubscribed",
        interests=[(v, label, v in interests) for v, label in w.config.interest_choices.items()],
        regions=regions, region=region, outcome=outcome)


@token_guarded("manage")
async def preferences(request: Request, link: Link) -> Response:
    w = web(request)
    email = link.email

    def load() -> tuple[Subscriber | None, str | None]:
        return w.audience.get(email), w.audience.suppression_reason(email)

    person, reason = await run_in_threadpool(load)
    if person is None:
        return message(request, "No subscription found",
                       f"We hold no subscription for {email}: it may have been erased on "
                       "request. You are welcome to sign up again.", 404, subscribe=True)
    if request.method != "POST":  # GET, and HEAD (link scanners send both)
        return _page(request, w, link, person, reason)
    choices = read_choices(await request.form(), w.config, person)
    outcome = await run_in_threadpool(_apply, w, email, person, reason, choices,
                                      client_ip(request))
    person, reason = await run_in_threadpool(load)
    if person is None:  # erased between the two reads
        return message(request, "No subscription found", "", 404, subscribe=True)
    return _page(request, w, link, person, reason, outcome)
