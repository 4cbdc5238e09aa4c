"""`syncd connector ...` and `syncd run`: configure mailbox connectors and poll them.

The configuration file stays the single source of truth: `connector add/remove` edit it with
tomlkit (comments and layout survive), validate the result, and replace the file atomically.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click
import tomlkit
from sqlalchemy import func, select

from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.config import (
    ConfigError,
    EwsConnector,
    MsGraphConnector,
    find_config_file,
    load_settings,
)
from syncd.store import models as m

if TYPE_CHECKING:
    from connectors.ews import EwsConnector as EwsConnectorImpl
    from connectors.msgraph import GraphConnector

SECRET_HELP = "a reference, never the secret: env:VARIABLE or file:PATH"


def _config_file(ctx: CliContext) -> Path:
    try:
        found = find_config_file(ctx.config_path)
    except ConfigError as exc:
        if ctx.config_path is not None:
            return ctx.config_path  # `connector add` may create it
        fail("\n".join(exc.problems), code=2)
    return found or Path("syncd.toml")


def _write_validated(path: Path, doc: tomlkit.TOMLDocument) -> None:
    """Validate the new text as a configuration, then atomically replace the file."""
    text = tomlkit.dumps(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".syncd-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            load_settings(Path(tmp))
        except ConfigError as exc:
            fail("the change would make the configuration invalid:\n"
                 + "\n".join(p.replace(Path(tmp).name, path.name) for p in exc.problems), 2)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@click.group("connector")
def connector() -> None:
    """Configure and check mailbox connectors (Microsoft Graph, EWS, files)."""


@connector.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["msgraph", "ews", "files"]), required=True)
@click.option("--tenant-id", help="msgraph: tenant id or domain.")
@click.option("--client-id", help="msgraph: application (client) id.")
@click.option("--client-secret", help=f"msgraph: client secret, {SECRET_HELP}.")
@click.option("--client-certificate", help=f"msgraph: PEM with key and cert, {SECRET_HELP}.")
@click.option("--cloud", type=click.Choice(["global", "usgov-l4", "usgov-l5", "china", "custom"]),
              default="global", show_default=True)
@click.option("--authority-host", help="custom cloud: e.g. https://login.example")
@click.option("--graph-url", help="custom cloud: e.g. https://graph.example/v1.0/")
@click.option("--ca-bundle", type=click.Path(path_type=Path), help="CA bundle for TLS.")
@click.option("--group", help="msgraph: sync every member of this group (display name).")
@click.option("--mailbox", "mailboxes", multiple=True, help="A mailbox to sync (repeatable).")
@click.option("--service-endpoint", help="ews: https://host/EWS/Exchange.asmx")
@click.option("--auth", type=click.Choice(["oauth2", "ntlm", "basic"]),
              help="ews: OAuth2 app-only (Exchange Online, hybrid) or a service account.")
@click.option("--username", help="ews (ntlm/basic): the service account, e.g. CONTOSO\\svc-syncd")
@click.option("--password", help=f"ews (ntlm/basic): its password, {SECRET_HELP}.")
@click.option("--path", "paths", multiple=True, type=click.Path(path_type=Path),
              help="files: a path to import (repeatable).")
@pass_ctx
def connector_add(ctx: CliContext, /, name: str, kind: str, **opts: Any) -> None:
    """Add a connector to the configuration file (validated before it is written)."""
    path = _config_file(ctx)
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    conns = doc.get("connectors")
    if conns is None:
        conns = tomlkit.aot()
        doc["connectors"] = conns
    if any(c.get("name") == name for c in conns):
        fail(f"{path.name}: a connector named {name!r} exists already "
             f"(`syncd connector remove {name}` first)")
    entry = tomlkit.table()
    entry["kind"] = kind
    entry["name"] = name
    for key, value in opts.items():
        if value in (None, (), "global") or (key == "cloud" and kind != "msgraph"):
            continue
        entry[key] = [str(v) for v in value] if isinstance(value, tuple) else str(value)
    conns.append(entry)
    _write_validated(path, doc)
    click.echo(f"Added connector {name!r} ({kind}) to {path}. "
               f"Check it with `syncd connector test {name}`.")


@connector.command("remove")
@click.argument("name")
@pass_ctx
def connector_remove(ctx: CliContext, name: str) -> None:
    """Remove a connector from the configuration (its synced data stays in the database)."""
    path = _config_file(ctx)
    if not path.exists():
        fail(f"{path}: no configuration file")
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    conns = doc.get("connectors") or []
    keep = [c for c in conns if c.get("name") != name]
    if len(keep) == len(conns):
        fail(f"{path.name}: no connector named {name!r}")
    new = tomlkit.aot()
    for c in keep:
        new.append(c)
    doc["connectors"] = new
    _write_validated(path, doc)
    click.echo(f"Removed connector {name!r} from {path}.")


def _stream_counts(ctx: CliContext) -> dict[str, tuple[int, int, int]]:
    """Per connector: (mailboxes, streams, streams with an error)."""
    with ctx.session() as s:
        rows = s.execute(select(
            m.Stream.connector, func.count(func.distinct(m.Stream.mailbox_id)),
            func.count(), func.count(m.Stream.last_error)).group_by(m.Stream.connector)).all()
    return {c: (mb, st, err) for c, mb, st, err in rows}


@connector.command("list")
@json_option
@pass_ctx
def connector_list(ctx: CliContext, as_json: bool) -> None:
    """Configured connectors and what they have synced."""
    counts = _stream_counts(ctx)
    rows = [{"name": c.name, "kind": c.kind, "mailboxes": counts.get(c.name, (0, 0, 0))[0],
             "streams": counts.get(c.name, (0, 0, 0))[1],
             "streams_failing": counts.get(c.name, (0, 0, 0))[2]}
            for c in ctx.settings.connectors]
    if as_json:
        emit_json(rows)
    elif rows:
        table(ctx.out, None, list(rows[0]), [list(r.values()) for r in rows])
    else:
        ctx.out.print("No connectors configured: `syncd connector add NAME --kind msgraph ...`")


@connector.command("show")
@click.argument("name")
@json_option
@pass_ctx
def connector_show(ctx: CliContext, name: str, as_json: bool) -> None:
    """One connector's settings (secrets shown as their references) and its streams."""
    try:
        conf = ctx.settings.connector(name)
    except ConfigError as exc:
        fail(exc.problems[0])
    settings = conf.model_dump(mode="json")
    with ctx.session() as s:
        streams = [{"stream": r.key, "phase": r.phase, "items": r.items_total,
                    "last_success_at": r.last_success_at.isoformat() if r.last_success_at
                    else None, "last_error": r.last_error}
                   for r in s.scalars(select(m.Stream).where(m.Stream.connector == name)
                                      .order_by(m.Stream.key))]
    if as_json:
        emit_json({"settings": settings, "streams": streams})
        return
    table(ctx.out, f"Connector {name}", ["setting", "value"],
          [[k, v] for k, v in settings.items() if v not in (None, [], "")])
    if streams:
        table(ctx.out, "Streams", list(streams[0]), [list(x.values()) for x in streams])


