"""Analytics on the synced demo company agree with the raw interactions.

`syncd demo` syncs the generated French sales team from the local Microsoft 365 sandbox (HTTPS,
msal, Graph delta) into the store; `syncd relationship --list --json` is then checked record by
record against independent queries over interactions, participants and activity links: counts
per direction (from the `direction` the capture policy stored, not from the analytics' own
sender logic), meetings, calls, last contact, and the daily breakdown's totals.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import and_, func, select

from syncd.app import App
from syncd.cli import cli
from syncd.config import Settings
from syncd.store import models as m
from syncd.store.db import session_scope

AS_OF = "2026-10-20"  # the demo covers 2026-05-01 .. 2026-10-27
END = datetime(2026, 10, 21, tzinfo=UTC)
DAYS = 60


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def expected(app: App, kind: str) -> dict[int, dict[str, Any]]:
    """Per record of `kind`: the current period's counts straight from the tables."""
    i, a, al = m.Interaction, m.Activity, m.ActivityLink
    start = END - timedelta(days=DAYS)
    out: dict[int, dict[str, Any]] = {}
    with session_scope(app.sessions) as s:
        rows = s.execute(
            select(al.target_id, i.kind, i.direction, i.is_cancelled, func.count())
            .join(a, a.id == al.activity_id).join(i, i.id == a.interaction_id)
            .where(al.target_type == kind, i.occurred_at >= start, i.occurred_at < END)
            .group_by(al.target_id, i.kind, i.direction, i.is_cancelled))
        for tid, ikind, direction, cancelled, n in rows:
            rec = out.setdefault(tid, {"sent": 0, "received": 0, "meetings": 0, "calls": 0})
            if ikind == "email":
                rec["sent" if direction in ("outbound", "internal") else "received"] += n
            elif ikind == "meeting" and not cancelled:
                rec["meetings"] += n
            elif ikind == "call":
                rec["calls"] += n
        for tid, last in s.execute(
                select(al.target_id, func.max(i.occurred_at))
                .join(a, a.id == al.activity_id).join(i, i.id == a.interaction_id)
                .where(and_(al.target_type == kind, i.occurred_at < END, ~i.is_cancelled))
                .group_by(al.target_id)):
            out.setdefault(tid, {"sent": 0, "received": 0, "meetings": 0, "calls": 0})
            out[tid]["last"] = last
    return out


@pytest.mark.slow
def test_relationship_list_matches_the_raw_interactions(db_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # On both stores: the KPIs are SQL aggregates whose date and boolean handling differ
    # between the two dialects.
    monkeypatch.setenv("SYNCD_DATABASE_URL", db_url)
    summary = invoke("demo", "--messages", "1500", "--json")
    assert summary["totals"]["activities"] > 500
    app = App(Settings(database_url=db_url, internal_domains=(summary["domain"],)))
    try:
        for kind in ("account", "contact"):
            listed = invoke("relationship", "--list", "--kind", kind, "--all", "--limit", "0",
                            "--as-of", AS_OF, "--days", str(DAYS), "--json")
            truth = expected(app, kind)
            items = {x["target"]["id"]: x for x in listed["items"]}
            assert len(items) == summary["accounts" if kind == "account" else "contacts"]
            active = 0
            for tid, item in items.items():
                cur = item["current"]
                want = truth.get(tid, {"sent": 0, "received": 0, "meetings": 0, "calls": 0})
                got = {"sent": cur["emails_sent"], "received": cur["emails_received"],
                       "meetings": cur["meetings"], "calls": cur["calls"]}
                assert got == {k: want[k] for k in got}, (kind, tid, item["target"]["name"])
                last = want.get("last")
                assert item["last_contact_at"] == (last.isoformat() if last else None)
                assert 0 <= item["health"]["score"] <= 100
                active += bool(cur["touches"])
            assert active >= (10 if kind == "account" else 30)  # the check compared something
    finally:
        app.close()


@pytest.mark.slow
def test_one_account_view_adds_up(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    summary = invoke("demo", "--messages", "600", "--json")
    data = invoke("relationship", summary["question"], "--as-of", AS_OF, "--days", str(DAYS),
                  "--json")
    cur = data["current"]
    assert data["target"]["kind"] == "account"
    days = data["daily"]
    assert sum(d["email_sent"] for d in days) == cur["emails_sent"]
    assert sum(d["email_received"] for d in days) == cur["emails_received"]
    assert sum(d["meeting_sent"] + d["meeting_received"] for d in days) == cur["meetings"]
    assert sum(d["call_made"] + d["call_received"] for d in days) == cur["calls"]
    assert cur["emails_sent"] + cur["emails_received"] > 0
    assert cur["replied_by_us"] <= cur["emails_received"]
    assert cur["replied_by_them"] <= cur["emails_sent"]


@pytest.mark.slow
def test_the_list_and_the_single_view_agree(tmp_path: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    invoke("demo", "--messages", "600", "--json")
    for kind in ("account", "contact"):
        listed = invoke("relationship", "--list", "--kind", kind, "--limit", "0", "--as-of",
                        AS_OF, "--days", "30", "--json")["items"]
        assert listed
        for item in listed[:: max(1, len(listed) // 8)]:
            one = invoke("relationship", item["target"]["ref"], "--as-of", AS_OF, "--days",
                         "30", "--json")
            for key in ("target", "health", "current", "previous", "last_contact_at",
                        "next_meeting_at"):
                assert one[key] == item[key], (kind, item["target"]["ref"], key)
