"""Two leads of one company qualified at the same time give one account (and one contact per
person), and a lead added while its contact is being created links to it; on PostgreSQL with
real concurrent connections (one thread each).

The deterministic test holds the first qualification's transaction open, starts the second on
its own connection, and waits until PostgreSQL reports that second backend either finished or
is waiting for a lock (pg_stat_activity); only then does the first commit. Without the
qualification locks (syncd.lifecycle.qualify) the second run does not wait: it sees no account
yet and creates its own (company-name match), or fails on the account-domain key. No sleeps and
no timing thresholds: the interleaving is forced, not hoped for. The last test releases four
threads at once on SQLite and PostgreSQL, the free-running version of the same race.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from lifecycle_helpers import count_rows, make_app
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from syncd.app import App
from syncd.crm import import_leads
from syncd.lifecycle.leads import upsert_lead
from syncd.lifecycle.qualify import QualifyResult, qualify_lead
from syncd.store import models as m
from syncd.store.db import session_scope

T = TypeVar("T")


@pytest.fixture
def pg_app(postgres_url: str) -> Iterator[App]:
    app = make_app(postgres_url)
    yield app
    app.close()


def _leads(app: App, people: list[tuple[str, str, str]]) -> list[int]:
    with session_scope(app.sessions) as s:
        out = []
        for email, name, company in people:
            lead, created = upsert_lead(s, email=email, first_name=name, company=company,
                                        source="test", policy=app.policy)
            assert created and isinstance(lead, m.Lead)
            out.append(lead.id)
        return out


def _blocked_or_done(app: App, pid: int, done: threading.Event) -> bool:
    """True once backend `pid` waits for a lock; False if its thread finished first. (The
    bound only keeps a broken run from hanging the suite; no outcome depends on time.)"""
    with app.sessions() as s:
        for _ in range(60_000):
            if done.wait(0.01):
                return False
            waiting = s.scalar(text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity "
                                    "WHERE pid = :pid"), {"pid": pid})
            s.rollback()  # a fresh snapshot of pg_stat_activity on the next poll
            if waiting:
                return True
    raise AssertionError("the second qualification neither finished nor waited for a lock")


def _interleave(app: App, first_id: int, second_id: int) -> tuple[QualifyResult,
                                                                 QualifyResult | BaseException]:
    """Qualify `first_id` and keep its transaction open while `second_id` is qualified on
    another connection; commit the first once the second has finished or is blocked."""
    first, second = _race(app, lambda s: qualify_lead(s, first_id, app.policy),
                          lambda s: qualify_lead(s, second_id, app.policy))
    assert isinstance(first, QualifyResult)
    return first, second


def _race(app: App, first_fn: Callable[[Session], T],
          second_fn: Callable[[Session], T]) -> tuple[T, T | BaseException]:
    """Run `first_fn` in a transaction kept open while `second_fn` runs in another one (its own
    connection); commit the first once the second has finished or waits for a lock."""
    second_pid: list[int] = []
    started, done = threading.Event(), threading.Event()
    outcome: list[T | BaseException] = []

    def second() -> None:
        try:
            with session_scope(app.sessions) as s:
                second_pid.append(int(s.scalar(text("SELECT pg_backend_pid()")) or 0))
                started.set()
                outcome.append(second_fn(s))
        except BaseException as exc:  # reported by the test, not lost in the thread
            outcome.append(exc)
        finally:
            started.set()
            done.set()

    with session_scope(app.sessions) as s:
        first = first_fn(s)
        thread = threading.Thread(target=second)
        thread.start()
        started.wait()
        assert second_pid, outcome
        _blocked_or_done(app, second_pid[0], done)
    thread.join()
    return first, outcome[0]


@pytest.mark.postgres
@pytest.mark.parametrize("emails", [
    # company-name match only (free mail): no unique key can catch the race
    ("anne.petit@gmail.com", "bruno.roy@gmail.com"),
    # domain match: the account_domains key would make the second run fail instead
    ("anne.petit@northwind.fr", "bruno.roy@northwind.fr"),
], ids=["by-company-name", "by-domain"])
def test_two_leads_of_one_company_qualified_at_once_share_one_account(
        pg_app: App, emails: tuple[str, str]) -> None:
    a, b = _leads(pg_app, [(emails[0], "Anne Petit", "Northwind SARL"),
                           (emails[1], "Bruno Roy", "Northwind")])
    first, second = _interleave(pg_app, a, b)
    assert isinstance(second, QualifyResult), repr(second)
    assert second.account_id == first.account_id
    assert (first.created["account"], second.created["account"]) == (True, False)
    with pg_app.sessions() as s:
        assert count_rows(s, m.Account) == 1
        assert count_rows(s, m.Contact) == 2
        assert count_rows(s, m.Opportunity) == 2
        assert set(s.scalars(select(m.Contact.account_id))) == {first.account_id}


@pytest.mark.postgres
def test_the_same_person_under_two_addresses_becomes_one_contact(pg_app: App) -> None:
    # Serially, the second lead finds the first's contact by name at the account and its
    # address becomes an alias; concurrently it must do the same, not make a second contact.
    a, b = _leads(pg_app, [("helene.dupre@fabrikam.com", "Hélène Dupré", "Fabrikam"),
                           ("helene.dupre@gmail.com", "Helene Dupre", "Fabrikam")])
    first, second = _interleave(pg_app, a, b)
    assert isinstance(second, QualifyResult), repr(second)
    assert (second.account_id, second.contact_id) == (first.account_id, first.contact_id)
    assert second.created == {"account": False, "contact": False, "opportunity": True}
    with pg_app.sessions() as s:
        live = s.scalars(select(m.Contact).where(m.Contact.merged_into_id.is_(None))).all()
        assert [c.id for c in live] == [first.contact_id]


@pytest.mark.postgres
def test_a_lead_added_while_its_contact_is_being_created_links_to_it(pg_app: App) -> None:
    # A form post for Hélène's other address arrives while her first lead is being qualified
    # (the contact it will match by name and company is not committed yet): it must wait and
    # link to that contact, not become a second lead for the same person.
    [lead_id] = _leads(pg_app, [("helene.dupre@fabrikam.com", "Hélène Dupré", "Fabrikam")])
    first, second = _race(
        pg_app, lambda s: qualify_lead(s, lead_id, pg_app.policy).contact_id,
        lambda s: upsert_lead(s, email="hdupre@fabrikam.com", first_name="Helene Dupre",
                              company="Fabrikam", policy=pg_app.policy)[0].id)
    assert second == first
    with pg_app.sessions() as s:
        assert count_rows(s, m.Lead) == 1


def test_many_leads_of_one_company_qualified_by_racing_threads(app: App) -> None:
    """Four threads, four leads of one company, released together (SQLite and PostgreSQL)."""
    people = [(f"p{i}@gmail.com", f"Person {i}", "Globex S.A.") for i in range(4)]
    ids = _leads(app, people)
    barrier = threading.Barrier(len(ids))
    results: list[QualifyResult | BaseException] = []

    def run(lead_id: int) -> None:
        try:
            with session_scope(app.sessions) as s:
                barrier.wait()
                results.append(qualify_lead(s, lead_id, app.policy))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, QualifyResult) for r in results), results
    with app.sessions() as s:
        assert count_rows(s, m.Account) == 1
        assert (count_rows(s, m.Contact), count_rows(s, m.Opportunity)) == (4, 4)


@pytest.mark.postgres
def test_a_csv_import_holds_no_lock_per_row(pg_app: App, tmp_path: Path) -> None:
    # Every new lead waits for the qualifications holding its keys. Holding those keys until
    # the import commits would leave ~4 advisory locks per row in PostgreSQL's shared lock
    # table (max_locks_per_transaction x max_connections, 6,400 by default): an import of
    # 12,000 rows in one transaction failed with "out of shared memory".
    rows = 300
    csv = tmp_path / "leads.csv"
    csv.write_text("email;name;company\n" + "".join(
        f"p{i}@company{i}.fr;Person Number{i};Company {i}\n" for i in range(rows)),
        encoding="utf-8")
    with session_scope(pg_app.sessions) as s:
        summary = import_leads(s, csv, pg_app.policy)
        held = s.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                             "AND pid = pg_backend_pid()"))
    assert (summary.created, summary.problems, held) == (rows, [], 0)
