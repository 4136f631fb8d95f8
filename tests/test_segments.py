"""Segment rules: compile errors name their path; evaluation is a pure function."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from subscribers.resolve import _segments_by_text, matcher
from subscribers.segments import RuleError, Subject, assign_segment, compile_rule


def subject(lists=(), **attributes):
    return Subject(attributes=attributes, lists=frozenset(lists))


@pytest.mark.parametrize("rule,attrs,expected", [
    ({"role": ["resident", "fellow"]}, {"role": "Fellow"}, True),
    ({"role": ["resident", "fellow"]}, {"role": "physician"}, False),
    ({"role": "industry"}, {"role": "industry"}, True),
    ({"interests": {"contains": "liver"}}, {"interests": ["lung", "liver"]}, True),
    ({"interests": {"contains": "liver"}}, {"interests": ["lung"]}, False),
    ({"interests": ["bone", "kidney"]}, {"interests": ["lung", "kidney"]}, True),
    ({"organisation": {"exists": True}}, {"organisation": ""}, False),
    ({"organisation": {"exists": False}}, {}, True),
    ({"not": {"role": "industry"}}, {"role": "nurse"}, True),
    ({"any": [{"role": "nurse"}, {"region": "europe"}]}, {"role": "md", "region": "Europe"}, True),
    ({"all": [{"role": "physician"}, {"region": "europe"}]}, {"role": "physician"}, False),
    ({"role": "physician", "region": "europe"}, {"role": "physician", "region": "europe"}, True),
])
def test_rules_match(rule, attrs, expected):
    assert compile_rule(rule).matches(subject(**attrs)) is expected


def test_list_membership_rule():
    rule = compile_rule({"list": "members"})
    assert rule.matches(subject(lists=["members"]))
    assert not rule.matches(subject(lists=["trainee-digest"]))


@pytest.mark.parametrize("rule,message", [
    ({}, "where: empty rule"),
    ({"role": {"like": "x"}}, "where.role.like: unknown operator 'like'"),
    ({"role": {"in": "x"}}, "where.role.in: expected a non-empty list"),
    ({"any": []}, "where.any: expected a non-empty list of rules"),
    ({"any": [{"role": {"exists": "yes"}}]}, "where.any[0].role.exists: expected true or false"),
    ({"role": {"equals": "a", "in": ["b"]}}, "where.role: expected exactly one operator"),
])
def test_bad_rules_name_their_path(rule, message):
    with pytest.raises(RuleError) as info:
        compile_rule(rule)
    assert message in str(info.value)


SEGMENTS = [
    ("trainees", compile_rule({"role": ["resident", "fellow"]})),
    ("liver", compile_rule({"interests": {"contains": "liver"}})),
    ("europe", compile_rule({"region": "europe"})),
]
roles = st.sampled_from(["physician", "resident", "fellow", "nurse", "industry", ""])
interests = st.lists(st.sampled_from(["liver", "lung", "kidney", "bone"]), max_size=3)
regions = st.sampled_from(["europe", "north-america", "asia-pacific"])


@given(roles, interests, regions)
def test_first_matching_segment_wins(role, interest_list, region):
    s = subject(role=role, interests=interest_list, region=region)
    chosen = assign_segment(s, SEGMENTS)
    matching = [name for name, rule in SEGMENTS if rule.matches(s)]
    assert chosen == (matching[0] if matching else None)


# Values as imports leave them: blanks, lists of blanks, numbers, nested lists.
attribute_values = st.one_of(
    st.none(), st.sampled_from(["", "Acme", "liver", "europe", 0, 1]),
    st.lists(st.sampled_from(["", None, "liver", "lung", "Acme"]), max_size=3),
    st.lists(st.lists(st.sampled_from(["", "liver"]), max_size=2), max_size=2),
)
MEMO_SEGMENTS = [
    ("with-org", compile_rule({"organisation": {"exists": True}})),
    ("no-org", compile_rule({"organisation": {"exists": False}, "role": {"exists": True}})),
    ("liver", compile_rule({"interests": {"contains": "liver"}})),
]


@given(st.lists(st.fixed_dictionaries({}, optional={
    "organisation": attribute_values, "role": attribute_values,
    "interests": attribute_values}), min_size=1, max_size=12))
@example([{"organisation": [""]}, {"organisation": ["Acme"]}])
@example([{"interests": [["liver"]]}])
def test_the_resolvers_memo_agrees_with_the_rules(people):
    # The resolver memoises each combination of what the rules read; a key that lumps
    # together values the rules tell apart (once: [""] and ["x"] both "present") hands
    # the second person the first one's segments.
    matches = matcher(MEMO_SEGMENTS)
    for attrs in people:
        expected = tuple(n for n, rule in MEMO_SEGMENTS if rule.matches(subject(**attrs)))
        assert matches(attrs, []) == expected, attrs


def test_attributes_read_as_stored_text_match_like_the_decoded_dict():
    # The resolver reads attributes as their JSON text and remembers each text's
    # segments; a text of null (or none at all) is a person without attributes.
    by_text = _segments_by_text(MEMO_SEGMENTS)
    matches = matcher(MEMO_SEGMENTS)
    for text, attrs in [('{"role": "nurse", "organisation": "Acme"}',
                         {"role": "nurse", "organisation": "Acme"}),
                        ('{"interests": ["liver"]}', {"interests": ["liver"]}),
                        ("null", {}), ("{}", {}), (None, {})]:
        assert by_text(text, []) == by_text(text, []) == matches(attrs, []), text
