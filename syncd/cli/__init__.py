"""The `syncd` command line. Every query command prints a table by default and JSON with --json.

Subcommands are imported when they are run, not at start-up: `syncd who-knows` has a start-up
target (issue 5: at most 1.5x `python -c "import sqlalchemy, networkx"`), and importing every
command module (capture, importers, workflows, the sandbox...) cost more than that target
allowed. `syncd --help` imports them all to show each one's short help.
"""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from syncd.cli.context import CliContext, pass_ctx

# Command name -> "module:attribute" of the click command. A new command must be added here as
# well as to its module's COMMANDS; tests/test_cli_lazy.py checks that the two agree.
LAZY_COMMANDS: dict[str, str] = {
    "accounts": "syncd.cli.data_cmds:accounts_group",
    "activities": "syncd.cli.data_cmds:activities",
    "connector": "syncd.cli.connector_cmds:connector",
    "contacts": "syncd.cli.data_cmds:contacts_group",
    "contacts-of": "syncd.cli.graph_cmds:contacts_of_cmd",
    "coverage": "syncd.cli.graph_cmds:coverage_cmd",
    "db": "syncd.cli.admin_cmds:db",
    "demo": "syncd.cli.admin_cmds:demo",
    "doctor": "syncd.cli.service_cmds:doctor_cmd",
    "duplicates": "syncd.cli.lifecycle_cmds:duplicates",
    "ews": "syncd.cli.ews_cmds:ews",
    "explain": "syncd.cli.query_cmds:explain_cmd",
    "forget": "syncd.cli.graph_cmds:forget_cmd",
    "forms": "syncd.cli.workflow_cmds:forms_group",
    "graph": "syncd.cli.graph_cmds:graph_group",
    "import": "syncd.cli.data_cmds:import_cmd",
    "lead": "syncd.cli.lifecycle_cmds:lead_group",
    # data_cmds' `leads` group, which lifecycle_cmds extends with add/qualify/disqualify/show:
    # loading it from there makes sure those are present.
    "leads": "syncd.cli.lifecycle_cmds:leads_group",
    "merge": "syncd.cli.lifecycle_cmds:merge_cmd",
    "opportunity": "syncd.cli.lifecycle_cmds:opportunity",
    "path": "syncd.cli.graph_cmds:path_cmd",
    "relationship": "syncd.cli.analytics_cmds:relationship_cmd",
    "run": "syncd.cli.connector_cmds:run_cmd",
    "sandbox": "syncd.cli.admin_cmds:sandbox",
    "send": "syncd.cli.workflow_cmds:send_cmd",
    "serve": "syncd.cli.workflow_cmds:serve_cmd",
    "status": "syncd.cli.query_cmds:status_cmd",
    "who-knows": "syncd.cli.graph_cmds:who_knows_cmd",
    "workflows": "syncd.cli.workflow_cmds:workflows_group",
}


class LazyGroup(click.Group):
    """A group whose subcommands are named up front and imported on first use: click's
    documented pattern (https://click.palletsprojects.com/en/stable/complex/#lazily-loading-subcommands)."""

    def __init__(self, *args: Any, lazy_subcommands: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands: dict[str, str] = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self.load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def load(self, cmd_name: str) -> click.Command:
        """Import the command registered as `cmd_name`. Raises TypeError when the target is
        not a click command (a wrong entry in the map)."""
        module_name, attr = self.lazy_subcommands[cmd_name].split(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy_subcommands=LAZY_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


def main() -> None:
    # Capture allocates millions of short-lived, acyclic tuples and dicts; with CPython's
    # default thresholds the cyclic collector ran thousands of times per import and cost ~13 %
    # of an Enron import. Objects alive at start-up are frozen out of collection (the
    # subcommand's modules, imported lazily afterwards, are not: they soon settle in the oldest
    # generation, which these thresholds rarely collect), and collection waits for more
    # allocations; reference counting still frees everything.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    cli(prog_name="syncd")


__all__ = ["LAZY_COMMANDS", "CliContext", "LazyGroup", "cli", "main", "pass_ctx"]
