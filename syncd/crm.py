"""CRM records from CSV: accounts, contacts and leads, matched so that re-imports never duplicate.

French spreadsheets are the common case: `;` separators, a UTF-8 BOM or Windows-1252 bytes,
and French column names (`nom`, `société`, `téléphone`...). All are accepted.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.normalize import normalize_address
from syncd.capture import ensure_persons
from syncd.policy import Policy, domain_of
from syncd.store import models as m

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "nom", "full name", "nom complet", "compte", "raison sociale"),
    "email": ("email", "e-mail", "mail", "courriel", "adresse e-mail", "adresse mail"),
    "domain": ("domain", "domaine", "website", "site web", "site"),
    "industry": ("industry", "secteur", "secteur d'activité", "industrie"),
    "city": ("city", "ville"),
    "title": ("title", "job title", "fonction", "poste", "titre"),
    "phone": ("phone", "téléphone", "telephone", "tél", "tel", "mobile", "portable"),
    "account_domain": ("account_domain", "account domain", "domaine du compte", "account"),
    "company": ("company", "société", "societe", "entreprise", "organisation"),
    "source": ("source", "origine"),
}
LEGAL_SUFFIXES = re.compile(
    r"\b(sarl|sas|sasu|sa|eurl|snc|sci|scop|inc|incorporated|ltd|llc|gmbh|ag|bv|nv|sprl|srl|"
    r"plc|corp|corporation|co|cie|et cie|group|groupe)\b\.?"
)


def normalize_company_name(name: str) -> str:
    """`Boulangeries Martin S.A.R.L.` and `boulangeries martin` compare equal."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"(?<=\b[a-z])\.(?=[a-z]\.)", "", text)  # s.a.r.l. -> sarl.
    text = text.replace(".", " ").replace("&", " et ")
    text = LEGAL_SUFFIXES.sub(" ", text)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def normalize_domain(value: str) -> str:
    value = value.strip().lower()
    value = re.sub(r"^[a-z]+://", "", value).split("/", 1)[0].removeprefix("www.").lstrip("@")
    key = normalize_address(f"x@{value}") if value else None
    return domain_of(key) if key else ""


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "problems": self.problems}


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row with canonical keys). Raises ValueError on unreadable files."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ";,\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise ValueError(f"{path}: empty file, expected a header line")
    mapping: dict[int, str] = {}
    for i, col in enumerate(header):
        key = col.strip().lower()
        for canon, names in ALIASES.items():
            if key in names and canon not in mapping.values():
                mapping[i] = canon
                break
    for lineno, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        yield lineno, {mapping[i]: cell.strip() for i, cell in enumerate(row) if i in mapping}


def upsert_account(session: Session, name: str, domain: str, industry: str = "",
                   city: str = "") -> tuple[m.Account, bool]:
    """Find by domain, then by normalised name; create if neither matches."""
    now = datetime.now(UTC)
    acc = None
    if domain:
        acc_id = session.scalar(
            select(m.AccountDomain.account_id).where(m.AccountDomain.domain == domain)
        )
        acc = session.get(m.Account, acc_id) if acc_id else None
    norm = normalize_company_name(name) if name else ""
    if acc is None and norm:
        acc = session.scalar(select(m.Account).where(m.Account.normalized_name == norm).limit(1))
    while acc is not None and acc.merged_into_id is not None:  # merged: use the survivor
        acc = session.get_one(m.Account, acc.merged_into_id)
    created = acc is None
    if acc is None:
        acc = m.Account(name=name or domain, normalized_name=norm or domain, industry=industry,
                        city=city, created_at=now)
        session.add(acc)
        session.flush()
    else:
        acc.industry = acc.industry or industry
        acc.city = acc.city or city
    if domain and session.get(m.AccountDomain, domain) is None:
        session.add(m.AccountDomain(domain=domain, account_id=acc.id))
        session.flush()
    return acc, created


