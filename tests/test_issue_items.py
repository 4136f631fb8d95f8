"""What the issue page says of each item: which variants carry it (planned as the
renderer plans them: sections, caps, topics first, sponsors, drops, the lead story),
the teaser the email uses, and where its link goes."""

from __future__ import annotations

import pytest

from pipeline.models import Item, ItemEdit
from pipeline.variants import Overrides, VariantSpec, carriers
from pipeline.web.issue_items import carried_phrase, link_label, teaser_text


def item(i: int, section: str = "news", topics: tuple[str, ...] = ()) -> Item:
    return Item(source="s", guid=str(i), section=section, title=f"Item {i}", id=i,
                topics=topics, summary_html=f"<p>Summary of <b>item {i}</b>.</p>")


SECTIONS = {
    "news": (item(1), item(2, topics=("liver",)), item(3)),
    "research": (item(4, "research"), item(5, "research", ("lung",))),
    "events": (item(6, "events"),),
}
SPECS = {
    "general": VariantSpec(),
    "trainees": VariantSpec(order=("events", "news")),  # no research
    "industry": VariantSpec(max_items=1, sponsors=False),
    "liver": VariantSpec(max_items=1, prefer_topics=frozenset({"liver"})),
}


@pytest.mark.parametrize(("overrides", "expected"), [
    (Overrides(), {
        1: ("general", "trainees", "industry"), 2: ("general", "trainees", "liver"),
        3: ("general", "trainees"), 4: ("general", "industry", "liver"),
        5: ("general",), 6: ("general", "trainees", "industry", "liver")}),
    # dropped: in no variant; pinned: over every cap
    (Overrides(dropped=frozenset({6}), pinned=(3,)), {
        1: ("general", "trainees"), 2: ("general", "trainees"),
        3: ("general", "trainees", "industry", "liver"), 4: ("general", "industry", "liver"),
        5: ("general",), 6: ()}),
    # the lead story is in every variant, out of its section (even one a variant skips)
    (Overrides(lead=5), {
        1: ("general", "trainees", "industry"), 2: ("general", "trainees", "liver"),
        3: ("general", "trainees"), 4: ("general", "industry", "liver"),
        5: ("general", "trainees", "industry", "liver"),
        6: ("general", "trainees", "industry", "liver")}),
    # a sponsor's block: not where sponsors are off, nor as a lead there
    (Overrides(lead=1, sponsored=frozenset({1})), {
        1: ("general", "trainees", "liver"), 2: ("general", "trainees", "industry", "liver"),
        3: ("general", "trainees"), 4: ("general", "industry", "liver"),
        5: ("general",), 6: ("general", "trainees", "industry", "liver")}),
])
def test_which_variants_carry_each_item(overrides, expected):
    assert carriers(SECTIONS, SPECS, overrides) == expected


@pytest.mark.parametrize(("variants", "every", "said"), [
    (("liver", "lung"), ("general", "liver", "lung"), "In: liver, lung"),
    (("general", "liver", "lung"), ("general", "liver", "lung"), "In every variant"),
    (("general",), ("general",), "In every variant"),
    ((), ("general", "liver"), "In no variant"),
])
def test_the_variants_an_item_is_in_said(variants, every, said):
    assert carried_phrase(variants, every) == said


@pytest.mark.parametrize(("url", "label"), [
    ("https://www.example.org/news/a?utm_source=x#top", "www.example.org/news/a"),
    ("https://example.org/", "example.org"),
    ("HTTP://Example.org:8080/a/b/", "example.org:8080/a/b"),
    ("https://example.org:99999/a", ""),  # no such port
    ("javascript:alert(1)", ""), ("mailto:a@example.org", ""), ("/relative", ""),
    (None, ""), ("", ""),
])
def test_a_link_is_shown_by_its_host_and_path(url, label):
    assert link_label(url) == label


@pytest.mark.parametrize(("edit", "teaser"), [
    (None, "Summary of item 1."),  # the feed's
    (ItemEdit(title="Mine"), "Summary of item 1."),  # a headline only: the feed's teaser
    (ItemEdit(teaser="We *grow*: see [the plan](https://e.org/p)."), "We grow: see the plan."),
    (ItemEdit(teaser=""), ""),  # no teaser in this issue
    (ItemEdit(teaser="word " * 100), ("word " * 32).strip() + "…"),  # short
])
def test_the_teaser_shown_is_the_one_the_email_uses(edit, teaser):
    assert teaser_text(item(1), edit) == teaser
