"""A new lead is compared with the existing contacts (the Dynamics 365 lead-to-contact duplicate
rule): the same person at the same company links to the contact instead of making a lead."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from lifecycle_helpers import T0, count_rows, events, links, mail, make_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import Interaction, Kind, Page, Participant, Role
from syncd.app import App
from syncd.capture import ensure_persons
from syncd.cli import cli
from syncd.config import LifecycleConfig
from syncd.crm import import_leads, upsert_account
from syncd.forms.definitions import load_file
from syncd.forms.submit import submit
from syncd.lifecycle import LifecycleError
from syncd.lifecycle.duplicates import CONTACT_PREFIX, find
from syncd.lifecycle.leads import upsert_lead
from syncd.lifecycle.merge import person_ids
from syncd.lifecycle.qualify import qualify_lead
from syncd.runner import get_or_create_stream
from syncd.store import models as m
from syncd.store.db import session_scope

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def contact(app: App, s: Session, email: str, name: str, account_id: int | None) -> m.Contact:
    ids, _ = ensure_persons(s, {email: name}, app.policy, NOW)
    c = m.Contact(person_id=ids[email], name=name, account_id=account_id, created_at=NOW)
    s.add(c)
    s.flush()
    return c


def test_same_name_at_the_accounts_domain_links_the_new_address_to_the_contact(
        app: App, session: Session) -> None:
    acc, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    known = contact(app, session, "helene.dupre@fabrikam.com", "Hélène Dupré", acc.id)
    record, created = upsert_lead(session, email="h.dupre@fabrikam.com", first_name="Dupre",
                                  last_name="HELENE", phone="06 12 34 56 78", source="cli",
                                  policy=app.policy)
    assert (record, created) == (known, False)
    assert known.phone == "06 12 34 56 78"  # an empty field of the contact is filled in
    assert count_rows(session, m.Lead) == 0 and events(session, "lead.created") == []
    alias_pid = session.scalar(select(m.Person.id).where(
        m.Person.email == "h.dupre@fabrikam.com"))
    assert person_ids(session, known.id) == [known.person_id, alias_pid]
    # the next submission from the new address finds the contact by address
    again, created = upsert_lead(session, email="H.Dupre@fabrikam.com", policy=app.policy)
    assert (again, created) == (known, False)
    session.commit()
    mail(app, "h.dupre@fabrikam.com", ["alice@contoso.fr"])
    session.expire_all()
    assert len(links(session, "contact", known.id)) == 1


def test_same_name_and_company_name_from_a_free_mail_address(app: App,
                                                              session: Session) -> None:
    acc, _ = upsert_account(session, "Boulangeries Martin S.A.R.L.", "martin-boulangeries.fr")
    known = contact(app, session, "jean@martin-boulangeries.fr", "Jean Martin", acc.id)
    record, created = upsert_lead(session, email="jean.martin@gmail.com", first_name="Jean",
                                  last_name="Martin", company="boulangeries martin",
                                  policy=app.policy)
    assert (record, created) == (known, False)


def test_weaker_evidence_still_creates_the_lead(app: App, session: Session) -> None:
    fab, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    contact(app, session, "helene.dupre@fabrikam.com", "Hélène Dupré", fab.id)
    contact(app, session, "paul@fabrikam.com", "Paul Durand", fab.id)
    contact(app, session, "p.durand@fabrikam.com", "Paul Durand", fab.id)
    cases = [
        # same name, another company (and free mail, so no domain either)
        dict(email="helene.dupre@gmail.com", first_name="Hélène Dupré", company="Contoso"),
        # one word of a name
        dict(email="helene@fabrikam.com", first_name="Hélène"),
        # a similar but different name
        dict(email="helena.dupre@fabrikam.com", first_name="Helena Dupré"),
        # two contacts of that name: ambiguous, left to a person
        dict(email="pdurand@fabrikam.com", first_name="Paul Durand"),
    ]
    for case in cases:
        record, created = upsert_lead(session, policy=app.policy, **case)
        assert created and isinstance(record, m.Lead), case
    assert count_rows(session, m.Lead) == len(cases)


def test_csv_import_and_forms_apply_the_same_rule(app: App, session: Session,
                                                  tmp_path: Path) -> None:
    acc, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    known = contact(app, session, "helene.dupre@fabrikam.com", "Hélène Dupré", acc.id)
    csv = tmp_path / "leads.csv"
    csv.write_text("Courriel;Nom;Société\nhdupre@fabrikam.com;Helene Dupre;Fabrikam\n"
                   "anne@northwind.fr;Anne Petit;Northwind\n", encoding="utf-8")
    summary = import_leads(session, csv, app.policy)
    assert (summary.created, summary.unchanged) == (1, 1)
    assert [lead.name for lead in session.scalars(select(m.Lead))] == ["Anne Petit"]
    (tmp_path / "demo.yaml").write_text(
        "title: Demo\nfields:\n"
        "  - {name: email, label: E-mail, type: email, required: true, maps_to: email}\n"
        "  - {name: nom, label: Nom, required: true, maps_to: name}\n"
        "  - {name: societe, label: Societe, maps_to: company}\n", encoding="utf-8")
    form, problems = load_file(tmp_path / "demo.yaml")
    assert form is not None, problems
    done = submit(session, form, {"email": "helene.d@gmail.com", "nom": "Dupré Hélène",
                                  "societe": "FABRIKAM"}, "human", app.policy, NOW)
    assert (done.contact_id, done.lead_id, done.lead_created) == (known.id, None, False)
    assert count_rows(session, m.Lead) == 1


def test_duplicates_leads_reports_leads_that_resemble_a_contact(app: App,
                                                               session: Session) -> None:
    acc, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    known = contact(app, session, "helene.dupre@fabrikam.com", "Hélène Dupré", acc.id)
    known.phone = "06 12 34 56 78"
    contact(app, session, "paul@northwind.fr", "Paul Durand", None)
    # another company on the form, so no automatic link: the same mobile number says it is her
    lead, created = upsert_lead(session, email="helene.d@gmail.com", first_name="Helene Dupre",
                                company="Contoso", phone="+33 6 12 34 56 78",
                                policy=app.policy)
    assert created and isinstance(lead, m.Lead)
    other, _ = upsert_lead(session, email="anne@northwind.fr", first_name="Anne Petit",
                           policy=app.policy)
    found, records = find(session, "leads", app.policy, LifecycleConfig())
    assert [(c.a, c.b) for c in found] == [(lead.id, f"{CONTACT_PREFIX}{known.id}")]
    assert "same phone +33612345678" in found[0].reasons
    assert records[found[0].b].email == "helene.dupre@fabrikam.com"
    # qualifying onto the contact it resembles resolves the pair
    result = qualify_lead(session, lead.id, app.policy, contact_id=known.id)
    assert (result.contact_id, result.account_id) == (known.id, acc.id)
    assert result.created == {"account": False, "contact": False, "opportunity": True}
    assert person_ids(session, known.id)[-1] == lead.person_id
    assert find(session, "leads", app.policy, LifecycleConfig())[0] == []
    assert other.status == "open"


def test_qualify_onto_a_contact_refuses_an_address_that_is_another_contact(
        app: App, session: Session) -> None:
    a = contact(app, session, "a@fabrikam.com", "Anne Petit", None)
    lead, _ = upsert_lead(session, email="anne.petit@gmail.com", first_name="Anne Petit",
                          policy=app.policy)
    assert isinstance(lead, m.Lead)
    b = contact(app, session, "anne.petit@gmail.com", "Anne P.", None)
    with pytest.raises(LifecycleError, match=f"merge contact:{a.id} contact:{b.id}"):
        qualify_lead(session, lead.id, app.policy, contact_id=a.id)
    with pytest.raises(LifecycleError, match="no contact #999"):
        qualify_lead(session, lead.id, app.policy, contact_id=999)


def test_cli_add_says_the_address_was_linked_and_duplicates_suggest_qualify(
        db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", db_url)
    monkeypatch.setenv("SYNCD_INTERNAL_DOMAINS", "contoso.fr")
    csv = tmp_path / "contacts.csv"
    csv.write_text("Courriel;Nom;Téléphone\nhelene.dupre@fabrikam.com;Hélène Dupré;"
                   "06 12 34 56 78\n", encoding="utf-8")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("Nom;Domaine\nFabrikam;fabrikam.com\n", encoding="utf-8")

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("accounts", "import", str(accounts))
    run("contacts", "import", str(csv))
    out = run("lead", "add", "hdupre@fabrikam.com", "--name", "Helene Dupre")
    assert "is another address of contact #1" in out and "no lead created" in out
    assert json.loads(run("lead", "add", "hdupre@fabrikam.com", "--json")) == {
        "kind": "contact", "id": 1, "created": False, "linked": True}
    assert json.loads(run("lead", "add", "h.d@gmail.com", "--name", "H. Dupre", "--phone",
                          "+33612345678", "--json"))["created"]
    [pair] = json.loads(run("duplicates", "leads", "--json"))
    assert (pair["a_kind"], pair["a"], pair["b_kind"], pair["b"]) == ("lead", 1, "contact", 1)
    assert pair["action"] == "syncd lead qualify 1 --contact 1" and pair["merge"] is None
    assert "--contact 1" in run("duplicates", "leads")  # the table wraps the command
    done = json.loads(run("lead", "qualify", "1", "--contact", "1", "--json"))
    assert (done["contact_id"], done["created"]["contact"]) == (1, False)
    assert "No likely duplicate leads" in run("duplicates", "leads")


def test_auto_capture_links_a_new_address_of_a_known_contact(db_url: str) -> None:
    app = make_app(db_url, auto_create="lead")
    try:
        with session_scope(app.sessions) as s:
            acc, _ = upsert_account(s, "Fabrikam", "fabrikam.com")
            known_id = contact(app, s, "helene.dupre@fabrikam.com", "Hélène Dupré", acc.id).id
        parts = (Participant("hdupre@fabrikam.com", Role.FROM, name="DUPRE Helene"),
                 Participant("newcomer@fabrikam.com", Role.CC, name="Marc Noël"),
                 Participant("alice@contoso.fr", Role.TO))
        item = Interaction(natural_key="<auto-1@test>", kind=Kind.EMAIL, provider_id="1",
                           occurred_at=T0, subject="Devis", participants=parts, folder="inbox")
        with session_scope(app.sessions) as s:
            stream = get_or_create_stream(s, "test", "auto", None)
            app.capturer.capture_page(s, stream, Page([item], "c1", True, [], []))
        with app.sessions() as s:
            assert [lead.name for lead in s.scalars(select(m.Lead))] == ["Marc Noël"]
            assert len(links(s, "contact", known_id)) == 1
            assert len(person_ids(s, known_id)) == 2
    finally:
        app.close()