def _graph_conf(ctx: CliContext, name: str, verb: str) -> MsGraphConnector:
    try:
        conf = ctx.settings.connector(name)
    except ConfigError as exc:
        fail(exc.problems[0])
    if not isinstance(conf, MsGraphConnector):
        fail(f"`connector {verb}` is for msgraph connectors; {name!r} is {conf.kind}")
    return conf


@connector.command("test")
@click.argument("name")
@json_option
@pass_ctx
def connector_test(ctx: CliContext, name: str, as_json: bool) -> None:
    """Check the token, the permissions and the mailboxes a connector would sync."""
    from connectors.base import ConnectorError
    from syncd.connector_factory import build_ews_connector, build_graph_connector

    try:
        found = ctx.settings.connector(name)
    except ConfigError as exc:
        fail(exc.problems[0])
    try:
        graph: GraphConnector | EwsConnectorImpl = (
            build_ews_connector(found, ctx.settings) if isinstance(found, EwsConnector)
            else build_graph_connector(_graph_conf(ctx, name, "test"), ctx.settings))
    except ConfigError as exc:
        fail("\n".join(exc.problems), 2)
    except ValueError as exc:
        fail(f"{name}: {exc}", 2)
    try:
        report = graph.check()
    except ConnectorError as exc:
        fail(f"{name}: {exc}")
    finally:
        graph.close()
    data = report.as_json()
    if as_json:
        emit_json(data)
    else:
        for line in report.lines():
            ctx.out.print(line)
    if not report.ok:
        raise SystemExit(1)


