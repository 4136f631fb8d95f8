"""Who gets which variant: a streaming pass over the eligible audience.

Eligible: confirmed on at least one of the lists and not on the suppression list. The
segment is a pure function of the attributes the rules read (and list membership), so
it is computed once per distinct combination rather than once per person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Engine, and_, select

from pipeline.models import Recipient

from .schema import memberships, subscribers, suppressions
from .segments import Rule, Subject, referenced

STREAM_ROWS = 5000


class Candidate(NamedTuple):
    """One eligible person and every segment they match, in priority order."""

    subscriber_id: int
    email: str
    name: str
    lists: tuple[str, ...]
    matches: tuple[str, ...]


def _key_value(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_key_value(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _key_value(v)) for k, v in value.items()))
    return value


def eligible_rows(engine: Engine, lists: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """(id, email, name, attributes, confirmed lists) per eligible subscriber, id order."""
    # NOT IN (uncorrelated) rather than NOT EXISTS: the suppression list is read once into
    # a hash/ephemeral index instead of being probed per subscriber (a third faster at 1M).
    query = (
        select(subscribers.c.id, subscribers.c.email, subscribers.c.name,
               subscribers.c.attributes, memberships.c.list_name)
        .join(memberships, and_(memberships.c.subscriber_id == subscribers.c.id,
                                memberships.c.status == "confirmed",
                                memberships.c.list_name.in_(list(lists))))
        .where(subscribers.c.email_hash.not_in(select(suppressions.c.email_hash)))
        .order_by(subscribers.c.id)
    )
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(query)
        if len(lists) == 1:  # one membership row per person: nothing to group
            for sid, email, name, attributes, list_name in result:
                yield sid, email, name, attributes or {}, [list_name]
            return
        current: list[Any] | None = None
        for sid, email, name, attributes, list_name in result:
            if current is not None and current[0] == sid:
                current[4].append(list_name)
                continue
            if current is not None:
                yield tuple(current)
            current = [sid, email, name, attributes or {}, [list_name]]
        if current is not None:
            yield tuple(current)


def matcher(segments: Sequence[tuple[str, Rule]]) -> Callable[[dict[str, Any], list[str]],
                                                            tuple[str, ...]]:
    """attributes, lists -> names of every matching segment in priority order, memoised
    on exactly what the rules read (bounded, as free-form values could all differ)."""
    attributes, uses_lists = referenced([rule for _, rule in segments])
    reads = list(attributes.items())
    memo: dict[Any, tuple[str, ...]] = {}

    def matches(attrs: dict[str, Any], member_of: list[str]) -> tuple[str, ...]:
        key: list[Any] = [frozenset(member_of) if uses_lists else None]
        for a, by_value in reads:
            value = attrs.get(a)
            if not by_value:
                key.append(value not in ("", None, []))
            elif value.__class__ is list:
                key.append(tuple(value))  # nested values are caught below
            else:
                key.append(value)
        key_ = tuple(key)
        try:
            found = memo.get(key_)
        except TypeError:  # an unhashable value (a list of lists, a dict)
            key_ = tuple(_key_value(k) for k in key)
            found = memo.get(key_)
        if found is None:
            subject = Subject(attributes=attrs, lists=frozenset(member_of))
            found = tuple(n for n, rule in segments if rule.matches(subject))
            if len(memo) < 100_000:
                memo[key_] = found
        return found

    return matches


def candidates(engine: Engine, lists: Sequence[str],
               segments: Sequence[tuple[str, Rule]]) -> Iterator[Candidate]:
    matches = matcher(segments)
    for sid, email, name, attrs, member_of in eligible_rows(engine, lists):
        yield Candidate(sid, email, name, tuple(sorted(member_of)), matches(attrs, member_of))


def resolve(engine: Engine, lists: Sequence[str], segments: Sequence[tuple[str, Rule]],
            default_segment: str | None) -> Iterator[Recipient]:
    """Every eligible subscriber exactly once, with the first segment that matches."""
    matches = matcher(segments)
    for sid, email, name, attrs, member_of in eligible_rows(engine, lists):
        found = matches(attrs, member_of)
        segment = found[0] if found else default_segment
        if segment:
            parts = name.split(None, 1)  # first_name(), inlined: this runs per person
            yield Recipient(sid, email, parts[0] if parts else "", segment, tuple(member_of))
