"""Opportunity stage changes (issue 8) are events the workflow engine acts on: a workflow on
`opportunity.stage_changed` filtered by the new stage runs once per matching change."""

from __future__ import annotations

from sqlalchemy import select
from workflow_helpers import MakeApp

from syncd.lifecycle import stages as st
from syncd.lifecycle.leads import upsert_lead
from syncd.lifecycle.qualify import qualify_lead
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.store.models_workflow import WorkflowTask
from syncd.workflows.worker import WorkflowWorker

ON_DEVELOP = """on: opportunity.stage_changed
when: {field: to_stage, eq: develop}
do:
  - create_task: {title: "Proposition pour {{ contact.name }} ({{ from_stage }} -> {{ to_stage }})"}
"""
ON_WON = """on: opportunity.stage_changed
when: {field: status, eq: won}
do:
  - create_task: {title: "Gagné : facturer {{ contact.account }}"}
"""


def test_stage_changes_trigger_the_matching_workflows_once(db_url: str,
                                                           make_app: MakeApp) -> None:
    app = make_app(db_url, workflows={"develop.yaml": ON_DEVELOP, "won.yaml": ON_WON})
    with session_scope(app.sessions) as s:
        lead, _ = upsert_lead(s, email="anne@northwind.test", first_name="Anne Petit",
                              company="Northwind", policy=app.policy)
        opp_id = qualify_lead(s, lead.id, app.policy).opportunity_id
    worker = WorkflowWorker(app, "w")
    worker.run_once()
    with app.sessions() as s:
        assert s.scalars(select(WorkflowTask)).all() == []  # created in qualify: no match
    with session_scope(app.sessions) as s:
        opp = s.get_one(m.Opportunity, opp_id)
        st.advance(s, opp, st.parse_assignments([
            "purchase_timeframe=this_quarter", "estimated_budget=12000",
            "purchase_process=committee", "decision_maker_identified=yes"]))
        st.advance(s, opp, st.parse_assignments([
            "customer_need=CRM", "proposed_solution=syncd", "stakeholders=DSI"]))
        st.close(s, opp, "won", st.parse_assignments([
            "proposal_presented=yes", "final_proposal_presented=yes",
            "decision_date=2027-01-15"]))
    worker.run_once()
    worker.run_once()
    with app.sessions() as s:
        titles = sorted(s.scalars(select(WorkflowTask.title)))
    assert titles == ["Gagné : facturer Northwind",
                      "Proposition pour Anne Petit (qualify -> develop)"]
