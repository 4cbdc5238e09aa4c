"""Merges keep every activity, link and opportunity; tombstones keep addresses resolving."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lifecycle_helpers import count_rows, events, links, mail
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.app import App
from syncd.capture import ensure_persons
from syncd.crm import import_contacts, upsert_account
from syncd.lifecycle import LifecycleError
from syncd.lifecycle.leads import upsert_lead
from syncd.lifecycle.merge import merge, person_ids
from syncd.store import models as m
from syncd.store.models_lifecycle import MergeRecord

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def contact(app: App, s: Session, email: str, name: str = "", phone: str = "",
            account_id: int | None = None) -> m.Contact:
    ids, _ = ensure_persons(s, {email: name}, app.policy, NOW)
    c = m.Contact(person_id=ids[email], name=name, phone=phone, account_id=account_id,
                  created_at=NOW)
    s.add(c)
    s.flush()
    return c


def test_contact_merge_keeps_every_activity_and_fills_empty_fields(
        app: App, session: Session) -> None:
    acc, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    a = contact(app, session, "helene.dupre@fabrikam.com", "Hélène Dupré", account_id=acc.id)
    b = contact(app, session, "h.dupre@gmail.com", "Helene Dupre", phone="0612345678")
    opp = m.Opportunity(name="Deal", contact_id=b.id, created_at=NOW)
    session.add(opp)
    session.commit()
    mail(app, "helene.dupre@fabrikam.com", ["alice@contoso.fr"])
    mail(app, "h.dupre@gmail.com", ["alice@contoso.fr"], days=1)
    mail(app, "h.dupre@gmail.com", ["alice@contoso.fr"], days=2)
    # one mail to both addresses: linked to both contacts, must end up linked once
    mail(app, "alice@contoso.fr", ["helene.dupre@fabrikam.com", "h.dupre@gmail.com"], days=3)
    session.expire_all()
    before_a, before_b = links(session, "contact", a.id), links(session, "contact", b.id)
    assert (len(before_a), len(before_b)) == (2, 3)
    total_before = count_rows(session, m.Activity)

    result = merge(session, "contact", a.id, b.id, note="same person")
    session.commit()

    assert links(session, "contact", a.id) == before_a | before_b
    assert result.activities == 4 and links(session, "contact", b.id) == set()
    assert count_rows(session, m.Activity) == total_before
    assert session.get_one(m.Opportunity, opp.id).contact_id == a.id
    session.refresh(a)
    session.refresh(b)
    assert (a.phone, a.name) == ("0612345678", "Hélène Dupré")  # filled, never overwritten
    assert (b.merged_into_id, b.account_id) == (a.id, acc.id)
    assert person_ids(session, a.id) == [a.person_id, b.person_id]
    record = session.scalars(select(MergeRecord)).one()
    assert (record.kind, record.survivor_id, record.merged_id, record.note) == (
        "contact", a.id, b.id, "same person")
    assert record.snapshot["phone"] == "0612345678"
    assert events(session, "contact.merged")[0]["merged_id"] == b.id

    # later mail from the merged address lands on the survivor
    session.commit()  # SQLite: end the read transaction (BEGIN IMMEDIATE holds the lock)
    mail(app, "h.dupre@gmail.com", ["bob@contoso.fr"], days=5)
    session.expire_all()
    assert len(links(session, "contact", a.id)) == 5
    assert links(session, "contact", b.id) == set()

    again = merge(session, "contact", a.id, b.id)
    assert again.already_merged and count_rows(session, MergeRecord) == 1


def test_merge_refuses_what_it_cannot_do(app: App, session: Session) -> None:
    a = contact(app, session, "a@fabrikam.com")
    b = contact(app, session, "b@fabrikam.com")
    c = contact(app, session, "c@fabrikam.com")
    with pytest.raises(LifecycleError, match="into itself"):
        merge(session, "contact", a.id, a.id)
    with pytest.raises(LifecycleError, match="no contact #999"):
        merge(session, "contact", a.id, 999)
    with pytest.raises(LifecycleError, match="only contact, lead, account"):
        merge(session, "person", a.id, b.id)
    merge(session, "contact", a.id, b.id)
    with pytest.raises(LifecycleError, match="already merged into #"):
        merge(session, "contact", c.id, b.id)
    with pytest.raises(LifecycleError, match="merge into #"):
        merge(session, "contact", b.id, c.id)
    # merging the survivor elsewhere re-points its tombstones: one hop, always to a live record
    merge(session, "contact", c.id, a.id)
    session.flush()
    session.refresh(b)
    assert b.merged_into_id == c.id


def test_account_merge_moves_domains_contacts_and_activities(app: App,
                                                             session: Session) -> None:
    a, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    b, _ = upsert_account(session, "Fabrikam France SAS", "fabrikam.fr")
    b.city = "Lyon"
    paul = contact(app, session, "paul@fabrikam.fr", "Paul", account_id=b.id)
    session.commit()
    mail(app, "jean@fabrikam.fr", ["alice@contoso.fr"])  # linked to account b by domain
    session.expire_all()
    before = links(session, "account", a.id) | links(session, "account", b.id)
    assert before
    result = merge(session, "account", a.id, b.id)
    session.commit()
    assert result.moved["domains"] == 1 and result.moved["contacts"] == 1
    assert links(session, "account", a.id) == before
    assert session.get_one(m.AccountDomain, "fabrikam.fr").account_id == a.id
    assert session.get_one(m.Contact, paul.id).account_id == a.id
    assert session.get_one(m.Account, a.id).city == "Lyon"
    # the merged account's name still finds the survivor on a later CSV import
    again, created = upsert_account(session, "Fabrikam France", "")
    assert (again.id, created) == (a.id, False)


def test_lead_merge_marks_the_tombstone_and_keeps_fields(app: App, session: Session) -> None:
    a, _ = upsert_lead(session, email="anne@northwind.fr", first_name="Anne",
                       policy=app.policy)
    b, _ = upsert_lead(session, email="anne.petit@gmail.com", first_name="Anne Petit",
                       company="Northwind", fields={"budget": "10k"}, policy=app.policy)
    assert isinstance(a, m.Lead) and isinstance(b, m.Lead)
    session.commit()
    mail(app, "anne.petit@gmail.com", ["alice@contoso.fr"])
    result = merge(session, "lead", a.id, b.id)
    session.commit()
    session.refresh(a)
    session.refresh(b)
    assert (b.status, b.merged_into_id) == ("merged", a.id)
    assert (a.company, a.fields) == ("Northwind", {"budget": "10k"})
    assert result.activities == 1
    session.commit()
    mail(app, "anne.petit@gmail.com", ["alice@contoso.fr"], days=1)
    session.expire_all()
    assert len(links(session, "lead", a.id)) == 2


def test_reimporting_a_merged_contact_changes_nothing(app: App, session: Session,
                                                      tmp_path: Path) -> None:
    a = contact(app, session, "helene.dupre@fabrikam.com", "Hélène Dupré", phone="01 02")
    b = contact(app, session, "h.dupre@gmail.com", "Helene Dupre", phone="06 07")
    merge(session, "contact", a.id, b.id)
    csv = tmp_path / "contacts.csv"
    csv.write_text("email;nom;téléphone\nh.dupre@gmail.com;H. Dupré;09 99\n", encoding="utf-8")
    summary = import_contacts(session, csv, app.policy)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 1)
    assert (a.phone, b.phone) == ("01 02", "06 07")
    assert count_rows(session, m.Contact) == 2
