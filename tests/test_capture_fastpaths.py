"""The shortcuts taken for throughput (issues 2 and 3) keep the slow paths' results.

- `graph_time` (Graph DateTimeOffset without the RFC 5322 attempt) equals `parse_date`;
- bulk writes and reads on SQLite go to the sqlite3 cursor, but still raise SQLAlchemy's
  errors, still run inside the session's transaction, and go back through SQLAlchemy when
  something listens to cursor events (the service's statement timer);
- `row_params` converts exactly the datetime and JSON columns;
- the memoised decision text is what the JSON column stores for the decision's dict.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.msgraph.mail import graph_time
from connectors.normalize import parse_date
from syncd.capture import T_INTERACTION, T_PARTICIPANT, decision_text
from syncd.policy import Decision
from syncd.store import models as m
from syncd.store.bulk import insert_rows, insert_tuples, row_params, select_in, update_rows
from syncd.store.db import ensure_schema, make_engine, session_factory, session_scope

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31)))
def test_graph_time_equals_parse_date_on_graph_timestamps(moment: datetime) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert graph_time(text) == parse_date(text)
    if graph_time(text) is not None:
        assert graph_time(text).utcoffset() == timedelta(0)  # type: ignore[union-attr]


@given(st.text(max_size=30) | st.from_regex(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z"))
def test_graph_time_equals_parse_date_on_any_text(text: str) -> None:
    assert graph_time(text) == parse_date(text)


def test_graph_time_out_of_range_and_invalid() -> None:
    for text in ("1969-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "2024-02-30T10:00:00Z",
                 "2024-13-01T10:00:00Z", "", None, 5):
        assert graph_time(text) == parse_date(text)  # type: ignore[arg-type]


@pytest.fixture
def sessions(sqlite_url: str) -> Any:
    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    yield session_factory(engine)
    engine.dispose()


def _interaction_row(key: str) -> dict[str, Any]:
    return {"natural_key": key, "fingerprint": None, "kind": "email", "occurred_at": T0,
            "ended_at": None, "subject": key, "thread_key": key, "in_reply_to": None,
            "direction": "inbound", "is_private": False, "is_automated": False,
            "is_cancelled": False, "version": 0, "participant_count": 0, "captured": False,
            "decision": {"reasons": ["r"], "links": []}, "created_at": T0}


def test_bulk_statements_stay_in_the_session_transaction(sessions: Any) -> None:
    with pytest.raises(RuntimeError), session_scope(sessions) as s:
        insert_rows(s, T_INTERACTION, [_interaction_row("a"), _interaction_row("b")])
        assert len(select_in(s, "SELECT id FROM interactions WHERE natural_key IN ({in})",
                             ["a", "b"])) == 2
        raise RuntimeError("roll back")
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).select_from(m.Interaction)) == 0


def test_bulk_errors_are_sqlalchemy_errors(sessions: Any) -> None:
    with session_scope(sessions) as s:
        insert_rows(s, T_INTERACTION, [_interaction_row("a")])
        iid = select_in(s, "SELECT id FROM interactions WHERE natural_key IN ({in})", ["a"])[0][0]
        person = m.Person(email="x@example.com", name="", domain="example.com",
                          is_internal=False, is_automated=False, is_unresolved=False,
                          forgotten=False, first_seen=T0, last_seen=T0)
        s.add(person)
        s.flush()
        insert_tuples(s, T_PARTICIPANT, ("interaction_id", "person_id", "role", "response"),
                      [(iid, person.id, "to", None)])
        with pytest.raises(IntegrityError) as caught:  # no ON CONFLICT: a duplicate key
            insert_tuples(s, T_PARTICIPANT, ("interaction_id", "person_id", "role", "response"),
                          [(iid, person.id, "to", None)])
        assert caught.value.orig is not None
        with pytest.raises(IntegrityError):  # also through UPDATE ... executemany
            update_rows(s, T_INTERACTION, ("id",), [{"natural_key": None, "id": iid}])
        s.rollback()


def test_cursor_listeners_still_see_bulk_statements(sessions: Any) -> None:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split()[0])

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", before)
    try:
        with session_scope(sessions) as s:
            insert_rows(s, T_INTERACTION, [_interaction_row("a")])
            select_in(s, "SELECT id FROM interactions WHERE natural_key IN ({in})", ["a"])
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert "INSERT" in seen and "SELECT" in seen


def test_row_params_converts_datetimes_and_json_only() -> None:
    rows = [_interaction_row("a"), _interaction_row("b")]
    columns = ("natural_key", "occurred_at", "decision", "version")
    got = row_params("sqlite", T_INTERACTION, columns, rows)
    assert got == [(key, "2026-03-02 09:30:00.000000", '{"reasons": ["r"], "links": []}', 0)
                   for key in ("a", "b")]
    assert row_params("sqlite", T_INTERACTION, ("natural_key",), rows) == [("a",), ("b",)]
    assert row_params("sqlite", T_INTERACTION, ("created_at",), rows[:1]) == [
        ("2026-03-02 09:30:00.000000",)]
    assert row_params("postgresql", T_INTERACTION, ("occurred_at", "version"), rows[:1]) == [
        (T0, 0)]


def test_decision_text_is_the_json_columns_text(sessions: Any) -> None:
    decision = Decision(True, ("a's domain belongs to account #3", "é"), (("account", 3),))
    memo: dict[Decision, str] = {}
    assert decision_text(decision, memo) == json.dumps(decision.as_json())
    assert decision_text(decision, memo) is memo[decision]
    with Session(sessions.kw["bind"]) as s:  # the ORM reads the text back as the dict
        insert_rows(s, T_INTERACTION, [{**_interaction_row("a"),
                                         "decision": decision_text(decision, memo)}])
        stored = s.scalars(select(m.Interaction.decision)).one()
        assert stored == decision.as_json()
