"""CLI commands for relationship analytics and lead lifecycle (issue 8)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
