"""The duplicate finder over the store: live contacts, open leads or live accounts.

`leads` also compares every open lead with the live contacts (Dynamics 365's lead-to-contact
duplicate rule): a lead that resembles a contact is a duplicate person record even when no
other lead resembles it. Those pairs have the lead as `a` and `"contact:<id>"` as `b` (records
of two kinds share the id space of the returned mapping); `CONTACT_PREFIX` marks them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.config import LifecycleConfig
from syncd.lifecycle.dedup import Candidate, Options, Record, find_duplicates
from syncd.policy import Policy, domain_of
from syncd.store import models as m

Kind = Literal["contacts", "leads", "accounts"]
CONTACT_PREFIX = "contact:"


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
    found = find_duplicates(records, opts)
    by_id: dict[int | str, Record] = {r.id: r for r in records}
    if kind == "leads" and records:
        contacts = [replace(r, id=f"{CONTACT_PREFIX}{r.id}", group="contact")
                    for r in load_records(session, "contacts", policy)]
        leads = [replace(r, group="lead") for r in records]
        for cand in find_duplicates(leads + contacts, replace(opts, cross_groups_only=True)):
            if isinstance(cand.a, str):  # the lead first
                cand = Candidate(cand.b, cand.a, cand.score, cand.reasons)
            found.append(cand)
        by_id.update((r.id, r) for r in contacts)
        found.sort(key=lambda c: (-c.score, str(c.a), str(c.b)))
    return found, by_id
