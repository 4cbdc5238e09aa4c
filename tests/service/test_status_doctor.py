"""`syncd status` and `syncd doctor` on a real store and the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from service_helpers import SECRET, SECRET_ENV, write_config

from syncd.cli import cli
from syncd.sandbox import Sandbox
from syncd.service.status import plain_error, service_status
from syncd.store.db import make_engine, session_factory, session_scope
from syncd.store.models import Stream


def invoke(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--quiet", "--config", str(config), *args],
                                env={"COLUMNS": "250"})
    return result.exit_code, result.output


@pytest.fixture
def synced(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    url = f"sqlite:///{tmp_path / 'st.db'}"
    config = write_config(tmp_path / "syncd.toml", box, url)
    code, out = invoke(config, "run", "--once")
    assert code == 0, out
    return config, url


def test_status_reports_mailboxes_backlog_throttling_and_plain_errors(
    synced: tuple[Path, str], box: Sandbox
) -> None:
    config, url = synced
    owners = sorted({owner for owner, _f, _m in box.state.ground_truth().messages})
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_scope(session_factory(engine)) as s:
        throttled = s.query(Stream).filter(Stream.key == f"{owners[0]}/mail/inbox").one()
        throttled.consecutive_failures = 2
        throttled.next_due_at = now + timedelta(minutes=5)
        throttled.last_error = "ThrottledError: too many requests; retry in 30 s"
        late = s.query(Stream).filter(Stream.key == f"{owners[1]}/mail/inbox").one()
        late.poll_due_at = now - timedelta(minutes=10)
    engine.dispose()
    code, out = invoke(config, "status", "--json")
    assert code == 0, out
    data = json.loads(out)
    boxes = {b["mailbox"]: b for b in data["mailboxes"]}
    assert set(owners) <= boxes.keys()
    assert boxes[owners[0]]["state"] == "throttled" and boxes[owners[0]]["throttled"]
    assert boxes[owners[0]]["last_error"].startswith("throttled: the server asked us to wait")
    assert boxes[owners[1]]["backlog"] == 1
    assert boxes[owners[2]]["state"] == "ok" and boxes[owners[2]]["synced_up_to"]
    (connector,) = data["connectors"]
    assert connector["connector"] == "m365" and connector["throttled"] == 1
    assert connector["backlog"] == 1 and connector["mailboxes"] == len(boxes)
    code, out = invoke(config, "status")
    assert code == 0 and "Mailboxes" in out and "throttled" in out


def test_plain_error_says_what_the_error_means() -> None:
    assert plain_error("AuthError: 401 consent").startswith("sign-in or permission problem")
    assert plain_error("cursor rejected, full resync: x") == "cursor rejected, full resync: x"
    assert plain_error(None) is None


def test_doctor_passes_on_a_healthy_setup_and_explains_each_failure(
    synced: tuple[Path, str], box: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config, _url = synced
    code, out = invoke(config, "doctor", "--json")
    data = json.loads(out)
    assert code == 0, out
    names = {c["name"]: c for c in data["checks"]}
    for name in ("configuration", "database", "migrations", "disk space", "state directory",
                 "secret m365.client_secret", "connector m365", "clock vs m365"):
        assert names[name]["status"] == "ok", names.get(name)

    monkeypatch.delenv(SECRET_ENV)
    broken = tmp_path / "broken.toml"
    broken.write_text(config.read_text().replace(
        f'database_url = "sqlite:///{tmp_path / "st.db"}"',
        'database_url = "postgresql+psycopg://nobody@127.0.0.1:1/none"'))
    code, out = invoke(broken, "doctor", "--json")
    assert code == 1
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["database"]["status"] == "FAIL"
    assert "database_url" in checks["database"]["fix"]
    assert checks["secret m365.client_secret"]["status"] == "FAIL"
    assert "LoadCredential" in checks["secret m365.client_secret"]["fix"]
    assert "Traceback" not in out
    code, out = invoke(broken, "doctor")
    assert code == 1 and "FAIL" in out and "check(s) failed" in out


def test_status_of_an_empty_store_is_friendly(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    from syncd.store.db import upgrade

    upgrade(engine)
    with session_scope(session_factory(engine)) as s:
        data = service_status(s)
    engine.dispose()
    assert data["mailboxes"] == [] and data["workers"] == [] and data["counts"]["ties"] == 0
