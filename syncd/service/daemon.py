"""`syncd run` without --once: the long-running service process.

Wires the scheduler to the outside world: logs (JSON under systemd), signals (SIGTERM/SIGINT
stop, SIGHUP reloads the configuration), sd_notify, Prometheus metrics, the SQLite single
writer lock, and the workflow worker when it is installed.

SIGHUP: the configuration file is read again; if it is invalid the error is logged and the
running configuration is kept (the unit keeps running). If it is valid, units in flight finish
their current page, leases are handed back, and polling resumes with the new configuration
(connectors added or removed, intervals, database URL). Logging and metrics settings apply at
the next restart.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import msal
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from syncd.app import App
from syncd.config import ConfigError, Settings, load_settings
from syncd.service.leases import default_worker_id
from syncd.service.logjson import fields, setup_logging
from syncd.service.metrics import Metrics
from syncd.service.scheduler import Scheduler
from syncd.service.sdnotify import Notifier
from syncd.service.writer_lock import WriterLock, WriterLockError
from syncd.store.db import ensure_schema, make_engine

log = logging.getLogger("syncd.service")


class DaemonError(Exception):
    """The service cannot start; the message says why and what to do."""


def with_overrides(settings: Settings, **overrides: Any) -> Settings:
    """Command-line options win over `[service]` in the file."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if not values:
        return settings
    return settings.model_copy(update={"service": settings.service.model_copy(update=values)})


def workflow_factory() -> Callable[[App, str], Any]:
    """The workflow worker the scheduler runs beside the pollers (imported here, not at the
    top, so that `syncd status` and friends do not load the engine)."""
    from syncd.workflows.worker import WorkflowWorker

    return WorkflowWorker


def token_expiries(app: App) -> dict[str, float]:
    """Latest access-token expiry per Graph connector built so far (msal cache entries)."""
    out: dict[str, float] = {}
    for name, connector in app.graph_connectors().items():
        entries = connector.auth.cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
        times = [float(e["expires_on"]) for e in entries if str(e.get("expires_on", "")).isdigit()]
        if times:
            out[name] = max(times)
    return out


MIGRATION_LOCK = 0x73796E6364  # "syncd": the advisory lock key workers migrate under


def migrate_once(url: str) -> None:
    """Bring the schema up to date before the scheduler starts. On PostgreSQL several workers
    may start at once: the first takes an advisory lock and migrates, the others wait for it
    and then find the schema current (Alembic itself does not serialise concurrent upgrades)."""
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            ensure_schema(engine)
            return
        with engine.connect() as conn:
            conn.execute(select(func.pg_advisory_lock(MIGRATION_LOCK)))
            try:
                ensure_schema(engine)
            finally:
                conn.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK)))
                conn.commit()
    finally:
        engine.dispose()


def run_daemon(settings: Settings, *, config_path: Any = None, only: str | None = None,
               allow_mass_deletion: bool = False, overrides: dict[str, Any] | None = None
               ) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit code. Raises DaemonError before starting."""
    overrides = overrides or {}
    settings = with_overrides(settings, **overrides)
    conf = settings.service
    setup_logging(conf.log_format)
    lock = WriterLock.for_url(settings.db_url)
    if lock is not None:
        try:
            lock.acquire()
        except WriterLockError as exc:
            raise DaemonError(str(exc)) from None
    app = App(settings)
    try:
        migrate_once(settings.db_url)
        app.engine.connect().close()
    except SQLAlchemyError as exc:
        if lock is not None:
            lock.release()
        raise DaemonError(f"cannot use the database: {exc.__class__.__name__}: "
                          f"{str(exc).splitlines()[0]} (check database_url; `syncd doctor` "
                          "says more)") from None
    worker_id = conf.worker_id or default_worker_id()
    metrics = Metrics()
    metrics.watch_engine(app.engine)
    notifier = Notifier()

    def reload() -> Settings:
        return with_overrides(load_settings(config_path), **overrides)

    sched = Scheduler(app, worker_id=worker_id, notifier=notifier, metrics=metrics, only=only,
                      allow_mass_deletion=allow_mass_deletion, reload_settings=reload,
                      workflow_factory=workflow_factory())
    metrics.add_collectors(lambda: sched.app.sessions, lambda: token_expiries(sched.app))
    if conf.metrics_port is not None:
        try:
            port = metrics.serve(conf.metrics_port, conf.metrics_address)
        except OSError as exc:
            raise DaemonError(f"cannot serve metrics on {conf.metrics_address}:"
                              f"{conf.metrics_port}: {exc.strerror}") from None
        log.info("metrics served", extra=fields(url=f"http://{conf.metrics_address}:{port}/metrics"))

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal received", extra=fields(signal=signal.Signals(signum).name))
        sched.request_stop()

    def hup(signum: int, frame: FrameType | None) -> None:
        log.info("signal received", extra=fields(signal="SIGHUP"))
        sched.request_reload()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hup)
    try:
        abandoned = sched.run()
    except ConfigError as exc:
        raise DaemonError("\n".join(exc.problems)) from None
    notifier.close()
    if abandoned:
        # Their threads are blocked in network reads; waiting for them would break the stop
        # deadline. Nothing of their pages is committed, so ending the process here is safe.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    sched.app.close()
    if lock is not None:
        lock.release()
    return 0
