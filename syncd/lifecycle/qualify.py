"""Lead qualification: one lead becomes an account, a contact and an opportunity, never twice.

Matching before creating (Dynamics 365 creates duplicates here unless its duplicate detection
rules are tuned; we match by default):
- account: the lead's mail domain (when it is neither free mail nor ours), then the normalised
  company name (`Boulangeries Martin S.A.R.L.` = `boulangeries martin`);
- contact: the contact the user named (`--contact`, Dynamics' *Existing Contact*), else the
  lead's address, then the same accent-folded name (any word order) among the account's
  contacts (the lead's address then becomes an alias of that contact, see
  syncd.lifecycle.merge);
- opportunity: always one, in stage qualify, linked to both.
The lead's activities move onto the three records, and the lead is marked qualified. Running it
again finds the opportunity through `opportunities.lead_id` and creates nothing.

Concurrency (PostgreSQL, several CLI users or workflow workers). The lead row is locked
(FOR UPDATE), so one lead is qualified once. Two *different* leads of one company race on the
find-then-create of the account and contact: each sees no account before the other commits.
Unique constraints cannot close that race, because the matching keys are not unique in the
data: the normalised company name (two "Martin" bakeries in two towns are two accounts) and a
folded person name at an account are *match* rules, not identities; only the domain
(account_domains' primary key) and the address (contacts.person_id) are unique, and there a
constraint turns the race into an error for the second user, not into the right answer. So
before looking anything up, qualification takes transaction-scoped advisory locks
(`pg_advisory_xact_lock`, syncd.lifecycle.records.lock_keys) on every key it may match or
create by: the mail domain, the normalised company name it searches and the one it would give
a new account, the lead's person, and its folded name. Any two qualifications that could match
each other's records share a key, so the second waits for the first to commit and then, at
READ COMMITTED (PostgreSQL's default, which syncd uses), its lookups see the first one's
account and contact. The locks need no schema, disappear with the transaction (a killed
process holds nothing), and unrelated companies still qualify in parallel. A new lead
(syncd.lifecycle.leads) waits for the same keys without keeping them, so it sees a contact
being created for its name and company. SQLite serialises every write transaction already
(BEGIN IMMEDIATE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.crm import normalize_company_name
from syncd.lifecycle import LifecycleError
from syncd.lifecycle.normalize import name_key, person_name
from syncd.lifecycle.records import email_of, emit, get_lead, lock_keys, move_links
from syncd.lifecycle.stages import record_change
from syncd.policy import Policy, domain_of
from syncd.store import models as m


@dataclass
class QualifyResult:
    lead_id: int
    account_id: int | None
    contact_id: int
    opportunity_id: int
    created: dict[str, bool] = field(default_factory=dict)
    activities_moved: int = 0
    already_qualified: bool = False

    def as_json(self) -> dict[str, object]:
        return {"lead_id": self.lead_id, "account_id": self.account_id,
                "contact_id": self.contact_id, "opportunity_id": self.opportunity_id,
                "created": self.created, "activities_moved": self.activities_moved,
                "already_qualified": self.already_qualified}


def _live_account(session: Session, account_id: int | None) -> m.Account | None:
    acc = session.get(m.Account, account_id) if account_id else None
    while acc is not None and acc.merged_into_id is not None:
        acc = session.get_one(m.Account, acc.merged_into_id)
    return acc


def _live_contact(contact: m.Contact | None, session: Session) -> m.Contact | None:
    while contact is not None and contact.merged_into_id is not None:
        contact = session.get_one(m.Contact, contact.merged_into_id)
    return contact


def find_account(session: Session, domain: str, company: str) -> m.Account | None:
    """By domain, then by normalised company name; merged accounts lead to their survivor."""
    if domain:
        acc = _live_account(session, session.scalar(
            select(m.AccountDomain.account_id).where(m.AccountDomain.domain == domain)))
        if acc is not None:
            return acc
    norm = normalize_company_name(company) if company else ""
    if norm:
        return _live_account(session, session.scalar(
            select(m.Account.id).where(m.Account.normalized_name == norm)
            .order_by(m.Account.merged_into_id.is_not(None), m.Account.id).limit(1)))
    return None


def find_contact(session: Session, person_id: int, name: str,
                 account: m.Account | None) -> m.Contact | None:
    """By address (the person), then by accent-folded name among the account's contacts."""
    found = _live_contact(session.scalar(
        select(m.Contact).where(m.Contact.person_id == person_id)), session)
    if found is not None or account is None or not person_name(name):
        return found
    wanted = name_key(name)
    for contact in session.scalars(select(m.Contact).where(
            m.Contact.account_id == account.id, m.Contact.merged_into_id.is_(None))
            .order_by(m.Contact.id)):
        if name_key(contact.name) == wanted:
            return contact
    return None


