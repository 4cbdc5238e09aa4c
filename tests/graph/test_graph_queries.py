"""Graph questions on a small company captured through the real pipeline, on SQLite and
PostgreSQL: evidence, indirect ranking, paths, contacts, coverage, privacy."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from tie_world import (
    ALICE,
    BOB,
    CAROL,
    JEANNE,
    MAX,
    PAUL,
    T0,
    ZOE,
    capture,
    company_mail,
    email,
    tie_rows,
)

from graph.privacy import OptOut
from graph.strength import strength_sql
from syncd.app import App
from syncd.config import GraphConfig, PolicyConfig, Settings
from syncd.graph_queries import (
    GraphContext,
    contacts_of,
    coverage,
    forget,
    load_graph,
    paths,
    rebuild_ties,
    who_knows,
)
from syncd.queries import QueryError
from syncd.store import models as m
from syncd.store.db import session_scope


def make_app(db_url: str, **graph: object) -> App:
    return App(Settings(database_url=db_url, internal_domains=("contoso.fr",),
                        graph=GraphConfig(**graph),  # type: ignore[arg-type]
                        policy=PolicyConfig(blocked_addresses=("spy@fabrikam.com",))))


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = make_app(db_url)
    capture(app, company_mail(), owner=ALICE)
    yield app
    app.close()


def ctx_of(app: App) -> GraphContext:
    return GraphContext(app.policy, app.settings.graph.half_life_days,
                        OptOut(app.settings.graph.opt_out))


def test_who_knows_ranks_with_evidence_replies_latency_and_channels(app: App) -> None:
    with session_scope(app.sessions) as s:
        _, ranked, as_of = who_knows(s, JEANNE, ctx_of(app))
    assert [(r.email, r.direct) for r in ranked] == [(ALICE, True), (BOB, True),
                                                     (CAROL, False)]  # Carol: via Alice
    alice, bob, _ = ranked
    assert alice.direct and bob.direct and 1 > alice.strength > bob.strength > 0
    ev = alice.evidence
    assert (ev["emails_sent"], ev["emails_received"], ev["replies"]) == (2, 2, 2)
    assert (ev["meetings"], ev["calls"], ev["call_seconds"]) == (1, 1, 25 * 60)
    # Alice answered Jeanne's m1 after 2 hours (Jeanne's own reply latency is hers).
    assert ev["mean_reply_seconds"] == 7200
    assert "4 two-way emails" in alice.summary and "1 meeting" in alice.summary
    assert "(1 sent, 1 received)" in bob.summary  # Jeanne had Bob in copy once
    assert as_of == T0 + timedelta(days=28)  # the latest interaction, not "now"


def test_domain_target_aggregates_people_there(app: App) -> None:
    with session_scope(app.sessions) as s:
        _, ranked, _ = who_knows(s, "@fabrikam.com", ctx_of(app))
    assert ranked[0].email == ALICE
    assert ranked[0].evidence["people"] == [JEANNE, PAUL]
    assert "knows 2 people there" in ranked[0].summary


def test_nobody_knows_max_directly_so_indirect_evidence_ranks_colleagues(app: App) -> None:
    with session_scope(app.sessions) as s:
        _, ranked, _ = who_knows(s, MAX, ctx_of(app))
        _, direct_only, _ = who_knows(s, MAX, ctx_of(app), indirect=False)
    assert ranked and not any(r.direct for r in ranked)
    by = {r.email: r for r in ranked}
    assert {ALICE, BOB} <= set(by)
    via = by[ALICE].evidence["via"]
    assert isinstance(via, list) and via[0]["email"] == JEANNE  # Alice knows Max's contact
    assert by[BOB].evidence["co_recipient"] == 1  # Bob was in copy of Jeanne's mail to Max
    assert "indirect" in by[ALICE].summary
    # Without indirect evidence only Bob's shared thread remains (never marked direct).
    assert [r.email for r in direct_only] == [BOB] and not direct_only[0].direct


def test_robots_and_blocked_addresses_never_enter_the_graph(app: App) -> None:
    capture(app, [email("b1@x", "spy@fabrikam.com", [ALICE], T0)], stream="other")
    emails = {e for pair in tie_rows(app) for e in pair}
    assert "news@fabrikam.com" not in emails and "spy@fabrikam.com" not in emails


def test_path_finds_the_strongest_chains_with_evidence(app: App) -> None:
    with session_scope(app.sessions) as s:
        found, _ = paths(s, CAROL, MAX, ctx_of(app), k=3)
        g = load_graph(s, ctx_of(app))
        # The local search (two reads) answers what the whole graph answers.
        assert paths(s, CAROL, MAX, ctx_of(app), k=3, graph=g)[0] == found
    assert found, "Carol - Alice - Jeanne - Max exists"
    best = found[0]
    assert [h["from"] for h in best["hops"]] + [best["hops"][-1]["to"]] in (
        [CAROL, ALICE, JEANNE, MAX], [CAROL, BOB, JEANNE, MAX], [CAROL, ALICE, BOB, MAX],
        [CAROL, BOB, MAX])
    strengths = [p["strength"] for p in found]
    assert strengths == sorted(strengths, reverse=True) and len(found) == 3
    assert math.isclose(best["strength"], math.prod(h["strength"] for h in best["hops"]),
                        rel_tol=1e-3)
    assert all(h["summary"] for h in best["hops"])
    assert g.ties == len(tie_rows(app))


def test_contacts_of_lists_external_relationships_only(app: App) -> None:
    with session_scope(app.sessions) as s:
        key, ranked, _ = contacts_of(s, "Alice@Contoso.fr", ctx_of(app))
        with pytest.raises(QueryError, match="does not appear"):
            contacts_of(s, "nobody@contoso.fr", ctx_of(app))
    assert key == ALICE
    assert [r.email for r in ranked] == [JEANNE, PAUL]  # not Bob or Carol (internal)


def test_coverage_shows_who_knows_whom_and_the_gaps(app: App) -> None:
    with session_scope(app.sessions) as s:
        data = coverage(s, "fabrikam.com", ctx_of(app))
        with pytest.raises(QueryError):
            coverage(s, "@unknown.example", ctx_of(app))
        account = m.Account(name="Fabrikam SAS", normalized_name="fabrikam sas",
                            created_at=T0)
        s.add(account)
        s.flush()
        s.add(m.AccountDomain(domain="fabrikam.com", account_id=account.id))
        s.flush()
        by_name = coverage(s, "fabrikam sas", ctx_of(app))
    assert by_name["account"] == "Fabrikam SAS (fabrikam.com)"
    assert by_name["people"] == data["people"]
    people = {p["email"]: p for p in data["people"]}
    assert people[JEANNE]["known_by"][0]["colleague"] == ALICE
    assert not people[JEANNE]["gap"]
    assert data["colleagues"] == 2
    assert PAUL in data["gaps"]  # one Cc from Alice: known only weakly


def test_forget_erases_the_person_from_graph_and_answers_and_later_captures(app: App) -> None:
    with session_scope(app.sessions) as s:
        counts = forget(s, "Jeanne@Fabrikam.com")
    assert counts["ties"] >= 4 and counts["participations"] >= 8
    assert not any(JEANNE in pair for pair in tie_rows(app))
    # A later import of mail with her does not bring her back.
    capture(app, [email("late@x", JEANNE, [ALICE], T0 + timedelta(days=40))], stream="late")
    assert not any(JEANNE in pair for pair in tie_rows(app))
    with session_scope(app.sessions) as s:
        _, ranked, _ = who_knows(s, JEANNE, ctx_of(app))
        assert ranked == []
        _, ranked, _ = who_knows(s, MAX, ctx_of(app))
        assert all(JEANNE not in str(r.evidence) for r in ranked)
        assert s.scalar(select(m.Person.name).where(m.Person.email == JEANNE)) == ""


def test_opted_out_people_form_no_tie_and_appear_in_no_answer(db_url: str) -> None:
    app = make_app(db_url, opt_out=("@northwind.fr",))
    try:
        capture(app, company_mail(), owner=ALICE)
        assert not any(ZOE in pair for pair in tie_rows(app))
        with session_scope(app.sessions) as s:
            _, ranked, _ = who_knows(s, ZOE, ctx_of(app))
            _, contacts, _ = contacts_of(s, CAROL, ctx_of(app))
        assert ranked == [] and contacts == []
    finally:
        app.close()


def test_strength_sql_matches_the_python_definition(app: App) -> None:
    """load_graph's SQL strength and who-knows' Python strength are the same function."""
    with session_scope(app.sessions) as s:
        ctx = ctx_of(app)
        _, ranked, as_of = who_knows(s, JEANNE, ctx)
        g = load_graph(s, ctx, as_of)
        ids = dict(s.execute(select(m.Person.email, m.Person.id)).all())
        for r in (r for r in ranked if r.direct):
            assert math.isclose(g.strength(ids[r.email], ids[JEANNE]), r.strength,
                                rel_tol=1e-9)
        dialect = s.connection().dialect.name
        assert s.scalar(select(func.count()).select_from(m.Tie)) == g.ties
        assert strength_sql(dialect, 90.0).count("exp(") == 1
        assert s.execute(text("SELECT 1")).scalar_one() == 1


def test_rebuild_from_stored_interactions_gives_the_ties_capture_maintained(app: App) -> None:
    incremental = tie_rows(app)
    with session_scope(app.sessions) as s:
        counts = rebuild_ties(s, app.capturer, chunk=3)
    assert counts == {"interactions": len(company_mail()), "ties": len(incremental)}
    assert tie_rows(app) == incremental
