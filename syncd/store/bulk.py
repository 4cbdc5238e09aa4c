"""Set-oriented writes for the capture hot path, straight to the DBAPI's executemany.

Why not SQLAlchemy Core here: on an import of the Enron corpus, SQLAlchemy's per-row parameter
processing (type processors, construct_params) cost three times what SQLite itself spent on
the same executemany. These few statements are generated once per table from the models'
metadata, so column names stay checked against the schema; values are converted here for the
two dialects we support (SQLite and PostgreSQL via psycopg 3).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Table
from sqlalchemy.exc import DBAPIError
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
    # Values are picked with one C-level itemgetter per row; only the datetime/JSON positions
    # then go through Python (a generator over every value of every row showed in profiles).
    pick = itemgetter(*columns)
    picked: list[tuple[Any, ...]] = (
        [(pick(row),) for row in rows] if len(columns) == 1 else list(map(pick, rows)))
    positions = [i for i, s in enumerate(slow) if s]
    if not positions:
        return picked
    memo: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        if value is None or isinstance(value, dict | list):
            return convert(value)
        out = memo.get(value)
        if out is None:
            out = memo[value] = convert(value)
        return out

    converted: list[tuple[Any, ...]] = []
    for values in picked:
        row = list(values)
        for i in positions:
            row[i] = cached(row[i])
        converted.append(tuple(row))
    return converted


def _raw_cursor(conn: Connection) -> Any | None:
    """The sqlite3 cursor under `conn`, or None: go through SQLAlchemy.

    Why: for these driver-level statements SQLAlchemy adds nothing but its result wrapping
    (cursor metadata, Row objects), which cost about 8 % of capture's CPU on a Graph sync. The
    shortcut is taken only on SQLite, inside the session's transaction (the caller got `conn`
    from ``session.connection()``, which has begun it), and only when nothing listens to
    cursor events (the service's statement timer, syncd.service.metrics). PostgreSQL keeps
    SQLAlchemy's path: its deadlock retry and disconnect handling depend on it.
    """
    if conn.dialect.name != "sqlite":
        return None
    dispatch = conn.dispatch
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return None
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


@contextmanager
def _as_sqlalchemy_errors(conn: Connection, statement: str, params: Any) -> Iterator[None]:
    """Raise DBAPI errors of the raw path as SQLAlchemy would (DBAPIError subclasses with
    ``.orig``), so callers catching SQLAlchemyError see no difference."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as exc:
        raise DBAPIError.instance(statement, params, exc, dbapi_error,
                                  dialect=conn.dialect) from exc


def _executemany(conn: Connection, sql: str, params: list[Any]) -> None:
    cursor = _raw_cursor(conn)
    if cursor is None:
        conn.exec_driver_sql(sql, params)
        return
    with _as_sqlalchemy_errors(conn, sql, params):
        try:
            cursor.executemany(sql, params)
        finally:
            cursor.close()


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
    _executemany(conn, _sql(dialect, table.name, columns, tuple(conflict), tuple(update)),
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
    _executemany(conn, _sql(conn.dialect.name, table.name, columns, tuple(conflict), ()),
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
    _executemany(conn, sql, row_params(dialect, table, (*columns, *key), rows))


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
    cursor = _raw_cursor(conn)
    try:
        for i in range(0, len(values), chunk):
            part = values[i:i + chunk]
            text = sql.format(p=mark, **{"in": ", ".join([mark] * len(part))})
            bound = (*params, *part)
            if cursor is None:
                out.extend(tuple(r) for r in conn.exec_driver_sql(text, bound).fetchall())
            else:
                with _as_sqlalchemy_errors(conn, text, bound):
                    cursor.execute(text, bound)
                    out.extend(cursor.fetchall())  # sqlite3 rows are tuples already
    finally:
        if cursor is not None:
            cursor.close()
    return out