def match_keys(person_id: int, domain: str, company: str, name: str) -> set[str]:
    """The advisory-lock keys of a qualification (see the module docstring): whatever it may
    find or create an account or a contact by."""
    keys = {f"person:{person_id}"}
    if domain:
        keys.add(f"domain:{domain}")
    # the name it searches by, and the normalised name a new account would get
    for text in {company, company or domain}:
        norm = normalize_company_name(text) if text else ""
        if norm:
            keys.add(f"company:{norm}")
    if name_key(name):
        keys.add(f"name:{name_key(name)}")
    return keys


def _chosen_contact(session: Session, contact_id: int, lead: m.Lead) -> m.Contact:
    """The contact a user named for this lead (Dynamics' *Existing Contact* on the lead)."""
    chosen = _live_contact(session.get(m.Contact, contact_id), session)
    if chosen is None:
        raise LifecycleError(f"no contact #{contact_id}")
    own = _live_contact(session.scalar(
        select(m.Contact).where(m.Contact.person_id == lead.person_id)), session)
    if own is not None and own.id != chosen.id:
        raise LifecycleError(
            f"the lead's address is already contact #{own.id}, not #{chosen.id}: merge the two "
            f"contacts first (`syncd merge contact:{chosen.id} contact:{own.id}`)")
    return chosen


