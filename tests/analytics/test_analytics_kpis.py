"""KPIs and health of a hand-built history with known answers (SQLite file and PostgreSQL).

The history (analytics_helpers.jeanne_history), as of the end of 2026-03-30, 30-day periods:

current period (March 1-30), Jeanne's relationship:
  e1 Mar 2 09:00 us -> her, thread t1             starts t1 (us); she answers it with e2 (4 h)
  e2 Mar 2 13:00 her -> us, In-Reply-To e1        we answer it with e3 (21 h)
  e3 Mar 3 10:00 us -> her, In-Reply-To e2        never answered
  e4 Mar 10 08:00 her -> us, thread t2            starts t2 (them); e5 answers it (2 h)
  e5 Mar 10 10:00 us -> her, thread t2 only       never answered
  e6 Mar 20 09:00 us -> her, thread t3            starts t3 (us); never answered
  m1 Mar 12 14:00 60 min, we organise             starts (us)
  m2 Mar 15 cancelled                             counts for nothing
  c1 Mar 25 16:00 20 min, she calls               starts (them); last contact
  m3 Apr 5 10:00, we organise                     next scheduled contact
previous period: e7 Feb 10 09:00 us -> her, never answered.
Marc (her colleague) wrote e8 on Mar 5: the account's relationship, not Jeanne's.
"""

from __future__ import annotations

import pytest
from analytics_helpers import ALICE, AS_OF, DAYS, JEANNE, MARC, at, capture, config, meeting
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.analytics.report import relationship, relationship_list
from syncd.analytics.targets import records
from syncd.app import App
from syncd.store import models as m
from syncd.store.db import session_scope


def jeanne(app: App, ids: dict[str, int], **cfg: object) -> dict[str, object]:
    with session_scope(app.sessions) as s:
        rec = records(s, "contact", [ids[JEANNE]])[ids[JEANNE]]
        return relationship(s, rec, config(**cfg), days=DAYS, as_of=AS_OF).as_json()


def test_current_period_kpis_match_the_hand_computed_answers(app: App,
                                                               ids: dict[str, int]) -> None:
    cur = jeanne(app, ids)["current"]
    assert isinstance(cur, dict)
    assert (cur["emails_sent"], cur["emails_received"]) == (4, 2)
    assert (cur["meetings"], cur["meetings_ours"], cur["meetings_theirs"]) == (1, 1, 0)
    assert cur["meeting_minutes"] == 60
    assert (cur["calls"], cur["calls_made"], cur["calls_received"]) == (1, 0, 1)
    assert cur["call_minutes"] == 20
    # threads t1, t3 and m1 by us; thread t2 and c1 by them
    assert (cur["initiated_us"], cur["initiated_them"]) == (3, 2)
    # 4 emails x 5 min + 60 + 20 ours; 2 emails x 5 min + 60 + 20 theirs
    assert (cur["minutes_ours"], cur["minutes_theirs"]) == (100, 90)
    # we answered e2 (21 h) and e4 (2 h); she answered e1 only (4 h)
    assert (cur["replied_by_us"], cur["our_reply_rate"], cur["our_response_hours"]) == (
        2, 1.0, 11.5)
    assert (cur["replied_by_them"], cur["their_reply_rate"], cur["their_response_hours"]) == (
        1, 0.25, 4.0)
    assert cur["volume"] == 6 * 1 + 1 * 3 + 1 * 2
    assert cur["touches"] == 8


def test_previous_period_and_last_and_next_contact(app: App, ids: dict[str, int]) -> None:
    data = jeanne(app, ids)
    prev = data["previous"]
    assert isinstance(prev, dict)
    assert (prev["emails_sent"], prev["emails_received"], prev["meetings"]) == (1, 0, 0)
    assert (prev["initiated_us"], prev["their_reply_rate"]) == (1, 0.0)
    last = data["last_contact"]
    assert isinstance(last, dict)
    assert (last["kind"], last["at"][:16], last["side"], last["who"]) == (
        "call", "2026-03-25T16:00", "them", JEANNE)
    nxt = data["next_scheduled"]
    assert isinstance(nxt, dict)
    assert (nxt["kind"], nxt["at"][:16], nxt["subject"], nxt["side"]) == (
        "meeting", "2026-04-05T10:00", "Revue annuelle", "us")
    assert data["next_meeting_at"] == nxt["at"]


