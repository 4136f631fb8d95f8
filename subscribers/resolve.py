"""Who gets which variant: a streaming pass over the eligible audience.

Eligible: confirmed on at least one of the lists and not on the suppression list. The
segment is a pure function of the attributes the rules read (and list membership), so
it is computed once per distinct combination rather than once per person.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, exists, select

from pipeline.models import Recipient

from .model import first_name
from .schema import memberships, subscribers, suppressions
from .segments import Rule, Subject, assign_segment, referenced

STREAM_ROWS = 5000


@dataclass(frozen=True)
class Candidate:
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
    query = (
        select(subscribers.c.id, subscribers.c.email, subscribers.c.name,
               subscribers.c.attributes, memberships.c.list_name)
        .join(memberships, and_(memberships.c.subscriber_id == subscribers.c.id,
                                memberships.c.status == "confirmed",
                                memberships.c.list_name.in_(list(lists))))
        .where(~exists().where(suppressions.c.email_hash == subscribers.c.email_hash))
        .order_by(subscribers.c.id)
    )
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(query)
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


def candidates(engine: Engine, lists: Sequence[str],
               segments: Sequence[tuple[str, Rule]]) -> Iterator[Candidate]:
    attributes, uses_lists = referenced([rule for _, rule in segments])
    memo: dict[Any, tuple[str, ...]] = {}
    for sid, email, name, attrs, member_of in eligible_rows(engine, lists):
        key = (tuple(_key_value(attrs.get(a)) for a in attributes),
               frozenset(member_of) if uses_lists else None)
        matches = memo.get(key)
        if matches is None:
            subject = Subject(attributes=attrs, lists=frozenset(member_of))
            matches = tuple(n for n, rule in segments if rule.matches(subject))
            if len(memo) < 100_000:  # bounded: free-form attributes could make every key new
                memo[key] = matches
        yield Candidate(sid, email, name, tuple(sorted(member_of)), matches)


def resolve(engine: Engine, lists: Sequence[str], segments: Sequence[tuple[str, Rule]],
            default_segment: str | None) -> Iterator[Recipient]:
    """Every eligible subscriber exactly once, with the first segment that matches."""
    for c in candidates(engine, lists, segments):
        segment = c.matches[0] if c.matches else default_segment
        if segment:
            yield Recipient(c.subscriber_id, c.email, first_name(c.name), segment, c.lists)


__all__ = ["Candidate", "assign_segment", "candidates", "eligible_rows", "resolve"]
