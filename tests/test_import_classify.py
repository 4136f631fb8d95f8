"""What an import does with each kind of row, decided without a database
(subscribers.import_plan): one table row per case the importer distinguishes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from subscribers.formats import FIELD_LIMIT, Invalid, Row
from subscribers.import_plan import (
    DUPLICATE,
    SUPPRESSED,
    UNSUBSCRIBED,
    ChunkPlan,
    Existing,
    Known,
    classify,
    screen,
)
from subscribers.model import email_hash, email_key

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
BEFORE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ATTRS = {"role": "nurse"}


def row(email: str = "ann@example.org", name: str = "Ann", attributes: Any = None,
        status: str | None = None, line: int = 2) -> Row:
    return Row(line, email, name, dict(ATTRS) if attributes is None else attributes, status)


def stored(id_: int = 7, email: str = "ann@example.org", name: str = "Ann",
           attributes: Any = None, created_at: datetime = BEFORE) -> Existing:
    return Existing(id_, email_key(email), name,
                    dict(ATTRS) if attributes is None else attributes, created_at)


def plan_for(rows: list[Row | Invalid], existing: tuple[Existing, ...] = (),
             suppressed: tuple[str, ...] = (), members: dict[int, str] | None = None,
             status: str = "confirmed") -> ChunkPlan:
    screened = screen(rows)
    known = Known({e.email_key: e for e in existing},
                  frozenset(email_key(s) for s in suppressed), members or {},
                  {k: email_hash(k) for k in screened.rows})
    return classify(screened, known, status, NOW)


def outcome(plan: ChunkPlan) -> dict[str, Any]:
    """The plan's non-empty parts, in a form a table can spell."""
    hashes = {email_hash(f"{n}@example.org"): n for n in ("ann", "bob")}
    got: dict[str, Any] = {
        "new": [(p.key, p.membership) for p in plan.new],
        "changes": [tuple(c) for c in plan.changes],
        "joins": [(j.subscriber_id, j.membership) for j in plan.joins],
        "leaves": list(plan.leaves),
        "suppressions": [(hashes[s.email_hash], s.reason) for s in plan.suppressions],
        "counts": (plan.added, plan.updated, plan.unchanged),
        "errors": [line for line, _ in plan.errors],
        "notes": list(plan.notes),
        "skipped": dict(plan.skip_reasons),
    }
    return {k: v for k, v in got.items() if v and v != (0, 0, 0)}


