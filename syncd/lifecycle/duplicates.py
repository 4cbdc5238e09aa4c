"""The duplicate finder over the store: live contacts, open leads or live accounts."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.config import LifecycleConfig
from syncd.lifecycle.dedup import Candidate, Options, Record, find_duplicates
from syncd.policy import Policy, domain_of
from syncd.store import models as m

Kind = Literal["contacts", "leads", "accounts"]


def _domains(policy: Policy, email: str) -> frozenset[str]:
    if policy.is_free_mail(email) or policy.is_internal(email):
        return frozenset()
    dom = domain_of(email)
    return frozenset({dom}) if dom else frozenset()


def load_records(session: Session, kind: Kind, policy: Policy) -> list[Record]:
    """Records to compare. Tombstones, qualified and disqualified leads are left out."""
    out: list[Record] = []
    if kind == "contacts":
        acc_names: dict[int, str] = {i: n for i, n in session.execute(
            select(m.Account.id, m.Account.name))}
        cq = (select(m.Contact, m.Person.email).join(m.Person, m.Person.id == m.Contact.person_id)
             .where(m.Contact.merged_into_id.is_(None)).order_by(m.Contact.id))
        for c, email in session.execute(cq):
            out.append(Record(id=c.id, name=c.name, email=email, phone=c.phone,
                              company=acc_names.get(c.account_id, "") if c.account_id else "",
                              domains=_domains(policy, email)))
    elif kind == "leads":
        lq = (select(m.Lead, m.Person.email).join(m.Person, m.Person.id == m.Lead.person_id)
             .where(m.Lead.status == "open", m.Lead.merged_into_id.is_(None))
             .order_by(m.Lead.id))
        for lead, email in session.execute(lq):
            out.append(Record(id=lead.id, name=lead.name, email=email, phone=lead.phone,
                              company=lead.company, domains=_domains(policy, email)))
    else:
        domains: dict[int, set[str]] = defaultdict(set)
        for dom, acc_id in session.execute(select(m.AccountDomain.domain,
                                                  m.AccountDomain.account_id)):
            domains[acc_id].add(dom)
        aq = select(m.Account).where(m.Account.merged_into_id.is_(None)).order_by(m.Account.id)
        for acc in session.scalars(aq):
            extra = {"city": acc.city} if acc.city else {}
            out.append(Record(id=acc.id, company=acc.name, domains=frozenset(domains[acc.id]),
                              extra=extra))
    return out


def find(session: Session, kind: Kind, policy: Policy, config: LifecycleConfig,
         threshold: float | None = None) -> tuple[list[Candidate], dict[int | str, Record]]:
    """Candidate pairs (best first) and the records by id, for display."""
    records = load_records(session, kind, policy)
    opts = Options(threshold=config.duplicate_threshold if threshold is None else threshold,
                   phone_region=config.default_phone_region)
    return find_duplicates(records, opts), {r.id: r for r in records}
