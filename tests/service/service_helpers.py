"""Helpers for the service tests: a sandbox-backed config, a real `syncd run` process, a real
sd_notify datagram socket, and the store-vs-ground-truth comparison."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from connectors.normalize import normalize_message_id
from syncd.demo_job import sandbox_config_toml
from syncd.sandbox import Sandbox

SECRET_ENV = "SYNCD_TEST_M365_SECRET"
SECRET = "demo-secret"
REPO = Path(__file__).resolve().parents[2]


def write_config(path: Path, box: Sandbox, database_url: str, *, call_records: bool = False,
                 service: str = "") -> Path:
    """The same file an admin writes, on the sandbox; ``service``: extra `[service]` lines."""
    body = sandbox_config_toml(box, database_url, "contoso-demo.fr", SECRET_ENV,
                               call_records=call_records)
    body += "\n[service]\nmail_interval = 2\ncalendar_interval = 4\njitter = 0.1\n" + service
    path.write_text(body, encoding="utf-8")
    return path


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, **{SECRET_ENV: SECRET}, **extra)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NOTIFY_SOCKET", "WATCHDOG_USEC",
                 "WATCHDOG_PID"):
        if name not in extra:
            env.pop(name, None)
    return env


class SyncdProcess:
    """A real `python -m syncd ... run` child; its stderr lines are collected by a thread."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syncd", "--quiet", "--config", str(config), *args],
            env=env or child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            cwd=REPO)
        self.lines: list[str] = []
        self._lock = threading.Lock()
        assert self.proc.stderr is not None
        stderr = self.proc.stderr
        self._reader = threading.Thread(target=self._read, args=(stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        with stream:
            for line in stream:
                with self._lock:
                    self.lines.append(line.rstrip("\n"))

    def log(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def wait_for_line(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log():
                if needle in line:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no log line with {needle!r}; log:\n" + "\n".join(self.log()))

    def finish(self, timeout: float = 30) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=5)


class NotifySocket:
    """A datagram socket standing in for systemd's notification socket (sd_notify(3))."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="sdn")  # AF_UNIX paths are limited to 108 bytes
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: queue.Queue[dict[str, str]] = queue.Queue()
        self.seen: list[dict[str, str]] = []
        self._thread = threading.Thread(target=self._recv, daemon=True)
        self._thread.start()

    def _recv(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            self.seen.append(fields)
            self.messages.put(fields)

    def wait_for(self, pred: Callable[[dict[str, str]], bool], timeout: float = 60
                 ) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if pred(msg):
                return msg
        raise AssertionError(f"no matching notification; got {self.seen}")

    def close(self) -> None:
        self.sock.close()
        try:
            os.unlink(self.path)
            os.rmdir(self.dir)
        except OSError:
            pass


def email_sightings(database_url: str) -> list[tuple[str, str]]:
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT mb.address, i.natural_key FROM sightings s "
                "JOIN streams st ON st.id = s.stream_id JOIN mailboxes mb ON mb.id = st.mailbox_id "
                "JOIN interactions i ON i.id = s.interaction_id "
                "WHERE s.deleted_at IS NULL AND i.kind = 'email'")).all()
    finally:
        engine.dispose()
    return sorted((a, k) for a, k in rows)


def expected_sightings(box: Sandbox) -> list[tuple[str, str]]:
    truth = box.state.ground_truth()
    return sorted((owner, normalize_message_id(mid) or mid)
                  for owner, _folder, mid in truth.messages)


def wait_until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for convergence (not a performance threshold: the bound only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
