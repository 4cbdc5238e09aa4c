"""Read-side queries behind the CLI: who-knows, activities, status, explain.

Each returns plain data (dicts/dataclasses) so that the CLI can print a table or JSON from the
same result.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from connectors.normalize import normalize_address, normalize_message_id
from graph.privacy import OptOut
from graph.rank import Ranked
from syncd.capture import internal_user_emails
from syncd.policy import Policy, domain_of
from syncd.store import models as m


class QueryError(Exception):
    """The query cannot be answered as asked (unknown target, ambiguous id...)."""


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


@dataclass
class Target:
    label: str
    person_ids: list[int]


def resolve_target(session: Session, target: str) -> Target:
    """An address, `@domain` (or an account name), or a person's name (accent-insensitive)."""
    text = target.strip()
    if not text:
        raise QueryError("empty target: give an address, @domain or a name")
    if text.startswith("@") or ("@" not in text and "." in text and " " not in text):
        domain = text.lstrip("@").lower()
        ids = list(session.scalars(select(m.Person.id).where(
            m.Person.domain == domain, ~m.Person.forgotten)))
        acc_domains = session.scalars(select(m.AccountDomain.domain).where(
            m.AccountDomain.account_id == select(m.AccountDomain.account_id).where(
                m.AccountDomain.domain == domain).scalar_subquery()))
        for d in acc_domains:
            if d != domain:
                ids += session.scalars(select(m.Person.id).where(
                    m.Person.domain == d, ~m.Person.forgotten))
        return Target(f"@{domain}", ids)
    if "@" in text:
        key = normalize_address(text)
        if key is None:
            raise QueryError(f"{text!r} is not a valid address")
        ids = list(session.scalars(select(m.Person.id).where(
            m.Person.email == key, ~m.Person.forgotten)))
        return Target(key, ids)
    acc = session.scalars(select(m.AccountDomain.domain).join(
        m.Account, m.Account.id == m.AccountDomain.account_id).where(
        func.lower(m.Account.name) == text.lower())).all()
    if acc:
        ids = list(session.scalars(select(m.Person.id).where(
            m.Person.domain.in_(acc), ~m.Person.forgotten)))
        return Target(text, ids)
    folded = _fold(text)
    words = folded.split()
    ids = [
        pid for pid, name in session.execute(
            select(m.Person.id, m.Person.name).where(m.Person.name != "", ~m.Person.forgotten))
        if all(w in _fold(name) for w in words)
    ]
    return Target(text, ids)


def who_knows(session: Session, target: str, policy: Policy, half_life_days: float, *,
              everyone: bool = False, limit: int | None = 10, as_of: datetime | None = None,
              opt_out: OptOut | None = None) -> tuple[Target, list[Ranked], datetime]:
    """Colleagues ranked by tie strength with the target, straight from the tie table (see
    syncd.graph_queries.who_knows, which this forwards to)."""
    from syncd.graph_queries import GraphContext
    from syncd.graph_queries import who_knows as graph_who_knows

    ctx = GraphContext(policy, half_life_days, opt_out or OptOut(()))
    return graph_who_knows(session, target, ctx, everyone=everyone, limit=limit, as_of=as_of)


