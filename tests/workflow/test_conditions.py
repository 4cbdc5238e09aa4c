"""Declarative `when` conditions: parsing errors name the place; evaluation is total."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.workflows.conditions import ConditionError, evaluate, parse

CTX: dict[str, Any] = {
    "human": True, "url": "https://www.contoso.fr/Tarifs?x=1", "count": 3,
    "lead": {"status": "open", "email": "Jane@Fabrikam.test", "fields": {"pays": "France"}},
    "tags": ["vip", "fr"], "opened_at": "2026-05-02T10:00:00+00:00", "none": None,
}


@pytest.mark.parametrize(("cond", "expected"), [
    ({"field": "human", "eq": True}, True),
    ({"field": "human", "eq": "true"}, False),  # no coercion between bool and string
    ({"field": "lead.status", "eq": "OPEN"}, True),  # strings compare without case
    ({"field": "lead.status", "ne": "open"}, False),
    ({"field": "lead.missing", "ne": "open"}, True),
    ({"field": "lead.missing", "eq": "open"}, False),
    ({"field": "lead.fields.pays", "in": ["france", "belgique"]}, True),
    ({"field": "lead.fields.pays", "not_in": ["Suisse"]}, True),
    ({"field": "url", "contains": "/tarifs"}, True),
    ({"field": "url", "starts_with": "https://www.contoso.fr"}, True),
    ({"field": "lead.email", "ends_with": "@fabrikam.test"}, True),
    ({"field": "url", "matches": r"x=\d$"}, True),
    ({"field": "tags", "contains": "VIP"}, True),
    ({"field": "tags.1", "eq": "fr"}, True),
    ({"field": "tags.7", "exists": False}, True),
    ({"field": "count", "gt": 2}, True),
    ({"field": "count", "lte": 2}, False),
    ({"field": "count", "gt": "2"}, False),  # a number never compares with a string
    ({"field": "opened_at", "gte": "2026-05-01"}, True),
    ({"field": "none", "exists": False}, True),
    ({"field": "human", "exists": True}, True),
    ({"any": [{"field": "count", "eq": 9}, {"field": "human", "eq": True}]}, True),
    ({"all": [{"field": "count", "eq": 9}, {"field": "human", "eq": True}]}, False),
    ({"not": {"field": "count", "eq": 9}}, True),
    ([{"field": "human", "eq": True}, {"field": "count", "eq": 3}], True),
    (None, True),
])
def test_evaluate(cond: Any, expected: bool) -> None:
    assert evaluate(parse(cond), CTX) is expected


@pytest.mark.parametrize(("cond", "message"), [
    ({"field": "x"}, "when: exactly one operator"),
    ({"field": "x", "eq": 1, "ne": 2}, "when: exactly one operator"),
    ({"field": "x", "like": 1}, "when.like: unknown operator"),
    ({"field": "x; drop", "eq": 1}, "is not a dotted field name"),
    ({"field": "x", "in": "abc"}, "when.in: expected a list"),
    ({"field": "x", "matches": "("}, "not a valid regular expression"),
    ({"field": "x", "gt": [1]}, "expected a number"),
    ({"field": "x", "exists": "yes"}, "expected true or false"),
    ({"all": []}, "when.all: expected a non-empty list"),
    ([{"field": "x", "eq": 1}, {"foo": 1}], "when[1]: needs 'field'"),
    ("human == true", "expected a mapping"),
    ({"field": "__class__.__init__", "eq": 1}, None),  # a name, never evaluated as code
])
def test_parse_errors(cond: Any, message: str | None) -> None:
    if message is None:
        assert evaluate(parse(cond), CTX) is False
        return
    with pytest.raises(ConditionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(cond)


values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=10), st.lists(st.text(max_size=3), max_size=3))
OPS = ["eq", "ne", "contains", "starts_with", "gt", "lte", "exists", "in"]


@given(value=values, op=st.sampled_from(OPS), want=values)
def test_never_raises_and_not_inverts(value: Any, op: str, want: Any) -> None:
    try:
        node = parse({"field": "v", op: want})
    except ConditionError:
        return
    got = evaluate(node, {"v": value})
    assert isinstance(got, bool)
    assert evaluate(parse({"not": {"field": "v", op: want}}), {"v": value}) is (not got)


@given(value=st.one_of(st.booleans(), st.integers(), st.text(max_size=20)))
def test_eq_is_reflexive(value: Any) -> None:
    assert evaluate(parse({"field": "v", "eq": value}), {"v": value})