def import_accounts(session: Session, path: Path) -> ImportSummary:
    out = ImportSummary()
    for lineno, row in read_rows(path):
        name = row.get("name", "")
        domain = normalize_domain(row.get("domain", ""))
        if not name and not domain:
            out.problems.append(f"{path.name}:{lineno}: neither name nor domain")
            continue
        _, created = upsert_account(session, name, domain, row.get("industry", ""),
                                    row.get("city", ""))
        if created:
            out.created += 1
        else:
            out.unchanged += 1
    return out


def _person(session: Session, policy: Policy, lineno: int, path: Path, row: dict[str, str],
            out: ImportSummary) -> tuple[int, str] | None:
    raw = row.get("email", "")
    key = normalize_address(raw) if raw else None
    if key is None or key.startswith("x500:"):
        out.problems.append(f"{path.name}:{lineno}: {raw!r} is not an email address")
        return None
    name = row.get("name", "")
    ids, _ = ensure_persons(session, {key: name}, policy, datetime.now(UTC))
    person = session.get_one(m.Person, ids[key])
    if name and not person.name:
        person.name = name
    return ids[key], key


def _person_rows(session: Session, policy: Policy, path: Path, out: ImportSummary
                 ) -> Iterator[tuple[dict[str, str], int, str]]:
    """Rows with a usable address, with that person's id; the others become problems."""
    for lineno, row in read_rows(path):
        got = _person(session, policy, lineno, path, row, out)
        if got is not None:
            yield row, got[0], got[1]


def import_contacts(session: Session, path: Path, policy: Policy) -> ImportSummary:
    out = ImportSummary()
    now = datetime.now(UTC)
    for row, pid, key in _person_rows(session, policy, path, out):
        dom = normalize_domain(row.get("account_domain", "")) or domain_of(key)
        acc_id = None
        if dom and not policy.is_free_mail(f"x@{dom}"):
            acc_id = session.scalar(
                select(m.AccountDomain.account_id).where(m.AccountDomain.domain == dom)
            )
        contact = session.scalar(select(m.Contact).where(m.Contact.person_id == pid))
        if contact is not None and contact.merged_into_id is not None:
            out.unchanged += 1  # merged into another contact: the survivor's values stand
            continue
        if contact is None:
            session.add(m.Contact(person_id=pid, account_id=acc_id, name=row.get("name", ""),
                                  title=row.get("title", ""), phone=row.get("phone", ""),
                                  origin="import", created_at=now))
            out.created += 1
        else:
            changed = False
            for attr in ("title", "phone", "name"):
                if row.get(attr) and getattr(contact, attr) != row[attr]:
                    setattr(contact, attr, row[attr])
                    changed = True
            if acc_id and contact.account_id != acc_id:
                contact.account_id, changed = acc_id, True
            out.updated += changed
            out.unchanged += not changed
        session.flush()
    return out


def import_leads(session: Session, path: Path, policy: Policy) -> ImportSummary:
    """Each row goes through syncd.lifecycle.leads.upsert_lead, the one matching rule for every
    way leads arrive (CLI, forms, imports, auto-capture): an address that is already a contact
    or a lead, or the name and company of an existing contact, creates no lead."""
    # Imported here: syncd.lifecycle uses this module's company-name normalisation.
    from syncd.lifecycle import LifecycleError
    from syncd.lifecycle.leads import upsert_lead

    out = ImportSummary()
    for lineno, row in read_rows(path):
        try:
            _, created = upsert_lead(
                session, email=row.get("email", ""), first_name=row.get("name", ""),
                company=row.get("company", ""), title=row.get("title", ""),
                phone=row.get("phone", ""), source=row.get("source", "") or "import",
                policy=policy)
        except LifecycleError as exc:
            out.problems.append(f"{path.name}:{lineno}: {exc}")
            continue
        out.created += created
        out.unchanged += not created
    return out