def list_activities(session: Session, *, contact: str | None = None, account: str | None = None,
                    since: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    q = select(m.Activity.id, m.Interaction).join(
        m.Interaction, m.Interaction.id == m.Activity.interaction_id)
    if contact:
        key = normalize_address(contact)
        if key is None:
            raise QueryError(f"{contact!r} is not a valid address")
        cid = session.scalar(select(m.Contact.id).join(
            m.Person, m.Person.id == m.Contact.person_id).where(m.Person.email == key))
        if cid is None:
            raise QueryError(f"no contact with address {key}")
        q = q.join(m.ActivityLink, m.ActivityLink.activity_id == m.Activity.id).where(
            and_(m.ActivityLink.target_type == "contact", m.ActivityLink.target_id == cid))
    if account:
        acc_id = find_account_id(session, account)
        q = q.join(m.ActivityLink, m.ActivityLink.activity_id == m.Activity.id).where(
            and_(m.ActivityLink.target_type == "account", m.ActivityLink.target_id == acc_id))
    if since:
        q = q.where(m.Interaction.occurred_at >= since)
    q = q.order_by(m.Interaction.occurred_at.desc()).limit(limit)
    out = []
    for aid, inter in session.execute(q):
        links = session.execute(select(m.ActivityLink.target_type, m.ActivityLink.target_id)
                                .where(m.ActivityLink.activity_id == aid)).all()
        out.append({"activity_id": aid, "interaction_id": inter.id, "kind": inter.kind,
                    "occurred_at": inter.occurred_at.isoformat(), "subject": inter.subject,
                    "direction": inter.direction,
                    "links": [f"{t}#{i}" for t, i in links]})
    return out


def find_account_id(session: Session, account: str) -> int:
    text = account.strip().lstrip("@").lower()
    acc_id = session.scalar(select(m.AccountDomain.account_id).where(
        m.AccountDomain.domain == text))
    if acc_id is None:
        acc_id = session.scalar(select(m.Account.id).where(
            func.lower(m.Account.name) == text).limit(1))
    if acc_id is None:
        raise QueryError(f"no account with domain or name {account!r}")
    return acc_id


def record_counts(session: Session) -> dict[str, int]:
    """How many rows of each kind the store holds: the first line of `syncd status` and the
    demo's totals."""
    return {
        name: session.scalar(select(func.count()).select_from(model)) or 0
        for name, model in (("interactions", m.Interaction), ("sightings", m.Sighting),
                            ("persons", m.Person), ("activities", m.Activity),
                            ("rejected", m.RejectedItem), ("ties", m.Tie),
                            ("accounts", m.Account), ("contacts", m.Contact), ("leads", m.Lead))
    }


def explain(session: Session, ref: str, policy: Policy) -> dict[str, Any]:
    """Why an interaction was or was not captured, participant by participant."""
    inter = None
    if ref.isdigit():
        inter = session.get(m.Interaction, int(ref))
    if inter is None:
        key = normalize_message_id(ref) or ref.strip()
        inter = session.scalar(select(m.Interaction).where(m.Interaction.natural_key == key))
    if inter is None:
        raise QueryError(f"no interaction with id or message-id {ref!r}")
    users = internal_user_emails(session)
    people = []
    q = select(m.Participant.role, m.Participant.response, m.Person).join(
        m.Person, m.Person.id == m.Participant.person_id).where(
        m.Participant.interaction_id == inter.id).order_by(m.Participant.role, m.Person.email)
    for role, response, person in session.execute(q):
        facts: list[str] = []
        if person.email in users:
            facts.append("internal user (mailbox owner or directory)")
        elif policy.is_internal(person.email):
            facts.append("internal domain")
        if person.is_unresolved:
            facts.append("unresolved Exchange legacy DN")
        contact = session.scalar(select(m.Contact).where(m.Contact.person_id == person.id))
        if contact:
            facts.append(f"contact #{contact.id}"
                         + (f" of account #{contact.account_id}" if contact.account_id else ""))
        lead = session.scalar(select(m.Lead).where(m.Lead.person_id == person.id))
        if lead:
            facts.append(f"lead #{lead.id} ({lead.status})")
        dom = domain_of(person.email)
        if policy.is_free_mail(person.email):
            facts.append(f"free-mail domain {dom}: never matched to an account")
        else:
            acc = session.scalar(select(m.AccountDomain.account_id).where(
                m.AccountDomain.domain == dom))
            if acc:
                facts.append(f"domain {dom} belongs to account #{acc}")
        if policy.is_automated(person.email):
            facts.append("automated address")
        if not facts:
            facts.append("unknown external person")
        people.append({"email": person.email, "name": person.name, "role": role,
                       "response": response, "facts": facts})
    sightings = session.execute(select(m.Sighting, m.Stream.key).join(
        m.Stream, m.Stream.id == m.Sighting.stream_id).where(
        m.Sighting.interaction_id == inter.id)).all()
    return {
        "interaction_id": inter.id, "natural_key": inter.natural_key, "kind": inter.kind,
        "subject": "(private)" if inter.is_private else inter.subject,
        "occurred_at": inter.occurred_at.isoformat(), "direction": inter.direction,
        "captured": inter.captured, "decision": inter.decision,
        "participants": people,
        "sightings": [{"stream": key, "folder": s.folder, "provider_id": s.provider_id,
                       "deleted": s.deleted_at is not None} for s, key in sightings],
    }
