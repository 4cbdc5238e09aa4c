"""A small company and its mail, captured through the real pipeline into a real store."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from connectors.base import Interaction, Kind, Page, Participant, Role
from syncd.app import App
from syncd.runner import get_or_create_mailbox, get_or_create_stream
from syncd.store.db import session_scope

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE, BOB, CAROL = "alice@contoso.fr", "bob@contoso.fr", "carol@contoso.fr"
JEANNE, PAUL, MAX, ZOE = ("jeanne@fabrikam.com", "paul@fabrikam.com", "max@globex.com",
                          "zoe@northwind.fr")


def email(key: str, sender: str, to: Iterable[str], at: datetime, *, cc: Iterable[str] = (),
          bcc: Iterable[str] = (), reply_to: str | None = None, subject: str = "",
          robot: bool = False) -> Interaction:
    parts = [Participant(sender, Role.FROM)]
    parts += [Participant(a, Role.TO) for a in to]
    parts += [Participant(a, Role.CC) for a in cc]
    parts += [Participant(a, Role.BCC) for a in bcc]
    return Interaction(natural_key=key, kind=Kind.EMAIL, provider_id=key, occurred_at=at,
                       subject=subject or key, in_reply_to=reply_to,
                       thread_key=reply_to or key, participants=tuple(parts),
                       is_automated=robot)


def meeting(key: str, organizer: str, attendees: Iterable[str], at: datetime) -> Interaction:
    parts = [Participant(organizer, Role.ORGANIZER)]
    parts += [Participant(a, Role.ATTENDEE) for a in attendees]
    return Interaction(natural_key=key, kind=Kind.MEETING, provider_id=key, occurred_at=at,
                       ended_at=at + timedelta(hours=1), participants=tuple(parts))


def call(key: str, caller: str, callee: str, at: datetime, minutes: float) -> Interaction:
    return Interaction(natural_key=key, kind=Kind.CALL, provider_id=key, occurred_at=at,
                       ended_at=at + timedelta(minutes=minutes),
                       participants=(Participant(caller, Role.CALLER),
                                     Participant(callee, Role.CALLEE)))


def capture(app: App, items: list[Interaction], stream: str = "s", owner: str | None = None,
            page_size: int | None = None) -> None:
    size = page_size or max(1, len(items))
    for i in range(0, len(items), size):
        with session_scope(app.sessions) as s:
            mailbox = (get_or_create_mailbox(s, "test", owner, app.policy).id
                       if owner else None)
            row = get_or_create_stream(s, "test", stream, mailbox)
            app.capturer.capture_page(s, row, Page(items[i:i + size], f"c{i}", True))


def company_mail() -> list[Interaction]:
    """Alice knows Jeanne well (two-way, replies, a meeting, a call); Bob wrote to Jeanne once;
    Carol knows Zoe; nobody knows Max, but Jeanne writes to him with Bob in copy."""
    d = timedelta(days=1)
    h = timedelta(hours=1)
    return [
        email("m1@x", JEANNE, [ALICE], T0),
        email("m2@x", ALICE, [JEANNE], T0 + 2 * h, reply_to="m1@x"),
        email("m3@x", JEANNE, [ALICE], T0 + 5 * h, reply_to="m2@x"),
        email("m4@x", ALICE, [JEANNE, PAUL], T0 + 3 * d),
        meeting("mt1@x", ALICE, [JEANNE], T0 + 10 * d),
        call("c1@x", ALICE, JEANNE, T0 + 12 * d, 25),
        email("m5@x", BOB, [JEANNE], T0 + 20 * d),
        email("m6@x", CAROL, [ZOE], T0 + 21 * d),
        email("m7@x", ZOE, [CAROL], T0 + 22 * d, reply_to="m6@x"),
        email("m8@x", JEANNE, [MAX], T0 + 25 * d, cc=[BOB]),
        email("m9@x", MAX, [JEANNE], T0 + 26 * d, reply_to="m8@x"),
        email("m10@x", ALICE, [BOB, CAROL], T0 + 27 * d),
        email("m11@x", "news@fabrikam.com", [ALICE, BOB], T0 + 28 * d, robot=True),
    ]


def tie_rows(app: App) -> dict[tuple[str, ...], tuple[object, ...]]:
    """Every tie by address pair (sorted), with its columns oriented to that order; floats
    rounded so that sums computed in another order compare equal."""
    with app.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT pa.email, pb.email, a_to_b, b_to_a, meetings, calls, co_recipient, "
            "replies_ab, replies_ba, call_seconds, latency_ab_sum, latency_ab_n, "
            "latency_ba_sum, latency_ba_n, first_at, last_at, score, email_ab, email_ba, "
            "reply_ab, reply_ba, meeting_w, call_w, co_w, score_at FROM ties "
            "JOIN persons pa ON pa.id = person_a JOIN persons pb ON pb.id = person_b")).all()
    out: dict[tuple[str, ...], tuple[object, ...]] = {}
    for r in rows:
        a, b = r[0], r[1]
        (ab, ba, meetings, calls, co, rab, rba, secs, lab, nab, lba, nba, first, last, score,
         eab, eba, pab, pba, mw, cw, cow, at) = r[2:]
        if a > b:
            a, b, ab, ba, rab, rba, lab, nab, lba, nba, eab, eba, pab, pba = (
                b, a, ba, ab, rba, rab, lba, nba, lab, nab, eba, eab, pba, pab)
        floats = tuple(round(float(x), 6) for x in (secs, lab, lba, score, eab, eba, pab, pba,
                                                     mw, cw, cow))
        out[(a, b)] = (ab, ba, meetings, calls, co, rab, rba, nab, nba, str(first)[:19],
                       str(last)[:19], str(at)[:19], *floats)
    return out
