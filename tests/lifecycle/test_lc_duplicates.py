"""`syncd duplicates` over the store: contacts, leads and accounts as the CRM holds them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from syncd.app import App
from syncd.capture import ensure_persons
from syncd.config import LifecycleConfig
from syncd.crm import upsert_account
from syncd.lifecycle.duplicates import find
from syncd.lifecycle.merge import merge
from syncd.store import models as m

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def contact(app: App, s: Session, email: str, name: str, phone: str = "",
            account_id: int | None = None) -> int:
    ids, _ = ensure_persons(s, {email: name}, app.policy, NOW)
    c = m.Contact(person_id=ids[email], name=name, phone=phone, account_id=account_id,
                  created_at=NOW)
    s.add(c)
    s.flush()
    return c.id


def pairs(app: App, s: Session, kind: str,
          **config: object) -> dict[frozenset[int | str], list[str]]:
    found, _ = find(s, kind, app.policy, LifecycleConfig(**config))  # type: ignore[arg-type]
    return {frozenset((c.a, c.b)): list(c.reasons) for c in found}


def test_contacts_with_accents_phones_and_accounts(app: App, session: Session) -> None:
    acc, _ = upsert_account(session, "Fabrikam", "fabrikam.com")
    a = contact(app, session, "helene.dupre@fabrikam.com", "Hélène Dupré", account_id=acc.id)
    b = contact(app, session, "helene.dupre@gmail.com", "Helene Dupre", "06 12 34 56 78",
                account_id=acc.id)
    c = contact(app, session, "hdupre@yahoo.fr", "H. Dupré", "+33 6 12 34 56 78")
    d = contact(app, session, "paul@fabrikam.com", "Paul Durand", account_id=acc.id)
    found = pairs(app, session, "contacts")
    assert frozenset((a, b)) in found and "same company" in found[frozenset((a, b))]
    assert "same phone +33612345678" in found[frozenset((b, c))]
    assert not any(d in p for p in found)
    # read in another region, the French mobile written without +33 is another number
    assert frozenset((b, c)) not in pairs(app, session, "contacts", default_phone_region="BE")
    merge(session, "contact", a, b)
    assert all(b not in p for p in pairs(app, session, "contacts"))  # tombstones are left out


def test_accounts_by_domain_and_name(app: App, session: Session) -> None:
    a, _ = upsert_account(session, "Boulangeries Martin S.A.R.L.", "martin-boulangeries.fr")
    b, _ = upsert_account(session, "Boulangerie Martin", "")
    upsert_account(session, "Martin Transports", "martin-transports.fr")
    found = pairs(app, session, "accounts")
    assert set(found) == {frozenset((a.id, b.id))}
