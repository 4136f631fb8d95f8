"""Who gets which variant: a streaming pass over the eligible audience.

Eligible: confirmed on at least one of the lists and not on the suppression list. The
segment is a pure function of the attributes the rules read (and list membership), so
it is computed once per distinct combination rather than once per person.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Generator, Iterator, Sequence
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Engine, Text, and_, cast, func, select

from pipeline.children import die_with_parent, next_message, put_in_chunks, stop
from pipeline.errors import AudienceError
from pipeline.models import Recipient
from pipeline.store.db import make_engine, shareable

from .schema import memberships, subscribers, suppressions
from .segments import Rule, Subject, is_present, referenced

STREAM_ROWS = 5000
# Recipients per message from the resolving child when they carry prepared request
# parts (about 1 KB a person): up to four messages wait in the queue, and the child
# peaked at 203 MB in bench/send.py with 5000-person messages, 124 MB with 1000.
# Without them, 5000 (fewer hand-overs: resolving 1,000,000 took 4.0 s, not 4.2-5.5).
PREPARED_CHUNK_ROWS = 1000
# Below this many subscribers a second process costs more (starting it) than it saves.
PARALLEL_FROM = 200_000
# Distinct attribute texts remembered. Bounded, for they could all differ (a company or
# a phone number in each): 10,000 texts of a few hundred bytes are a few MB.
MEMO_TEXTS = 10_000
PARENT_SHARE = 0.56  # of the audience resolved in this process (measured best at 1M)
Prepare = Callable[[str, str], Any]  # (email, first name) -> Recipient.prepared


class Candidate(NamedTuple):
    """One eligible person and every segment they match, in priority order."""

    subscriber_id: int
    email: str
    name: str
    lists: tuple[str, ...]
    matches: tuple[str, ...]


def _key_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_key_value(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _key_value(v)) for k, v in value.items()))
    return value


def eligible_rows(engine: Engine, lists: Sequence[str], from_id: int | None = None,
                  to_id: int | None = None) -> Iterator[tuple[Any, ...]]:
    """(id, email, name, attributes as JSON text, confirmed lists) per eligible
    subscriber, id order; only from_id <= id < to_id where those are given. (The text,
    not the decoded dict: see _segments_by_text.)"""
    # NOT IN (uncorrelated) rather than NOT EXISTS: the suppression list is read once into
    # a hash/ephemeral index instead of being probed per subscriber (a third faster at 1M).
    query = (
        select(subscribers.c.id, subscribers.c.email, subscribers.c.name,
               cast(subscribers.c.attributes, Text), memberships.c.list_name)
        .join(memberships, and_(memberships.c.subscriber_id == subscribers.c.id,
                                memberships.c.status == "confirmed",
                                memberships.c.list_name.in_(list(lists))))
        .where(subscribers.c.email_hash.not_in(select(suppressions.c.email_hash)))
        .order_by(subscribers.c.id)
    )
    if from_id is not None:
        query = query.where(subscribers.c.id >= from_id)
    if to_id is not None:
        query = query.where(subscribers.c.id < to_id)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=STREAM_ROWS).execute(query)
        if len(lists) == 1:  # one membership row per person: nothing to group
            for sid, email, name, attributes, list_name in result:
                yield sid, email, name, attributes, [list_name]
            return
        current: list[Any] | None = None
        for sid, email, name, attributes, list_name in result:
            if current is not None and current[0] == sid:
                current[4].append(list_name)
                continue
            if current is not None:
                yield tuple(current)
            current = [sid, email, name, attributes, [list_name]]
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
                key.append(is_present(value))
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


def _segments_by_text(segments: Sequence[tuple[str, Rule]]) -> Callable[
        [str | None, list[str]], tuple[str, ...]]:
    """matcher(segments), taking the attributes as their stored JSON text. Most people
    share their attributes' text with many others (the same role, region and
    interests): for those it is neither decoded nor looked at again (a tenth of
    resolving a million). A text seen once costs one dictionary miss."""
    matches = matcher(segments)
    memo: dict[tuple[str | None, tuple[str, ...]], tuple[str, ...]] = {}

    def by_text(text: str | None, member_of: list[str]) -> tuple[str, ...]:
        key = (text, tuple(member_of))
        found = memo.get(key)
        if found is None:
            found = matches((orjson.loads(text) if text else None) or {}, member_of)
            if len(memo) < MEMO_TEXTS:
                memo[key] = found
        return found

    return by_text


def candidates(engine: Engine, lists: Sequence[str],
               segments: Sequence[tuple[str, Rule]]) -> Iterator[Candidate]:
    matches = _segments_by_text(segments)
    for sid, email, name, attrs, member_of in eligible_rows(engine, lists):
        yield Candidate(sid, email, name, tuple(sorted(member_of)), matches(attrs, member_of))


def resolve(engine: Engine, lists: Sequence[str], segments: Sequence[tuple[str, Rule]],
            default_segment: str | None, *, parallel_from: int | None = PARALLEL_FROM,
            id_range: tuple[int | None, int | None] | None = None,
            share: float = PARENT_SHARE, prepare: Prepare | None = None) -> Iterator[Recipient]:
    """Every eligible subscriber exactly once, with the first segment that matches.

    From `parallel_from` subscribers on, a child process resolves the upper ids on the
    other core and hands them over in chunks, interleaved with the `share` of them this
    process resolves (0: the child resolves them all, for a caller with work of its own
    for this core, such as a send). With `id_range` (from, to), only ids from <= id <
    to, in this process: the share of one of several sending processes (`split_ids`).
    `prepare(email, first name)`, picklable, fills `prepared` for those the child
    resolves: work moved off this process. Those resolved here keep None.
    """
    if id_range is not None:
        yield from _resolve_range(engine, lists, segments, default_segment, *id_range)
        return
    split = _split_id(engine, parallel_from, share)
    if split is None:
        yield from _resolve_range(engine, lists, segments, default_segment, None, None)
        return
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=4)  # bounded: memory stays a few chunks
    process = context.Process(target=_resolve_upper, daemon=True, args=(
        engine.url.render_as_string(hide_password=False), list(lists), list(segments),
        default_segment, split, queue, prepare))
    process.start()
    try:
        upper_done = False
        own = (_resolve_range(engine, lists, segments, default_segment, None, split)
               if share > 0 else iter(()))
        for count, recipient in enumerate(own, 1):
            yield recipient
            if count % STREAM_ROWS == 0 and not upper_done:
                upper_done = yield from _ready_chunks(queue, process, block=False)
        if not upper_done:
            yield from _ready_chunks(queue, process, block=True)
    finally:
        stop(process)


def _ids_at(engine: Engine, fractions: Sequence[float]) -> tuple[int, list[int | None]]:
    """The number of subscribers, and the id found at each fraction of them in id order."""
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(subscribers)).scalar() or 0
        return total, [conn.execute(select(subscribers.c.id).order_by(subscribers.c.id)
                                    .offset(int(total * f)).limit(1)).scalar()
                       for f in fractions]


def _split_id(engine: Engine, parallel_from: int | None, share: float) -> int | None:
    """The id that splits the audience between two cores, when it is large enough to
    share (and lives where a second process can reach it)."""
    if parallel_from is None or not shareable(engine):
        return None
    # By default not quite half: the child also starts up and pickles, this side
    # unpickles.
    total, (split,) = _ids_at(engine, [share])
    return split if total >= parallel_from else None


def split_ids(engine: Engine, parts: int) -> list[tuple[int | None, int | None]]:
    """`parts` id ranges (from, to) holding about as many subscribers each, covering
    every id (the first open below, the last open above); one range when no other
    process could reach the store."""
    if parts < 2 or not shareable(engine):
        return [(None, None)]
    _total, bounds = _ids_at(engine, [i / parts for i in range(1, parts)])
    edges = sorted({b for b in bounds if b is not None})
    starts: list[int | None] = [None, *edges]
    ends: list[int | None] = [*edges, None]
    return list(zip(starts, ends, strict=True))


def _ready_chunks(queue: Queue[tuple[str, Any]], process: BaseProcess, *,
                  block: bool) -> Generator[Recipient, None, bool]:
    """Yield the child's chunks: those already waiting, or (block) all of them. The
    generator's value is whether the child has finished."""
    while True:
        if not block and queue.empty():
            return False
        kind, payload = next_message(queue, process, lambda code: AudienceError(
            f"the process resolving the upper half of the audience stopped (exit code "
            f"{code}); run again: a send resumes, and nobody is mailed twice"))
        if kind == "end":
            return True
        if kind == "error":
            raise AudienceError(payload)
        yield from map(Recipient._make, payload)