def qualify_lead(session: Session, lead_id: int, policy: Policy,
                 opportunity_name: str | None = None,
                 contact_id: int | None = None) -> QualifyResult:
    """Qualify a lead (see the module docstring). Idempotent.

    `contact_id` names an existing contact to qualify onto (a duplicate `syncd duplicates
    leads` reported): it is used instead of matching, its account too when it has one, and
    the lead's address becomes an alias of it. Raises LifecycleError for an unknown, merged or
    disqualified lead, an unknown contact, or a lead whose address is another contact."""
    lead = get_lead(session, lead_id, lock=True)
    if lead.merged_into_id is not None:
        raise LifecycleError(f"lead #{lead.id} was merged into lead #{lead.merged_into_id}; "
                             f"qualify #{lead.merged_into_id}")
    if lead.status == "disqualified":
        raise LifecycleError(f"lead #{lead.id} is disqualified ({lead.status_reason}); it cannot "
                             "be qualified")
    opp = session.scalar(select(m.Opportunity).where(m.Opportunity.lead_id == lead.id)
                         .order_by(m.Opportunity.id).limit(1))
    if lead.status == "qualified" and opp is not None and opp.contact_id is not None:
        return QualifyResult(lead.id, opp.account_id, opp.contact_id, opp.id,
                             {"account": False, "contact": False, "opportunity": False},
                             already_qualified=True)
    now = datetime.now(UTC)
    email = email_of(session, lead.person_id)
    usable = not (policy.is_free_mail(email) or policy.is_internal(email))
    domain = domain_of(email) if usable else ""
    created = {"account": False, "contact": False, "opportunity": False}

    lock_keys(session, match_keys(lead.person_id, domain, lead.company, lead.name))
    chosen = _chosen_contact(session, contact_id, lead) if contact_id is not None else None
    account = (_live_account(session, chosen.account_id) if chosen is not None else None
               ) or find_account(session, domain, lead.company)
    if account is None and (lead.company or domain):
        name = lead.company or domain
        account = m.Account(name=name, normalized_name=normalize_company_name(name) or domain,
                            created_at=now)
        session.add(account)
        session.flush()
        created["account"] = True
    # A contact the user chose brings its own account: the lead's domain is not evidence
    # about that account (a person writing from another company's address), so it stays free.
    borrowed = chosen is not None and chosen.account_id is not None
    if account is not None and domain and not borrowed and session.get(
            m.AccountDomain, domain) is None:
        session.add(m.AccountDomain(domain=domain, account_id=account.id))

    contact = chosen or find_contact(session, lead.person_id, lead.name, account)
    if contact is None:
        contact = m.Contact(person_id=lead.person_id, account_id=account.id if account else None,
                            name=lead.name, title=lead.title, phone=lead.phone, origin="lead",
                            created_at=now)
        session.add(contact)
        created["contact"] = True
    else:
        for attr in ("name", "title", "phone"):
            if not getattr(contact, attr) and getattr(lead, attr):
                setattr(contact, attr, getattr(lead, attr))
        if contact.account_id is None and account is not None:
            contact.account_id = account.id
        if contact.person_id != lead.person_id and session.scalar(select(m.Contact.id).where(
                m.Contact.person_id == lead.person_id)) is None:
            # Found by name under another address: the lead's address becomes an alias of the
            # contact (a tombstone, as after a merge) so that its mail and ties reach the contact.
            session.add(m.Contact(person_id=lead.person_id, account_id=contact.account_id,
                                  name=lead.name, origin="lead", merged_into_id=contact.id,
                                  created_at=now))
    session.flush()

    if opp is None:
        topic = lead.fields.get("topic") if isinstance(lead.fields, dict) else None
        who = lead.name or email
        opp = m.Opportunity(
            name=opportunity_name or (str(topic) if topic else
                                      f"{account.name}: {who}" if account else who),
            account_id=account.id if account else None, contact_id=contact.id, lead_id=lead.id,
            stage="qualify", status="open", owner_user_id=lead.owner_user_id, created_at=now)
        session.add(opp)
        session.flush()
        record_change(session, opp, None, now)
        created["opportunity"] = True
    else:  # an opportunity made by an interrupted earlier run: complete it, never duplicate
        opp.account_id = opp.account_id or (account.id if account else None)
        opp.contact_id = opp.contact_id or contact.id

    targets = [("contact", contact.id), ("opportunity", opp.id)]
    if account is not None:
        targets.append(("account", account.id))
    moved = move_links(session, ("lead", lead.id), targets)
    lead.status, lead.status_reason, lead.status_changed_at = "qualified", None, now
    emit(session, "lead.qualified", {
        "lead_id": lead.id, "email": email, "account_id": account.id if account else None,
        "contact_id": contact.id, "opportunity_id": opp.id,
        "created": {"account": created["account"], "contact": created["contact"]},
        "activities_moved": moved}, now)
    session.flush()
    return QualifyResult(lead.id, account.id if account else None, contact.id, opp.id, created,
                         moved)


def disqualify_lead(session: Session, lead_id: int, reason: str,
                    reasons: tuple[str, ...]) -> bool:
    """Mark a lead disqualified with one of the configured `reasons` (case-insensitive).
    Returns False when it already was, with that reason. Raises LifecycleError for an unknown
    reason (listing the accepted ones) or a qualified, merged or unknown lead."""
    by_key = {r.casefold(): r for r in reasons}
    chosen = by_key.get(" ".join(reason.split()).casefold())
    if chosen is None:
        raise LifecycleError(f"{reason!r} is not a disqualification reason; use one of: "
                             + ", ".join(reasons) + " ([lifecycle] disqualify_reasons)")
    lead = get_lead(session, lead_id, lock=True)
    if lead.merged_into_id is not None:
        raise LifecycleError(f"lead #{lead.id} was merged into lead #{lead.merged_into_id}")
    if lead.status == "qualified":
        raise LifecycleError(f"lead #{lead.id} is already qualified; close its opportunity as "
                             "lost instead (`syncd opportunity close ID --lost`)")
    if lead.status == "disqualified" and lead.status_reason == chosen:
        return False
    now = datetime.now(UTC)
    lead.status, lead.status_reason, lead.status_changed_at = "disqualified", chosen, now
    emit(session, "lead.disqualified", {"lead_id": lead.id,
                                        "email": email_of(session, lead.person_id),
                                        "reason": chosen}, now)
    session.flush()
    return True
