"""Hand-built activity histories for the relationship analytics tests.

Interactions go through the real capture pipeline (`Capturer.capture_page`) into a real
database, so the analytics read exactly what a connector would have produced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import Interaction, Kind, Page, Participant, Role
from syncd.app import App
from syncd.config import AnalyticsConfig, Settings
from syncd.runner import ensure_user, get_or_create_stream
from syncd.store import models as m
from syncd.store.db import session_scope

ALICE = "alice@contoso.fr"
BOB = "bob@contoso.fr"
JEANNE = "jeanne.dupre@fabrikam.com"
MARC = "marc@fabrikam.com"
# `--as-of 2026-03-30`: the current 30-day period is March 1-30, the previous Jan 30-Feb 28.
AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
DAYS = 30


def at(day: str, hour: int = 9, minute: int = 0) -> datetime:
    y, mo, d = (int(x) for x in day.split("-"))
    return datetime(y, mo, d, hour, minute, tzinfo=UTC)


def email(key: str, sender: str, to: list[str], when: datetime, *, thread: str | None = None,
          reply_to: str | None = None, subject: str = "") -> Interaction:
    parts = (Participant(sender, Role.FROM, sender.split("@")[0].title()),
             *(Participant(a, Role.TO) for a in to))
    return Interaction(natural_key=key, kind=Kind.EMAIL, provider_id=key, occurred_at=when,
                       subject=subject or f"subject {key}", thread_key=thread or key,
                       in_reply_to=reply_to, participants=parts, folder="inbox")


def meeting(key: str, organizer: str, attendees: dict[str, str], start: datetime,
            minutes: int, *, cancelled: bool = False, subject: str = "") -> Interaction:
    parts = (Participant(organizer, Role.ORGANIZER),
             *(Participant(a, Role.ATTENDEE, response=r) for a, r in attendees.items()))
    return Interaction(natural_key=key, kind=Kind.MEETING, provider_id=key, occurred_at=start,
                       ended_at=start + timedelta(minutes=minutes),
                       subject=subject or f"meeting {key}", participants=parts,
                       is_cancelled=cancelled, folder="calendar")


def call(key: str, caller: str, callee: str, start: datetime, minutes: int) -> Interaction:
    return Interaction(natural_key=key, kind=Kind.CALL, provider_id=key, occurred_at=start,
                       ended_at=start + timedelta(minutes=minutes),
                       participants=(Participant(caller, Role.CALLER),
                                     Participant(callee, Role.CALLEE)), folder="callRecords")


def make_app(url: str) -> App:
    return App(Settings(database_url=url, internal_domains=("contoso.fr",)))


def seed_crm(app: App) -> dict[str, int]:
    """Fabrikam SAS (fabrikam.com) with contacts Jeanne Dupré and Marc Petit; colleagues
    Alice and Bob in the directory. Returns the ids."""
    from syncd.crm import upsert_account

    now = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(app.sessions) as s:
        for address, name in ((ALICE, "Alice Martin"), (BOB, "Bob Durand")):
            ensure_user(s, address, name, app.policy, now)
        acc, _ = upsert_account(s, "Fabrikam SAS", "fabrikam.com")
        ids = {"account": acc.id}
        for address, name in ((JEANNE, "Jeanne Dupré"), (MARC, "Marc Petit")):
            person = m.Person(email=address, name=name, domain="fabrikam.com")
            s.add(person)
            s.flush()
            contact = m.Contact(person_id=person.id, account_id=acc.id, name=name,
                                created_at=now)
            s.add(contact)
            s.flush()
            ids[address] = contact.id
        return ids


def capture(app: App, *items: Interaction, stream: str = "s1") -> None:
    with session_scope(app.sessions) as s:
        row = get_or_create_stream(s, "test", stream, None)
        app.capturer.capture_page(s, row, Page(list(items), f"c{len(items)}", True))


def jeanne_history() -> list[Interaction]:
    """The documented history behind tests/analytics/test_analytics_kpis.py's answers."""
    return [
        # previous period: one email of ours, never answered
        email("e7", ALICE, [JEANNE], at("2026-02-10"), thread="t0", subject="Bonjour"),
        # current period
        email("e1", ALICE, [JEANNE], at("2026-03-02", 9), thread="t1", subject="Devis n°42"),
        email("e2", JEANNE, [ALICE], at("2026-03-02", 13), thread="t1", reply_to="e1",
              subject="RE: Devis n°42"),
        email("e3", ALICE, [JEANNE], at("2026-03-03", 10), thread="t1", reply_to="e2",
              subject="RE: RE: Devis n°42"),
        email("e4", JEANNE, [BOB], at("2026-03-10", 8), thread="t2", subject="Question"),
        # answers e4 by thread order alone (no In-Reply-To)
        email("e5", BOB, [JEANNE], at("2026-03-10", 10), thread="t2", subject="RE: Question"),
        email("e6", ALICE, [JEANNE], at("2026-03-20"), thread="t3", subject="Relance"),
        meeting("m1", ALICE, {JEANNE: "accepted", BOB: "accepted"}, at("2026-03-12", 14), 60,
                subject="Démonstration"),
        meeting("m2", JEANNE, {ALICE: "accepted"}, at("2026-03-15", 14), 30, cancelled=True),
        call("c1", JEANNE, ALICE, at("2026-03-25", 16), 20),
        # future: the next scheduled contact
        meeting("m3", BOB, {JEANNE: "none"}, at("2026-04-05", 10), 45, subject="Revue annuelle"),
        # Jeanne's colleague: the account's, not Jeanne's
        email("e8", MARC, [ALICE], at("2026-03-05"), thread="t4", subject="Autre sujet"),
    ]


def config(**overrides: object) -> AnalyticsConfig:
    return AnalyticsConfig.model_validate(overrides)
