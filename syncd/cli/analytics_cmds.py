"""CLI commands for relationship analytics (issue 8, analytics half)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
