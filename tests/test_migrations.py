"""Migrations and models agree, and upgrades keep data, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from syncd.store.db import alembic_config, current_revision, head_revision, make_engine, upgrade
from syncd.store.models import all_models


def test_migrations_produce_exactly_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), all_models())
        assert diff == []
    finally:
        engine.dispose()


def test_upgrade_from_the_first_revision_keeps_rows(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0001")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO streams (connector, key, round_complete, phase, resync_count, "
                "items_total) VALUES ('files', 'k', false, 'incremental', 0, 7)"))
        before, after = upgrade(engine)
        assert (before, after) == ("0001", head_revision(engine))
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT items_total, consecutive_failures FROM streams")).one()
        assert tuple(row) == (7, 0)
        assert current_revision(engine) == head_revision(engine)
        command.downgrade(alembic_config(engine), "base")
        assert current_revision(engine) is None
    finally:
        engine.dispose()
