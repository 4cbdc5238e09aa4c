"""TARGET text -> one CRM record: a contact, lead, account or opportunity.

Accepted forms, tried in this order:
- `contact:12`, `lead:3`, `account:7`, `opportunity:5` (`opp:5`), or a bare id with `--kind`;
- an address: the contact with that address, else its lead (an open one first);
- `@domain` or `domain.tld`: the account owning that domain (or a parent domain);
- a name, accents and case optional: contacts, leads, accounts (legal suffixes ignored, as
  `syncd accounts import` matches them) and opportunities; an exact name first, then every
  word contained. Several matches are refused with the candidates listed, except that a
  person's contact wins over their leads.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.normalize import normalize_address
from syncd.analytics.touches import RECORD_KINDS
from syncd.crm import normalize_company_name
from syncd.policy import domain_of
from syncd.queries import QueryError
from syncd.store import models as m

ALIASES = {"contact": "contact", "lead": "lead", "account": "account",
           "opportunity": "opportunity", "opp": "opportunity"}
MAX_CANDIDATES = 8


@dataclass(frozen=True)
class Record:
    kind: str  # contact | lead | account | opportunity
    id: int
    name: str
    detail: str = ""  # address, domain, account...
    person_id: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def label(self) -> str:
        return f"{self.name} <{self.detail}>" if self.detail and self.name else (
            self.name or self.detail or self.ref)

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "id": self.id, "ref": self.ref, "name": self.name,
                "detail": self.detail}


def fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
                    .lower().split())


def records(session: Session, kind: str, ids: list[int] | None = None) -> dict[int, Record]:
    """Every record of `kind` (or those in `ids`) with its display name and detail."""
    p, acc = m.Person, m.Account
    out: dict[int, Record] = {}
    if kind == "contact":
        c = m.Contact
        q = (select(c.id, c.name, p.name, p.email, c.person_id, acc.name)
             .join(p, p.id == c.person_id).outerjoin(acc, acc.id == c.account_id))
        q = q.where(c.id.in_(ids)) if ids is not None else q.where(c.merged_into_id.is_(None))
        for cid, cname, pname, email, pid, account in session.execute(q):
            detail = email + (f", {account}" if account else "")
            out[cid] = Record("contact", cid, cname or pname or "", detail, pid)
    elif kind == "lead":
        ld = m.Lead
        q2 = select(ld.id, ld.name, p.name, p.email, ld.company, ld.person_id, ld.status).join(
            p, p.id == ld.person_id)
        q2 = (q2.where(ld.id.in_(ids)) if ids is not None
              else q2.where(ld.merged_into_id.is_(None)))
        for lid, lname, pname, email, company, pid, status in session.execute(q2):
            detail = email + (f", {company}" if company else "") + f", {status}"
            out[lid] = Record("lead", lid, lname or pname or "", detail, pid)
    elif kind == "account":
        domains: dict[int, list[str]] = {}
        for dom, aid in session.execute(select(m.AccountDomain.domain,
                                               m.AccountDomain.account_id)):
            domains.setdefault(aid, []).append(dom)
        q3 = select(acc.id, acc.name)
        q3 = (q3.where(acc.id.in_(ids)) if ids is not None
              else q3.where(acc.merged_into_id.is_(None)))
        for aid, name in session.execute(q3):
            out[aid] = Record("account", aid, name, ", ".join(sorted(domains.get(aid, []))))
    elif kind == "opportunity":
        o = m.Opportunity
        q4 = select(o.id, o.name, o.stage, o.status, acc.name).outerjoin(
            acc, acc.id == o.account_id)
        if ids is not None:
            q4 = q4.where(o.id.in_(ids))
        for oid, name, stage, status, account in session.execute(q4):
            state = stage if status in (None, "open") else status
            out[oid] = Record("opportunity", oid, name,
                              ", ".join(x for x in (account, state) if x))
    else:
        raise QueryError(f"unknown kind {kind!r}: use one of {', '.join(RECORD_KINDS)}")
    return out


def resolve(session: Session, text: str, kind: str | None = None) -> Record:
    """Raises QueryError (unknown or ambiguous target, with what to type instead)."""
    raw = text.strip()
    if not raw:
        raise QueryError("empty target: give an id (contact:12), an address, @domain or a name")
    head, sep, tail = raw.partition(":")
    if sep and head.lower() in ALIASES and tail.strip().isdigit():
        return _by_id(session, ALIASES[head.lower()], int(tail), kind)
    if raw.lstrip("#").isdigit():
        if kind is None:
            n = raw.lstrip("#")
            raise QueryError(f"{raw!r} is ambiguous: write contact:{n}, lead:{n}, account:{n} "
                             f"or opportunity:{n} (or add --kind)")
        return _by_id(session, kind, int(raw.lstrip("#")), None)
    if "@" in raw and not raw.startswith("@"):
        return _by_address(session, raw, kind)
    if raw.startswith("@") or ("." in raw and " " not in raw):
        return _by_domain(session, raw.lstrip("@").lower(), kind)
    return _by_name(session, raw, kind)


def _check_kind(found: str, wanted: str | None, raw: str) -> None:
    if wanted is not None and found != wanted:
        raise QueryError(f"{raw!r} names a {found}, not a {wanted}")


MERGEABLE: dict[str, type[m.Contact] | type[m.Lead] | type[m.Account]] = {
    "contact": m.Contact, "lead": m.Lead, "account": m.Account}


def _survivor(session: Session, kind: str, rid: int) -> int:
    """A record merged into another (`syncd merge`) stands for the one it was merged into."""
    model = MERGEABLE.get(kind)
    if model is None:
        return rid
    into = session.scalar(select(model.merged_into_id).where(model.id == rid))
    return into if into is not None else rid


def _by_id(session: Session, kind: str, rid: int, wanted: str | None) -> Record:
    _check_kind(kind, wanted, f"{kind}:{rid}")
    rid = _survivor(session, kind, rid)
    found = records(session, kind, [rid]).get(rid)
    if found is None:
        raise QueryError(f"no {kind} with id {rid}")
    return found


def _by_address(session: Session, raw: str, kind: str | None) -> Record:
    key = normalize_address(raw)
    if key is None:
        raise QueryError(f"{raw!r} is not a valid address")
    pid = session.scalar(select(m.Person.id).where(m.Person.email == key,
                                                   m.Person.forgotten.is_(False)))
    if pid is not None:
        if kind in (None, "contact"):
            cid = session.scalar(select(m.Contact.id).where(m.Contact.person_id == pid))
            if cid is not None:
                return _by_id(session, "contact", cid, None)
        if kind in (None, "lead"):
            leads = list(session.execute(select(m.Lead.id, m.Lead.status).where(
                m.Lead.person_id == pid).order_by(m.Lead.id.desc())))
            if leads:
                lid = next((i for i, st in leads if st == "open"), leads[0][0])
                return _by_id(session, "lead", lid, None)
    dom = domain_of(key)
    acc = session.scalar(select(m.AccountDomain.account_id).where(m.AccountDomain.domain == dom))
    hint = f"; its domain belongs to account:{acc} (try @{dom})" if acc is not None else ""
    what = kind or "contact or lead"
    raise QueryError(f"no {what} with address {key}{hint}")


def _by_domain(session: Session, domain: str, kind: str | None) -> Record:
    _check_kind("account", kind, f"@{domain}")
    parts = domain.split(".")
    for i in range(len(parts) - 1):  # mail.fabrikam.com falls back to fabrikam.com
        aid = session.scalar(select(m.AccountDomain.account_id).where(
            m.AccountDomain.domain == ".".join(parts[i:])))
        if aid is not None:
            return _by_id(session, "account", aid, None)
    raise QueryError(f"no account with domain {domain}")


def _by_name(session: Session, raw: str, kind: str | None) -> Record:
    wanted = fold(raw)
    words = wanted.split()
    company = normalize_company_name(raw)
    exact: list[Record] = []
    partial: list[Record] = []
    for k in (kind,) if kind else RECORD_KINDS:
        for rec in records(session, k).values():
            name = fold(rec.name)
            if name == wanted or (k == "account" and company
                                  and normalize_company_name(rec.name) == company):
                exact.append(rec)
            elif name and all(w in name for w in words):
                partial.append(rec)
    for found in (exact, partial):
        if not found:
            continue
        persons = {r.person_id for r in found}
        contacts = [r for r in found if r.kind == "contact"]
        if len(found) > 1 and len(persons) == 1 and None not in persons and len(contacts) == 1:
            return contacts[0]  # one person's contact and their (qualified) leads
        if len(found) == 1:
            return found[0]
        listed = "\n".join(f"  {r.ref:<16} {r.label}" for r in found[:MAX_CANDIDATES])
        more = f"\n  ... and {len(found) - MAX_CANDIDATES} more" if (
            len(found) > MAX_CANDIDATES) else ""
        raise QueryError(f"{raw!r} matches {len(found)} records; name one:\n{listed}{more}")
    what = kind or "contact, lead, account or opportunity"
    raise QueryError(f"no {what} matches {raw!r}")