def test_daily_breakdown_by_type_and_direction(app: App, ids: dict[str, int]) -> None:
    days = jeanne(app, ids)["daily"]
    assert isinstance(days, list)
    assert len(days) == DAYS and days[0]["date"] == "2026-03-01"
    assert days[-1]["date"] == "2026-03-30"
    nonzero = {d["date"]: {k: v for k, v in d.items() if k != "date" and v}
               for d in days if any(v for k, v in d.items() if k != "date")}
    assert nonzero == {
        "2026-03-02": {"email_sent": 1, "email_received": 1},
        "2026-03-03": {"email_sent": 1},
        "2026-03-10": {"email_sent": 1, "email_received": 1},
        "2026-03-12": {"meeting_sent": 1},
        "2026-03-20": {"email_sent": 1},
        "2026-03-25": {"call_received": 1},
    }


def test_health_score_grade_and_trend_follow_the_documented_formula(
        app: App, ids: dict[str, int]) -> None:
    health = jeanne(app, ids)["health"]
    assert isinstance(health, dict)
    # current: recency 1 (5.3 days <= 14), volume min(1, 11 / (30/14)) = 1, responsiveness
    # 0.25, response time 0.5 ** (4/48), reciprocity min(1, 2 * 2/5) = 0.8:
    # 30 + 30 + 5 + 9.44 + 8 = 82.4 -> 82
    assert (health["score"], health["grade"]) == (82, "good")
    # previous: recency 0.5 ** ((18.625 - 14) / 14), volume 1 / (30/14), responsiveness 0,
    # reciprocity 0, no response time: (23.86 + 14) / 90 -> 42
    assert health["previous_score"] == 42
    assert health["trend"] == "improving"
    values = {c["name"]: c["value"] for c in health["components"]}
    assert values == {"recency": 1.0, "volume": 1.0, "responsiveness": 0.25,
                      "response_time": pytest.approx(0.944, abs=1e-3), "reciprocity": 0.8}
    assert [f["name"] for f in health["lowering"]] == ["responsiveness"]
    assert [f["name"] for f in health["raising"]][:2] == ["recency", "volume"]


def test_weights_and_expected_frequency_come_from_the_configuration(
        app: App, ids: dict[str, int]) -> None:
    # Only responsiveness counts: the score is their reply rate.
    only = {"recency": 0, "volume": 0, "responsiveness": 1, "response_time": 0,
            "reciprocity": 0}
    health = jeanne(app, ids, health=only)["health"]
    assert isinstance(health, dict)
    assert health["score"] == 25 and health["grade"] == "poor"
    # Expecting contact every 2 days: 5.3 days of silence halve recency 1.67 times.
    recency = {"recency": 1, "volume": 0, "responsiveness": 0, "response_time": 0,
               "reciprocity": 0}
    health = jeanne(app, ids, health=recency, expected_contact_days=2)["health"]
    assert isinstance(health, dict)
    assert health["score"] == round(100 * 0.5 ** ((5 + 8 / 24 - 2) / 2))
    cur = jeanne(app, ids, minutes_per_email=0, weights={"email": 0, "meeting": 1, "call": 1})
    assert isinstance(cur["current"], dict)
    assert cur["current"]["volume"] == 2
    assert (cur["current"]["minutes_ours"], cur["current"]["minutes_theirs"]) == (80, 80)


def test_account_relationship_includes_every_contact_there(app: App,
                                                           ids: dict[str, int]) -> None:
    with session_scope(app.sessions) as s:
        rec = records(s, "account", [ids["account"]])[ids["account"]]
        data = relationship(s, rec, config(), days=DAYS, as_of=AS_OF).as_json()
    cur = data["current"]
    assert (cur["emails_sent"], cur["emails_received"]) == (4, 3)  # + Marc's e8
    assert (cur["initiated_us"], cur["initiated_them"]) == (3, 3)
    assert cur["our_reply_rate"] == pytest.approx(2 / 3, abs=1e-3)  # nobody answered Marc


def test_as_of_in_the_past_ignores_what_came_later(app: App, ids: dict[str, int]) -> None:
    from datetime import datetime

    with session_scope(app.sessions) as s:
        rec = records(s, "contact", [ids[JEANNE]])[ids[JEANNE]]
        # As of Mar 2 12:00, e1 had not been answered yet (e2 came at 13:00).
        data = relationship(s, rec, config(), days=DAYS,
                            as_of=datetime(2026, 3, 2, 12, tzinfo=AS_OF.tzinfo)).as_json()
    cur = data["current"]
    # Feb 1 - Mar 2 noon: e7 and e1, neither answered yet
    assert (cur["emails_sent"], cur["emails_received"], cur["their_reply_rate"]) == (2, 0, 0.0)
    nxt = data["next_scheduled"]
    assert nxt is not None and nxt["at"].startswith("2026-03-12")  # m1 was still ahead
    assert data["last_contact"]["at"].startswith("2026-03-02T09:00")


