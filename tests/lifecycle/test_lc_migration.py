"""Migration 0008 on a store that already holds leads and opportunities (SQLite, PostgreSQL)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from syncd.store.db import alembic_config, make_engine, upgrade


def test_upgrade_keeps_leads_and_opportunities_and_fills_defaults(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0007")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO persons (id, email, name, domain, is_internal, is_automated, "
                "is_unresolved, forgotten) VALUES (1, 'a@b.fr', 'A', 'b.fr', false, false, "
                "false, false)"))
            conn.execute(text(
                "INSERT INTO leads (id, person_id, name, company, title, phone, source, status, "
                "created_at) VALUES (1, 1, 'A', 'B', '', '', 'import', 'open', "
                "'2026-01-01 00:00:00+00:00')"))
            conn.execute(text(
                "INSERT INTO accounts (id, name, normalized_name, industry, city, created_at) "
                "VALUES (1, 'B', 'b', '', '', '2026-01-01 00:00:00+00:00')"))
            conn.execute(text(
                "INSERT INTO account_domains (domain, account_id) VALUES ('b.fr', 1)"))
            conn.execute(text(
                "INSERT INTO contacts (id, person_id, account_id, name, title, phone, origin, "
                "created_at) VALUES (1, 1, 1, 'A', '', '', 'import', '2026-01-01 00:00:00+00:00')"))
            conn.execute(text(
                "INSERT INTO opportunities (id, name, lead_id, account_id, contact_id, stage, "
                "created_at) VALUES (1, 'Deal', 1, 1, 1, 'develop', '2026-01-01 00:00:00+00:00')"))
        upgrade(engine)
        with engine.connect() as conn:
            lead = conn.execute(text("SELECT status, fields, merged_into_id FROM leads")).one()
            opp = conn.execute(text("SELECT stage, status, estimated_budget FROM opportunities"
                                    )).one()
        assert lead[0] == "open" and lead[1] in ({}, "{}") and lead[2] is None
        assert tuple(opp) == ("develop", "open", None)
        # SQLite copies tables to drop columns: nothing may cascade away (account_domains)
        command.downgrade(alembic_config(engine), "0007")
        with engine.connect() as conn:
            for table in ("leads", "accounts", "account_domains", "contacts", "opportunities"):
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1, table
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
