"""Leads in from anywhere (CLI, forms, imports) without ever duplicating a lead or a contact.

The key is the normalised address: `Jeanne.Dupre@Fabrikam.com ` and `jeanne.dupre@fabrikam.com`
are one person, so a second form submission or a re-typed CLI entry finds the first record.
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
from syncd.lifecycle.records import emit
from syncd.policy import Policy
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
    disqualified; workflows decide whether to reopen), else a new open lead is created and
    `lead.created` is appended to the outbox. On a match, empty name/company/title/phone are
    filled in and `fields` are merged (new values win); nothing else is overwritten.

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
    lead = m.Lead(person_id=pid, source=source or "form", status="open", owner_user_id=owner_id,
                  fields=dict(fields or {}), created_at=now, status_changed_at=now, **values)
    session.add(lead)
    session.flush()
    emit(session, "lead.created", {"lead_id": lead.id, "email": key, "source": lead.source}, now)
    return lead, True


def _fill(record: m.Lead | m.Contact, values: dict[str, str]) -> None:
    for attr, value in values.items():
        if attr in _FILLABLE and value and not getattr(record, attr):
            setattr(record, attr, value)
