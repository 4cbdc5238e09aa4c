"""CLI commands for Exchange Web Services (issue 4): what an operator needs beyond `connector
add/test`, namely seeing how the server resolves a legacy DN or a name."""

from __future__ import annotations

import click

from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.config import ConfigError, EwsConnector


@click.group("ews")
def ews() -> None:
    """Exchange (EWS) connector tools."""


@ews.command("resolve")
@click.argument("connector")
@click.argument("entries", nargs=-1, required=True)
@json_option
@pass_ctx
def ews_resolve(ctx: CliContext, connector: str, entries: tuple[str, ...], as_json: bool) -> None:
    """Resolve legacy DNs (/o=.../cn=...), names or addresses with ResolveNames, as the
    connector does for senders that arrive as legacy DNs."""
    from connectors.base import ConnectorError
    from syncd.connector_factory import build_ews_connector

    try:
        conf = ctx.settings.connector(connector)
    except ConfigError as exc:
        fail(exc.problems[0])
    if not isinstance(conf, EwsConnector):
        fail(f"`ews resolve` is for ews connectors; {connector!r} is {conf.kind}")
    if not conf.mailboxes:
        fail(f"connector {connector!r} has no mailboxes: ResolveNames runs as one of them")
    try:
        ews_connector = build_ews_connector(conf, ctx.settings)
    except (ConfigError, ValueError) as exc:
        fail(str(exc), 2)
    rows = []
    try:
        account = ews_connector.accounts.account(conf.mailboxes[0].strip().lower())
        for entry in entries:
            answers = ews_connector.resolver.resolve_all([entry], account.protocol.resolve_names)
            rows.append({"entry": entry, "smtp": answers.get(entry)})
    except ConnectorError as exc:
        fail(f"{connector}: {exc}")
    finally:
        ews_connector.close()
    if as_json:
        emit_json(rows)
    else:
        table(ctx.out, None, ["entry", "smtp"],
              [[r["entry"], r["smtp"] or "(not resolved)"] for r in rows])
    if any(r["smtp"] is None for r in rows):
        raise SystemExit(1)


COMMANDS: list[click.Command] = [ews]
