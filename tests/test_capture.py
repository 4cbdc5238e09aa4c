"""The capture pipeline against real databases (SQLite file and, when available, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from connectors.base import (
    Deletion,
    Interaction,
    Kind,
    Page,
    Participant,
    RejectedItem,
    Role,
)
from syncd.app import App
from syncd.config import PolicyConfig, Settings
from syncd.runner import get_or_create_stream
from syncd.store import models as m
from syncd.store.db import session_scope

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def email(key: str, sender: str, to: list[str], *, cc: list[str] = (), at: datetime = T0,
          pid: str | None = None, **kw: object) -> Interaction:
    parts = [Participant(sender, Role.FROM, name=sender.split("@")[0].title())]
    parts += [Participant(a, Role.TO) for a in to] + [Participant(a, Role.CC) for a in cc]
    return Interaction(natural_key=key, kind=Kind.EMAIL, provider_id=pid or key,
                       occurred_at=at, subject=f"subject {key}", participants=tuple(parts),
                       folder="inbox", **kw)  # type: ignore[arg-type]


def make_app(url: str, **policy: object) -> App:
    settings = Settings(database_url=url, internal_domains=("contoso.fr",),
                        policy=PolicyConfig(**policy))  # type: ignore[arg-type]
    return App(settings)


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    a = make_app(db_url)
    yield a
    a.close()


def capture(app: App, stream_key: str, *items: Interaction, cursor: str = "c1",
            complete: bool = True, deletions: list[Deletion] | None = None,
            rejected: list[RejectedItem] | None = None) -> object:
    with session_scope(app.sessions) as s:
        stream = get_or_create_stream(s, "test", stream_key, None)
        page = Page(list(items), cursor, complete, deletions or [], rejected or [])
        return app.capturer.capture_page(s, stream, page)


def count(app: App, model: type[m.Base]) -> int:
    with session_scope(app.sessions) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def add_contact(app: App, address: str, domain: str = "fabrikam.com") -> tuple[int, int]:
    from syncd.crm import upsert_account

    with session_scope(app.sessions) as s:
        acc, _ = upsert_account(s, "Fabrikam SAS", domain)
        person = m.Person(email=address, name="Jeanne Dupré", domain=domain)
        s.add(person)
        s.flush()
        contact = m.Contact(person_id=person.id, account_id=acc.id, created_at=T0)
        s.add(contact)
        s.flush()
        return contact.id, acc.id


def test_same_message_in_two_mailboxes_is_one_interaction_with_two_sightings(app: App) -> None:
    msg = email("m1@fabrikam.com", "jeanne@fabrikam.com", ["alice@contoso.fr", "bob@contoso.fr"])
    r1 = capture(app, "alice/inbox", msg)
    r2 = capture(app, "bob/inbox", msg)
    assert (r1.interactions_new, r1.sightings_new) == (1, 1)  # type: ignore[attr-defined]
    assert (r2.interactions_new, r2.sightings_new) == (0, 1)  # type: ignore[attr-defined]
    assert count(app, m.Interaction) == 1
    assert count(app, m.Sighting) == 2
    assert count(app, m.Person) == 3


def test_recapturing_a_page_is_a_no_op_for_ties_and_activities(app: App) -> None:
    contact_id, _ = add_contact(app, "jeanne@fabrikam.com")
    msg = email("m1@fabrikam.com", "alice@contoso.fr", ["jeanne@fabrikam.com"])
    capture(app, "alice/sent", msg)
    with session_scope(app.sessions) as s:
        before = [(t.a_to_b, t.b_to_a, t.score) for t in s.scalars(select(m.Tie))]
    capture(app, "alice/sent", msg)
    capture(app, "jeanne-copy", msg)
    with session_scope(app.sessions) as s:
        after = [(t.a_to_b, t.b_to_a, t.score) for t in s.scalars(select(m.Tie))]
        links = s.execute(select(m.ActivityLink.target_type, m.ActivityLink.target_id)).all()
    assert before == after and len(before) == 1
    assert count(app, m.Activity) == 1
    assert count(app, m.Event) == 1
    assert ("contact", contact_id) in links


def test_contact_mail_is_captured_and_linked_to_contact_and_account(app: App) -> None:
    contact_id, account_id = add_contact(app, "jeanne@fabrikam.com")
    capture(app, "s", email("m1@x", "jeanne@fabrikam.com", ["alice@contoso.fr"]))
    with session_scope(app.sessions) as s:
        inter = s.scalars(select(m.Interaction)).one()
        links = set(s.execute(select(m.ActivityLink.target_type, m.ActivityLink.target_id)))
    assert inter.captured and inter.direction == "inbound"
    assert links == {("contact", contact_id), ("account", account_id)}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (email("i@x", "alice@contoso.fr", ["bob@contoso.fr"]), "internal-only"),
        (email("p@x", "jeanne@fabrikam.com", ["alice@contoso.fr"], is_private=True), "private"),
        (email("a@x", "no-reply@fabrikam.com", ["alice@contoso.fr"]), "automated"),
        (email("u@x", "paul@unknown.fr", ["alice@contoso.fr"]), "no external participant is"),
        (email("g@x", "jeanne.perso@gmail.com", ["alice@contoso.fr"]), "no external participant"),
    ],
)
def test_policy_refusals_are_recorded_with_their_reason(app: App, item: Interaction,
                                                        reason: str) -> None:
    add_contact(app, "jeanne@fabrikam.com")
    result = capture(app, "s", item)
    assert result.captured == 0  # type: ignore[attr-defined]
    with session_scope(app.sessions) as s:
        inter = s.scalars(select(m.Interaction)).one()
    assert not inter.captured
    assert any(reason in r for r in inter.decision["reasons"])  # type: ignore[union-attr]


def test_blocklisted_sender_is_not_captured_and_never_stored(db_url: str) -> None:
    app = make_app(db_url, blocked_domains=("competitor.example",))
    try:
        add_contact(app, "jeanne@fabrikam.com")
        capture(app, "s", email("b@x", "spy@competitor.example",
                                ["alice@contoso.fr", "jeanne@fabrikam.com"]))
        with session_scope(app.sessions) as s:
            emails = set(s.scalars(select(m.Person.email)))
            inter = s.scalars(select(m.Interaction)).one()
        assert "spy@competitor.example" not in emails
        assert not inter.captured
        assert "blocklisted" in inter.decision["reasons"][0]  # type: ignore[index]
    finally:
        app.close()


def test_auto_create_contact_only_for_known_account_domains(db_url: str) -> None:
    app = make_app(db_url, auto_create="contact")
    try:
        _, account_id = add_contact(app, "jeanne@fabrikam.com")
        capture(app, "s",
                email("n@x", "alice@contoso.fr", ["marc@fabrikam.com", "x@gmail.com",
                                                   "y@nowhere.fr"]))
        with session_scope(app.sessions) as s:
            contacts = s.execute(select(m.Person.email, m.Contact.account_id, m.Contact.origin)
                                 .join(m.Person, m.Person.id == m.Contact.person_id)).all()
        assert ("marc@fabrikam.com", account_id, "auto") in contacts
        assert {c[0] for c in contacts} == {"jeanne@fabrikam.com", "marc@fabrikam.com"}
    finally:
        app.close()


def test_cursor_and_data_commit_together_or_not_at_all(app: App) -> None:
    good = email("ok@x", "jeanne@fabrikam.com", ["alice@contoso.fr"])
    bad = email("bad@x", "jeanne@fabrikam.com", ["alice@contoso.fr"],
                at=datetime(2026, 3, 2, 9, 30))  # naive datetime: the write fails mid-page
    capture(app, "s", good, cursor="c1")
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        capture(app, "s", email("ok2@x", "a@fabrikam.com", ["alice@contoso.fr"]), bad,
                cursor="c2")
    with session_scope(app.sessions) as s:
        stream = s.scalars(select(m.Stream)).one()
        keys = set(s.scalars(select(m.Interaction.natural_key)))
    assert stream.cursor == "c1"
    assert keys == {"ok@x"}


def test_deletions_and_rejects_are_recorded(app: App) -> None:
    capture(app, "s", email("m1@x", "jeanne@fabrikam.com", ["alice@contoso.fr"], pid="id-1"))
    capture(app, "s", deletions=[Deletion("id-1"), Deletion("unknown")],
            rejected=[RejectedItem("id-9", "no usable Date header", "From: x")])
    with session_scope(app.sessions) as s:
        sighting = s.scalars(select(m.Sighting)).one()
        reject = s.scalars(select(m.RejectedItem)).one()
    assert sighting.deleted_at is not None
    assert (reject.provider_id, reject.reason) == ("id-9", "no usable Date header")
    assert count(app, m.Interaction) == 1  # a deletion never removes the shared interaction


def test_ties_count_direction_and_replies(app: App) -> None:
    first = email("m1@x", "alice@contoso.fr", ["jeanne@fabrikam.com"])
    again = email("m0@x", "alice@contoso.fr", ["jeanne@fabrikam.com"], at=T0 - timedelta(days=1))
    reply = email("m2@x", "jeanne@fabrikam.com", ["alice@contoso.fr"],
                  at=T0 + timedelta(hours=2), in_reply_to="m1@x")
    capture(app, "s", first, reply, again)
    with session_scope(app.sessions) as s:
        tie = s.scalars(select(m.Tie)).one()
        ids = dict(s.execute(select(m.Person.email, m.Person.id)).all())
    alice_to_jeanne, jeanne_to_alice = (
        (tie.a_to_b, tie.b_to_a) if ids["alice@contoso.fr"] == tie.person_a
        else (tie.b_to_a, tie.a_to_b))
    assert (alice_to_jeanne, jeanne_to_alice) == (2, 1)
    assert tie.first_at == T0 - timedelta(days=1) and tie.last_at == T0 + timedelta(hours=2)
    decay = 0.5 ** (1 / (90 * 24))  # one hour at a 90-day half-life
    assert tie.score == pytest.approx(decay**2 + decay**26 + 1.5)


def test_newer_call_version_updates_the_interaction(app: App) -> None:
    def call(version: int, end: datetime) -> Interaction:
        return Interaction(natural_key="call:42", kind=Kind.CALL, provider_id="42",
                           occurred_at=T0, ended_at=end, version=version,
                           participants=(Participant("alice@contoso.fr", Role.CALLER),
                                         Participant("jeanne@fabrikam.com", Role.CALLEE)))

    capture(app, "calls", call(1, T0 + timedelta(minutes=5)))
    result = capture(app, "calls", call(2, T0 + timedelta(minutes=25)))
    assert result.interactions_updated == 1  # type: ignore[attr-defined]
    with session_scope(app.sessions) as s:
        inter = s.scalars(select(m.Interaction)).one()
    assert (inter.version, inter.ended_at) == (2, T0 + timedelta(minutes=25))


def test_ties_merged_across_pages_equal_the_closed_form(app: App) -> None:
    """The database-side merge of decayed scores matches the sum over all contributions,
    whatever order the pages come in."""
    at = [T0 + timedelta(days=d) for d in (30, 0, 95, 10)]
    for i, when in enumerate(at):
        capture(app, "s", email(f"k{i}@x", "alice@contoso.fr", ["jeanne@fabrikam.com"],
                                at=when), cursor=f"c{i}")
    with session_scope(app.sessions) as s:
        tie = s.scalars(select(m.Tie)).one()
    latest = max(at)
    expected = sum(0.5 ** ((latest - t).total_seconds() / (90 * 86400)) for t in at)
    assert tie.score_at == latest
    assert tie.score == pytest.approx(expected, rel=1e-9)
    assert (tie.first_at, tie.last_at) == (min(at), latest)
    assert tie.a_to_b + tie.b_to_a == 4


def test_a_later_copy_adds_its_bcc_and_may_capture_but_never_changes_ties(app: App) -> None:
    """Sync order must not matter: the recipient's copy (no Bcc) may come first."""
    contact_id, _ = add_contact(app, "jeanne@fabrikam.com")
    inbox_copy = email("b1@contoso.fr", "alice@contoso.fr", ["bob@contoso.fr"], pid="in-1")
    parts = (*inbox_copy.participants, Participant("jeanne@fabrikam.com", Role.BCC))
    sent_copy = Interaction(**{**{f: getattr(inbox_copy, f)
                                  for f in inbox_copy.__dataclass_fields__},
                               "participants": parts, "provider_id": "sent-1"})
    capture(app, "bob/inbox", inbox_copy)
    with session_scope(app.sessions) as s:
        ties_before = [(t.person_a, t.person_b, t.a_to_b, t.b_to_a, t.score)
                       for t in s.scalars(select(m.Tie))]
        assert not s.scalars(select(m.Interaction)).one().captured  # internal-only so far
    result = capture(app, "alice/sent", sent_copy)
    assert result.captured == 1  # type: ignore[attr-defined]
    with session_scope(app.sessions) as s:
        inter = s.scalars(select(m.Interaction)).one()
        roles = set(s.execute(select(m.Person.email, m.Participant.role).join(
            m.Person, m.Person.id == m.Participant.person_id)).all())
        ties_after = [(t.person_a, t.person_b, t.a_to_b, t.b_to_a, t.score)
                      for t in s.scalars(select(m.Tie))]
        links = set(s.execute(select(m.ActivityLink.target_type, m.ActivityLink.target_id)))
    assert inter.captured and inter.participant_count == 3
    assert ("jeanne@fabrikam.com", "bcc") in roles
    assert ("contact", contact_id) in links
    assert ties_after == ties_before


