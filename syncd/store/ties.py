"""Reading and writing tie rows in bulk, for the capture hot path.

Raw SQL for the same reason as `syncd.store.bulk`: loading a page's few thousand pairs through
a compiled `tuple_(...).in_(...)` spent more time naming bind parameters than SQLite spent
answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from syncd.store import models as m
from syncd.store.bulk import insert_rows

TIE_TABLE = cast(Table, m.Tie.__table__)
STATE_COLUMNS = ("a_to_b", "b_to_a", "meetings", "calls", "co_recipient", "first_at", "last_at",
                 "score", "score_at")
CHUNK = 400  # pairs per statement: two parameters each, well under SQLite's limit


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def load_ties(session: Session, pairs: Sequence[tuple[int, int]]
              ) -> dict[tuple[int, int], list[Any]]:
    """Current state of the given (low id, high id) pairs that exist, in STATE_COLUMNS order.

    On PostgreSQL the rows are locked (FOR UPDATE) so that two workers folding into the same
    tie serialise instead of losing an update.
    """
    conn = session.connection()
    dialect = conn.dialect.name
    mark = "?" if dialect == "sqlite" else "%s"
    lock = " FOR UPDATE" if dialect == "postgresql" else ""
    out: dict[tuple[int, int], list[Any]] = {}
    for i in range(0, len(pairs), CHUNK):
        part = pairs[i:i + CHUNK]
        values = ", ".join([f"({mark}, {mark})"] * len(part))
        sql = (f"SELECT person_a, person_b, {', '.join(STATE_COLUMNS)} FROM ties "
               f"WHERE (person_a, person_b) IN (VALUES {values}){lock}")
        params = tuple(x for pair in part for x in pair)
        for row in conn.exec_driver_sql(sql, params):
            state = list(row[2:])
            state[5], state[6], state[8] = _as_utc(state[5]), _as_utc(state[6]), \
                _as_utc(state[8])
            out[(row[0], row[1])] = state
    return out


def save_ties(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Upsert final tie states (computed by the caller from loaded state plus new evidence)."""
    insert_rows(session, TIE_TABLE, rows, conflict=("person_a", "person_b"),
                update=STATE_COLUMNS)