ANN = "ann@example.org"
CASES = [
    ("new address", dict(rows=[row()]),
     {"new": [(ANN, "confirmed")], "counts": (1, 0, 0)}),
    ("new address on a double opt-in list", dict(rows=[row()], status="unconfirmed"),
     {"new": [(ANN, "unconfirmed")], "counts": (1, 0, 0)}),
    ("stored, same data, on the list", dict(rows=[row()], existing=(stored(),),
                                            members={7: "confirmed"}),
     {"counts": (0, 0, 1)}),
    ("stored, same data, on the list unconfirmed",
     dict(rows=[row()], existing=(stored(),), members={7: "unconfirmed"}),
     {"counts": (0, 0, 1)}),
    ("stored, same data, not on the list", dict(rows=[row()], existing=(stored(),)),
     {"joins": [(7, "confirmed")], "counts": (0, 1, 0)}),
    ("stored, not on a double opt-in list",
     dict(rows=[row()], existing=(stored(),), status="unconfirmed"),
     {"joins": [(7, "unconfirmed")], "counts": (0, 1, 0)}),
    ("stored, a new name", dict(rows=[row(name="Ann Lee")], existing=(stored(),),
                                members={7: "confirmed"}),
     {"changes": [(7, "Ann Lee", ATTRS)], "counts": (0, 1, 0)}),
    ("stored, no name in the file: the stored one stays",
     dict(rows=[row(name="")], existing=(stored(),), members={7: "confirmed"}),
     {"counts": (0, 0, 1)}),
    ("stored, attributes merged over the stored ones",
     dict(rows=[row(attributes={"region": "europe"})], existing=(stored(),)),
     {"changes": [(7, "Ann", {"role": "nurse", "region": "europe"})],
      "joins": [(7, "confirmed")], "counts": (0, 1, 0)}),
    ("stored, unsubscribed from this list",
     dict(rows=[row(name="Ann Lee")], existing=(stored(),), members={7: "unsubscribed"}),
     {"skipped": {UNSUBSCRIBED: 1}}),
    ("suppressed, stored or not", dict(rows=[row(), row("bob@example.org", line=3)],
                                       existing=(stored(),),
                                       suppressed=(ANN, "bob@example.org")),
     {"skipped": {SUPPRESSED: 2}}),
    ("suppressed, whatever the file's status",
     dict(rows=[row(status="bounced")], suppressed=(ANN,)),
     {"skipped": {SUPPRESSED: 1}}),
    ("added earlier in this import (an earlier chunk)",
     dict(rows=[row(name="Other")], existing=(stored(created_at=NOW),),
          members={7: "confirmed"}),
     {"skipped": {DUPLICATE: 1}}),
    ("duplicate within the chunk, any case", dict(rows=[row(), row("ANN@Example.org",
                                                                  name="Two", line=3)]),
     {"new": [(ANN, "confirmed")], "counts": (1, 0, 0), "skipped": {DUPLICATE: 1},
      "notes": [(3, "ANN@Example.org: duplicate of line 2, skipped")]}),
    ("invalid row", dict(rows=[Invalid(4, "invalid email"), row()]),
     {"new": [(ANN, "confirmed")], "counts": (1, 0, 0), "errors": [4]}),
    ("a change whose export would be too large",
     dict(rows=[row(attributes={"bio": "x" * FIELD_LIMIT})], existing=(stored(),),
          members={7: "confirmed"}),
     {"errors": [2]}),
    ("unsubscribed in the file, new: kept as unsubscribed",
     dict(rows=[row(status="unsubscribed")]),
     {"new": [(ANN, "unsubscribed")], "skipped": {"unsubscribed in the file": 1}}),
    ("unsubscribed in the file, on the list: leaves",
     dict(rows=[row(status="unsubscribed")], existing=(stored(),), members={7: "confirmed"}),
     {"leaves": [7], "skipped": {"unsubscribed in the file": 1}}),
    ("unsubscribed in the file, stored, not on the list: joins unsubscribed",
     dict(rows=[row(status="unsubscribed")], existing=(stored(),)),
     {"joins": [(7, "unsubscribed")], "skipped": {"unsubscribed in the file": 1}}),
    ("unsubscribed in the file, already unsubscribed",
     dict(rows=[row(status="unsubscribed")], existing=(stored(),),
          members={7: "unsubscribed"}),
     {"skipped": {"unsubscribed in the file": 1}}),
    ("bounced in the file, new: suppressed, not stored",
     dict(rows=[row(status="bounced")]),
     {"suppressions": [("ann", "bounce")], "skipped": {"bounced in the file": 1}}),
    ("bounced in the file, stored, not on the list",
     dict(rows=[row(status="bounced")], existing=(stored(),)),
     {"suppressions": [("ann", "bounce")], "skipped": {"bounced in the file": 1}}),
    ("blocklisted in the file, on the list unconfirmed: leaves, suppressed",
     dict(rows=[row(status="blocklisted")], existing=(stored(),),
          members={7: "unconfirmed"}),
     {"leaves": [7], "suppressions": [("ann", "manual")],
      "skipped": {"blocklisted in the file": 1}}),
]


@pytest.mark.parametrize(("case", "given", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_row(case, given, expected):
    assert outcome(plan_for(**given)) == expected


def test_the_plan_keeps_the_chunks_order():
    """Rows are written, and reported, in the file's order: the invalid rows first, then
    what the stored data made invalid."""
    bob, cy = "bob@example.org", "cy@example.org"
    plan = plan_for([Invalid(2, "bad"), row(bob, line=3, attributes={"bio": "x" * FIELD_LIMIT}),
                     row(cy, line=4), row(line=5), row(bob, line=6)],
                    existing=(stored(8, email=cy), stored(email=bob)))
    assert [p.key for p in plan.new] == [ANN]
    assert [j.subscriber_id for j in plan.joins] == [8]
    assert [line for line, _ in plan.errors] == [2, 3]
    assert [line for line, _ in plan.notes] == [6]
    assert plan.skip_reasons == {DUPLICATE: 1}