def test_list_sorts_the_relationships_needing_attention_first(app: App,
                                                              ids: dict[str, int]) -> None:
    with session_scope(app.sessions) as s:
        rows = relationship_list(s, "contact", config(), days=DAYS, as_of=AS_OF)
        names = [a.record.name for a in rows]
        assert names == ["Marc Petit", "Jeanne Dupré"]  # Marc: one email, never answered
        marc, jean = rows
        assert marc.health.score < jean.health.score
        assert jean.health.score == 82 and jean.next_at is not None
        by_last = relationship_list(s, "contact", config(), days=DAYS, as_of=AS_OF,
                                    sort="last")
        assert [a.record.name for a in by_last] == ["Marc Petit", "Jeanne Dupré"]
        accounts = relationship_list(s, "account", config(), days=DAYS, as_of=AS_OF)
        assert [a.record.name for a in accounts] == ["Fabrikam SAS"]
        # Nothing captured for leads: the list is empty unless asked for every record.
        assert relationship_list(s, "lead", config(), days=DAYS, as_of=AS_OF) == []


def _link(s: Session, key: str, target_type: str, target_id: int) -> None:
    aid = s.scalar(select(m.Activity.id).join(
        m.Interaction, m.Interaction.id == m.Activity.interaction_id).where(
        m.Interaction.natural_key == key))
    assert aid is not None
    s.add(m.ActivityLink(activity_id=aid, target_type=target_type, target_id=target_id))


def test_opportunity_has_its_own_activities_and_its_contacts_once_each(
        app: App, ids: dict[str, int]) -> None:
    with session_scope(app.sessions) as s:
        opp = m.Opportunity(name="Caisses 2026", account_id=ids["account"],
                            contact_id=ids[JEANNE], created_at=AS_OF)
        s.add(opp)
        s.flush()
        _link(s, "e8", "opportunity", opp.id)  # Marc's mail, about the deal
        _link(s, "e1", "opportunity", opp.id)  # also Jeanne's: must not count twice
        oid = opp.id
    with session_scope(app.sessions) as s:
        rec = records(s, "opportunity", [oid])[oid]
        cur = relationship(s, rec, config(), days=DAYS, as_of=AS_OF).as_json()["current"]
        listed = relationship_list(s, "opportunity", config(), days=DAYS, as_of=AS_OF)
    assert (cur["emails_sent"], cur["emails_received"], cur["meetings"]) == (4, 3, 1)
    assert [a.record.id for a in listed] == [oid]
    assert listed[0].current.as_json() == cur


def test_lead_relationship_reads_the_lead_links(app: App, ids: dict[str, int]) -> None:
    with session_scope(app.sessions) as s:
        pid = s.scalar(select(m.Person.id).where(m.Person.email == MARC))
        assert pid is not None
        lead = m.Lead(person_id=pid, name="Marc Petit", company="Fabrikam", created_at=AS_OF)
        s.add(lead)
        s.flush()
        _link(s, "e8", "lead", lead.id)
    with session_scope(app.sessions) as s:
        (item,) = relationship_list(s, "lead", config(), days=DAYS, as_of=AS_OF)
    assert (item.record.name, item.current.emails_received, item.current.initiated_them) == (
        "Marc Petit", 1, 1)
    assert item.last_at is not None and item.last_at.isoformat().startswith("2026-03-05")


def test_a_cancelled_meeting_is_no_last_contact_even_before_the_periods(
        app: App, ids: dict[str, int]) -> None:
    capture(app, meeting("m4", JEANNE, {ALICE: "accepted"}, at("2026-03-26", 9), 30,
                         cancelled=True), stream="s2")
    with session_scope(app.sessions) as s:
        rec = records(s, "contact", [ids[JEANNE]])[ids[JEANNE]]
        # 2-day periods: March 29-30 and 27-28 hold nothing; the last contact is older.
        one = relationship(s, rec, config(), days=2, as_of=AS_OF).as_json()
        (listed,) = [a for a in relationship_list(s, "contact", config(), days=2, as_of=AS_OF)
                     if a.record.id == ids[JEANNE]]
    assert one["last_contact"]["kind"] == "call"  # c1 on March 25, not m4
    assert one["last_contact_at"] == listed.as_json()["last_contact_at"]
    assert one["last_contact_at"].startswith("2026-03-25T16:00")
