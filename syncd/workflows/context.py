"""The context a workflow sees: the event's payload plus the lead, contact and owner it is
about, resolved from the store. Conditions, templates and actions all read this one mapping.

Keys: ``event`` (id, type, created_at), every payload field at the top level, ``lead``
(id, email, name, company, title, phone, status, source, fields), ``contact`` (id, email, name,
title, account), ``owner`` (email, name: the lead's owner) and ``recipient`` (the address the
event is about: the tracked mail's recipient, the form's email, else the lead's or contact's).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.store import models as m

Context = dict[str, Any]


def _live_lead(session: Session, lead_id: Any) -> m.Lead | None:
    if not isinstance(lead_id, int):
        return None
    lead = session.get(m.Lead, lead_id)
    for _ in range(10):  # follow `syncd merge` pointers to the surviving lead
        if lead is None or lead.merged_into_id is None:
            break
        lead = session.get(m.Lead, lead.merged_into_id)
    return lead


def _email(session: Session, person_id: int | None) -> str:
    if person_id is None:
        return ""
    person = session.get(m.Person, person_id)
    return person.email if person is not None else ""


def user_info(session: Session, user_id: int | None) -> dict[str, Any] | None:
    if user_id is None:
        return None
    user = session.get(m.User, user_id)
    if user is None:
        return None
    person = session.get(m.Person, user.person_id)
    return {"id": user.id, "email": person.email if person else "",
            "name": user.display_name or (person.name if person else "")}


def lead_info(session: Session, lead: m.Lead) -> dict[str, Any]:
    return {"id": lead.id, "email": _email(session, lead.person_id), "name": lead.name,
            "company": lead.company, "title": lead.title, "phone": lead.phone,
            "status": lead.status, "source": lead.source, "fields": dict(lead.fields or {}),
            "owner_user_id": lead.owner_user_id}


def contact_info(session: Session, contact: m.Contact) -> dict[str, Any]:
    account = session.get(m.Account, contact.account_id) if contact.account_id else None
    return {"id": contact.id, "email": _email(session, contact.person_id), "name": contact.name,
            "title": contact.title, "account": account.name if account else ""}


def _ids_from_links(payload: dict[str, Any]) -> tuple[Any, Any]:
    lead_id, contact_id = payload.get("lead_id"), payload.get("contact_id")
    for link in payload.get("links") or ():
        if isinstance(link, list) and len(link) == 2:
            if link[0] == "lead" and lead_id is None:
                lead_id = link[1]
            elif link[0] == "contact" and contact_id is None:
                contact_id = link[1]
    return lead_id, contact_id


def build(session: Session, event_id: int | None, event_type: str, created_at: str,
          payload: dict[str, Any]) -> Context:
    ctx: Context = {k: v for k, v in payload.items() if k not in ("event", "lead", "contact",
                                                                  "owner")}
    ctx["event"] = {"id": event_id, "type": event_type, "created_at": created_at}
    return refresh(session, ctx)


def refresh(session: Session, ctx: Context) -> Context:
    """Re-read lead, contact and owner (a step may run days after the event)."""
    ctx = dict(ctx)
    lead_id, contact_id = _ids_from_links(ctx)
    if isinstance(ctx.get("lead"), dict):
        lead_id = ctx["lead"].get("id", lead_id)
    lead = _live_lead(session, lead_id)
    contact = session.get(m.Contact, contact_id) if isinstance(contact_id, int) else None
    ctx["lead"] = lead_info(session, lead) if lead else {}
    ctx["contact"] = contact_info(session, contact) if contact else {}
    owner = user_info(session, lead.owner_user_id) if lead else None
    ctx["owner"] = owner or {}
    if not ctx.get("recipient"):
        ctx["recipient"] = (ctx.get("email") or ctx["lead"].get("email")
                            or ctx["contact"].get("email") or "")
    return ctx


def user_by_email(session: Session, email: str) -> m.User | None:
    person_id = session.scalar(select(m.Person.id).where(m.Person.email == email.lower()))
    if person_id is None:
        return None
    return session.scalar(select(m.User).where(m.User.person_id == person_id))
