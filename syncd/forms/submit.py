"""Store an accepted submission: create or update the lead, record it, emit events; one
transaction, so a submission is all there or not at all.

Matching is `syncd.lifecycle.leads.upsert_lead`'s, shared with the CLI and CSV imports: by
normalised address, an existing contact first (no lead is made for a customer), else the
person's open or latest lead (blank fields filled in, form answers merged), else a new lead;
the person row is locked so that two simultaneous posts cannot both create one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncd.capture import ensure_persons
from syncd.forms.definitions import FormDef
from syncd.lifecycle.leads import upsert_lead
from syncd.policy import Policy
from syncd.store import models as m
from syncd.store.models_workflow import FormSubmission
from syncd.workflows import outbox
from syncd.workflows.context import user_by_email


@dataclass(frozen=True, slots=True)
class Submitted:
    submission_id: int
    lead_id: int | None
    contact_id: int | None
    lead_created: bool


def _colleague(session: Session, email: str, policy: Policy, now: datetime) -> m.User:
    """The user (colleague) with this address, created when the configuration names one the
    store does not know yet."""
    user = user_by_email(session, email)
    if user is None:
        ids, _ = ensure_persons(session, {email.lower(): ""}, policy, now)
        user = m.User(person_id=ids[email.lower()], display_name="", title="", is_active=True)
        session.add(user)
        session.flush()
    return user


def _owner(session: Session, form: FormDef, policy: Policy, now: datetime) -> str | None:
    """The address of the colleague who owns a lead this form creates."""
    rule = form.owner
    if rule is None:
        return None
    if rule.email:
        email = rule.email
    else:
        made = session.scalar(select(func.count()).select_from(m.Lead)
                              .where(m.Lead.source == form.lead_source)) or 0
        email = rule.round_robin[made % len(rule.round_robin)]
    _colleague(session, email, policy, now)
    return email.lower()


def submit(session: Session, form: FormDef, values: dict[str, Any], client_class: str,
           policy: Policy, now: datetime) -> Submitted:
    """Raises LifecycleError only for an address the validation let through (never expected)."""
    email = str(values[form.email_field.name])
    mapped: dict[str, Any] = {str(f.maps_to): values[f.name] for f in form.fields
                              if f.maps_to and f.maps_to != "email" and f.name in values}
    extras = {f.name: values[f.name] for f in form.fields if not f.maps_to and f.name in values}
    # One matching rule for every way leads arrive (CLI, CSV, forms): lifecycle.upsert_lead.
    record, created = upsert_lead(
        session, email=email, first_name=str(mapped.get("name", ""))[:300],
        company=str(mapped.get("company", ""))[:300], phone=str(mapped.get("phone", ""))[:50],
        title=str(mapped.get("title", ""))[:300], source=form.lead_source,
        owner=_owner(session, form, policy, now), fields=extras, policy=policy)
    lead = record if isinstance(record, m.Lead) else None
    contact = record if isinstance(record, m.Contact) else None
    row = FormSubmission(form=form.name, email=email, lead_id=lead.id if lead else None,
                         contact_id=contact.id if contact else None, data=values,
                         ip_class=client_class, created_at=now)
    session.add(row)
    session.flush()
    outbox.emit(session, "form.submitted", {
        "form": form.name, "submission_id": row.id, "email": email,
        "lead_id": row.lead_id, "contact_id": row.contact_id, "lead_created": created,
        "fields": values}, now)
    return Submitted(row.id, row.lead_id, row.contact_id, created)
