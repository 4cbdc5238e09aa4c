"""The systemd notification protocol (sd_notify(3)): READY, WATCHDOG, STATUS, STOPPING.

Written by hand rather than pulled in as a dependency: the protocol is one datagram of
``KEY=VALUE`` lines sent to the AF_UNIX socket named by ``$NOTIFY_SOCKET`` (a leading ``@``
means the abstract namespace), and the libraries that wrap it (systemd-python) need libsystemd
headers to build. Without ``$NOTIFY_SOCKET`` (not started by systemd) every call is a no-op.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


class Notifier:
    """Sends notifications to systemd; thread-safe (one sendto per message)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        self._sock: socket.socket | None = None
        if self._address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # sd_watchdog_enabled(3): WATCHDOG_USEC is for us unless WATCHDOG_PID names another pid.
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        self.watchdog_seconds: float | None = None
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_seconds = int(usec) / 1_000_000
        self._last_ping = 0.0

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=VALUE`` lines (``ready=1`` becomes ``READY=1``). False if not sent."""
        if self._sock is None or self._address is None:
            return False
        lines = []
        for key, value in fields.items():
            text = str(value).replace("\n", " ")  # one line per field, by protocol
            lines.append(f"{key.upper()}={text}")
        try:
            self._sock.sendto("\n".join(lines).encode(), self._address)
        except OSError:
            return False  # systemd gone (shutdown): nothing useful to do
        return True

    def ready(self, status: str) -> None:
        self.notify(ready=1, status=status, mainpid=os.getpid())

    def status(self, text: str) -> None:
        self.notify(status=text)

    def stopping(self, status: str) -> None:
        self.notify(stopping=1, status=status)

    def reloading(self) -> None:
        self.notify(reloading=1, status="reloading the configuration")

    def watchdog(self) -> None:
        """Ping the watchdog if half its interval has passed since the last ping. Called from
        the scheduler loop itself, so a wedged loop stops pinging and systemd restarts us."""
        if self.watchdog_seconds is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_seconds / 2:
            self._last_ping = now
            self.notify(watchdog=1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
