"""Shared CLI state and output helpers: settings loaded once, errors printed without tracebacks.

Every command imports this module, so it imports little itself: the App (store, policy,
migrations) and rich (consoles, tables, progress bars) come in when a command first uses them.
A query such as `syncd who-knows X --json` has a start-up target of 1.5x `python -c "import
sqlalchemy, networkx"` (issue 5).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from sqlalchemy.orm import Session

    from syncd.app import App
    from syncd.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    config_path: Path | None = None
    quiet: bool = False
    _app: App | None = field(default=None, init=False)

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, soft_wrap=True)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def app(self) -> App:
        if self._app is None:
            from syncd.app import App
            from syncd.config import ConfigError, load_settings

            try:
                self._app = App(load_settings(self.config_path))
            except ConfigError as exc:
                fail("\n".join(exc.problems), code=2)
        return self._app

    @contextmanager
    def session(self) -> Iterator[Session]:
        from syncd.store.db import session_scope

        with session_scope(self.app.sessions) as s:
            yield s

    def close(self) -> None:
        if self._app is not None:
            self._app.close()

    @property
    def show_progress(self) -> bool:
        return not self.quiet and sys.stderr.isatty()

    def progress(self) -> Progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=self.err,
                        disable=not self.show_progress, transient=True)


pass_ctx = click.make_pass_decorator(CliContext)


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"syncd: {message}" if "\n" not in message else message, err=True)
    sys.exit(code)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def table(console: Console, title: str | None, columns: Sequence[str],
          rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, show_lines=False, title_justify="left")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func)
