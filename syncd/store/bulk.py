"""Set-oriented writes for the capture hot path, straight to the DBAPI's executemany.

Why not SQLAlchemy Core here: on an import of the Enron corpus, SQLAlchemy's per-row parameter
processing (type processors, construct_params) cost three times what SQLite itself spent on
the same executemany. These few statements are generated once per table from the models'
metadata, so column names stay checked against the schema; values are converted here for the
two dialects we support (SQLite and PostgreSQL via psycopg 3).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, DateTime, Table
from sqlalchemy.orm import Session


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLAlchemy's SQLite DATETIME storage format, in UTC (UTCDateTime reads it back
        # aware). isoformat is several times faster than strftime and gives the same text.
        text = value.isoformat(" ", "microseconds")
        if text.endswith("+00:00"):
            return text[:-6]
        if len(text) == 26:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).isoformat(" ", "microseconds")[:-6]
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _pg_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)  # psycopg sends str as 'unknown': PostgreSQL casts to json
    return value


def datetime_converter(dialect: str) -> Callable[[datetime], Any]:
    """A converter for one batch, remembering values it has seen (a page's messages share a
    handful of timestamps across thousands of rows)."""
    convert = _sqlite_value if dialect == "sqlite" else _pg_value
    memo: dict[datetime, Any] = {}

    def cached(value: datetime) -> Any:
        out = memo.get(value)
        if out is None:
            out = memo[value] = convert(value)
        return out

    return cached


def _needs_conversion(table: Table, column: str) -> bool:
    type_ = table.c[column].type
    python_type = getattr(type_, "impl", type_)
    return isinstance(python_type, (DateTime, JSON))


def row_params(dialect: str, table: Table, columns: Sequence[str],
               rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as tuples; only datetime and JSON columns pay for a conversion, and a value seen
    before in the same batch (the page's `now`, a message's time on all its ties) is converted
    once."""
    convert = _sqlite_value if dialect == "sqlite" else _pg_value
    slow = [_needs_conversion(table, c) for c in columns]
    if not any(slow):
        return [tuple(row[c] for c in columns) for row in rows]
    memo: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        if value is None or isinstance(value, dict | list):
            return convert(value)
        out = memo.get(value)
        if out is None:
            out = memo[value] = convert(value)
        return out

    pairs = list(zip(columns, slow, strict=True))
    return [tuple(cached(row[c]) if s else row[c] for c, s in pairs) for row in rows]


@lru_cache(maxsize=128)
def _sql(dialect: str, table: str, columns: tuple[str, ...], conflict: tuple[str, ...],
         update: tuple[str, ...]) -> str:
    mark = "?" if dialect == "sqlite" else "%s"
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) "
        if update:
            sql += "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)
        else:
            sql += "DO NOTHING"
    return sql


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
) -> None:
    """INSERT many rows (all with the same keys); ON CONFLICT DO NOTHING / DO UPDATE SET.

    Raises ValueError for a naive datetime, as the ORM type does.
    """
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    columns = tuple(rows[0])
    unknown = set(columns) - set(table.c.keys())
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    conn.exec_driver_sql(_sql(dialect, table.name, columns, tuple(conflict), tuple(update)),
                         row_params(dialect, table, columns, rows))


def insert_tuples(
    session: Session,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    *,
    conflict: Sequence[str] = (),
) -> None:
    """INSERT rows given as tuples in `columns` order; for tables without datetime or JSON
    columns (participants), where even building dicts shows in profiles."""
    if not rows:
        return
    conn = session.connection()
    if any(_needs_conversion(table, c) for c in columns):
        raise TypeError(f"{table.name}: use insert_rows for datetime or JSON columns")
    conn.exec_driver_sql(_sql(conn.dialect.name, table.name, columns, tuple(conflict), ()),
                         list(rows))


def update_rows(
    session: Session, table: Table, key: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """UPDATE many rows by primary key `key`; every row has the same keys."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    mark = "?" if dialect == "sqlite" else "%s"
    columns = [c for c in rows[0] if c not in key]
    sql = (f"UPDATE {table.name} SET {', '.join(f'{c} = {mark}' for c in columns)} "
           f"WHERE {' AND '.join(f'{k} = {mark}' for k in key)}")
    conn.exec_driver_sql(sql, row_params(dialect, table, (*columns, *key), rows))


def select_in(session: Session, sql: str, values: Sequence[Any], *, chunk: int = 900,
              params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run `sql` (a SELECT whose last condition is `IN ({in})`) over `values` in chunks.

    For the capture hot path: binding thousands of addresses through SQLAlchemy's expanding
    parameters compiled a new statement per distinct list length. `params` are bound before
    the IN list; placeholders are written `{p}`.
    """
    if not values:
        return []
    conn = session.connection()
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(values), chunk):
        part = values[i:i + chunk]
        text = sql.format(p=mark, **{"in": ", ".join([mark] * len(part))})
        out.extend(tuple(r) for r in conn.exec_driver_sql(text, (*params, *part)).fetchall())
    return out
