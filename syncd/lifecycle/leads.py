"""Leads in from anywhere (CLI, forms, CSV imports, auto-capture) without ever duplicating a
lead or a contact.

The key is the normalised address: `Jeanne.Dupre@Fabrikam.com ` and `jeanne.dupre@fabrikam.com`
are one person, so a second form submission or a re-typed CLI entry finds the first record.

A new lead is also compared with the existing contacts, as Dynamics 365's duplicate detection
does on save ("Leads with the same name and company as a contact"): Dynamics warns and lets the
user link the lead to the existing contact (the lead's *Existing Contact* field), which
qualification then reuses. We have no dialog, so we decide by strength of evidence:
- the same address as a contact: the contact is returned, no lead is created;
- the same person's name (accent-folded, civilities dropped, any word order, at least two
  words) at the same company (the contact's account has the lead's mail domain, or the
  account's normalised name is the lead's company), with exactly one such live contact: the
  new address is linked to that contact as an alias (a contact tombstone pointing to it, the
  same row a merge or a name-matched qualification leaves), so its mail reaches the contact
  and the next submission from it finds the contact by address; no lead is created;
- anything weaker (a similar name, a shared phone, two contacts of that name): the lead is
  created, and `syncd duplicates leads` reports it next to the contact it resembles, with a
  score and the reasons, for a person to decide (`syncd lead qualify ID --contact C` or
  `syncd lead disqualify ID --reason ...`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.normalize import normalize_address
from syncd.capture import ensure_persons
from syncd.config import Settings
from syncd.lifecycle import LifecycleError
from syncd.lifecycle.normalize import person_name, same_person_name
from syncd.lifecycle.qualify import find_account, match_keys
from syncd.lifecycle.records import emit, wait_for_keys
from syncd.policy import Policy, domain_of
from syncd.store import models as m

_FILLABLE = ("name", "company", "title", "phone")


def resolve_owner(session: Session, owner: str | None) -> int | None:
    """The user id of the colleague with this address; None for None.
    Raises LifecycleError when no internal user has that address."""
    if owner is None or not owner.strip():
        return None
    key = normalize_address(owner)
    user_id = session.scalar(select(m.User.id).join(m.Person, m.Person.id == m.User.person_id)
                             .where(m.Person.email == key)) if key else None
    if user_id is None:
        raise LifecycleError(f"owner {owner!r} is not a known user (a colleague whose mailbox "
                             "syncd reads)")
    return user_id


def upsert_lead(session: Session, *, email: str, first_name: str = "", last_name: str = "",
                company: str = "", phone: str = "", source: str = "form",
                owner: str | None = None, fields: dict[str, Any] | None = None,
                title: str = "", policy: Policy | None = None,
                ) -> tuple[m.Lead | m.Contact, bool]:
    """Create a lead, or find the record this address already has. Returns (record, created).

    Matching is by normalised address, contacts first: if the address is already a contact
    (or a lead qualified into one), that Contact is returned and no lead is created. Otherwise
    the person's open lead is returned, else their most recent lead (a disqualified lead stays
    disqualified; workflows decide whether to reopen). Otherwise, when the name and company
    designate exactly one existing contact (see the module docstring), the address becomes an
    alias of that contact and the Contact is returned. Else a new open lead is created and
    `lead.created` is appended to the outbox. On a match, empty name/company/title/phone are
    filled in and lead `fields` are merged (new values win); nothing else is overwritten.

    `owner` is a colleague's address. Raises LifecycleError for an unusable address or an
    unknown owner. Runs in the caller's transaction (flushes, never commits).
    """
    key = normalize_address(email) if email else None
    if key is None or key.startswith("x500:"):
        raise LifecycleError(f"{email!r} is not an email address")
    owner_id = resolve_owner(session, owner)
    name = " ".join(f"{first_name} {last_name}".split())
    values = {"name": name, "company": company.strip(), "title": title.strip(),
              "phone": phone.strip()}
    now = datetime.now(UTC)
    policy = policy or Policy.from_settings(Settings())
    ids, _ = ensure_persons(session, {key: name}, policy, now)
    pid = ids[key]
    # Two simultaneous submissions for one address must not both create a lead: lock the person
    # row on PostgreSQL (SQLite already serialises writers with BEGIN IMMEDIATE).
    if session.get_bind().dialect.name == "postgresql":
        session.get(m.Person, pid, with_for_update=True, populate_existing=True)
    contact = session.scalar(select(m.Contact).where(m.Contact.person_id == pid))
    if contact is not None:
        while contact.merged_into_id is not None:
            contact = session.get_one(m.Contact, contact.merged_into_id)
        _fill(contact, {k: v for k, v in values.items() if k != "company"})
        return contact, False
    lead = session.scalar(select(m.Lead).where(m.Lead.person_id == pid)
                          .order_by((m.Lead.status == "open").desc(), m.Lead.id.desc()).limit(1))
    while lead is not None and lead.merged_into_id is not None:
        lead = session.get_one(m.Lead, lead.merged_into_id)
    if lead is not None:
        _fill(lead, values)
        if owner_id is not None and lead.owner_user_id is None:
            lead.owner_user_id = owner_id
        if fields:
            lead.fields = {**(lead.fields or {}), **fields}
        session.flush()
        return lead, False
    # A new lead: wait for any qualification holding these keys (syncd.lifecycle.qualify), so
    # that a contact it is creating for this name and company is seen, not raced. Waiting is
    # enough: a qualification starting after this check is the same as one that came later.
    domain = "" if policy.is_free_mail(key) or policy.is_internal(key) else domain_of(key)
    wait_for_keys(session, match_keys(pid, domain, values["company"], name))
    match = link_to_contact(session, pid, name, values["company"], domain, now)
    if match is not None:
        _fill(match, {k: v for k, v in values.items() if k != "company"})
        session.flush()
        return match, False
    lead = m.Lead(person_id=pid, source=source or "form", status="open", owner_user_id=owner_id,
                  fields=dict(fields or {}), created_at=now, status_changed_at=now, **values)
    session.add(lead)
    session.flush()
    emit(session, "lead.created", {"lead_id": lead.id, "email": key, "source": lead.source}, now)
    return lead, True


def contact_by_name_and_company(session: Session, name: str, company: str,
                                domain: str) -> m.Contact | None:
    """The one live contact with this person name at the account of this mail `domain` (not
    free mail) or this company name; None when there is none or more than one."""
    if len(person_name(name).split()) < 2:
        return None
    accounts = {acc.id for acc in (find_account(session, domain, ""),
                                   find_account(session, "", company)) if acc is not None}
    if not accounts:
        return None
    found = [c for c in session.scalars(select(m.Contact).where(
        m.Contact.account_id.in_(accounts), m.Contact.merged_into_id.is_(None))
        .order_by(m.Contact.id)) if same_person_name(c.name, name)]
    return found[0] if len(found) == 1 else None


def link_to_contact(session: Session, person_id: int, name: str, company: str, domain: str,
                    now: datetime) -> m.Contact | None:
    """When `name` at `company` / mail `domain` designates exactly one live contact (see
    `contact_by_name_and_company`), make the person (an address with no contact and no lead
    yet) an alias of it and return that contact; else None. Takes no lock: callers that
    must see a concurrent qualification's contact call `wait_for_keys` first (upsert_lead
    does)."""
    match = contact_by_name_and_company(session, name, company, domain)
    if match is not None:
        session.add(m.Contact(person_id=person_id, account_id=match.account_id, name=name,
                              origin="lead", merged_into_id=match.id, created_at=now))
        session.flush()
    return match


def _fill(record: m.Lead | m.Contact, values: dict[str, str]) -> None:
    for attr, value in values.items():
        if attr in _FILLABLE and value and not getattr(record, attr):
            setattr(record, attr, value)
