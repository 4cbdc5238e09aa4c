"""Migration 0005 keeps the ties a store already had, with their weight split into channels."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from syncd.store.db import alembic_config, make_engine, upgrade


def test_upgrade_keeps_old_ties_and_splits_their_weight(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0004")
        with engine.begin() as conn:
            for pid, email in ((1, "a@x.fr"), (2, "b@y.fr")):
                conn.execute(text(
                    "INSERT INTO persons (id, email, name, domain, is_internal, is_automated, "
                    "is_unresolved, forgotten) VALUES (:i, :e, '', 'x', false, false, false, "
                    "false)"), {"i": pid, "e": email})
            conn.execute(text(
                "INSERT INTO ties (person_a, person_b, a_to_b, b_to_a, meetings, calls, "
                "co_recipient, first_at, last_at, score, score_at) VALUES (1, 2, 3, 1, 0, 0, "
                "0, '2026-01-01 00:00:00', '2026-02-01 00:00:00', 4.0, "
                "'2026-02-01 00:00:00')"))
        upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT a_to_b, score, email_ab, email_ba, reply_ab, co_w, latency_ab_n "
                "FROM ties")).one()
        assert row[:2] == (3, 4.0)
        assert abs(row[2] + row[3] - 4.0) < 1e-9 and row[2] > row[3] > 0
        assert row[4:] == (0.0, 0.0, 0)
    finally:
        engine.dispose()
