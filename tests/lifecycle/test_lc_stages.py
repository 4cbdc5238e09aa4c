"""Opportunity stages: transitions, per-stage required fields, parsing of typed input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lifecycle_helpers import events
from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.app import App
from syncd.lifecycle import LifecycleError
from syncd.lifecycle import stages as st
from syncd.lifecycle.leads import upsert_lead
from syncd.lifecycle.qualify import qualify_lead
from syncd.store import models as m
from syncd.store.models_lifecycle import OpportunityStageChange

QUALIFY = ["purchase_timeframe=this quarter", "estimated_budget=12 000,50",
           "purchase_process=committee", "decision_maker_identified=oui"]
DEVELOP = ["customer_need=Remplacer l'ERP", "proposed_solution=Migration en deux lots",
           "stakeholders=DAF, DSI"]
PROPOSE = ["proposal_presented=yes"]


@pytest.fixture
def opp(app: App, session: Session) -> m.Opportunity:
    lead, _ = upsert_lead(session, email="anne@northwind.fr", first_name="Anne",
                          last_name="Petit", company="Northwind", policy=app.policy)
    result = qualify_lead(session, lead.id, app.policy)
    session.commit()
    return session.get_one(m.Opportunity, result.opportunity_id)


def test_parse_values_the_way_french_users_type_them() -> None:
    f = st.FIELDS
    assert st.parse_value(f["estimated_budget"], "12 000,50 €") == Decimal("12000.50")
    assert st.parse_value(f["estimated_budget"], "12\u202f000") == Decimal("12000.00")
    assert st.parse_value(f["estimated_budget"], "1,234.5") == Decimal("1234.50")
    assert st.parse_value(f["decision_date"], "31/12/2026") == date(2026, 12, 31)
    assert st.parse_value(f["decision_date"], "2026-12-31") == date(2026, 12, 31)
    assert st.parse_value(f["decision_maker_identified"], "Oui") is True
    assert st.parse_value(f["decision_maker_identified"], "non") is False
    assert st.parse_value(f["purchase_timeframe"], "Next-Quarter") == "next_quarter"
    assert st.parse_value(f["customer_need"], "  ") is None
    for name, bad in (("estimated_budget", "beaucoup"), ("estimated_budget", "-5"),
                      ("estimated_budget", "NaN"), ("decision_date", "31/02/2026"),
                      ("decision_maker_identified", "peut-être"),
                      ("purchase_process", "board")):
        with pytest.raises(LifecycleError, match=name):
            st.parse_value(f[name], bad)


def test_assignments_report_every_problem_at_once() -> None:
    with pytest.raises(LifecycleError) as err:
        st.parse_assignments(["budget=3", "estimated_budget=abc", "no-equals-sign"])
    text = str(err.value)
    assert "'budget' is not an opportunity field" in text
    assert "estimated_budget: 'abc'" in text
    assert "'no-equals-sign': write FIELD=VALUE" in text


def test_advance_refuses_until_the_stage_is_complete_and_lists_what_is_missing(
        session: Session, opp: m.Opportunity) -> None:
    with pytest.raises(LifecycleError) as err:
        st.advance(session, opp)
    for name in ("purchase_timeframe", "estimated_budget", "purchase_process",
                 "decision_maker_identified"):
        assert name in str(err.value)
    assert opp.stage == "qualify"
    values = st.parse_assignments([*QUALIFY[:3], "decision_maker_identified=no"])
    with pytest.raises(LifecycleError, match="decision_maker_identified must be yes"):
        st.advance(session, opp, values)
    assert st.advance(session, opp, st.parse_assignments(QUALIFY)) == "develop"
    assert st.advance(session, opp, st.parse_assignments(DEVELOP)) == "propose"
    assert st.advance(session, opp, st.parse_assignments(PROPOSE)) == "close"
    with pytest.raises(LifecycleError, match="last stage"):
        st.advance(session, opp)
    session.commit()
    changes = [(c.from_stage, c.to_stage) for c in session.scalars(
        select(OpportunityStageChange).where(OpportunityStageChange.opportunity_id == opp.id)
        .order_by(OpportunityStageChange.id))]
    assert changes == [(None, "qualify"), ("qualify", "develop"), ("develop", "propose"),
                       ("propose", "close")]
    assert [(e["from_stage"], e["to_stage"]) for e in events(
        session, "opportunity.stage_changed")] == changes
    assert opp.estimated_budget == Decimal("12000.50")


def test_close_won_needs_every_stage_and_the_decision(session: Session,
                                                      opp: m.Opportunity) -> None:
    with pytest.raises(LifecycleError) as err:
        st.close(session, opp, "won")
    assert "customer_need" in str(err.value) and "decision_date" in str(err.value)
    assert opp.status == "open"
    values = st.parse_assignments([*QUALIFY, *DEVELOP, *PROPOSE, "final_proposal_presented=y",
                                   "decision_date=15/01/2027"])
    st.close(session, opp, "won", values)
    session.commit()
    assert (opp.stage, opp.status, opp.actual_revenue) == ("close", "won", Decimal("12000.50"))
    last = events(session, "opportunity.stage_changed")[-1]
    assert (last["from_stage"], last["to_stage"], last["status"]) == ("qualify", "close", "won")
    with pytest.raises(LifecycleError, match="closed"):
        st.set_fields(opp, {"competitors": "Globex"})
    with pytest.raises(LifecycleError, match="closed"):
        st.advance(session, opp)


def test_close_lost_from_any_stage_needs_a_reason(session: Session,
                                                  opp: m.Opportunity) -> None:
    with pytest.raises(LifecycleError, match="close_reason"):
        st.close(session, opp, "lost")
    st.close(session, opp, "lost", {"close_reason": "budget gelé"})
    assert (opp.stage, opp.status, opp.close_reason) == ("close", "lost", "budget gelé")
    assert opp.actual_revenue is None
