"""The lifecycle commands end to end: real CLI, real database, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from syncd.cli import cli


@pytest.fixture(autouse=True)
def _store(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", db_url)
    monkeypatch.setenv("SYNCD_INTERNAL_DOMAINS", "contoso.fr")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> object:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


def test_lead_to_won_opportunity_with_duplicates_and_merge(tmp_path: Path) -> None:
    csv = tmp_path / "leads.csv"
    csv.write_text("Courriel;Nom;Société;Téléphone\n"
                   "helene.dupre@fabrikam.com;Hélène Dupré;Fabrikam;06 12 34 56 78\n",
                   encoding="utf-8")
    assert ok("leads", "import", str(csv), "--json") == {
        "created": 1, "updated": 0, "unchanged": 0, "problems": []}
    added = ok("lead", "add", "H.Dupre@gmail.com", "--name", "Helene Dupre", "--phone",
               "+33 6 12 34 56 78", "--json")
    assert added == {"kind": "lead", "id": 2, "created": True, "linked": False}
    assert ok("leads", "add", "h.dupre@gmail.com", "--json") == {
        "kind": "lead", "id": 2, "created": False, "linked": False}

    found = ok("duplicates", "leads", "--json")
    assert isinstance(found, list) and len(found) == 1
    assert (found[0]["a"], found[0]["b"]) == (1, 2) and found[0]["score"] >= 0.95
    assert found[0]["merge"] == found[0]["action"] == "syncd merge lead:1 lead:2"
    assert (found[0]["a_kind"], found[0]["b_kind"]) == ("lead", "lead")
    merged = ok("merge", "lead:1", "lead:2", "--json")
    assert isinstance(merged, dict) and merged["survivor_id"] == 1
    assert ok("duplicates", "leads", "--json") == []
    assert "already merged" in str(ok("merge", "1", "2", "--kind", "lead"))

    q = ok("lead", "qualify", "1", "--json")
    assert isinstance(q, dict) and q["created"] == {
        "account": True, "contact": True, "opportunity": True}
    again = ok("lead", "qualify", "Helene.Dupre@Fabrikam.com", "--json")  # by address too
    assert isinstance(again, dict) and again["already_qualified"]
    opp = str(q["opportunity_id"])
    shown = ok("opportunity", "show", opp, "--json")
    assert isinstance(shown, dict) and shown["stage"] == "qualify"

    ok("opportunity", "advance", opp, "--set", "purchase_timeframe=immediate", "--set",
       "estimated_budget=50 000", "--set", "purchase_process=individual", "--set",
       "decision_maker_identified=oui")
    ok("opportunity", "set", opp, "customer_need=ERP", "proposed_solution=Lot 1",
       "stakeholders=DAF")
    ok("opportunity", "advance", opp)
    ok("opportunity", "advance", opp, "--set", "proposal_presented=yes")
    closed = ok("opportunity", "close", opp, "--won", "--set", "final_proposal_presented=yes",
                "--set", "decision_date=2027-01-15", "--json")
    assert isinstance(closed, dict)
    assert (closed["stage"], closed["status"], closed["actual_revenue"]) == (
        "close", "won", "50000.00")
    listed = ok("opportunity", "list", "--status", "won", "--json")
    assert isinstance(listed, list) and [o["id"] for o in listed] == [int(opp)]


@pytest.mark.parametrize(("args", "message"), [
    (("lead", "qualify", "42"), "no lead #42"),
    (("lead", "show", "nobody@northwind.fr"), "no lead 'nobody@northwind.fr'"),
    (("lead", "disqualify", "42", "--reason", "lost"), "no lead #42"),
    (("lead", "add", "not-an-address"), "is not an email address"),
    (("opportunity", "advance", "7"), "no opportunity #7"),
    (("opportunity", "advance", "7", "--set", "budget=1"), "'budget' is not an opportunity"),
    (("opportunity", "close", "7"), "--won or --lost"),
    (("merge", "12", "13"), "say what it is"),
    (("merge", "contact:1", "lead:2"), "cannot merge a contact with a lead"),
    (("merge", "contact:x", "contact:2"), "must be a number"),
    (("merge", "contact:1", "contact:2"), "no contact #1"),
])
def test_user_mistakes_are_one_line_errors(args: tuple[str, ...], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_disqualify_with_a_reason_from_the_config(tmp_path: Path) -> None:
    config = tmp_path / "syncd.toml"
    config.write_text('[lifecycle]\ndisqualify_reasons = ["doublon", "hors cible"]\n',
                      encoding="utf-8")
    ok("lead", "add", "x@northwind.fr")
    bad = invoke("--config", str(config), "lead", "disqualify", "1", "--reason", "lost")
    assert bad.exit_code == 1 and "doublon, hors cible" in bad.output
    done = ok("--config", str(config), "lead", "disqualify", "1", "--reason", "Hors cible",
              "--json")
    assert done == {"lead_id": 1, "status": "disqualified", "reason": "hors cible",
                    "changed": True}
