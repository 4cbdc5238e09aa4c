"""The graph commands as a user runs them: tables, --json, --format dot|svg, clear errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from tie_world import ALICE, CAROL, JEANNE, MAX, PAUL, capture, company_mail

from syncd.app import App
from syncd.cli import cli
from syncd.config import load_settings


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(f'database_url = "sqlite:///{tmp_path / "g.db"}"\n'
                    'internal_domains = ["contoso.fr"]\n', encoding="utf-8")
    app = App(load_settings(path))
    try:
        capture(app, company_mail(), owner=ALICE)
    finally:
        app.close()
    return path


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_who_knows_table_json_and_drawings(config: Path) -> None:
    text = run(config, "who-knows", JEANNE)
    assert "Who knows jeanne@fabrikam.com" in text and "two-way emails" in text
    ranked = json.loads(run(config, "who-knows", "@fabrikam.com", "--json", "--limit", "1"))
    assert [r["email"] for r in ranked] == [ALICE]
    assert set(ranked[0]) == {"email", "name", "strength", "direct", "evidence", "summary"}
    indirect = json.loads(run(config, "who-knows", MAX, "--json"))
    assert indirect and not any(r["direct"] for r in indirect)
    svg = ET.fromstring(run(config, "who-knows", JEANNE, "--format", "svg"))
    assert svg.tag.endswith("svg")
    assert run(config, "who-knows", JEANNE, "--format", "dot").startswith("graph ")


def test_path_contacts_of_and_coverage(config: Path) -> None:
    found = json.loads(run(config, "path", CAROL, MAX, "--k", "2", "--json"))
    assert len(found) == 2 and found[0]["hops"][0]["from"] == CAROL
    assert found[0]["hops"][-1]["to"] == MAX
    assert "Path 1" in run(config, "path", CAROL, MAX)
    assert ET.fromstring(run(config, "path", CAROL, MAX, "--format", "svg")).tag.endswith("svg")
    contacts = json.loads(run(config, "contacts-of", ALICE, "--json"))
    assert [c["email"] for c in contacts] == [JEANNE, PAUL]
    assert run(config, "contacts-of", ALICE, "--format", "dot").count(" -- ") == 2
    assert ET.fromstring(run(config, "coverage", "fabrikam.com", "--format", "svg")).tag \
        .endswith("svg")
    cov = json.loads(run(config, "coverage", "fabrikam.com", "--json"))
    assert cov["account"] == "@fabrikam.com" and PAUL in cov["gaps"]
    assert "GAP" in run(config, "coverage", "@fabrikam.com", "--weak", "0.5")


def test_forget_then_the_person_is_gone_everywhere(config: Path) -> None:
    out = json.loads(run(config, "forget", JEANNE, "--yes", "--json"))
    assert out["ties"] > 0
    assert json.loads(run(config, "who-knows", JEANNE, "--json")) == []
    assert JEANNE not in run(config, "contacts-of", ALICE, "--json")
    run(config, "forget", "jeanne@fabrikam.com", code=1)  # no --yes, no terminal: refused


def test_user_mistakes_are_clear_errors_not_tracebacks(config: Path) -> None:
    for args in (["path", "not-an-address", MAX], ["path", ALICE, ALICE],
                 ["contacts-of", "ghost@contoso.fr"], ["coverage", "@nowhere.example"],
                 ["who-knows", "  "], ["who-knows", JEANNE, "--limit", "0"]):
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        assert result.exit_code != 0, args
        assert isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.output.startswith("syncd: "), (args, result.output)
