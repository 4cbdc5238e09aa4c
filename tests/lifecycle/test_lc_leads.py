"""Leads from the CLI API and forms: a second submission never duplicates a lead or a contact."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lifecycle_helpers import count_rows, events
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.app import App
from syncd.capture import ensure_persons
from syncd.crm import import_leads
from syncd.lifecycle import LifecycleError
from syncd.lifecycle.leads import upsert_lead
from syncd.store import models as m
from syncd.store.db import session_scope


def test_second_submission_with_another_spelling_finds_the_first_lead(
        app: App, session: Session) -> None:
    lead, created = upsert_lead(session, email="Jeanne.Dupre@Fabrikam.com ", first_name="Jeanne",
                                last_name="Dupré", company="", phone="", source="form",
                                fields={"message": "Rappelez-moi"}, policy=app.policy)
    assert created and isinstance(lead, m.Lead)
    assert (lead.name, lead.source, lead.status) == ("Jeanne Dupré", "form", "open")
    again, created = upsert_lead(session, email="<jeanne.dupre@fabrikam.com>", first_name="J.",
                                 company="Fabrikam", phone="06 12 34 56 78", source="form",
                                 fields={"budget": "20k"}, policy=app.policy)
    assert (again.id, created) == (lead.id, False)
    assert isinstance(again, m.Lead)
    assert (again.name, again.company, again.phone) == ("Jeanne Dupré", "Fabrikam",
                                                        "06 12 34 56 78")
    assert again.fields == {"message": "Rappelez-moi", "budget": "20k"}
    assert count_rows(session, m.Lead) == 1
    assert events(session, "lead.created") == [
        {"lead_id": lead.id, "email": "jeanne.dupre@fabrikam.com", "source": "form"}]


def test_an_address_that_is_a_contact_returns_the_contact(app: App, session: Session) -> None:
    ids, _ = ensure_persons(session, {"paul@fabrikam.com": "Paul"}, app.policy,
                            datetime.now(UTC))
    contact = m.Contact(person_id=ids["paul@fabrikam.com"], name="", created_at=datetime.now(UTC))
    session.add(contact)
    session.flush()
    record, created = upsert_lead(session, email="PAUL@fabrikam.com", first_name="Paul",
                                  last_name="Durand", policy=app.policy)
    assert (record, created) == (contact, False)
    assert contact.name == "Paul Durand"
    assert count_rows(session, m.Lead) == 0 and events(session, "lead.created") == []


def test_owner_and_address_are_checked(app: App, session: Session) -> None:
    with pytest.raises(LifecycleError, match="not an email address"):
        upsert_lead(session, email="jeanne at fabrikam", policy=app.policy)
    with pytest.raises(LifecycleError, match="not a known user"):
        upsert_lead(session, email="jeanne@fabrikam.com", owner="nobody@contoso.fr",
                    policy=app.policy)
    ids, _ = ensure_persons(session, {"alice@contoso.fr": "Alice"}, app.policy,
                            datetime.now(UTC))
    user = m.User(person_id=ids["alice@contoso.fr"], display_name="Alice")
    session.add(user)
    session.flush()
    lead, _ = upsert_lead(session, email="jeanne@fabrikam.com", owner="Alice@Contoso.fr",
                          policy=app.policy)
    assert isinstance(lead, m.Lead) and lead.owner_user_id == user.id


def test_works_without_a_policy_for_callers_that_have_none(session: Session) -> None:
    lead, created = upsert_lead(session, email="x@northwind.fr")
    assert created and isinstance(lead, m.Lead)


def test_csv_import_emits_lead_created_with_the_address(app: App, session: Session,
                                                        tmp_path: Path) -> None:
    csv = tmp_path / "leads.csv"
    csv.write_text("Courriel;Nom\nJeanne.Dupre@Fabrikam.com;Jeanne Dupré\n", encoding="utf-8")
    assert import_leads(session, csv, app.policy).created == 1
    lead_id = session.scalars(select(m.Lead.id)).one()
    assert events(session, "lead.created") == [
        {"lead_id": lead_id, "email": "jeanne.dupre@fabrikam.com", "source": "import"}]


def test_simultaneous_submissions_make_one_lead(app: App) -> None:
    # The person exists already (seen in mail): nothing but the row lock serialises the posts.
    with session_scope(app.sessions) as s:
        ensure_persons(s, {"rush@northwind.fr": "Rush"}, app.policy, datetime.now(UTC))
    barrier = threading.Barrier(4)
    created: list[bool] = []

    def submit() -> None:
        with session_scope(app.sessions) as s:
            barrier.wait()
            _, made = upsert_lead(s, email="rush@northwind.fr", first_name="Rush",
                                  policy=app.policy)
            created.append(made)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(created) == [False, False, False, True]
    with app.sessions() as s:
        assert count_rows(s, m.Lead) == 1
