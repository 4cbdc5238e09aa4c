"""The msal token cache, persisted to one owner-only file and shared by msal and O365.

The same object is msal's ``token_cache`` (ConfidentialClientApplication for app-only tokens,
PublicClientApplication for device-code sign-ins) and O365's ``token_backend``: O365's
backends *are* msal caches (M365-NOTES 2.1). The file holds access and refresh tokens, so it is
written atomically with mode 0600 from creation (M365-NOTES 1.3): a temporary file opened with
``os.open(..., 0o600)``, fsync, ``os.replace``. O365's own FileSystemTokenBackend writes with
plain ``open("w")`` (umask permissions, not atomic), which is why it is not used.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from O365.utils.token import BaseTokenBackend

log = logging.getLogger(__name__)


class FileTokenCache(BaseTokenBackend):  # type: ignore[misc]  # O365 ships no type hints
    """An msal cache kept in memory and saved to ``path`` (None: memory only).

    Thread-safe: msal guards the cache with its own lock; saving takes ours.
    """

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path
        self._save_lock = threading.Lock()
        self._loaded = False
        self.load_token()

    def __repr__(self) -> str:
        return f"FileTokenCache({str(self.path) if self.path else 'memory'})"

    def load_token(self) -> bool:
        """Read the file once (O365 calls this again when it builds a session: a no-op then).

        A missing file is an empty cache; an unreadable or corrupt one is logged and ignored
        (tokens can always be fetched again).
        """
        if self._loaded or self.path is None:
            self._loaded = True
            return True
        self._loaded = True
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return True
        except OSError as exc:
            log.warning("token cache %s is unreadable (%s); starting empty", self.path, exc)
            return True
        try:
            state: Any = json.loads(text) if text.strip() else {}
        except ValueError:
            log.warning("token cache %s is not JSON; starting empty", self.path)
            return True
        if isinstance(state, dict):
            with self._lock:
                self._cache = state
                self._has_state_changed = False
        return True

    def save_token(self, force: bool = False) -> bool:
        """Write the cache if it changed (or ``force``): atomic, 0600 from creation.

        Raises: OSError when the directory is not writable.
        """
        if self.path is None:
            return True
        with self._save_lock:
            if not (force or self._has_state_changed):
                return True
            data = self.serialize()  # clears the changed flag under msal's lock
            if isinstance(data, bytes):
                data = data.decode("utf-8")
            write_private_file(self.path, data)
        return True

    def delete_token(self) -> bool:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        return True

    def check_token(self) -> bool:
        return self.path is not None and self.path.exists()

    @property
    def changed(self) -> bool:
        return bool(self._has_state_changed)


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by the owner only.

    Raises: OSError.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a stale temporary file would keep its old mode through O_TRUNC
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
