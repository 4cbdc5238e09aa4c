"""CLI commands for who-knows graph (issue 5)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