def test_copies_with_rewritten_message_ids_are_one_interaction(app: App) -> None:
    """Some exports give every mailbox's copy its own Message-ID (the Enron corpus does);
    the fingerprint of From, Date, Subject and To+Cc still makes them one interaction."""
    def copy(mid: str, pid: str) -> Interaction:
        base = email(mid, "jeanne@fabrikam.com", ["alice@contoso.fr", "bob@contoso.fr"],
                     pid=pid)
        return Interaction(**{**{f: getattr(base, f) for f in base.__dataclass_fields__},
                              "subject": "Devis", "fingerprint": "sha1:same"})

    capture(app, "alice/inbox", copy("1.JavaMail.evans@thyme", "a1"))
    result = capture(app, "bob/inbox", copy("2.JavaMail.evans@thyme", "b1"),
                     copy("3.JavaMail.evans@thyme", "b2"))
    assert (result.interactions_new, result.sightings_new) == (0, 2)  # type: ignore[attr-defined]
    again = capture(app, "bob/inbox", copy("2.JavaMail.evans@thyme", "b1"))
    assert (again.interactions_new, again.sightings_new) == (0, 0)  # type: ignore[attr-defined]
    with session_scope(app.sessions) as s:
        tie_total = s.scalar(select(func.sum(m.Tie.a_to_b + m.Tie.b_to_a)))
    assert count(app, m.Interaction) == 1 and count(app, m.Sighting) == 3
    assert tie_total == 2  # jeanne -> alice and jeanne -> bob, once


def test_fingerprint_twins_within_one_page(app: App) -> None:
    twins = [Interaction(natural_key=f"{i}@x", kind=Kind.EMAIL, provider_id=f"p{i}",
                         occurred_at=T0, fingerprint="sha1:twin",
                         participants=(Participant("a@fabrikam.com", Role.FROM),
                                       Participant("alice@contoso.fr", Role.TO)))
             for i in range(3)]
    result = capture(app, "s", *twins)
    assert (result.interactions_new, result.sightings_new) == (1, 3)  # type: ignore[attr-defined]
