"""Property tests: resolution puts every eligible subscriber in exactly one variant and
nobody else; export then import changes nothing; a list's count is always a recount."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.store.db import make_engine
from pipeline.store.schema import metadata
from subscribers.cli import write_export
from subscribers.formats import Row, read_file
from subscribers.segments import Subject, assign_segment, compile_rule
from subscribers.store import Audience

NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
SEGMENTS = [
    ("trainees", compile_rule({"role": ["resident", "fellow"]})),
    ("liver", compile_rule({"interests": {"contains": "liver"}})),
    ("eu-nurses", compile_rule({"all": [{"role": "nurse"}, {"region": "europe"}]})),
    ("not-industry-lung", compile_rule({"not": {"role": "industry"},
                                        "interests": {"contains": "lung"}})),
]

person = st.fixed_dictionaries({
    "role": st.sampled_from(["physician", "resident", "fellow", "nurse", "industry"]),
    "interests": st.lists(st.sampled_from(["liver", "lung", "kidney", "bone"]), max_size=3,
                          unique=True),
    "region": st.sampled_from(["europe", "north-america", "asia-pacific"]),
    "fate": st.sampled_from(["confirmed", "confirmed", "unsubscribed", "suppressed",
                             "unconfirmed", "other-list"]),
    "name": st.text(alphabet="abcdéßø ", max_size=12),
})


def fresh_audience() -> Audience:
    engine = make_engine("sqlite:///:memory:")
    import subscribers.schema  # noqa: F401

    metadata.create_all(engine)
    return Audience(engine)


def populate(audience: Audience, people: list[dict]) -> dict[str, dict]:
    by_email = {}
    rows = []
    for i, p in enumerate(people):
        email = f"Person{i}@Example.org"
        by_email[email] = p
        rows.append(Row(i + 2, email, p["name"].strip(),
                        {"role": p["role"], "interests": p["interests"], "region": p["region"]}))
    confirmed = [r for r, p in zip(rows, people, strict=True) if p["fate"] != "unconfirmed"
                 and p["fate"] != "other-list"]
    audience.import_rows(confirmed, "members", status="confirmed", source="t", now=NOW)
    audience.import_rows([r for r, p in zip(rows, people, strict=True) if p["fate"] == "unconfirmed"],
                         "members", status="unconfirmed", source="t", now=NOW)
    audience.import_rows([r for r, p in zip(rows, people, strict=True) if p["fate"] == "other-list"],
                         "other", status="confirmed", source="t", now=NOW)
    for email, p in by_email.items():
        if p["fate"] == "unsubscribed":
            audience.unsubscribe(email.upper(), "members", source="t", now=NOW)
        elif p["fate"] == "suppressed":
            audience.suppress(email.lower(), "bounce", "t", NOW)
    return by_email


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person, max_size=40), st.sampled_from(["general", None]))
def test_every_eligible_subscriber_gets_exactly_one_variant(people, default):
    audience = fresh_audience()
    by_email = populate(audience, people)
    got = list(audience.resolve(["members"], SEGMENTS, default))
    emails = [r.email for r in got]
    assert len(emails) == len(set(emails)), "someone got two variants"
    eligible = {e for e, p in by_email.items() if p["fate"] == "confirmed"}
    expected = {}
    for e in eligible:
        p = by_email[e]
        subject = Subject({"role": p["role"], "interests": p["interests"], "region": p["region"]},
                          frozenset({"members"}))
        segment = assign_segment(subject, SEGMENTS) or default
        if segment:
            expected[e] = segment
    assert {r.email: r.segment for r in got} == expected
    blocked = {e for e, p in by_email.items() if p["fate"] in ("unsubscribed", "suppressed")}
    assert not blocked & set(emails)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person, max_size=25))
def test_export_then_import_changes_nothing(tmp_path_factory, people):
    audience = fresh_audience()
    populate(audience, people)
    before = io.StringIO()
    write_export(audience, "members", "csv", before)
    path = tmp_path_factory.mktemp("export") / "members.csv"
    path.write_text(before.getvalue(), encoding="utf-8")
    summary = audience.import_rows(read_file(path).rows, "members", status="confirmed",
                                   source="roundtrip", now=datetime(2026, 12, 1, tzinfo=UTC))
    assert (summary.added, summary.updated, summary.invalid) == (0, 0, 0)
    after = io.StringIO()
    write_export(audience, "members", "csv", after)
    assert after.getvalue() == before.getvalue()


# -- each list's running count: whatever happens, what counting the memberships gives ------

consent_change = st.tuples(
    st.sampled_from(["add", "sign_up", "confirm", "unsubscribe", "leave_all", "forget",
                     "suppress", "import", "import_left"]),
    st.integers(0, 4), st.sampled_from(["members", "other"]),
    st.sampled_from(["confirmed", "unconfirmed"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(consent_change, max_size=30))
def test_each_lists_count_is_what_counting_its_memberships_gives(changes):
    from datetime import timedelta

    from sqlalchemy import text

    audience = fresh_audience()
    for step, (change, who, list_name, status) in enumerate(changes):
        email, now = f"p{who}@example.org", NOW + timedelta(minutes=step)
        if change == "add":
            audience.add(email, list_name, status=status, source="t", now=now)
        elif change == "sign_up":
            audience.sign_up(email, list_name, source="t", now=now)
        elif change == "confirm":
            audience.confirm(email, list_name, source="t", now=now)
        elif change in ("unsubscribe", "leave_all"):
            audience.unsubscribe(email, list_name if change == "unsubscribe" else None,
                                 source="t", now=now)
        elif change == "forget":
            audience.forget(email, now)
        elif change == "suppress":
            audience.suppress(email, "unsubscribed", "t", now)
        else:
            left = "unsubscribed" if change == "import_left" else None
            audience.import_rows([Row(2, email, "", {}, left)], list_name, status=status,
                                 source="t", now=now)
    with audience.engine.connect() as conn:
        stored = {(name, status): n for name, status, n in conn.execute(text(
            "SELECT list_name, status, COUNT(*) FROM memberships GROUP BY list_name, status"))}
    for name in ("members", "other"):
        for status in ("confirmed", "unconfirmed", "unsubscribed"):
            assert audience.count(name, status) == stored.get((name, status), 0), changes


# -- CSV that cannot harm: hostile values survive export -> import exactly -----------------

# Starts a spreadsheet runs as formulas, quotes that must stay quotes, and CSV syntax.
HOSTILE_STARTS = ["", "=", "+", "-", "@", "\t", "\r", "'", "'=", "''-", "'@", '"', '="',
                  ",", ";", "\n", "\r\n", " ", "=HYPERLINK(\"http://x\")", "-1+1", "@SUM(A1)"]
hostile = st.builds(lambda start, rest: start + rest, st.sampled_from(HOSTILE_STARTS),
                    st.text(max_size=12))
# What the store holds for a known attribute: imports and `add --attr` strip values.
stripped = hostile.map(str.strip)
word = stripped.map(lambda s: s or "x")
known = st.fixed_dictionaries({}, optional={
    "role": stripped, "region": stripped, "organisation": stripped,
    "interests": st.lists(word, max_size=3), "tags": st.lists(word, max_size=3)})
extra = st.dictionaries(
    hostile.filter(lambda k: k not in ("role", "region", "organisation", "interests", "tags")),
    st.one_of(hostile, st.integers(-(1 << 63), (1 << 63) - 1), st.none(),
              st.lists(hostile, max_size=2)), max_size=2)
subscriber = st.fixed_dictionaries({
    "local": st.sampled_from(["", "=", "+", "-", "'=", "''+", "o'"]),
    "name": st.one_of(hostile, st.text()),
    "attributes": st.builds(lambda a, b: {**b, **a}, known, extra),
    "left": st.booleans(),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(subscriber, max_size=12))
def test_hostile_names_and_attributes_round_trip_through_csv(tmp_path_factory, people):
    import csv

    from subscribers.model import FORMULA_STARTS

    first = fresh_audience()
    for i, p in enumerate(people):
        email = f"{p['local']}p{i}@example.org"
        first.add(email, "members", status="confirmed", source="t", now=NOW, name=p["name"],
                  attributes=p["attributes"])
        if p["left"]:
            first.unsubscribe(email, "members", source="t", now=NOW)
    exported = io.StringIO()
    assert write_export(first, "members", "csv", exported) == len(people)
    for cells in csv.reader(io.StringIO(exported.getvalue(), newline="")):
        assert not any(cell[:1] in FORMULA_STARTS for cell in cells), cells
    path = tmp_path_factory.mktemp("export") / "members.csv"
    path.write_bytes(exported.getvalue().encode("utf-8"))

    second = fresh_audience()
    summary = second.import_rows(read_file(path).rows, "members", status="confirmed",
                                 source="roundtrip", now=NOW)
    assert summary.invalid == 0, summary.errors
    assert summary.added == sum(not p["left"] for p in people)
    assert list(second.export("members")) == list(first.export("members"))
    again = io.StringIO()
    write_export(second, "members", "csv", again)
    assert again.getvalue() == exported.getvalue()


@given(st.text())
def test_neutralised_cells_never_start_a_formula_and_restore_exactly(value):
    from subscribers.model import FORMULA_STARTS, neutralise, restore

    cell = neutralise(value)
    assert cell[:1] not in FORMULA_STARTS
    assert restore(cell) == value
    assert cell == value or cell == "'" + value


@given(st.one_of(st.text(), hostile, st.text(alphabet="a\u0301\u200d\U0001f1eb\U0001f1f7 \t",
                                              min_size=90, max_size=130)))
def test_clean_name_gives_one_tidy_visible_line_and_is_idempotent(raw):
    import unicodedata

    from subscribers.model import NAME_MAX_CHARS, clean_name

    name = clean_name(raw)
    assert clean_name(name) == name
    assert len(name) <= NAME_MAX_CHARS
    assert name == name.strip() and "  " not in name
    assert unicodedata.is_normalized("NFC", name)
    assert all(c in "\u200c\u200d" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp")
               for c in name)
    assert all(c == " " or unicodedata.category(c) != "Zs" for c in name)
