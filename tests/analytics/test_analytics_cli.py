"""`syncd relationship` end to end: target resolution, --json shape, errors, --png, --list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from analytics_helpers import (
    JEANNE,
    MARC,
    at,
    capture,
    email,
    jeanne_history,
    make_app,
    seed_crm,
)
from click.testing import CliRunner, Result
from sqlalchemy import select

from syncd.analytics.targets import resolve
from syncd.app import App
from syncd.cli import cli
from syncd.cli.analytics_cmds import parse_as_of
from syncd.config import load_settings
from syncd.queries import QueryError
from syncd.store import models as m
from syncd.store.db import session_scope


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Jeanne's history in a SQLite file that the CLI finds through the environment."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    monkeypatch.setenv("SYNCD_INTERNAL_DOMAINS", "contoso.fr")
    app = make_app(url)
    try:
        ids = seed_crm(app)
        capture(app, *jeanne_history())
        with session_scope(app.sessions) as s:
            person_id = s.scalar(select(m.Person.id).where(m.Person.email == JEANNE))
            assert person_id is not None
            lead = m.Lead(person_id=person_id, name="Jeanne Dupré", company="Fabrikam",
                          status="qualified", created_at=datetime(2026, 1, 1, tzinfo=UTC))
            opp = m.Opportunity(name="Caisses Fabrikam 2026", account_id=ids["account"],
                                contact_id=ids[JEANNE],
                                created_at=datetime(2026, 1, 1, tzinfo=UTC))
            s.add_all([lead, opp])
            s.flush()
            ids["lead"], ids["opportunity"] = lead.id, opp.id
    finally:
        app.close()
    return ids


def run(*args: str) -> Result:
    # A wide terminal, so that table cells are not folded.
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["relationship", *args],
                                                    catch_exceptions=False)


def as_json(*args: str) -> dict[str, object]:
    result = run(*args, "--as-of", "2026-03-30", "--days", "30", "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


@pytest.mark.parametrize("target", [
    ["contact:{contact}"], ["jeanne.dupre@fabrikam.com"], ["Jeanne.Dupre@FABRIKAM.com"],
    ["jeanne dupre"], ["Jeanne", "Dupré"], ["dupré"], ["{contact}", "--kind", "contact"],
])
def test_a_contact_by_id_address_or_name_with_or_without_accents(
        store: dict[str, int], target: list[str]) -> None:
    data = as_json(*(arg.format(contact=store[JEANNE]) for arg in target))
    assert data["target"] == {"kind": "contact", "id": store[JEANNE],
                              "ref": f"contact:{store[JEANNE]}", "name": "Jeanne Dupré",
                              "detail": "jeanne.dupre@fabrikam.com, Fabrikam SAS"}


def test_json_shape(store: dict[str, int]) -> None:
    data = as_json(f"contact:{store[JEANNE]}")
    assert set(data) >= {"target", "as_of", "days", "periods", "current", "previous", "health",
                         "last_contact", "next_scheduled", "daily", "last_contact_at",
                         "next_meeting_at"}
    assert data["as_of"] == "2026-03-31T00:00:00+00:00" and data["days"] == 30
    health = data["health"]
    assert isinstance(health, dict)
    assert set(health) == {"score", "grade", "trend", "previous_score", "components",
                           "raising", "lowering"}
    assert {"name", "impact", "detail"} == set(health["raising"][0])
    daily = data["daily"]
    assert isinstance(daily, list) and len(daily) == 30
    assert set(daily[0]) == {"date", "email_sent", "email_received", "meeting_sent",
                             "meeting_received", "call_made", "call_received"}


def test_account_by_domain_or_name_lead_and_opportunity(store: dict[str, int]) -> None:
    for target in ("@fabrikam.com", "fabrikam.com", "mail.fabrikam.com", "Fabrikam",
                   "fabrikam sas", f"account:{store['account']}"):
        assert as_json(target)["target"]["ref"] == f"account:{store['account']}"  # type: ignore[index]
    lead = as_json(f"lead:{store['lead']}")
    assert lead["current"] == {**lead["current"], "emails_sent": 0}  # type: ignore[dict-item]
    opp = as_json("Caisses Fabrikam")
    assert opp["target"]["ref"] == f"opportunity:{store['opportunity']}"  # type: ignore[index]
    # the opportunity's primary contact's activities are the opportunity's
    assert opp["current"]["emails_sent"] == 4  # type: ignore[index]


@pytest.mark.parametrize(("target", "message"), [
    ("nobody@fabrikam.com", "no contact or lead with address nobody@fabrikam.com; its domain "
     "belongs to account:1 (try @fabrikam.com)"),
    ("@unknown.example", "no account with domain unknown.example"),
    ("Zoé Inconnue", "no contact, lead, account or opportunity matches 'Zoé Inconnue'"),
    ("contact:999", "no contact with id 999"),
    ("12", "'12' is ambiguous: write contact:12, lead:12, account:12 or opportunity:12"),
    ("not an @address", "'not an @address' is not a valid address"),
])
def test_unknown_targets_are_clear_errors_without_traceback(store: dict[str, int],
                                                            target: str, message: str) -> None:
    result = run(target)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_ambiguous_name_lists_the_candidates(store: dict[str, int]) -> None:
    result = run("a")  # every record with an "a" in its name
    assert result.exit_code == 1
    assert "matches" in result.output and f"contact:{store[JEANNE]}" in result.output


def test_a_contact_wins_over_the_same_persons_leads(store: dict[str, int]) -> None:
    result = run("Jeanne Dupré", "--json")
    assert json.loads(result.output)["target"]["kind"] == "contact"
    assert as_json("jeanne.dupre@fabrikam.com", "--kind", "lead")["target"]["kind"] == "lead"  # type: ignore[index]


def test_usage_errors(store: dict[str, int]) -> None:
    assert run().exit_code == 2
    assert run("x", "--list").exit_code == 2
    assert run("--list", "--png", "x.png").exit_code == 2
    bad = run("contact:1", "--as-of", "yesterday")
    assert bad.exit_code == 2 and "--as-of" in bad.output
    assert run("contact:1", "--days", "0").exit_code == 2


def test_png_is_written(store: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "jeanne.png"
    result = run(f"contact:{store[JEANNE]}", "--as-of", "2026-03-30", "--png", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 5000
    assert f"Chart written to {out}" in result.output
    bad = run(f"contact:{store[JEANNE]}", "--png", str(tmp_path / "missing" / "x.png"))
    assert bad.exit_code == 1 and "cannot write" in bad.output


def test_terminal_view(store: dict[str, int]) -> None:
    result = run(f"contact:{store[JEANNE]}", "--as-of", "2026-03-30", "--days", "30")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Health 82/100 good, ↑ improving (previous period 42)" in out
    assert "Last contact: 2026-03-25T16:00" in out and "call from" in out
    assert "Next scheduled: 2026-04-05T10:00" in out and "'Revue annuelle'" in out
    assert "emails sent by us / received" in out
    assert any(set(line) <= set("▁▂▃▄▅▆▇█·") and len(line) == 30
               for line in out.splitlines())


def test_list_json_and_table(store: dict[str, int]) -> None:
    result = run("--list", "--as-of", "2026-03-30", "--days", "30", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["kind"], data["sort"], data["days"]) == ("contact", "health", 30)
    assert [x["target"]["name"] for x in data["items"]] == ["Marc Petit", "Jeanne Dupré"]
    assert data["items"][1]["health"]["score"] == 82
    desc = json.loads(run("--list", "--as-of", "2026-03-30", "--days", "30", "--desc",
                          "--json").output)
    assert [x["target"]["name"] for x in desc["items"]] == ["Jeanne Dupré", "Marc Petit"]
    accounts = run("--list", "--kind", "account", "--as-of", "2026-03-30")
    assert accounts.exit_code == 0 and "Fabrikam SAS" in accounts.output
    leads = run("--list", "--kind", "lead", "--as-of", "2026-03-30")
    assert "No lead has any captured activity" in leads.output
    every = json.loads(run("--list", "--kind", "lead", "--all", "--json").output)
    assert [x["health"]["score"] for x in every["items"]] == [0]


def test_resolve_accounts_by_normalised_name_and_checks_the_kind(
        store: dict[str, int]) -> None:
    app = App(load_settings())  # the store fixture's database, from the environment
    try:
        with session_scope(app.sessions) as s:
            assert resolve(s, "FABRIKAM S.A.S.").kind == "account"
            with pytest.raises(QueryError, match="names a account, not a contact"):
                resolve(s, "@fabrikam.com", "contact")
    finally:
        app.close()


def test_a_merged_record_stands_for_its_survivor(store: dict[str, int]) -> None:
    app = App(load_settings())
    try:
        with session_scope(app.sessions) as s:
            marc = s.get_one(m.Contact, store[MARC])
            marc.merged_into_id = store[JEANNE]  # what `syncd merge` leaves behind
    finally:
        app.close()
    assert as_json(f"contact:{store[MARC]}")["target"]["id"] == store[JEANNE]  # type: ignore[index]
    assert as_json(MARC)["target"]["id"] == store[JEANNE]  # type: ignore[index]
    every = json.loads(run("--list", "--all", "--json").output)
    assert store[MARC] not in [x["target"]["id"] for x in every["items"]]


def test_subjects_and_names_are_printed_literally(store: dict[str, int]) -> None:
    app = App(load_settings())
    try:
        capture(app, email("e9", JEANNE, ["alice@contoso.fr"], at("2026-03-28"),
                           subject="[EXT] RE: devis [red]urgent[/red]"))
    finally:
        app.close()
    result = run(f"contact:{store[JEANNE]}", "--as-of", "2026-03-30")
    assert "'[EXT] RE: devis [red]urgent[/red]'" in result.output


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-30", datetime(2026, 3, 31, tzinfo=UTC)),  # the end of that day
    ("2026-03-30T12:00", datetime(2026, 3, 30, 12, tzinfo=UTC)),  # UTC without a zone
    ("2026-03-30T12:00+02:00", datetime(2026, 3, 30, 10, tzinfo=UTC)),
])
def test_as_of_forms(text: str, expected: datetime) -> None:
    assert parse_as_of(text) == expected


def test_the_period_and_weights_come_from_the_configuration_file(store: dict[str, int],
                                                                 tmp_path: Path) -> None:
    conf = tmp_path / "syncd.toml"
    conf.write_text("[analytics]\nperiod_days = 30\n[analytics.health]\nrecency = 0\n"
                    "volume = 0\nresponsiveness = 1\nresponse_time = 0\nreciprocity = 0\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(conf), "relationship",
                                      f"contact:{store[JEANNE]}", "--as-of", "2026-03-30",
                                      "--json"], catch_exceptions=False)
    data = json.loads(result.output)
    assert data["days"] == 30
    assert data["health"]["score"] == 25  # their reply rate alone: 1 of our 4 emails
