"""A real `syncd run` process: sd_notify over a real datagram socket, JSON logs, metrics over
HTTP, continuous capture, SIGTERM (also in the middle of a fetch), SIGHUP, the SQLite writer
lock."""

from __future__ import annotations

import json
import signal
import urllib.request
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from service_helpers import (
    SECRET,
    NotifySocket,
    SyncdProcess,
    child_env,
    email_sightings,
    expected_sightings,
    wait_until,
    write_config,
)

from connectors.normalize import normalize_message_id
from syncd.sandbox import Sandbox
from syncd.service.writer_lock import WriterLock

pytestmark = pytest.mark.slow


def new_mail(to: str, subject: str) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = "Jeanne Océane <jeanne@fabrikam-test.fr>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = mid = make_msgid(domain="fabrikam-test.fr")
    msg.set_content("Bonjour, pouvez-vous m'envoyer le devis ? Corps secret du message.")
    return msg.as_bytes(), mid


def test_service_notifies_systemd_logs_json_serves_metrics_and_stops_on_sigterm(
    box: Sandbox, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    config = write_config(tmp_path / "syncd.toml", box, url)
    notify = NotifySocket()
    proc = SyncdProcess(config, "run", "--log-format", "json", "--metrics-port", "0",
                        env=child_env(NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="1000000"))
    try:
        ready = notify.wait_for(lambda m: m.get("READY") == "1")
        assert "mailboxes" in ready["STATUS"]
        assert ready["MAINPID"] == str(proc.proc.pid)
        notify.wait_for(lambda m: m.get("WATCHDOG") == "1")
        notify.wait_for(lambda m: m.get("WATCHDOG") == "1")  # keeps pinging from the loop
        wait_until(lambda: email_sightings(url) == expected_sightings(box), 120,
                   "the first sync to reach the ground truth")
        status = notify.wait_for(lambda m: "STATUS" in m and "READY" not in m
                                 and " 0 units" not in m["STATUS"])
        assert "captured" in status["STATUS"]

        # New mail arriving later is captured by the running service (poll interval 2 s).
        owner = box.state.ground_truth().messages.__iter__().__next__()[0]
        raw, mid = new_mail(owner, "Demande de devis confidentielle")
        box.state.add_message(owner, "inbox", raw)
        key = normalize_message_id(mid)
        wait_until(lambda: (owner, key) in email_sightings(url), 60, "the new mail")

        metrics_url = json.loads(proc.wait_for_line('"metrics served"'))["url"]
        with urllib.request.urlopen(metrics_url, timeout=10) as resp:
            metrics = resp.read().decode()
        assert 'syncd_stream_lag_seconds{connector="m365",stream="' in metrics
        assert 'syncd_stream_last_success_timestamp_seconds{connector="m365"' in metrics
        assert 'syncd_polls_total{connector="m365",outcome="ok"}' in metrics
        assert 'syncd_items_total{connector="m365",fate="seen"}' in metrics
        assert "syncd_db_statement_seconds_count" in metrics
        assert 'syncd_token_expiry_timestamp_seconds{connector="m365"}' in metrics
        assert "process_resident_memory_bytes" in metrics  # the worker's RSS, from the global

        proc.proc.send_signal(signal.SIGTERM)
        notify.wait_for(lambda m: m.get("STOPPING") == "1")
        assert proc.finish() == 0
    finally:
        proc.kill()
        notify.close()
    lines = proc.log()
    assert lines, "the service logged nothing"
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert {"ts", "level", "logger", "msg"} <= record.keys()
    text = "\n".join(lines)
    assert SECRET not in text
    assert "eyJ" not in text  # no JWT (access token) anywhere
    assert "Demande de devis" not in text and "Corps secret" not in text  # no subject, no body
    assert '"msg":"stopped"' in text


def test_sigterm_abandons_a_fetch_in_flight_and_commits_no_half_page(
    box: Sandbox, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    config = write_config(tmp_path / "syncd.toml", box, url)
    slow = sorted(box.state.ground_truth().messages)[0][0]
    box.faults.slow(60_000, mailbox=slow)  # that mailbox's first request hangs for a minute
    proc = SyncdProcess(config, "run", "--log-format", "json")
    try:
        wait_until(lambda: box.faults.max_in_flight.get(slow, 0) >= 1, 60,
                   "a request to the slow mailbox")
        proc.proc.send_signal(signal.SIGTERM)
        # It ends long before the hanging request could return: the fetch was abandoned.
        assert proc.finish(timeout=30) == 0
    finally:
        proc.kill()
    assert any("abandoning" in line for line in proc.log())
    assert all(owner != slow for owner, _ in email_sightings(url))  # nothing half-committed
    box.faults.slow(0, mailbox=slow)
    again = SyncdProcess(config, "run", "--once")
    assert again.finish(timeout=120) == 0, "\n".join(again.log())
    assert email_sightings(url) == expected_sightings(box)


def test_sighup_reloads_a_valid_configuration_and_keeps_running_on_a_bad_one(
    box: Sandbox, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    config = write_config(tmp_path / "syncd.toml", box, url)
    good = config.read_text()
    notify = NotifySocket()
    proc = SyncdProcess(config, "run", "--log-format", "json",
                        env=child_env(NOTIFY_SOCKET=notify.path))
    try:
        notify.wait_for(lambda m: m.get("READY") == "1")
        config.write_text(good + "\nunknown_key = 1\n")
        proc.proc.send_signal(signal.SIGHUP)
        refused = json.loads(proc.wait_for_line("configuration reload refused"))
        assert any("unknown_key" in p for p in refused["problems"])
        assert proc.proc.poll() is None  # still serving with the old configuration

        config.write_text(good.replace("mail_interval = 2", "mail_interval = 3"))
        proc.proc.send_signal(signal.SIGHUP)
        notify.wait_for(lambda m: m.get("RELOADING") == "1")
        notify.wait_for(lambda m: m.get("READY") == "1")
        wait_until(lambda: sum("scheduler started" in line for line in proc.log()) == 2, 30,
                   "the scheduler to restart with the new configuration")
        started = [json.loads(line) for line in proc.log() if "scheduler started" in line]
        assert [s["mail_interval"] for s in started] == [2.0, 3.0]
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.finish() == 0
    finally:
        proc.kill()
        notify.close()


def test_sqlite_refuses_a_second_writer_process(box: Sandbox, tmp_path: Path) -> None:
    db = tmp_path / "svc.db"
    config = write_config(tmp_path / "syncd.toml", box, f"sqlite:///{db}")
    lock = WriterLock.for_url(f"sqlite:///{db}")
    assert lock is not None
    lock.acquire()  # this test process plays the first `syncd run`
    try:
        for args in (("run",), ("run", "--once")):
            second = SyncdProcess(config, *args)
            assert second.finish() == 2
            message = "\n".join(second.log())
            assert "SQLite allows one writer process" in message
            assert "PostgreSQL" in message
            assert "Traceback" not in message
    finally:
        lock.release()
    assert WriterLock.for_url("postgresql+psycopg://u@h/db") is None


def test_the_writer_lock_is_released_when_a_run_ends(tmp_path: Path) -> None:
    """Regression: `run --once` twice in one process (CliRunner, a script) must not refuse
    itself."""
    from click.testing import CliRunner

    from syncd.cli import cli

    mail = tmp_path / "mail"
    mail.mkdir()
    raw, _mid = new_mail("alice@contoso.fr", "Bonjour")
    (mail / "one.eml").write_bytes(raw)
    config = tmp_path / "syncd.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "x.db"}"\n\n[[connectors]]\n'
                      f'kind = "files"\nname = "files"\npaths = ["{mail}"]\n'
                      'mailbox = "alice@contoso.fr"\n')
    for _ in range(2):
        result = CliRunner().invoke(cli, ["--quiet", "--config", str(config), "run", "--once"])
        assert result.exit_code == 0, result.output
