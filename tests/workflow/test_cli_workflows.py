"""The CLI: validate lists every problem (exit 2), list/forms with --json, `syncd serve` as a
real process answering /healthz."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
from click.testing import CliRunner
from workflow_helpers import FORM_YAML, MakeApp, free_port, wait_for

from syncd.cli import cli

REPO = Path(__file__).resolve().parents[2]


def test_validate_and_list(sqlite_url: str, make_app: MakeApp) -> None:
    ok_yaml = "on: lead.created\ndo: [{notify_owner: {}}]\n"
    app = make_app(sqlite_url, workflows={"ok.yaml": ok_yaml}, forms={"demo.yaml": FORM_YAML})
    config = str(app.settings.source)
    runner = CliRunner()
    ok = runner.invoke(cli, ["--config", config, "workflows", "validate", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output) == {
        "ok": True, "workflows": ["ok"], "forms": ["demo"], "problems": []}
    listed = json.loads(runner.invoke(cli, ["--config", config, "workflows", "list", "--json"])
                        .output)
    assert listed[0]["on"] == "lead.created" and listed[0]["steps"] == ["notify_owner"]
    forms = json.loads(runner.invoke(cli, ["--config", config, "forms", "list", "--json"]).output)
    assert forms[0]["url"].endswith("/f/demo") and forms[0]["submissions"] == 0
    assert app.settings.source is not None
    (app.settings.source.parent / "workflows" / "bad.yaml").write_text(
        "on: nothing\ndo: [{teleport: {}}]\n")
    bad = runner.invoke(cli, ["--config", config, "workflows", "validate"])
    assert bad.exit_code == 2
    assert "bad.yaml: on: 'nothing' is not one of" in bad.output
    assert "Traceback" not in bad.output
    work = runner.invoke(cli, ["--config", config, "workflows", "work", "--once"])
    assert work.exit_code == 2 and "bad.yaml" in work.output


def test_retry_refuses_what_is_not_dead(sqlite_url: str, make_app: MakeApp) -> None:
    app = make_app(sqlite_url)
    result = CliRunner().invoke(cli, ["--config", str(app.settings.source), "workflows", "retry",
                                      "999"])
    assert result.exit_code == 1 and "no run #999" in result.output


def test_serve_process(sqlite_url: str, make_app: MakeApp) -> None:
    port = free_port()
    app = make_app(sqlite_url, port=port, forms={"demo.yaml": FORM_YAML})
    proc = subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(app.settings.source),
                             "serve"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        def healthy() -> dict[str, object] | None:
            try:
                return dict(requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json())
            except requests.ConnectionError:
                return None

        health = wait_for(healthy, "syncd serve answering")
        assert health == {"status": "ok", "forms": ["demo"], "tracking": True}
        page = requests.get(f"http://127.0.0.1:{port}/f/demo", timeout=10)
        assert page.status_code == 200 and "Demande de démonstration" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM (a clean stop for systemd).
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
