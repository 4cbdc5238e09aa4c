"""Leases on the real databases: exclusive claims (FOR UPDATE SKIP LOCKED on PostgreSQL),
expiry and takeover, heartbeat, release."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from syncd.service.leases import Leases, unit_name
from syncd.store.db import make_engine, session_factory, session_scope, upgrade
from syncd.store.models_service import ServiceLease


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def units(n: int) -> list[tuple[str, str]]:
    return [(unit_name("m365", f"user{i}@contoso.fr"), "mailbox") for i in range(n)]


def test_each_unit_goes_to_one_worker_and_is_released_with_its_due_time(engine: Engine) -> None:
    sessions = session_factory(engine)
    a, b = Leases(sessions, "a", 30), Leases(sessions, "b", 30)
    assert a.ensure("m365", units(10)) == 10
    assert b.ensure("m365", units(10)) == 0  # idempotent, whoever inserts
    got_a = a.claim(["m365"], 6)
    got_b = b.claim(["m365"], 6)
    assert len(got_a) == 6 and len(got_b) == 4
    assert not {c.unit for c in got_a} & {c.unit for c in got_b}
    assert b.claim(["m365"], 6) == []  # everything is held
    first = got_a[0].unit
    a.release(first, a.now() + timedelta(seconds=60), failures=2,
              error="boom")
    assert b.claim(["m365"], 6) == []  # released but not due yet
    with session_scope(sessions) as s:
        row = s.get_one(ServiceLease, first)
        assert (row.owner, row.failures, row.last_error, row.last_run_by) == (None, 2, "boom",
                                                                            "a")


def test_a_dead_workers_units_are_taken_over_after_expiry_not_before(engine: Engine) -> None:
    sessions = session_factory(engine)
    dead, alive = Leases(sessions, "dead", 3), Leases(sessions, "alive", 3)
    dead.ensure("m365", units(3))
    assert len(dead.claim(["m365"], 3)) == 3
    assert alive.claim(["m365"], 3) == []
    alive.renew()  # the live worker's heartbeat does not extend the dead one's leases
    assert alive.claim(["m365"], 3) == []
    time.sleep(3.2)  # lease_seconds=3 pass without a heartbeat from `dead`
    taken = alive.claim(["m365"], 3)
    assert len(taken) == 3
    assert dead.renew() == 0  # the old owner holds nothing any more


def test_heartbeat_keeps_leases_alive_and_release_all_frees_them(engine: Engine) -> None:
    sessions = session_factory(engine)
    a, b = Leases(sessions, "a", 3), Leases(sessions, "b", 3)
    a.ensure("m365", units(2))
    a.claim(["m365"], 2)
    for _ in range(3):
        time.sleep(1.2)
        assert a.renew() == 2
        assert b.claim(["m365"], 2) == []
    assert a.lease_valid()
    a.release_all()
    assert len(b.claim(["m365"], 2)) == 2


@pytest.mark.postgres
def test_concurrent_claims_never_share_a_unit_on_postgres(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    sessions = session_factory(engine)
    try:
        Leases(sessions, "setup", 60).ensure("m365", units(200))
        claimed: dict[str, list[str]] = {}
        barrier = threading.Barrier(6)

        def worker(name: str) -> None:
            leases = Leases(sessions, name, 60)
            barrier.wait()
            mine: list[str] = []
            while batch := leases.claim(["m365"], 7):
                mine.extend(c.unit for c in batch)
            claimed[name] = mine

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        everything = [u for mine in claimed.values() for u in mine]
        assert len(everything) == len(set(everything)) == 200
        with session_scope(sessions) as s:
            owners = {u: o for u, o in s.execute(select(ServiceLease.unit, ServiceLease.owner))}
        assert all(owners[u] == name for name, mine in claimed.items() for u in mine)
    finally:
        engine.dispose()
