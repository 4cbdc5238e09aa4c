"""Scale-out on the real PostgreSQL: three `syncd run` workers share 200 sandbox mailboxes by
lease; one is killed with -9 mid-sync; the others take its mailboxes over once its leases
expire; the store ends exactly at the sandbox's ground truth, and no mailbox was ever polled by
two workers at once (the sandbox records the highest number of requests in flight per
mailbox; one worker polls a mailbox's streams one after another, so 1 means one worker)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import (
    SyncdProcess,
    email_sightings,
    expected_sightings,
    wait_until,
    write_config,
)
from sqlalchemy import create_engine, text

from syncd.demo import generate
from syncd.sandbox import Sandbox

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
MAILBOXES = 200


@pytest.fixture
def tenant() -> Iterator[Sandbox]:
    company = generate(9, users=MAILBOXES, accounts=20, messages=800, events=10, calls=0)
    with Sandbox(seed=9) as box:
        box.seed_demo(company)
        # Every request takes a little while, so that two workers on one mailbox would
        # overlap in the sandbox's in-flight count instead of slipping between each other.
        box.faults.slow(15)
        yield box


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_three_workers_share_200_mailboxes_and_survive_a_kill_nine(
    tenant: Sandbox, postgres_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "syncd.toml", tenant, postgres_url,
                          service="lease_seconds = 5\nthreads = 4\n")
    workers = {name: SyncdProcess(config, "run", "--log-format", "json", "--worker-id", name)
               for name in ("w1", "w2", "w3")}
    try:
        # The three start together; the first migrates the empty database, the others wait.
        wait_until(lambda: bool(query(postgres_url, "SELECT 1 FROM pg_tables WHERE "
                                      "tablename = 'service_leases'")), 60, "the schema")
        wait_until(lambda: len(query(postgres_url, "SELECT DISTINCT last_run_by FROM "
                                     "service_leases WHERE last_run_by IS NOT NULL")) == 3,
                   120, "all three workers to complete some work")
        wait_until(lambda: bool(query(postgres_url, "SELECT 1 FROM service_leases "
                                      "WHERE owner = 'w2'")), 60, "w2 to hold a lease")
        workers["w2"].proc.send_signal(signal.SIGKILL)
        assert workers["w2"].finish() == -signal.SIGKILL
        orphaned = [u for (u,) in query(postgres_url,
                                        "SELECT unit FROM service_leases WHERE owner = 'w2'")]
        assert orphaned, "w2 died holding nothing: nothing to take over"

        expected = expected_sightings(tenant)
        wait_until(lambda: email_sightings(postgres_url) == expected, 150,
                   "the surviving workers to reach the ground truth")
        wait_until(lambda: not query(postgres_url, "SELECT 1 FROM service_leases WHERE "
                                     "owner = 'w2' OR last_run_by = 'w2'"), 60,
                   "w2's mailboxes to be polled again by the others")
        for name in ("w1", "w3"):
            workers[name].proc.send_signal(signal.SIGTERM)
        for name in ("w1", "w3"):
            assert workers[name].finish() == 0
    finally:
        for proc in workers.values():
            proc.kill()

    # Converged with no duplicate: the sorted lists are equal, repeats included.
    assert email_sightings(postgres_url) == expected
    assert len({owner for owner, _ in expected}) > MAILBOXES / 2
    dupes = query(postgres_url, "SELECT natural_key FROM interactions GROUP BY natural_key "
                  "HAVING count(*) > 1")
    assert dupes == []
    # Never two workers on one mailbox: every one of the 200 was polled, never 2 at once.
    in_flight = tenant.faults.max_in_flight
    assert len(in_flight) == MAILBOXES
    assert max(in_flight.values()) == 1, {mb: n for mb, n in in_flight.items() if n > 1}
    for name in ("w1", "w3"):
        assert any('"msg":"stopped"' in line for line in workers[name].log())
