"""Parity, the acceptance test of issue 4: the same seeded company synced once through
Microsoft Graph and once through EWS gives the same store, compared by natural key:
interactions, participants, persons, sightings, activities and ties, recurring meetings with
moved and cancelled occurrences included. Internal senders reach EWS as legacy DNs, so the
persons only match if ResolveNames resolution works."""

from __future__ import annotations

from pathlib import Path

from ews_helpers import (
    ews_conf,
    graph_conf,
    make_app,
    same_ties,
    snapshot,
    write_crm,
)

from syncd.demo import generate
from syncd.sandbox import Sandbox
from syncd.sync import run_pass


def test_graph_and_ews_sync_the_same_company_into_the_same_store(
    db_url: str, tmp_path: Path
) -> None:
    company = generate(5, users=4, accounts=6, messages=300, events=30, calls=0)
    crm = write_crm(company, tmp_path / "crm")
    with Sandbox(state_dir=tmp_path / "sandbox", seed=5) as box:
        box.seed_demo(company)
        series = [v for b in box.state.mailboxes.values() for v in b.calendar.items.values()
                  if v.rrule and v.overrides and v.exdates]
        assert series, "the company needs a recurring meeting with a moved and a cancelled one"
        graph_app = make_app(f"sqlite:///{tmp_path / 'graph.db'}", tmp_path / "g", company,
                             graph_conf(box), crm)
        ews_app = make_app(db_url, tmp_path / "e", company,
                           ews_conf(box, tuple(u.email for u in company.users)), crm)
        try:
            graph_report = run_pass(graph_app)
            ews_report = run_pass(ews_app)
            assert graph_report.errors == [] and ews_report.errors == []
            graph_view, ews_view = snapshot(graph_app), snapshot(ews_app)
            # Legacy DNs were really resolved, not passed through as x500: persons.
            resolved = box.requests(path_contains="#ResolveNames")
            assert resolved
        finally:
            graph_app.close()
            ews_app.close()
    assert graph_view["interactions"], "nothing synced"
    kinds = {row[1] for row in graph_view["interactions"]}
    assert kinds == {"email", "meeting"}
    assert not [p for p in ews_view["persons"] if p[0].startswith("x500:")]
    for table in ("interactions", "participants", "persons", "sightings", "activities"):
        assert ews_view[table] == graph_view[table], table
    assert same_ties(ews_view["ties"], graph_view["ties"])
    # The moved and the cancelled occurrences: the moved one keeps its series slot as key,
    # the cancelled one is absent in both.
    uid = series[0].uid.upper()
    keys = {row[0] for row in ews_view["interactions"] if row[0].startswith(uid)}
    original, _moved_start, _end = series[0].overrides[0]
    assert any(k.endswith(original.isoformat()) for k in keys)
    cancelled = next(iter(series[0].exdates))
    assert not any(k.endswith(cancelled.isoformat()) for k in keys)
