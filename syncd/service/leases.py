"""Leases: how several `syncd run` processes share the work through the database alone.

A worker claims due units with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL: two workers
claiming at the same instant skip each other's rows instead of queueing or taking the same
one), stamps itself as owner with an expiry, and renews the expiry from its heartbeat. A worker
killed with -9 stops renewing; once its leases expire another worker takes the units over.
On SQLite there is one writer process (`writer_lock`) and the same statements run inside
``BEGIN IMMEDIATE`` (SQLAlchemy renders no FOR UPDATE there).

Times are the database's clock, measured once at start and then every few minutes as an offset
from the local clock, so machines with skewed clocks still agree on when a lease expired.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from syncd.store.db import session_scope
from syncd.store.models_service import ServiceLease, ServiceWorker

log = logging.getLogger(__name__)

SEP = "|"
TENANT = "#tenant"
FILES = "#files"
CLOCK_REFRESH_SECONDS = 300.0


def unit_name(connector: str, what: str) -> str:
    """``m365|alice@contoso.com``, ``m365|#tenant``, ``archive|#files``."""
    return f"{connector}{SEP}{what}"


def unit_target(unit: str) -> str:
    return unit.split(SEP, 1)[1]


def default_worker_id() -> str:
    # host:pid alone could repeat after a reboot; the suffix keeps ids unique per process.
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class Claim:
    unit: str
    connector: str
    kind: str
    failures: int


