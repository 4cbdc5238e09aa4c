"""Folding a page's tie evidence into the tie table, in the database, in one statement.

Each row handed in is the page's own aggregate for one pair (counts, first/last contact, and a
decayed score anchored at `score_at`). Two decayed sums merge exactly:

    at     = max(at_old, at_new)
    score  = old * 0.5^((at - at_old) / half_life) + new * 0.5^((at - at_new) / half_life)

so the upsert does it in SQL (`ON CONFLICT DO UPDATE`) instead of reading every pair back into
Python first. Besides being faster (reading the pairs back cost more than writing them), the
merge is atomic per row, so two workers folding into the same tie on PostgreSQL cannot lose an
update. Raw SQL for the same reason as `syncd.store.bulk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from syncd.store.bulk import datetime_converter

COUNT_COLUMNS = ("a_to_b", "b_to_a", "meetings", "calls", "co_recipient")
COLUMNS = ("person_a", "person_b", *COUNT_COLUMNS, "first_at", "last_at", "score", "score_at")


@lru_cache(maxsize=16)
def _merge_sql(dialect: str, half_life_days: float) -> str:
    if dialect == "sqlite":
        mark, least, greatest = "?", "min", "max"
        days = "(julianday({a}) - julianday({b}))"
    else:
        mark, least, greatest = "%s", "LEAST", "GREATEST"
        days = "(EXTRACT(EPOCH FROM ({a} - {b})) / 86400.0)"
    at = f"{greatest}(ties.score_at, excluded.score_at)"
    decay_old = f"power(0.5, {days.format(a=at, b='ties.score_at')} / {half_life_days!r})"
    decay_new = f"power(0.5, {days.format(a=at, b='excluded.score_at')} / {half_life_days!r})"
    sets = [f"{c} = ties.{c} + excluded.{c}" for c in COUNT_COLUMNS]
    sets += [
        f"first_at = {least}(ties.first_at, excluded.first_at)",
        f"last_at = {greatest}(ties.last_at, excluded.last_at)",
        f"score = ties.score * {decay_old} + excluded.score * {decay_new}",
        f"score_at = {at}",
    ]
    return (f"INSERT INTO ties ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(COLUMNS))}) "
            f"ON CONFLICT (person_a, person_b) DO UPDATE SET {', '.join(sets)}")


def merge_ties(session: Session, rows: Sequence[tuple[Any, ...]], half_life_days: float) -> None:
    """Add each row's evidence (a tuple in COLUMNS order; score_at is the latest contribution's
    time) to its pair, creating the pair when new."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    convert = datetime_converter(dialect)
    params = [(*r[:7], convert(r[7]), convert(r[8]), r[9], convert(r[10])) for r in rows]
    conn.exec_driver_sql(_merge_sql(dialect, float(half_life_days)), params)

