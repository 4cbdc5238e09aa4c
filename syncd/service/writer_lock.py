"""SQLite allows one writer process: a second `syncd run` on the same file is refused.

An advisory `flock` on ``<database>.lock`` is held for the life of the process; the kernel
drops it when the process dies (even on kill -9), so a crash never leaves a stale lock. The
file records the holder's pid for the message. PostgreSQL needs none of this: workers share the
streams by lease (`syncd.service.leases`).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class WriterLockError(Exception):
    """Another process writes to this SQLite database."""


class WriterLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_url(cls, url: str) -> WriterLock | None:
        """The lock for a SQLite file URL; None for PostgreSQL and in-memory SQLite."""
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return None
        db = Path(parsed.database).expanduser()
        return cls(db.with_name(db.name + ".lock"))

    def acquire(self) -> None:
        """Raises WriterLockError naming the other process and the way out."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            db = self.path.with_name(self.path.name.removesuffix(".lock"))
            raise WriterLockError(
                f"another `syncd run` (pid {holder}) already writes to {db}: SQLite allows "
                "one writer process. Stop that one first, or use PostgreSQL "
                "(database_url = \"postgresql+psycopg://...\") to run several workers."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None
