"""Qualification without duplicates, and disqualification, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from lifecycle_helpers import count_rows, events, links, mail
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.app import App
from syncd.crm import upsert_account
from syncd.lifecycle import LifecycleError
from syncd.lifecycle.leads import upsert_lead
from syncd.lifecycle.merge import person_ids
from syncd.lifecycle.qualify import disqualify_lead, qualify_lead
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.store.models_lifecycle import OpportunityStageChange

REASONS = ("lost", "cannot contact", "no longer interested", "canceled")


def new_lead(app: App, s: Session, email: str, name: str = "Hélène Dupré",
             company: str = "Fabrikam") -> m.Lead:
    lead, created = upsert_lead(s, email=email, first_name=name, company=company,
                                phone="06 12 34 56 78", source="test", policy=app.policy)
    assert created and isinstance(lead, m.Lead)
    return lead


def test_existing_account_by_domain_gets_a_new_contact_and_the_activities(
        app: App, session: Session) -> None:
    acc, _ = upsert_account(session, "Fabrikam SAS", "fabrikam.com")
    lead = new_lead(app, session, "helene.dupre@fabrikam.com")
    session.commit()
    mail(app, "helene.dupre@fabrikam.com", ["alice@contoso.fr"])
    mail(app, "alice@contoso.fr", ["helene.dupre@fabrikam.com"], days=1)
    session.expire_all()
    lead_activities = links(session, "lead", lead.id)
    assert len(lead_activities) == 2

    result = qualify_lead(session, lead.id, app.policy)
    session.commit()

    assert result.account_id == acc.id
    assert result.created == {"account": False, "contact": True, "opportunity": True}
    assert result.activities_moved == 2
    contact = session.get_one(m.Contact, result.contact_id)
    assert (contact.account_id, contact.name, contact.origin) == (acc.id, "Hélène Dupré", "lead")
    assert contact.phone == "06 12 34 56 78"
    opp = session.get_one(m.Opportunity, result.opportunity_id)
    assert (opp.stage, opp.status, opp.account_id, opp.contact_id, opp.lead_id) == (
        "qualify", "open", acc.id, contact.id, lead.id)
    assert links(session, "lead", lead.id) == set()
    for target in (("contact", contact.id), ("account", acc.id), ("opportunity", opp.id)):
        assert links(session, *target) == lead_activities
    assert session.get_one(m.Lead, lead.id).status == "qualified"
    [qualified] = events(session, "lead.qualified")
    assert qualified == {"lead_id": lead.id, "email": "helene.dupre@fabrikam.com",
                         "account_id": acc.id, "contact_id": contact.id,
                         "opportunity_id": opp.id,
                         "created": {"account": False, "contact": True},
                         "activities_moved": 2}
    [created] = events(session, "opportunity.stage_changed")
    assert (created["from_stage"], created["to_stage"], created["status"]) == (
        None, "qualify", "open")


def test_existing_account_by_company_name_when_the_address_is_free_mail(
        app: App, session: Session) -> None:
    acc, _ = upsert_account(session, "Boulangeries Martin S.A.R.L.", "")
    lead = new_lead(app, session, "jm.martin@gmail.com", "Jean Martin",
                    company="boulangeries martin")
    result = qualify_lead(session, lead.id, app.policy)
    assert result.account_id == acc.id and not result.created["account"]
    # a free-mail domain is never attached to an account
    assert session.get(m.AccountDomain, "gmail.com") is None


def test_existing_contact_by_address_is_reused(app: App, session: Session) -> None:
    acc, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    lead = new_lead(app, session, "paul@fabrikam.com", "Paul Durand")
    contact = m.Contact(person_id=lead.person_id, account_id=None, name="",
                        created_at=lead.created_at)
    session.add(contact)
    session.flush()
    result = qualify_lead(session, lead.id, app.policy)
    assert result.contact_id == contact.id
    assert result.created == {"account": False, "contact": False, "opportunity": True}
    assert (contact.account_id, contact.name) == (acc.id, "Paul Durand")  # empty fields filled
    assert count_rows(session, m.Contact) == 1


def test_existing_contact_by_accent_folded_name_at_the_account(
        app: App, session: Session) -> None:
    acc, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    lead = new_lead(app, session, "helene.dupre@fabrikam.com", "Hélène Dupré")
    other, _ = upsert_lead(session, email="h.dupre@fabrikam.com", first_name="Helene",
                           last_name="Dupre", policy=app.policy)
    assert isinstance(other, m.Lead)
    contact = m.Contact(person_id=other.person_id, account_id=acc.id, name="Helene  DUPRE",
                        created_at=other.created_at)
    session.add(contact)
    session.flush()
    result = qualify_lead(session, lead.id, app.policy)
    assert result.contact_id == contact.id and not result.created["contact"]
    session.commit()
    assert person_ids(session, contact.id) == [other.person_id, lead.person_id]
    session.commit()
    # the lead's own address now reaches the contact it was matched to by name
    mail(app, "helene.dupre@fabrikam.com", ["alice@contoso.fr"], days=4)
    session.expire_all()
    assert len(links(session, "contact", contact.id)) == 1


def test_neither_account_nor_contact_creates_both_and_registers_the_domain(
        app: App, session: Session) -> None:
    lead = new_lead(app, session, "anne@northwind.fr", "Anne Petit", company="Northwind SARL")
    result = qualify_lead(session, lead.id, app.policy)
    assert result.created == {"account": True, "contact": True, "opportunity": True}
    acc = session.get_one(m.Account, result.account_id)
    assert (acc.name, acc.normalized_name) == ("Northwind SARL", "northwind")
    assert session.get_one(m.AccountDomain, "northwind.fr").account_id == acc.id
    assert session.get_one(m.Contact, result.contact_id).account_id == acc.id


def test_free_mail_without_company_gives_an_opportunity_on_the_contact_only(
        app: App, session: Session) -> None:
    lead = new_lead(app, session, "someone@gmail.com", "Some One", company="")
    result = qualify_lead(session, lead.id, app.policy)
    assert result.account_id is None and count_rows(session, m.Account) == 0
    assert session.get_one(m.Opportunity, result.opportunity_id).contact_id == result.contact_id


def test_qualifying_twice_creates_nothing(app: App, session: Session) -> None:
    lead = new_lead(app, session, "anne@northwind.fr", "Anne Petit", company="Northwind")
    first = qualify_lead(session, lead.id, app.policy)
    session.commit()
    before = {model: count_rows(session, model) for model in (
        m.Account, m.AccountDomain, m.Contact, m.Opportunity, m.Event, m.ActivityLink,
        OpportunityStageChange)}
    second = qualify_lead(session, lead.id, app.policy)
    session.commit()
    assert second.already_qualified
    assert (second.account_id, second.contact_id, second.opportunity_id) == (
        first.account_id, first.contact_id, first.opportunity_id)
    assert not any(second.created.values())
    assert before == {model: count_rows(session, model) for model in before}


def test_disqualify_checks_the_reason_and_emits_once(app: App, session: Session) -> None:
    lead = new_lead(app, session, "anne@northwind.fr")
    with pytest.raises(LifecycleError, match="cannot contact"):
        disqualify_lead(session, lead.id, "bof", REASONS)
    assert disqualify_lead(session, lead.id, "  Cannot   CONTACT ", REASONS)
    assert (lead.status, lead.status_reason) == ("disqualified", "cannot contact")
    assert not disqualify_lead(session, lead.id, "cannot contact", REASONS)
    assert events(session, "lead.disqualified") == [
        {"lead_id": lead.id, "email": "anne@northwind.fr", "reason": "cannot contact"}]
    with pytest.raises(LifecycleError, match="disqualified"):
        qualify_lead(session, lead.id, app.policy)
    with pytest.raises(LifecycleError, match="no lead #999"):
        disqualify_lead(session, 999, "lost", REASONS)


def test_a_qualified_lead_cannot_be_disqualified(app: App, session: Session) -> None:
    lead = new_lead(app, session, "anne@northwind.fr")
    qualify_lead(session, lead.id, app.policy)
    with pytest.raises(LifecycleError, match="already qualified"):
        disqualify_lead(session, lead.id, "lost", REASONS)


def test_mail_after_qualification_lands_on_the_contact(app: App, session: Session) -> None:
    lead = new_lead(app, session, "anne@northwind.fr", company="Northwind")
    result = qualify_lead(session, lead.id, app.policy)
    session.commit()
    mail(app, "anne@northwind.fr", ["alice@contoso.fr"], days=3)
    session.expire_all()
    assert len(links(session, "contact", result.contact_id)) == 1
    assert links(session, "lead", lead.id) == set()
    assert session.scalar(select(m.Lead.status).where(m.Lead.id == lead.id)) == "qualified"


def test_a_lead_auto_created_by_capture_qualifies_with_its_activities(db_url: str) -> None:
    from lifecycle_helpers import make_app

    app = make_app(db_url, auto_create="lead")
    try:
        mail(app, "claire.roux@globex.fr", ["alice@contoso.fr"])
        mail(app, "alice@contoso.fr", ["claire.roux@globex.fr"], days=1)
        with app.sessions() as s:
            lead = s.scalars(select(m.Lead)).one()
            assert (lead.source, lead.company) == ("auto-capture", "globex.fr")
            result = qualify_lead(s, lead.id, app.policy)
            s.commit()
            assert result.created == {"account": True, "contact": True, "opportunity": True}
            assert result.activities_moved == 2
            assert s.get_one(m.AccountDomain, "globex.fr").account_id == result.account_id
    finally:
        app.close()


def test_simultaneous_qualifications_open_one_opportunity(app: App) -> None:
    with session_scope(app.sessions) as s:
        lead = new_lead(app, s, "anne@northwind.fr", "Anne Petit", company="Northwind")
    barrier = threading.Barrier(3)
    outcomes: list[bool] = []

    def qualify() -> None:
        with session_scope(app.sessions) as s:
            barrier.wait()
            outcomes.append(qualify_lead(s, lead.id, app.policy).already_qualified)

    threads = [threading.Thread(target=qualify) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == [False, True, True]
    with app.sessions() as s:
        assert (count_rows(s, m.Opportunity), count_rows(s, m.Account),
                count_rows(s, m.Contact)) == (1, 1, 1)
