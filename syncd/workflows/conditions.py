"""Declarative conditions over an event's fields: parsed into a tree, evaluated in pure code.

No user string is ever evaluated as code. A condition is a mapping::

    {field: human, eq: true}                 # one test on a dotted path into the context
    {all: [...]}  {any: [...]}  {not: {...}}  # combinations
    [cond, cond]                             # a list means all of them

Operators: eq, ne, in, not_in, contains, starts_with, ends_with, matches (a regular
expression, searched), gt, gte, lt, lte, exists (true/false). A missing field fails every test
except ``exists: false`` and ``ne``. String comparisons with eq/in ignore case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPERATORS = ("eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with", "matches",
             "gt", "gte", "lt", "lte", "exists")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_MISSING = object()


class ConditionError(ValueError):
    """A condition that cannot be understood; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Test:
    field: str
    op: str
    value: Any
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = Test | All | Any_ | Not


def parse(raw: Any, where: str = "when") -> Node:
    """Build the tree. Raises ConditionError naming the faulty place (``when[1].in``...)."""
    if raw is None:
        return All(())
    if isinstance(raw, list):
        return All(tuple(parse(item, f"{where}[{i}]") for i, item in enumerate(raw)))
    if not isinstance(raw, Mapping):
        raise ConditionError(f"{where}: expected a mapping such as {{field: x, eq: 1}} or a list")
    keys = set(raw)
    for combo, cls in (("all", All), ("any", Any_)):
        if keys == {combo}:
            items = raw[combo]
            if not isinstance(items, list) or not items:
                raise ConditionError(f"{where}.{combo}: expected a non-empty list")
            return cls(tuple(parse(item, f"{where}.{combo}[{i}]") for i, item in enumerate(items)))
    if keys == {"not"}:
        return Not(parse(raw["not"], f"{where}.not"))
    if "field" not in keys:
        raise ConditionError(
            f"{where}: needs 'field' and one operator, or one of all/any/not (got "
            f"{', '.join(sorted(map(str, keys))) or 'nothing'})")
    field = raw["field"]
    if not isinstance(field, str) or not _PATH.match(field):
        raise ConditionError(f"{where}.field: {field!r} is not a dotted field name")
    ops = keys - {"field"}
    if len(ops) != 1:
        raise ConditionError(
            f"{where}: exactly one operator is needed with field {field!r} "
            f"(one of {', '.join(OPERATORS)})")
    op = str(ops.pop())
    if op not in OPERATORS:
        raise ConditionError(f"{where}.{op}: unknown operator; use one of {', '.join(OPERATORS)}")
    value = raw[op]
    return _test(field, op, value, f"{where}.{op}")


def _test(field: str, op: str, value: Any, where: str) -> Test:
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise ConditionError(f"{where}: expected a list")
    elif op in ("gt", "gte", "lt", "lte"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConditionError(f"{where}: expected a number or a date/time string")
    elif op == "exists":
        if not isinstance(value, bool):
            raise ConditionError(f"{where}: expected true or false")
    elif op in ("contains", "starts_with", "ends_with", "matches"):
        if not isinstance(value, str):
            raise ConditionError(f"{where}: expected a string")
    elif isinstance(value, (list, dict)):
        raise ConditionError(f"{where}: expected a single value")
    pattern = None
    if op == "matches":
        if len(value) > 500:
            raise ConditionError(f"{where}: pattern longer than 500 characters")
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise ConditionError(f"{where}: not a valid regular expression ({exc})") from None
    return Test(field, op, value, pattern)


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or the _MISSING marker."""
    current: Any = context
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, Sequence) and not isinstance(current, str) and part.isdigit():
            index = int(part)
            if index >= len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return bool(_fold(a) == _fold(b))


def _compare(a: Any, b: Any) -> int | None:
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)  # ISO 8601 dates compare as strings
    return None


def evaluate(node: Node, context: Mapping[str, Any]) -> bool:
    """True when the condition holds for ``context``. Never raises on data of the wrong type:
    such a test is simply false."""
    if isinstance(node, All):
        return all(evaluate(item, context) for item in node.items)
    if isinstance(node, Any_):
        return any(evaluate(item, context) for item in node.items)
    if isinstance(node, Not):
        return not evaluate(node.item, context)
    value = lookup(context, node.field)
    op, want = node.op, node.value
    if op == "exists":
        return (value is not _MISSING and value is not None) is want
    if value is _MISSING:
        return op == "ne"
    if op == "eq":
        return _equal(value, want)
    if op == "ne":
        return not _equal(value, want)
    if op == "in":
        return any(_equal(value, w) for w in want)
    if op == "not_in":
        return not any(_equal(value, w) for w in want)
    if op in ("contains", "starts_with", "ends_with", "matches"):
        if isinstance(value, list) and op == "contains":
            return any(_equal(v, want) for v in value)
        if not isinstance(value, str):
            return False
        if op == "matches":
            assert node.pattern is not None
            return node.pattern.search(value) is not None
        text, needle = value.casefold(), want.casefold()
        if op == "contains":
            return needle in text
        return text.startswith(needle) if op == "starts_with" else text.endswith(needle)
    order = _compare(value, want)
    if order is None:
        return False
    return {"gt": order > 0, "gte": order >= 0, "lt": order < 0, "lte": order <= 0}[op]
