"""CLI commands for service leases and observability (issue 7)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
