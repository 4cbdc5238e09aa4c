"""The `syncd` command line. Every query command prints a table by default and JSON with --json."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import click

from syncd.cli.context import CliContext, pass_ctx


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Configuration file (default: $SYNCD_CONFIG, ./syncd.toml, "
              "/etc/syncd/syncd.toml).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or chatter.")
@click.version_option(package_name="syncd")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, quiet: bool) -> None:
    """syncd: capture a sales team's mail, meetings and calls as CRM activities and answer
    "who here knows this person or company".

    Start with `syncd demo` (no account needed), then `syncd who-knows @domain`.
    """
    _configure_logging()
    ctx.obj = CliContext(config_path=config_path, quiet=quiet)
    ctx.call_on_close(ctx.obj.close)


def _configure_logging() -> None:
    """Warnings and errors to stderr, one line each. Third-party clients log failures that
    syncd handles and reports itself (O365 logs every 401 before we refresh the token), so
    their loggers only speak for what we do not handle."""
    logging.basicConfig(level=logging.WARNING, format="syncd: %(levelname)s %(name)s: %(message)s")
    for noisy in ("O365", "exchangelib", "msal", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)


def _register() -> None:
    from syncd.cli import (
        admin_cmds,
        analytics_cmds,
        connector_cmds,
        data_cmds,
        ews_cmds,
        graph_cmds,
        lifecycle_cmds,
        query_cmds,
        service_cmds,
        workflow_cmds,
    )

    for module in (data_cmds, query_cmds, connector_cmds, admin_cmds, graph_cmds,
                   workflow_cmds, service_cmds, lifecycle_cmds, analytics_cmds, ews_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    # Capture allocates millions of short-lived, acyclic tuples and dicts; with CPython's
    # default thresholds the cyclic collector ran thousands of times per import and cost ~13 %
    # of an Enron import. Objects alive after start-up are frozen out of collection, and
    # collection waits for more allocations; reference counting still frees everything.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    cli(prog_name="syncd")


__all__ = ["CliContext", "cli", "main", "pass_ctx"]
