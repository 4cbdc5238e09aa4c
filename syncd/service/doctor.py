"""`syncd doctor`: every check an admin would otherwise do by hand, each failure with its fix.

Checks: configuration, database reachability, migrations, state directory and disk space,
token cache permissions, secrets, each connector's reachability and permissions (the
connector's own `check`), clock skew (against the database and the connector's server: tokens
and leases both assume clocks agree), and the workers of a scale-out group.
"""

from __future__ import annotations

import email.utils
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from syncd.config import (
    ConfigError,
    EwsConnector,
    FilesConnector,
    MsGraphConnector,
    Settings,
    load_settings,
    resolve_secret,
)

OK, WARN, FAIL = "ok", "warn", "FAIL"
SKEW_WARN = 30.0
SKEW_FAIL = 240.0  # Entra ID tolerates 5 minutes of skew on tokens
DISK_FAIL_BYTES = 512 * 2**20
DISK_WARN_BYTES = 2 * 2**30


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | FAIL
    detail: str
    fix: str = ""


def _skew_check(name: str, skew: float, against: str, fix: str) -> Check:
    text = f"local clock is {abs(skew):.1f} s {'behind' if skew > 0 else 'ahead of'} {against}"
    if abs(skew) >= SKEW_FAIL:
        return Check(name, FAIL, text, fix)
    if abs(skew) >= SKEW_WARN:
        return Check(name, WARN, text, fix)
    return Check(name, OK, text)


def run_checks(config_path: Path | None, *, connectors: bool = True) -> list[Check]:
    """All checks, in the order an admin would fix them. Never raises."""
    out: list[Check] = []
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        return [Check("configuration", FAIL, "; ".join(exc.problems),
                      "edit the file as each problem says (config/syncd.example.toml "
                      "documents every key)")]
    source = str(settings.source) if settings.source else "built-in defaults (no file found)"
    out.append(Check("configuration", OK if settings.connectors else WARN,
                     f"{source}; {len(settings.connectors)} connector(s)",
                     "" if settings.connectors else "add one: `syncd connector add NAME ...`"))
    out.extend(_state_checks(settings))
    out.extend(_database_checks(settings))
    out.extend(_secret_checks(settings))
    if connectors:
        for conf in settings.connectors:
            out.extend(_connector_checks(settings, conf))
    return out


def _state_checks(settings: Settings) -> list[Check]:
    out = []
    state = settings.state_dir
    try:
        state.mkdir(parents=True, exist_ok=True)
        probe = state / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
        out.append(Check("state directory", OK, f"{state} is writable"))
    except OSError as exc:
        out.append(Check("state directory", FAIL, f"{state}: {exc.strerror}",
                         "create it and give the service user write access (systemd: "
                         "StateDirectory=syncd does this)"))
        return out
    usage = shutil.disk_usage(state)
    free = f"{usage.free / 2**30:.1f} GiB free on the state directory's file system"
    if usage.free < DISK_FAIL_BYTES:
        out.append(Check("disk space", FAIL, free, "free space or move state_dir: SQLite and "
                         "the token caches need room to write"))
    elif usage.free < DISK_WARN_BYTES:
        out.append(Check("disk space", WARN, free, "free some space soon"))
    else:
        out.append(Check("disk space", OK, free))
    loose = [p.name for p in state.glob("*token*")
             if p.is_file() and stat.S_IMODE(p.stat().st_mode) & 0o077]
    if loose:
        out.append(Check("token caches", FAIL, f"readable by others: {', '.join(loose)}",
                         f"chmod 600 {state}/<file> (they hold refresh tokens)"))
    return out


def _database_checks(settings: Settings) -> list[Check]:
    from syncd.store.db import current_revision, head_revision, make_engine

    out = []
    url = settings.db_url
    shown = url.split("@")[-1] if "@" in url else url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            db_now = conn.execute(select(func.now())).scalar() \
                if engine.dialect.name == "postgresql" else None
        out.append(Check("database", OK, f"{engine.dialect.name} reachable ({shown})"))
        current, head = current_revision(engine), head_revision(engine)
        if current == head:
            out.append(Check("migrations", OK, f"schema at {head}"))
        else:
            out.append(Check("migrations", WARN if current is None else FAIL,
                             f"schema at {current or 'empty'}, code expects {head}",
                             "run `syncd db upgrade` (syncd run also upgrades at start)"))
        if db_now is not None:
            skew = db_now.timestamp() - datetime.now(UTC).timestamp()
            out.append(_skew_check("clock vs database", skew, "the database server",
                                   "run NTP (systemd-timesyncd or chrony) on every worker "
                                   "and on the database server: leases expire by the clock"))
        if current == head:
            out.extend(_worker_checks(engine, settings))
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        out.append(Check("database", FAIL, f"cannot connect to {shown}: {first}",
                         "check database_url (or $SYNCD_DATABASE_URL): server running, host, "
                         "port, user, database name; for SQLite, that the directory is "
                         "writable"))
    finally:
        engine.dispose()
    return out


