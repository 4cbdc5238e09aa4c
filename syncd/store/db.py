"""Engine creation, session scopes and schema migrations.

SESSION SCOPES: a session is held only around reads and writes, never across a network call
(a connector page is fetched first, then written in one short transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be used as configured (unreachable, locked by another writer...)."""


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite files get WAL and foreign keys, and their folder is created."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    elif parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # A bare postgresql:// URL would pick psycopg2, which we do not ship.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    # pysqlite's own transaction handling is disabled so that BEGIN IMMEDIATE below takes the
    # write lock at the start of a transaction: two writers then queue instead of deadlocking
    # on lock upgrade (https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 64 MB of page cache instead of 2 MB: capture probes the persons, interactions, sightings
    # and ties indexes for every page; with the default they were re-read from the OS on each.
    cur.execute("PRAGMA cache_size=-65536")
    # Checkpoint the WAL every ~80 MB instead of every 4 MB: an import of 40,000 messages spent
    # a tenth of its time in checkpoints at the default. Readers are unaffected.
    cur.execute("PRAGMA wal_autocheckpoint=20000")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to the newest revision; returns (before, after)."""
    before = current_revision(engine)
    after = head_revision(engine)
    if before != after:
        command.upgrade(alembic_config(engine), "head")
    return before, after


def ensure_schema(engine: Engine) -> None:
    """Automatic upgrade at start: cheap when the schema is current (one SELECT)."""
    if current_revision(engine) != head_revision(engine):
        upgrade(engine)