class Leases:
    """The lease table as one worker sees it. Thread-safe (each call is its own session)."""

    def __init__(self, sessions: sessionmaker[Session], worker_id: str,
                 lease_seconds: float) -> None:
        self.sessions = sessions
        self.worker_id = worker_id
        self.lease = timedelta(seconds=lease_seconds)
        self._offset = 0.0
        self._offset_at = -CLOCK_REFRESH_SECONDS
        self.last_renewed = time.monotonic()  # monotonic instant of the last good renewal

    # ---- clock ---------------------------------------------------------------------------

    def db_clock_offset(self) -> float:
        """Seconds to add to the local UTC clock to get the database's (0 on SQLite)."""
        with session_scope(self.sessions) as s:
            if s.get_bind().dialect.name != "postgresql":
                return 0.0
            before = time.time()
            db_now = s.scalar(select(func.now()))
            after = time.time()
        assert db_now is not None
        offset: float = db_now.timestamp() - (before + after) / 2
        return offset

    def now(self) -> datetime:
        mono = time.monotonic()
        if mono - self._offset_at >= CLOCK_REFRESH_SECONDS:
            self._offset_at = mono
            try:
                self._offset = self.db_clock_offset()
            except Exception:  # keep the last offset; the caller's query will report the DB
                log.warning("could not read the database clock", exc_info=True)
        return datetime.now(UTC) + timedelta(seconds=self._offset)

    # ---- workers -------------------------------------------------------------------------

    def register(self) -> None:
        now = self.now()
        with session_scope(self.sessions) as s:
            s.merge(ServiceWorker(id=self.worker_id, host=socket.gethostname(), pid=os.getpid(),
                                  started_at=now, heartbeat_at=now, state="running", summary=""))

    def set_state(self, state: str, summary: str | None = None) -> None:
        values: dict[str, object] = {"state": state, "heartbeat_at": self.now()}
        if summary is not None:
            values["summary"] = summary
        with session_scope(self.sessions) as s:
            s.execute(update(ServiceWorker).where(ServiceWorker.id == self.worker_id)
                      .values(**values))

    # ---- units ---------------------------------------------------------------------------

    def ensure(self, connector: str, units: Iterable[tuple[str, str]]) -> int:
        """Create missing unit rows (``(unit, kind)``), due now. Returns how many were new.
        Concurrent workers may insert the same unit: ON CONFLICT DO NOTHING settles it."""
        rows = [{"unit": u, "connector": connector, "kind": k} for u, k in units]
        if not rows:
            return 0
        now = self.now()
        with session_scope(self.sessions) as s:
            existing = set(s.scalars(select(ServiceLease.unit).where(
                ServiceLease.connector == connector)))
            new = [dict(r, due_at=now, failures=0) for r in rows if r["unit"] not in existing]
            if not new:
                return 0
            dialect = s.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            for start in range(0, len(new), 500):
                s.execute(insert(ServiceLease).values(new[start:start + 500])
                          .on_conflict_do_nothing(index_elements=["unit"]))
        return len(new)

    def claim(self, connectors: Sequence[str], limit: int, exclude: Iterable[str] = (),
              then: Callable[[Session, list[Claim]], None] | None = None) -> list[Claim]:
        """Take up to ``limit`` due, unowned (or expired) units, earliest due first.
        ``then`` runs in the same transaction with what was claimed (the scheduler reads the
        units' stream rows there: one transaction per batch instead of one per unit)."""
        if limit <= 0 or not connectors:
            return []
        now = self.now()
        skip = set(exclude)
        with session_scope(self.sessions) as s:
            query = (
                select(ServiceLease.unit, ServiceLease.connector, ServiceLease.kind,
                       ServiceLease.failures)
                .where(ServiceLease.connector.in_(list(connectors)),
                       ServiceLease.due_at <= now,
                       or_(ServiceLease.owner.is_(None), ServiceLease.lease_until < now))
                .order_by(ServiceLease.due_at)
                .limit(limit + len(skip))
                .with_for_update(skip_locked=True)
            )
            found = [Claim(*row) for row in s.execute(query) if row[0] not in skip][:limit]
            if found:
                s.execute(update(ServiceLease)
                          .where(ServiceLease.unit.in_([c.unit for c in found]))
                          .values(owner=self.worker_id, lease_until=now + self.lease))
                if then is not None:
                    then(s, found)
        return found

    def renew(self) -> int:
        """Heartbeat: push back the expiry of every lease this worker holds. Returns how
        many it holds. Raises the database's error (the caller stops working when renewals
        keep failing: see `lease_valid`)."""
        now = self.now()
        with session_scope(self.sessions) as s:
            result = s.execute(update(ServiceLease).where(ServiceLease.owner == self.worker_id)
                               .values(lease_until=now + self.lease))
            held = getattr(result, "rowcount", 0)
            s.execute(update(ServiceWorker).where(ServiceWorker.id == self.worker_id)
                      .values(heartbeat_at=now))
        self.last_renewed = time.monotonic()
        return int(held or 0)

    def lease_valid(self) -> bool:
        """False once our leases may have expired for others (renewals failing): work must
        stop before another worker takes the same mailbox. 0.8 leaves a margin for the page
        in flight."""
        return time.monotonic() - self.last_renewed < self.lease.total_seconds() * 0.8

    def release(self, unit: str, due_at: datetime, *, failures: int = 0,
                error: str | None = None, ran: bool = True) -> None:
        """Give a unit back with its next due time (only if we still own it)."""
        with session_scope(self.sessions) as s:
            self.release_in(s, unit, due_at, failures=failures, error=error, ran=ran)

    def release_in(self, session: Session, unit: str, due_at: datetime, *, failures: int = 0,
                   error: str | None = None, ran: bool = True) -> None:
        """`release` inside the caller's transaction (the unit's last writes go with it)."""
        values: dict[str, object] = {"owner": None, "lease_until": None, "due_at": due_at,
                                     "failures": failures, "last_error": error}
        if ran:
            values |= {"last_run_at": self.now(), "last_run_by": self.worker_id}
        # No ORM session synchronisation: the caller holds no lease objects, and evaluating
        # the criteria against the session's identity map was a tenth of a no-change poll's
        # CPU (bench/service_scale.py).
        session.execute(update(ServiceLease).where(ServiceLease.unit == unit,
                                                   ServiceLease.owner == self.worker_id)
                        .values(**values).execution_options(synchronize_session=False))

    def drop(self, unit: str) -> None:
        """Forget a unit whose mailbox left the connector's list."""
        with session_scope(self.sessions) as s:
            s.execute(delete(ServiceLease).where(ServiceLease.unit == unit,
                                                 ServiceLease.owner == self.worker_id))

    def release_all(self) -> None:
        """On a clean stop: free what we hold so that others take it now, not at expiry."""
        with session_scope(self.sessions) as s:
            s.execute(update(ServiceLease).where(ServiceLease.owner == self.worker_id)
                      .values(owner=None, lease_until=None))
