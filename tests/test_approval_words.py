"""What changed since an approval, in editors' words: a table of shapes as approved and
now -> the phrases (approval_words.describe_changes), and the stored form's round trip."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.approval_words import (
    Editorial,
    Shape,
    ShownItem,
    describe_changes,
    editorial_from_json,
    editorial_json,
)

NEWS_A = ShownItem(1, "Statement on access", teaser="t1", section="news")
NEWS_B = ShownItem(2, "Grants announced", teaser="t2", section="news")
NEWS_C = ShownItem(3, "Volunteers wanted", teaser="t3", section="news")
BOARD = ShownItem(20, "IO Tumor Board", "10 Dec", "t20", "events")
ADDED = ShownItem(30, "Our sponsor's course", teaser="t30", section="news")
CATALOGUE = {i.id: i for i in (NEWS_A, NEWS_B, NEWS_C, BOARD, ADDED)}
PLACED = frozenset({1, 2, 3, 20})


def issue(*, general=(1, 2, 3, 20), trainees=(20, 1, 2, 3), dropped=(), lead=None,
          sponsored=(), note="", order=("news", "research", "events"), placed=PLACED,
          **titles: ShownItem) -> Editorial:
    carried = set(general) | set(trainees)
    items = {i: CATALOGUE[i] for i in CATALOGUE if i in carried}
    for item in titles.values():
        items[item.id] = item
    return Editorial(items=items, variants={"general": tuple(general),
                                            "trainees": tuple(trainees)},
                     placed=placed, dropped=frozenset(dropped), lead=lead,
                     sponsored=frozenset(sponsored), note=note, section_order=tuple(order))


HEADERS = {"general": "IO Insights — 23 Nov", "trainees": "IO Insights — 23 Nov"}
PREHEADERS = {"general": "8 updates this week", "trainees": "8 updates this week"}


def shape(editorial: Editorial | None = None, subjects=HEADERS, preheaders=PREHEADERS) -> Shape:
    return Shape(subjects=subjects, preheaders=preheaders, editorial=editorial)


APPROVED = issue()


@pytest.mark.parametrize(("old", "new", "phrases"), [
    pytest.param(shape(APPROVED), shape(APPROVED), [], id="nothing"),
    pytest.param(shape(APPROVED), shape(issue(general=(1, 2, 3), trainees=(1, 2, 3),
                                               dropped=[20])),
                 ["Dropped: IO Tumor Board, 10 Dec"], id="dropped"),
    pytest.param(shape(issue(general=(1, 2, 3), trainees=(1, 2, 3), dropped=[20])),
                 shape(APPROVED), ["Restored: IO Tumor Board, 10 Dec"], id="restored"),
    pytest.param(shape(APPROVED),
                 shape(issue(general=(30, 1, 2, 3, 20), trainees=(20, 30, 1, 2, 3),
                             placed=PLACED | {30})),
                 ["Added: Our sponsor's course"], id="added"),
    pytest.param(shape(APPROVED),
                 shape(issue(general=(30, 1, 2, 3, 20), trainees=(20, 30, 1, 2, 3),
                             placed=PLACED | {30}, sponsored=[30])),
                 ["Added: Our sponsor's course (sponsored)"], id="added-sponsored"),
    pytest.param(shape(issue(general=(30, 1, 2, 3, 20), trainees=(20, 30, 1, 2, 3),
                             placed=PLACED | {30})),
                 shape(APPROVED), ["Removed: Our sponsor's course"], id="removed"),
    pytest.param(shape(APPROVED),
                 shape(issue(a=replace(NEWS_A, title="Statement on <b>equitable</b> access"))),
                 ["Headline changed: Statement on access → Statement on <b>equitable</b> access"],
                 id="headline"),
    pytest.param(shape(APPROVED), shape(issue(b=replace(BOARD, teaser="new"))),
                 ["Teaser changed: IO Tumor Board, 10 Dec"], id="teaser"),
    pytest.param(shape(APPROVED), shape(issue(b=replace(BOARD, date="11 Dec"))),
                 ["Date changed: IO Tumor Board (10 Dec → 11 Dec)"], id="event-date"),
    pytest.param(shape(APPROVED), shape(issue(general=(3, 1, 2, 20), trainees=(20, 3, 1, 2),
                                               lead=3)),
                 ["Lead story: Volunteers wanted"], id="lead-chosen"),
    pytest.param(shape(issue(general=(3, 1, 2, 20), trainees=(20, 3, 1, 2), lead=3)),
                 shape(issue(general=(2, 1, 3, 20), trainees=(20, 2, 1, 3), lead=2)),
                 ["Lead story: Grants announced (was Volunteers wanted)"], id="lead-changed"),
    pytest.param(shape(issue(general=(3, 1, 2, 20), trainees=(20, 3, 1, 2), lead=3)),
                 shape(APPROVED), ["No lead story (was Volunteers wanted)"], id="no-lead"),
    pytest.param(shape(APPROVED), shape(issue(sponsored=[2])), ["Sponsored: Grants announced"],
                 id="sponsored"),
    pytest.param(shape(issue(sponsored=[2])), shape(APPROVED),
                 ["No longer sponsored: Grants announced"], id="not-sponsored"),
    pytest.param(shape(APPROVED), shape(issue(general=(3, 1, 2, 20), trainees=(20, 3, 1, 2))),
                 ["Moved: Volunteers wanted"], id="moved-pinned"),
    pytest.param(shape(APPROVED),
                 shape(issue(general=(20, 1, 2, 3), order=("events", "news", "research"))),
                 ["Section order changed: events → news → research"], id="section-order"),
    pytest.param(shape(APPROVED), shape(issue(note="ab12")), ["Note added"], id="note-added"),
    pytest.param(shape(issue(note="ab12")), shape(issue(note="cd34")), ["Note changed"],
                 id="note-changed"),
    pytest.param(shape(issue(note="ab12")), shape(APPROVED), ["Note removed"],
                 id="note-removed"),
    pytest.param(shape(APPROVED),
                 shape(APPROVED, subjects={**HEADERS, "trainees": "For trainees"}),
                 ["Subject changed (trainees)"], id="subject-one-variant"),
    pytest.param(shape(APPROVED), shape(APPROVED, subjects={"general": "x", "trainees": "x"},
                                        preheaders={"general": "y", "trainees": "y"}),
                 ["Subject changed (every variant)", "Preheader changed (every variant)"],
                 id="headers-everywhere"),
    pytest.param(shape(issue(trainees=(20, 1, 2))), shape(APPROVED),
                 ["Now also in trainees: Volunteers wanted"], id="now-also-in"),
    pytest.param(shape(APPROVED), shape(issue(trainees=(20, 1, 2))),
                 ["No longer in trainees: Volunteers wanted"], id="no-longer-in"),
    pytest.param(shape(issue(general=(1, 2), trainees=(20, 1, 2))), shape(APPROVED),
                 ["Now in every variant: Volunteers wanted",
                  "Now also in general: IO Tumor Board, 10 Dec"], id="caps-let-it-in"),
    pytest.param(
        shape(issue(general=(3, 1, 2, 20), trainees=(20, 3, 1, 2), lead=3)),
        shape(issue(general=(1, 30, 2), trainees=(1, 30, 2), dropped=[20, 3],
                    placed=PLACED | {30}, note="n",
                    a=replace(NEWS_A, title="A new headline")),
              subjects={**HEADERS, "general": "Changed"}),
        ["Dropped: Volunteers wanted", "Dropped: IO Tumor Board, 10 Dec",
         "Added: Our sponsor's course", "Headline changed: Statement on access → A new headline",
         "No lead story (was Volunteers wanted)", "Note added", "Subject changed (general)"],
        id="several"),
    pytest.param(shape(None, preheaders={}), shape(issue(dropped=[20]),
                                                  subjects={**HEADERS, "general": "New"}),
                 ["Subject changed (general)"], id="old-approval-without-shape"),
    pytest.param(shape(None), shape(APPROVED, preheaders={"general": "z", "trainees": "y"}),
                 ["Preheader changed (every variant)"], id="old-approval-with-preheaders"),
])
def test_changes_in_editors_words(old: Shape, new: Shape, phrases: list[str]) -> None:
    assert describe_changes(old, new) == phrases


def test_of_two_swapped_items_one_moved_and_the_lead_never_moves() -> None:
    swapped = issue(general=(2, 1, 3, 20), trainees=(20, 2, 1, 3))
    assert describe_changes(shape(APPROVED), shape(swapped)) == ["Moved: Grants announced"]
    lead = issue(general=(3, 1, 2, 20), trainees=(20, 3, 1, 2), lead=3)
    assert "Moved" not in " ".join(describe_changes(shape(APPROVED), shape(lead)))


def test_the_stored_shape_reads_back_and_a_foreign_one_is_none() -> None:
    stored = issue(dropped=[20], lead=1, sponsored=[2], note="ab")
    assert editorial_from_json(editorial_json(stored)) == stored
    for foreign in (None, "x", {}, {"items": [{"id": "one"}]}, {"items": 3}):
        assert editorial_from_json(foreign) is None
