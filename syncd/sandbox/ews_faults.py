"""Fault injection for the sandbox's EWS endpoint, switchable per test like the Graph faults.

EWS throttles with a SOAP fault (``ErrorServerBusy`` carrying ``BackOffMilliseconds`` in
``MessageXml``), not with HTTP 429 (docs: ews-throttling-in-exchange.md, "Errors generated when
throttling limits are exceeded"); exchangelib does not even handle 429 (M365-NOTES 3.4).
Faults are scoped to one mailbox (the impersonated / anchor mailbox) or to every request.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

ANY = "*"
KINDS = ("busy", "401", "503", "item-not-found")


@dataclass(slots=True)
class _Burst:
    kind: str  # one of KINDS
    remaining: int
    back_off_ms: int = 0


class EwsFaults:
    """One-shot faults and the counters tests assert on. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bursts: dict[str, list[_Burst]] = {}
        self._sync_cut: dict[str, int] = {}  # scope -> sync states with serial < cut are invalid
        self._serial = 0
        self.injected: Counter[str] = Counter()

    # ---- switches ------------------------------------------------------------------------

    def server_busy_next(
        self, n: int = 1, *, mailbox: str | None = None, back_off_ms: int = 1000
    ) -> None:
        """The next ``n`` requests (for ``mailbox``, or any) get the ErrorServerBusy fault."""
        self._add(mailbox, _Burst("busy", n, back_off_ms))

    def unauthorized_next(self, n: int = 1, *, mailbox: str | None = None) -> None:
        """The next ``n`` requests get HTTP 401 (as IIS answers a refused credential)."""
        self._add(mailbox, _Burst("401", n))

    def unavailable_next(self, n: int = 1, *, mailbox: str | None = None) -> None:
        """The next ``n`` requests get HTTP 503 Service Unavailable."""
        self._add(mailbox, _Burst("503", n))

    def item_not_found_next(self, n: int = 1, *, mailbox: str | None = None) -> None:
        """The next ``n`` GetItem requests answer ErrorItemNotFound for every id asked."""
        self._add(mailbox, _Burst("item-not-found", n))

    def invalidate_sync_states(self, mailbox: str | None = None) -> None:
        """Every SyncState issued so far (for ``mailbox``, or all) now gets
        ErrorInvalidSyncStateData."""
        with self._lock:
            self._sync_cut[_scope(mailbox)] = self._serial + 1

    def reset(self) -> None:
        with self._lock:
            self._bursts.clear()
            self._sync_cut.clear()
            self.injected.clear()

    def _add(self, mailbox: str | None, burst: _Burst) -> None:
        with self._lock:
            self._bursts.setdefault(_scope(mailbox), []).append(burst)

    # ---- request path --------------------------------------------------------------------

    def take(self, mailbox: str | None, *, operation: str) -> _Burst | None:
        """The fault this request gets, if any (item-not-found only fires on GetItem)."""
        with self._lock:
            for scope in (mailbox.lower() if mailbox else None, ANY):
                bursts = self._bursts.get(scope) if scope else None
                if not bursts:
                    continue
                burst = bursts[0]
                if burst.kind == "item-not-found" and operation != "GetItem":
                    continue
                burst.remaining -= 1
                if burst.remaining <= 0:
                    bursts.pop(0)
                self.injected[burst.kind] += 1
                return burst
            return None

    def next_sync_serial(self) -> int:
        with self._lock:
            self._serial += 1
            return self._serial

    def sync_state_invalid(self, mailbox: str, serial: int) -> bool:
        with self._lock:
            for scope in (mailbox.lower(), ANY):
                cut = self._sync_cut.get(scope)
                if cut is not None and serial < cut:
                    self.injected["invalid-sync-state"] += 1
                    return True
            return False

    def apply(self, spec: str) -> None:
        """One ``--fault`` spec for EWS: ``ews-busy:next=2[,ms=1500,mailbox=..]``,
        ``ews-401:next=1``, ``ews-503:next=1``, ``ews-item-not-found:next=1``,
        ``ews-invalid-sync-state[:mailbox=..]``.

        Raises: ValueError for an unknown name or option.
        """
        name, _, rest = spec.strip().partition(":")
        opts = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        mailbox = opts.pop("mailbox", None)
        if name == "ews-invalid-sync-state":
            self.invalidate_sync_states(mailbox)
        elif name == "ews-busy":
            self.server_busy_next(
                int(opts.pop("next", 1)), mailbox=mailbox, back_off_ms=int(opts.pop("ms", 1000))
            )
        elif name in ("ews-401", "ews-503", "ews-item-not-found"):
            add = {
                "ews-401": self.unauthorized_next,
                "ews-503": self.unavailable_next,
                "ews-item-not-found": self.item_not_found_next,
            }[name]
            add(int(opts.pop("next", 1)), mailbox=mailbox)
        else:
            raise ValueError(f"unknown EWS fault {name!r} in {spec!r}")
        if opts:
            raise ValueError(f"unknown option(s) {sorted(opts)} in fault {spec!r}")


def _scope(mailbox: str | None) -> str:
    return mailbox.lower() if mailbox else ANY