@connector.command("login")
@click.argument("name")
@click.option("--username", help="Expected account (checked after sign-in).")
@pass_ctx
def connector_login(ctx: CliContext, name: str, username: str | None) -> None:
    """Sign in one user with a device code (delegated access to that user's mailbox)."""
    from connectors.base import ConnectorError
    from syncd.connector_factory import build_graph_connector

    conf = _graph_conf(ctx, name, "login")
    graph = build_graph_connector(conf, ctx.settings)
    try:
        who = graph.device_login(lambda text: click.echo(text, err=True))
    except ConnectorError as exc:
        fail(f"{name}: sign-in failed: {exc}")
    finally:
        graph.close()
    if username and who.lower() != username.lower():
        fail(f"signed in as {who}, not {username}")
    click.echo(f"Signed in as {who}; the token is cached in the state directory (mode 0600). "
               f"Set delegated_username = \"{who}\" on connector {name!r} to sync with it.")


@click.command("run")
@click.option("--once", is_flag=True, help="One pass over every due stream, then exit.")
@click.option("--connector", "only", help="Only this connector.")
@click.option("--interval", type=float, default=None,
              help="Seconds between polls of a mail folder ([service] mail_interval, 60).")
@click.option("--allow-mass-deletion", is_flag=True,
              help="Accept pages that delete most of a stream (after checking they are real).")
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics on this port ([service] metrics_port).")
@click.option("--log-format", type=click.Choice(["auto", "json", "text"]), default=None,
              help="Service logs: JSON lines or text (auto: JSON unless on a terminal).")
@click.option("--worker-id", default=None, help="Name of this worker in leases and status.")
@json_option
@pass_ctx
def run_cmd(ctx: CliContext, once: bool, only: str | None, interval: float | None,
            allow_mass_deletion: bool, metrics_port: int | None, log_format: str | None,
            worker_id: str | None, as_json: bool) -> None:
    """Poll every configured connector: once, or as a service until SIGTERM/SIGINT.

    Each page is committed with its cursor, so stopping at any moment loses nothing. As a
    service: SIGHUP reloads the configuration; sd_notify and structured logs under systemd.
    """
    from syncd.sync import run_pass

    if only is not None:
        try:
            ctx.settings.connector(only)
        except ConfigError as exc:
            fail(exc.problems[0])
    if not ctx.settings.connectors:
        fail("no connectors configured (see config/syncd.example.toml or `syncd connector add`)")
    if not once:
        from syncd.service.daemon import DaemonError, run_daemon

        try:
            code = run_daemon(ctx.settings, config_path=ctx.config_path, only=only,
                              allow_mass_deletion=allow_mass_deletion,
                              overrides={"mail_interval": interval,
                                         "metrics_port": metrics_port,
                                         "log_format": log_format, "worker_id": worker_id})
        except DaemonError as exc:
            fail(str(exc), 2)
        raise SystemExit(code)
    from syncd.service.writer_lock import WriterLock, WriterLockError

    lock = WriterLock.for_url(ctx.settings.db_url)
    if lock is not None:
        try:
            lock.acquire()
        except WriterLockError as exc:
            fail(str(exc), 2)
        click.get_current_context().call_on_close(lock.release)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        with ctx.progress() as progress:
            task = progress.add_task("polling", total=None)

            def show(key: str, task: Any = task, progress: Any = progress) -> None:
                progress.update(task, description=f"polling {key}")

            report = run_pass(ctx.app, only=only, on_stream=show,
                              allow_mass_deletion=allow_mass_deletion)
        data = report.as_json()
        if as_json:
            emit_json(data)
        else:
            ctx.out.print(
                f"Pass: {data['mailboxes']} mailboxes, {data['streams']} streams "
                f"({data['streams_skipped']} backing off), {data['items_seen']} items, "
                f"{data['interactions_new']} new interactions, {data['sightings_new']} new "
                f"sightings, {data['deletions']} deletions, {data['captured']} captured, "
                f"{data['rejected']} rejected, {len(data['errors'])} errors "
                f"in {data['seconds']} s.")
            for err in data["errors"]:
                ctx.err.print(f"  {err['connector']} {err['scope']}: {err['message']}")
        if once or stopping:
            if once and data["errors"]:
                raise SystemExit(1)
            return
        deadline = time.monotonic() + (interval or 60.0)  # not reached: --once returns above
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)
        if stopping:
            return


COMMANDS = [connector, run_cmd]