def _worker_checks(engine: Any, settings: Settings) -> list[Check]:
    from syncd.store.models_service import ServiceWorker

    with engine.connect() as conn:
        rows = conn.execute(select(ServiceWorker.id, ServiceWorker.state,
                                   ServiceWorker.heartbeat_at)).all()
    stale_after = datetime.now(UTC) - timedelta(seconds=2 * settings.service.lease_seconds)
    dead = []
    for wid, state, beat in rows:
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        if state == "running" and beat is not None and beat < stale_after:
            dead.append(wid)
    if dead:
        return [Check("workers", WARN, f"no heartbeat from {', '.join(dead)}",
                      "those processes died or lost the database; their mailboxes were taken "
                      "over after the lease expired. Check their logs (journalctl -u syncd)")]
    running = sum(1 for _w, s, _b in rows if s == "running")
    return [Check("workers", OK, f"{running} worker(s) running")]


def _secret_checks(settings: Settings) -> list[Check]:
    out = []
    for conf in settings.connectors:
        for key in ("client_secret", "client_certificate", "password"):
            ref = getattr(conf, key, None)
            if not ref:
                continue
            try:
                value = resolve_secret(ref)
            except ConfigError as exc:
                out.append(Check(f"secret {conf.name}.{key}", FAIL, exc.problems[0],
                                 "set the variable in the service environment, or use "
                                 "file:NAME with systemd LoadCredential=NAME:/etc/syncd/NAME"))
                continue
            out.append(Check(f"secret {conf.name}.{key}", OK if value else FAIL,
                             f"{ref} resolves" if value else f"{ref} is empty",
                             "" if value else "put the secret in it"))
    return out


def _connector_checks(settings: Settings, conf: Any) -> list[Check]:
    name = f"connector {conf.name}"
    if isinstance(conf, FilesConnector):
        missing = [str(p) for p in conf.paths if not Path(p).exists()]
        if missing:
            return [Check(name, FAIL, f"missing: {', '.join(missing)}",
                          "fix the paths (relative paths are relative to the config file)")]
        return [Check(name, OK, f"{len(conf.paths)} path(s) present")]
    if isinstance(conf, MsGraphConnector):
        return _graph_checks(settings, conf, name)
    if isinstance(conf, EwsConnector):
        return _ews_checks(settings, conf, name)
    return []


def _graph_checks(settings: Settings, conf: MsGraphConnector, name: str) -> list[Check]:
    from connectors.base import ConnectorError
    from syncd.connector_factory import build_graph_connector

    try:
        graph = build_graph_connector(conf, settings)
    except (ConfigError, ValueError) as exc:
        problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
        return [Check(name, FAIL, "; ".join(problems), "fix the connector's settings")]
    out = []
    try:
        skew = _server_skew(graph.endpoints.graph_url, conf.ca_bundle)
        if skew is not None:
            out.append(_skew_check(f"clock vs {conf.name}", skew, "the Graph server",
                                   "run NTP: tokens are refused beyond 5 minutes of skew"))
        try:
            report = graph.check()
        except ConnectorError as exc:
            return [*out, Check(name, FAIL, str(exc), "see `syncd connector test "
                                f"{conf.name}`")]
        if report.ok:
            out.append(Check(name, OK, f"token ok; {len(report.mailboxes)} mailbox(es); "
                             "permissions granted"))
        else:
            for problem in report.problems or ["no token"]:
                out.append(Check(name, FAIL, problem.split(". ")[0],
                                 problem if ". " in problem else
                                 f"`syncd connector test {conf.name}` explains"))
    finally:
        graph.close()
    return out


def _ews_checks(settings: Settings, conf: EwsConnector, name: str) -> list[Check]:
    from syncd.app import App

    app = App(settings, auto_migrate=False)
    factory: Callable[..., Any] | None = getattr(app, "ews_connector", None)
    if factory is None:
        return [Check(name, WARN, "the EWS connector is not built yet", "")]
    try:
        report = factory(conf).check()
    except Exception as exc:
        return [Check(name, FAIL, str(exc), f"see `syncd connector test {conf.name}`")]
    finally:
        app.close()
    problems = list(getattr(report, "problems", []))
    if problems:
        return [Check(name, FAIL, p, "") for p in problems]
    return [Check(name, OK, "reachable, permissions granted")]


def _server_skew(url: str, ca_bundle: Path | None) -> float | None:
    """Server Date header minus our clock, from one HEAD request; None when unreachable
    (the connector check then reports the network problem)."""
    import requests

    try:
        before = datetime.now(UTC).timestamp()
        resp = requests.head(url, timeout=10, verify=str(ca_bundle) if ca_bundle else True)
        after = datetime.now(UTC).timestamp()
    except (requests.RequestException, OSError):
        return None
    date = resp.headers.get("Date")
    if not date:
        return None
    server = email.utils.parsedate_to_datetime(date).timestamp()
    # Date has one-second resolution: ignore skews below it.
    skew = server - (before + after) / 2
    return 0.0 if abs(skew) < 1.5 else skew


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {"ok": not any(c.status == FAIL for c in checks),
            "checks": [asdict(c) for c in checks]}


def env_summary() -> dict[str, str]:
    """systemd context worth printing: are we under the unit's directories?"""
    return {k: os.environ[k] for k in ("STATE_DIRECTORY", "CONFIGURATION_DIRECTORY",
                                       "CREDENTIALS_DIRECTORY") if k in os.environ}
