"""Engine creation, session scopes and schema migrations.

SESSION SCOPES: a session is held only around reads and writes, never across a network call
(a connector page is fetched first, then written in one short transaction).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic (with Mako and Pygments behind it) costs ~50 ms to import, a sixth of a `syncd
# who-knows` process: it is imported only to migrate or to inspect migrations, never when the
# schema is already current (issue 5, start-up time).
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "alembic_version"  # alembic's default; migrations/env.py does not change it


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
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the schema to the newest revision; returns (before, after)."""
    before = current_revision(engine)
    after = head_revision(engine)
    if before != after:
        from alembic import command

        command.upgrade(alembic_config(engine), "head")
    return before, after


# `revision = '0009'` / `down_revision = '0008'` (optionally annotated) in a migration file.
_REVISION_LINE = re.compile(
    r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:'([^'\n]*)'|\"([^\"\n]*)\"|(None))\s*$",
    re.MULTILINE)


def head_from_files(versions: Path = MIGRATIONS_DIR / "versions") -> str | None:
    """The newest revision, read from the migration files' `revision` and `down_revision`
    lines without importing alembic. None whenever the answer is not plain (no migration, a
    line that is not a quoted string or None, a merge tuple, branches, several heads): the
    caller then asks alembic. tests/test_cli_lazy.py checks it against alembic's head."""
    parents: dict[str, str | None] = {}
    for path in versions.glob("*.py"):
        found: dict[str, str | None] = {}
        for m in _REVISION_LINE.finditer(path.read_text(encoding="utf-8")):
            found[m.group(1)] = None if m.group(4) else (m.group(2) or m.group(3) or "")
        if "revision" not in found or "down_revision" not in found or not found["revision"]:
            return None
        parents[found["revision"] or ""] = found["down_revision"]
    heads = set(parents) - {p for p in parents.values() if p is not None}
    return heads.pop() if len(heads) == 1 else None


def stored_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions recorded in the version table (empty if there is none), read with one
    SELECT instead of alembic's MigrationContext."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return ()
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return tuple(row[0] for row in rows)


def ensure_schema(engine: Engine) -> None:
    """Automatic upgrade at start: cheap when the schema is current (one SELECT, and the
    migration files read as text). Anything else (an older or unknown revision, no version
    table, several heads) is left to alembic, as `syncd db upgrade` would."""
    head = head_from_files()
    if head is not None and stored_revisions(engine) == (head,):
        return
    if current_revision(engine) != head_revision(engine):
        upgrade(engine)
