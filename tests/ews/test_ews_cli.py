"""The EWS connector from the command line: add it to the configuration, test it against the
sandbox (token, mailboxes, folders), and run a pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from ews_helpers import SECRET_ENV

from syncd.cli import cli
from syncd.sandbox import Sandbox


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_connector_add_test_and_run_an_ews_connector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SYNCD_INTERNAL_DOMAINS", "contoso.test")
    with Sandbox(state_dir=tmp_path / "sandbox") as box:
        box.state.add_user("alice@contoso.test", "Alice Martin")
        box.state.add_message("alice@contoso.test", "inbox", (
            b"From: Jeanne <jeanne@fabrikam.test>\r\nTo: alice@contoso.test\r\n"
            b"Subject: Devis\r\nMessage-ID: <cli-1@fabrikam.test>\r\n"
            b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nBonjour\r\n"))
        run("connector", "add", "exchange", "--kind", "ews", "--service-endpoint", box.ews_url,
            "--auth", "oauth2", "--tenant-id", box.tenant, "--client-id", "syncd-demo",
            "--client-secret", f"env:{SECRET_ENV}", "--authority-host", box.base_url,
            "--ca-bundle", str(box.ca_path), "--mailbox", "alice@contoso.test",
            "--mailbox", "nobody@contoso.test")
        text = (tmp_path / "syncd.toml").read_text(encoding="utf-8")
        assert 'kind = "ews"' in text and "demo-secret" not in text

        report = json.loads(run("connector", "test", "exchange", "--json", code=1))
        assert report["token_ok"] is True
        assert [m["address"] for m in report["mailboxes"]] == ["alice@contoso.test"]
        assert report["problems"] == ["nobody@contoso.test: no such mailbox on the Exchange "
                                      "server"]

        result = json.loads(run("run", "--once", "--json", "--connector", "exchange"))
        assert result["errors"] == [] and result["interactions_new"] == 1

        dn = box.ews.legacy_dn("alice@contoso.test")
        resolved = json.loads(run("ews", "resolve", "exchange", dn, "--json"))
        assert resolved == [{"entry": dn, "smtp": "alice@contoso.test"}]
        out = run("ews", "resolve", "exchange", "/o=Other/ou=x/cn=Recipients/cn=gone", code=1)
        assert "(not resolved)" in out

        # A service account without a password is refused before anything runs.
        out = run("connector", "add", "onprem", "--kind", "ews", "--service-endpoint",
                  box.ews_url, "--auth", "ntlm", "--username", "CONTOSO\\svc", code=2)
        assert "needs username and password" in out


def test_an_ntlm_service_account_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the README shows for an on-premises server: NTLM, the password in a credential
    file; then the same with a wrong password, reported without it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SYNCD_INTERNAL_DOMAINS", "contoso.test")
    secret = tmp_path / "ews-password"
    secret.write_text("Pa55-wörd\n", encoding="utf-8")
    with Sandbox(state_dir=tmp_path / "sandbox") as box:
        box.state.add_user("alice@contoso.test", "Alice Martin")
        box.state.add_message("alice@contoso.test", "inbox", (
            b"From: Jeanne <jeanne@fabrikam.test>\r\nTo: alice@contoso.test\r\n"
            b"Subject: Devis\r\nMessage-ID: <cli-2@fabrikam.test>\r\n"
            b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nBonjour\r\n"))
        box.ews.add_account("CONTOSO\\svc-syncd", "Pa55-wörd")
        box.ews.auth.require("NTLM")
        run("connector", "add", "onprem", "--kind", "ews", "--service-endpoint", box.ews_url,
            "--auth", "ntlm", "--username", "CONTOSO\\svc-syncd", "--password",
            f"file:{secret}", "--ca-bundle", str(box.ca_path), "--mailbox",
            "alice@contoso.test")
        report = json.loads(run("connector", "test", "onprem", "--json"))
        assert report["problems"] == []
        assert [m["address"] for m in report["mailboxes"]] == ["alice@contoso.test"]
        result = json.loads(run("run", "--once", "--json", "--connector", "onprem"))
        assert result["errors"] == [] and result["interactions_new"] == 1
        assert set(box.ews.auth.accepted) == {"NTLM"}

        secret.write_text("not-the-password\n", encoding="utf-8")
        out = run("connector", "test", "onprem", code=1)
        assert "connector 'onprem' (NTLM as CONTOSO\\svc-syncd)" in out
        assert "refused the credentials" in out and "not-the-password" not in out
