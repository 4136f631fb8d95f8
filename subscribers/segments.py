"""Segment rules: a small declarative language over lists and attributes.

A rule is a TOML table. Every key must hold (they are ANDed):

    where = { role = ["resident", "fellow"] }            # value in list
    where = { region = "europe" }                          # equals
    where = { interests = { contains = "liver" } }         # list attribute holds value
    where = { organisation = { exists = true } }
    where = { list = "members" }                           # confirmed member of a list
    where = { any = [ { role = "nurse" }, { role = "technologist" } ] }
    where = { all = [ ... ] }   where = { not = { role = "industry" } }

String comparisons ignore case: CSV exports are inconsistent about it.
Compiling a rule is separate from evaluating it, so config loading reports
mistakes with their path and evaluation is a pure function of the subscriber.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPERATORS = ("equals", "in", "contains", "exists")


@dataclass(frozen=True)
class Subject:
    """What a rule is evaluated against: one subscriber's attributes and confirmed lists."""

    attributes: Mapping[str, Any]
    lists: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    kind: str  # "attr" | "list" | "all" | "any" | "not" | "true"
    attribute: str = ""
    op: str = ""
    value: Any = None
    children: tuple[Rule, ...] = ()

    def matches(self, subject: Subject) -> bool:
        return _evaluate(self, subject)


MATCH_ALL = Rule(kind="true")


class RuleError(ValueError):
    """A rule is malformed; the message names the path inside `where`."""


def _norm(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]


def is_present(value: Any) -> bool:
    """Whether an attribute value counts as set for `exists`: blanks (None, "", and
    lists holding only those) do not. The resolver memoises on this, so it must agree
    with _evaluate."""
    return any(v not in ("", None) for v in _as_list(value))


def _evaluate(rule: Rule, subject: Subject) -> bool:
    if rule.kind == "true":
        return True
    if rule.kind == "all":
        return all(_evaluate(child, subject) for child in rule.children)
    if rule.kind == "any":
        return any(_evaluate(child, subject) for child in rule.children)
    if rule.kind == "not":
        return not _evaluate(rule.children[0], subject)
    if rule.kind == "list":
        wanted = {_norm(name) for name in rule.value}
        return any(_norm(name) in wanted for name in subject.lists)
    present = subject.attributes.get(rule.attribute)
    values = [_norm(v) for v in _as_list(present) if v not in ("", None)]
    if rule.op == "exists":
        return bool(values) is rule.value  # the same test as is_present()
    if rule.op == "equals":
        return _norm(rule.value) in values
    if rule.op == "in":
        wanted = {_norm(v) for v in rule.value}
        return any(v in wanted for v in values)
    if rule.op == "contains":
        needle = _norm(rule.value)
        if isinstance(present, str):
            return needle in _norm(present)
        return needle in values
    raise AssertionError(f"unknown operator {rule.op!r}")  # compile_rule prevents this


def compile_rule(spec: Any, path: str = "where") -> Rule:
    """Turn a TOML table into a Rule, or raise RuleError naming where it is wrong."""
    if not isinstance(spec, Mapping):
        raise RuleError(f"{path}: expected a table of conditions, got {type(spec).__name__}")
    if not spec:
        raise RuleError(f"{path}: empty rule; leave `where` out to match everyone")
    parts = [_compile_key(key, value, f"{path}.{key}") for key, value in spec.items()]
    return parts[0] if len(parts) == 1 else Rule(kind="all", children=tuple(parts))


def _compile_key(key: str, value: Any, path: str) -> Rule:
    if key in ("all", "any"):
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise RuleError(f"{path}: expected a non-empty list of rules")
        children = tuple(compile_rule(v, f"{path}[{i}]") for i, v in enumerate(value))
        return Rule(kind=key, children=children)
    if key == "not":
        return Rule(kind="not", children=(compile_rule(value, path),))
    if key == "list":
        names = _as_list(value)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise RuleError(f"{path}: expected a list name or a list of list names")
        return Rule(kind="list", value=tuple(names))
    if isinstance(value, Mapping):
        if len(value) != 1:
            raise RuleError(f"{path}: expected exactly one operator of {', '.join(OPERATORS)}")
        op, operand = next(iter(value.items()))
        return _compile_operator(key, op, operand, f"{path}.{op}")
    if isinstance(value, list):
        return _compile_operator(key, "in", value, path)
    return _compile_operator(key, "equals", value, path)


def _compile_operator(attribute: str, op: str, operand: Any, path: str) -> Rule:
    scalar = (str, int, float, bool)
    if op not in OPERATORS:
        raise RuleError(f"{path}: unknown operator {op!r}; expected one of {', '.join(OPERATORS)}")
    if op == "exists" and not isinstance(operand, bool):
        raise RuleError(f"{path}: expected true or false")
    if op == "in":
        if not isinstance(operand, list) or not operand:
            raise RuleError(f"{path}: expected a non-empty list of values")
        if not all(isinstance(v, scalar) for v in operand):
            raise RuleError(f"{path}: list values must be strings, numbers or booleans")
        operand = tuple(operand)
    if op in ("equals", "contains") and not isinstance(operand, scalar):
        raise RuleError(f"{path}: expected a string, number or boolean")
    return Rule(kind="attr", attribute=attribute, op=op, value=operand)


def assign_segment(subject: Subject, segments: Sequence[tuple[str, Rule]]) -> str | None:
    """The first segment (in priority order) whose rule matches, else None."""
    for name, rule in segments:
        if rule.matches(subject):
            return name
    return None


def referenced(rules: Sequence[Rule]) -> tuple[dict[str, bool], bool]:
    """What the rules read: attribute -> whether its value matters (False when only
    `exists` looks at it), and whether any rule reads list membership. A subscriber's
    segment depends on nothing else, which lets resolution memoise."""
    attributes: dict[str, bool] = {}
    uses_lists = False
    stack = list(rules)
    while stack:
        rule = stack.pop()
        if rule.kind == "attr":
            attributes[rule.attribute] = attributes.get(rule.attribute, False) or (
                rule.op != "exists")
        elif rule.kind == "list":
            uses_lists = True
        stack.extend(rule.children)
    return dict(sorted(attributes.items())), uses_lists
