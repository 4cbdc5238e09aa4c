"""The command line end to end, on real files and a real SQLite database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from click.testing import CliRunner

from syncd.cli import cli

T0 = datetime(2026, 2, 3, 9, 0, tzinfo=UTC)


def message(sender: str, to: list[str], subject: str, at: datetime, *, msgid: str | None = None,
            reply_to: str | None = None, headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = msgid or make_msgid(domain="test.example")
    if reply_to:
        msg["In-Reply-To"] = reply_to
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content("Bonjour,\n\nÀ bientôt.\n")
    return msg


def write_mbox(path: Path, messages: list[EmailMessage]) -> Path:
    with path.open("wb") as fh:
        for msg in messages:
            fh.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n")
            fh.write(msg.as_bytes().replace(b"\nFrom ", b"\n>From "))
            fh.write(b"\n")
    return path


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNCD_INTERNAL_DOMAINS", "contoso.fr")
    (tmp_path / "accounts.csv").write_text(
        "Nom;Domaine;Ville\nFabrikam SAS;fabrikam.com;Lyon\nNorthwind SARL;northwind.fr;Lille\n",
        encoding="utf-8")
    (tmp_path / "contacts.csv").write_text(
        "email,name,title\njeanne.dupre@fabrikam.com,Jeanne Dupré,DAF\nnot-an-address,X,Y\n",
        encoding="utf-8")
    first = "<first@fabrikam.com>"
    msgs = [
        message('"Jeanne Dupré" <Jeanne.Dupre@Fabrikam.com>', ["alice@contoso.fr"],
                "Devis n°42", T0, msgid=first),
        message("Alice Martin <alice@contoso.fr>", ["jeanne.dupre@fabrikam.com"],
                "RE: Devis n°42", T0 + timedelta(hours=3), reply_to=first),
        message("Bob <bob@contoso.fr>", ["jeanne.dupre@fabrikam.com", "paul@fabrikam.com"],
                "Relance", T0 + timedelta(days=2)),
        message("alice@contoso.fr", ["bob@contoso.fr"], "Déjeuner ?", T0 + timedelta(days=3)),
        message("no-reply@fabrikam.com", ["alice@contoso.fr"], "Newsletter",
                T0 + timedelta(days=4), headers={"Precedence": "bulk"}),
    ]
    write_mbox(tmp_path / "alice.mbox", msgs)
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_import_then_query_the_crm_and_the_graph(workspace: Path) -> None:
    out = run("accounts", "import", str(workspace / "accounts.csv"), "--json")
    assert json.loads(out)["created"] == 2
    out = json.loads(run("contacts", "import", str(workspace / "contacts.csv"), "--json"))
    assert out["created"] == 1
    assert out["problems"] == ["contacts.csv:3: 'not-an-address' is not an email address"]

    summary = json.loads(run("import", str(workspace / "alice.mbox"),
                             "--mailbox", "Alice@Contoso.fr", "--json"))
    assert summary["messages_seen"] == 5
    assert summary["interactions_new"] == 5
    assert summary["captured"] == 3  # two with the contact, one with the account by domain
    again = json.loads(run("import", str(workspace / "alice.mbox"), "--mailbox",
                           "alice@contoso.fr", "--json"))
    assert again["interactions_new"] == 0 and again["sightings_new"] == 0

    ranked = json.loads(run("who-knows", "jeanne.dupre@fabrikam.com", "--json"))
    assert [r["email"] for r in ranked] == ["alice@contoso.fr", "bob@contoso.fr"]
    assert all(0 < r["strength"] < 1 and r["direct"] for r in ranked)
    assert ranked[0]["evidence"]["emails_sent"] == 1
    assert ranked[0]["evidence"]["emails_received"] == 1

    by_domain = json.loads(run("who-knows", "@fabrikam.com", "--json"))
    assert by_domain[0]["email"] in ("alice@contoso.fr", "bob@contoso.fr")
    by_name = json.loads(run("who-knows", "jeanne dupre", "--json"))  # accents optional
    assert [r["email"] for r in by_name] == [r["email"] for r in ranked]

    acts = json.loads(run("activities", "list", "--contact", "jeanne.dupre@fabrikam.com",
                          "--json"))
    assert {a["subject"] for a in acts} == {"Devis n°42", "RE: Devis n°42", "Relance"}

    why = json.loads(run("explain", "<first@fabrikam.com>", "--json"))
    assert why["captured"] is True
    jeanne = next(p for p in why["participants"] if p["email"] == "jeanne.dupre@fabrikam.com")
    assert any(f.startswith("contact #") for f in jeanne["facts"])
    status = json.loads(run("status", "--json"))
    assert status["counts"]["interactions"] == 5
    assert status["streams"][0]["mailbox"] == "alice@contoso.fr"

    text = run("who-knows", "@fabrikam.com")
    assert "alice@contoso.fr" in text and "Who knows @fabrikam.com" in text


def test_internal_and_robot_mail_are_explained_as_not_captured(workspace: Path) -> None:
    run("import", str(workspace / "alice.mbox"), "--mailbox", "alice@contoso.fr")
    acts = json.loads(run("activities", "list", "--json"))
    subjects = {a["subject"] for a in acts}
    assert "Déjeuner ?" not in subjects and "Newsletter" not in subjects
    status = json.loads(run("status", "--json"))
    assert status["counts"]["activities"] == len(acts)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "does/not/exist"], "does/not/exist: no such file or directory"),
        (["import", ".", "--mailbox", "not an address"], "is not an email address"),
        (["explain", "nothing@here"], "no interaction with id or message-id"),
        (["activities", "list", "--contact", "nobody@nowhere.fr"], "no contact with address"),
    ],
)
def test_bad_input_gets_a_clear_error_and_no_traceback(workspace: Path, args: list[str],
                                                       message: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_bad_config_is_rejected_before_anything_runs(workspace: Path) -> None:
    (workspace / "syncd.toml").write_text('[[connectors]]\nkind = "msgrpah"\nname = "x"\n')
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 2
    assert "syncd.toml: connectors[0].kind: 'msgrpah' is not one of msgraph, ews, files" \
        in result.output
    assert not (workspace / "state" / "syncd.db").exists()


def test_console_script_runs_as_a_process(workspace: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "syncd", "db", "upgrade"], check=True,
                         capture_output=True, text=True, cwd=workspace)
    assert "upgraded from empty to" in out.stdout
    out = subprocess.run([sys.executable, "-m", "syncd", "db", "upgrade"], check=True,
                         capture_output=True, text=True, cwd=workspace)
    assert "already at revision" in out.stdout


def test_connector_add_list_run_and_remove_keep_the_file_valid(workspace: Path) -> None:
    config = workspace / "syncd.toml"
    config.write_text("# our settings\ninternal_domains = [\"contoso.fr\"]\n", encoding="utf-8")
    run("connector", "add", "archive", "--kind", "files", "--path",
        str(workspace / "alice.mbox"))
    assert "# our settings" in config.read_text(encoding="utf-8")  # comments survive
    listed = json.loads(run("connector", "list", "--json"))
    assert listed == [{"name": "archive", "kind": "files", "mailboxes": 0, "streams": 0,
                       "streams_failing": 0}]
    first = json.loads(run("run", "--once", "--json"))
    assert first["interactions_new"] == 5 and first["errors"] == []
    again = json.loads(run("run", "--once", "--json"))
    assert again["interactions_new"] == 0 and again["items_seen"] == 0

    result = CliRunner().invoke(cli, ["connector", "add", "m365", "--kind", "msgraph",
                                      "--tenant-id", "t", "--client-id", "c",
                                      "--client-secret", "plain-secret"])
    assert result.exit_code == 2
    assert "secrets must be references" in result.output
    assert "plain-secret" not in result.output
    assert "m365" not in config.read_text(encoding="utf-8")  # nothing written

    run("connector", "remove", "archive")
    assert json.loads(run("connector", "list", "--json")) == []
