"""The delivery card's figures: rates as a table, the total over segments, and when opens
and clicks are not counted at all (pipeline/delivery_rates.py)."""

from __future__ import annotations

import pytest

from pipeline.config import Delivery
from pipeline.delivery_rates import NO_RATE, delivery_rows, percent, tracking_off


@pytest.mark.parametrize(("part", "whole", "shown"), [
    (421, 1000, "42.1%"), (1, 3, "33.3%"), (2, 3, "66.7%"), (5, 5, "100.0%"),
    (0, 7, "0.0%"), (0, 0, NO_RATE), (3, 0, NO_RATE), (1, 100_000, "0.0%"),
])
def test_percent(part: int, whole: int, shown: str) -> None:
    assert percent(part, whole) == shown


EVENTS = {"delivered": 80, "open": 90, "open_unique": 40, "click": 30, "click_unique": 10,
          "bounce": 5, "spamreport": 1, "unsubscribe": 2, "group_unsubscribe": 2}


@pytest.mark.parametrize(("states", "events", "rates"), [
    pytest.param({"sent": 100}, EVENTS,
                 {"delivered": "80.0%", "opened": "50.0%", "clicked": "12.5%",
                  "click_to_open": "25.0%", "bounced": "5.0%", "spam": "1.2%",
                  "unsubscribed": "5.0%"}, id="all-figures"),
    pytest.param({"queued": 100}, {}, dict.fromkeys(
        ("delivered", "opened", "clicked", "click_to_open", "bounced", "spam",
         "unsubscribed"), NO_RATE), id="nothing-sent-yet"),
    pytest.param({"sent": 50}, {}, {"delivered": "0.0%", "opened": NO_RATE, "clicked": NO_RATE,
                                    "click_to_open": NO_RATE, "bounced": "0.0%",
                                    "spam": NO_RATE, "unsubscribed": NO_RATE},
                 id="sent-nothing-reported"),
    pytest.param({"sent": 10}, {"delivered": 10, "click_unique": 2},
                 {"delivered": "100.0%", "opened": "0.0%", "clicked": "20.0%",
                  "click_to_open": NO_RATE, "bounced": "0.0%", "spam": "0.0%",
                  "unsubscribed": "0.0%"}, id="clicks-without-opens"),
])
def test_a_segments_rates(states, events, rates) -> None:
    rows, _ = delivery_rows({"liver": states}, {"liver": events})
    assert rows[0].rates == rates


def test_the_total_adds_every_segment_up_and_has_its_own_rates() -> None:
    progress = {"general": {"sent": 90, "failed": 10}, "liver": {"sent": 10, "queued": 5}}
    events = {"general": {"delivered": 85, "open_unique": 30, "click_unique": 3},
              "liver": {"delivered": 10, "open_unique": 10, "click_unique": 7,
                        "unsubscribe": 1},
              "": {"bounce": 2}}  # an event that named no segment
    rows, total = delivery_rows(progress, events)
    assert [r.segment for r in rows] == ["general", "liver", ""]
    assert (total.sent, total.states["failed"], total.states["queued"]) == (100, 10, 5)
    assert (total.delivered, total.opened, total.clicked, total.bounced,
            total.unsubscribed) == (95, 40, 10, 2, 1)
    assert total.rates == {"delivered": "95.0%", "opened": "42.1%", "clicked": "10.5%",
                           "click_to_open": "25.0%", "bounced": "2.0%", "spam": "0.0%",
                           "unsubscribed": "1.1%"}
    assert rows[1].rates["click_to_open"] == "70.0%"
    assert delivery_rows({}, {}) == ([], delivery_rows({}, {})[1])


@pytest.mark.parametrize(("delivery", "off"), [
    pytest.param({"backend": "sendgrid"}, {"open", "click"}, id="sendgrid-default"),
    pytest.param({"backend": "sendgrid", "sendgrid": {"open_tracking": True}}, {"click"},
                 id="opens-only"),
    pytest.param({"backend": "sendgrid",
                  "sendgrid": {"open_tracking": True, "click_tracking": True}}, set(),
                 id="both-on"),
    pytest.param({"backend": "smtp", "sendgrid": {"open_tracking": True}}, {"open", "click"},
                 id="smtp-tracks-nothing"),
])
def test_which_events_are_not_counted(delivery, off) -> None:
    untracked = tracking_off(Delivery.model_validate(delivery))
    assert set(untracked) == off
    if "open" in off:
        assert untracked["open"].says == "open tracking is off: opens are not counted"
    if delivery["backend"] == "sendgrid" and "click" in off:  # says which setting
        assert "set click_tracking = true under [delivery.sendgrid]" in untracked["click"].remedy
