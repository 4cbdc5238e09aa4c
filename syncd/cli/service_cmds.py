"""CLI commands for the service (issue 7): `syncd doctor`. (`syncd run` lives with the
connector commands; `syncd status` with the queries.)"""

from __future__ import annotations

import click

from syncd.cli.context import CliContext, emit_json, json_option, pass_ctx, table


@click.command("doctor")
@click.option("--no-connectors", is_flag=True,
              help="Skip the network checks of each connector.")
@json_option
@pass_ctx
def doctor_cmd(ctx: CliContext, no_connectors: bool, as_json: bool) -> None:
    """Check configuration, database, migrations, secrets, connectors, clock and disk;
    explain each failure with its fix. Exits 1 when something fails."""
    from syncd.service.doctor import FAIL, run_checks
    from syncd.service.doctor import as_json as doctor_json

    with ctx.progress() as progress:
        progress.add_task("checking", total=None)
        checks = run_checks(ctx.config_path, connectors=not no_connectors)
    data = doctor_json(checks)
    if as_json:
        emit_json(data)
    else:
        table(ctx.out, None, ["check", "result", "detail", "fix"],
              [[c.name, c.status, c.detail, c.fix] for c in checks])
        failed = sum(1 for c in checks if c.status == FAIL)
        ctx.out.print("All checks passed." if not failed else f"{failed} check(s) failed.")
    if not data["ok"]:
        raise SystemExit(1)


COMMANDS: list[click.Command] = [doctor_cmd]
