"""An issue's delivery in figures an editor compares: per segment and over all of them,
what went (store.send_progress) and what the provider reported of it (store.event_counts)
with its rates, and whether opens and clicks are counted at all. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .config import Delivery

NO_RATE = "–"  # the rate of nothing (nothing sent, delivered or opened yet)
SEND_STATES = ("sent", "queued", "skipped", "failed", "unknown", "cancelled")


def percent(part: int, whole: int) -> str:
    """'42.1%'; NO_RATE when `whole` is 0."""
    return f"{100 * part / whole:.1f}%" if whole else NO_RATE


@dataclass(frozen=True)
class DeliveryRow:
    """One segment's figures (segment "": the total over every segment)."""

    segment: str
    states: Mapping[str, int]  # recipients by send state (SEND_STATES)
    delivered: int = 0
    opened: int = 0  # different people who opened
    clicked: int = 0  # different people who clicked
    bounced: int = 0
    spam: int = 0
    unsubscribed: int = 0  # at the provider (its unsubscribe link or group)

    @property
    def sent(self) -> int:
        return self.states.get("sent", 0)

    @property
    def rates(self) -> dict[str, str]:
        """Each figure's rate of what it is counted against: delivered and bounced of
        the sent; opened, clicked, spam reports and unsubscribes of the delivered;
        click-to-open of the opened."""
        return {"delivered": percent(self.delivered, self.sent),
                "opened": percent(self.opened, self.delivered),
                "clicked": percent(self.clicked, self.delivered),
                "click_to_open": percent(self.clicked, self.opened),
                "bounced": percent(self.bounced, self.sent),
                "spam": percent(self.spam, self.delivered),
                "unsubscribed": percent(self.unsubscribed, self.delivered)}


def _row(segment: str, states: Mapping[str, int], events: Mapping[str, int]) -> DeliveryRow:
    return DeliveryRow(
        segment, {state: states.get(state, 0) for state in SEND_STATES},
        delivered=events.get("delivered", 0), opened=events.get("open_unique", 0),
        clicked=events.get("click_unique", 0), bounced=events.get("bounce", 0),
        spam=events.get("spamreport", 0),
        unsubscribed=events.get("unsubscribe", 0) + events.get("group_unsubscribe", 0))


def delivery_rows(progress: Mapping[str, Mapping[str, int]],
                  events: Mapping[str, Mapping[str, int]]) -> tuple[list[DeliveryRow],
                                                                     DeliveryRow]:
    """Each segment's row (those sent to, in their order, then any only the provider
    reported: "" for events that named none) and the total row. Each recipient gets
    one variant, so the segments' people who opened (or clicked) add up."""
    segments = list(progress) + [s for s in events if s not in progress]
    rows = [_row(s, progress.get(s, {}), events.get(s, {})) for s in segments]
    total = DeliveryRow(
        "", {state: sum(r.states[state] for r in rows) for state in SEND_STATES},
        delivered=sum(r.delivered for r in rows), opened=sum(r.opened for r in rows),
        clicked=sum(r.clicked for r in rows), bounced=sum(r.bounced for r in rows),
        spam=sum(r.spam for r in rows), unsubscribed=sum(r.unsubscribed for r in rows))
    return rows, total


@dataclass(frozen=True)
class Untracked:
    """An event kind the provider does not report: what the column says, and how to
    have it counted."""

    says: str  # "open tracking is off: opens are not counted"
    remedy: str


def tracking_off(delivery: Delivery) -> dict[str, Untracked]:
    """'open' / 'click' -> Untracked, for each kind not counted: the config turns its
    tracking off, or the backend tracks nothing."""
    off = {}
    for kind, on in (("open", delivery.sendgrid.open_tracking),
                     ("click", delivery.sendgrid.click_tracking)):
        says = f"{kind} tracking is off: {kind}s are not counted"
        if delivery.backend != "sendgrid":
            off[kind] = Untracked(says, f"the {delivery.backend} backend tracks no opens "
                                        "or clicks: only the sendgrid backend does")
        elif not on:
            off[kind] = Untracked(says, f"to count {kind}s from the next issue on, set "
                                        f"{kind}_tracking = true under [delivery.sendgrid]")
    return off