def _resolve_upper(url: str, lists: list[str], segments: list[tuple[str, Rule]],
                   default_segment: str | None, from_id: int, queue: Any,
                   prepare: Prepare | None) -> None:
    """Child process: resolve ids from `from_id` on; send chunks of plain tuples."""
    # A Ctrl-C reaches the whole process group: the sending process decides how a send
    # stops (and ends this child when it stops reading).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent()
    try:
        engine = make_engine(url)
        size = PREPARED_CHUNK_ROWS if prepare else STREAM_ROWS
        put_in_chunks(_resolve_range(engine, lists, segments, default_segment, from_id,
                                     None, prepare), queue, size, tuple)
        engine.dispose()
    except Exception as e:  # report, never hang the parent  # noqa: BLE001
        queue.put(("error", f"resolving the audience: {type(e).__name__}: {e}"))


def _resolve_range(engine: Engine, lists: Sequence[str], segments: Sequence[tuple[str, Rule]],
                   default_segment: str | None, from_id: int | None,
                   to_id: int | None, prepare: Prepare | None = None) -> Iterator[Recipient]:
    matches = _segments_by_text(segments)
    for sid, email, name, attrs, member_of in eligible_rows(engine, lists, from_id, to_id):
        found = matches(attrs, member_of)
        segment = found[0] if found else default_segment
        if segment:
            parts = name.split(None, 1)  # the first word is the first name
            first = parts[0] if parts else ""
            yield Recipient(sid, email, first, segment, tuple(member_of),
                            prepare(email, first) if prepare else None)
