"""Start-up of the CLI (issue 5): commands are imported when run, alembic only when the schema
is not current. What is checked is which modules a process loads, not how long it takes."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import CliRunner

import syncd.cli
from syncd.cli import LAZY_COMMANDS, LazyGroup, cli
from syncd.store.db import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    ensure_schema,
    head_from_files,
    head_revision,
    make_engine,
    stored_revisions,
    upgrade,
)

# Modules that `syncd who-knows X --json` on a current store has no use for: other commands,
# migrations (alembic, and mako/pygments behind it), capture's connectors, rich's widgets, the
# later capabilities' tables (their declarative classes cost ~15 ms, a tenth of the margin).
NOT_FOR_WHO_KNOWS = (
    "alembic", "mako", "pygments", "rich", "syncd.cli.data_cmds", "syncd.cli.lifecycle_cmds",
    "syncd.cli.workflow_cmds", "syncd.cli.connector_cmds", "syncd.cli.admin_cmds",
    "syncd.cli.analytics_cmds", "syncd.cli.ews_cmds", "syncd.cli.service_cmds",
    "syncd.cli.query_cmds", "syncd.importer", "connectors.files", "syncd.sandbox",
    "syncd.store.models_workflow", "syncd.store.models_service", "syncd.store.models_lifecycle",
)


def _command_modules() -> dict[str, click.Command]:
    """Every command of every syncd.cli.*_cmds module's COMMANDS, by name."""
    found: dict[str, click.Command] = {}
    for info in pkgutil.iter_modules(syncd.cli.__path__):
        if not info.name.endswith("_cmds"):
            continue
        module = importlib.import_module(f"syncd.cli.{info.name}")
        for cmd in module.COMMANDS:
            assert cmd.name not in found, f"two commands named {cmd.name}"
            assert cmd.name is not None
            found[cmd.name] = cmd
    return found


def test_the_lazy_map_names_every_command_of_every_module_and_nothing_else() -> None:
    commands = _command_modules()
    assert sorted(LAZY_COMMANDS) == sorted(commands)
    group = cli
    assert isinstance(group, LazyGroup)
    for name in LAZY_COMMANDS:
        assert group.load(name) is commands[name], name


def test_help_lists_every_command_with_its_short_help() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    listed: dict[str, str] = {}
    section = result.output.split("Commands:\n", 1)[1]
    for line in section.splitlines():
        name, _, text = line.strip().partition(" ")
        listed[name] = text.strip()
    assert sorted(listed) == sorted(LAZY_COMMANDS)
    commands = _command_modules()
    for name, text in listed.items():
        assert text, name
        assert commands[name].get_short_help_str(limit=1000).startswith(
            text.removesuffix("...")), name


def _run_and_list_modules(args: list[str], env: dict[str, str], cwd: Path) -> list[str]:
    """Run `syncd ARGS` in a fresh interpreter and return the modules it loaded."""
    code = ("import json, sys\n"
            "from syncd.cli import cli\n"
            "try:\n"
            f"    cli.main({args!r}, prog_name='syncd')\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            "print('MODULES=' + json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=env, cwd=cwd)
    line = next(x for x in out.stdout.splitlines() if x.startswith("MODULES="))
    modules: list[str] = json.loads(line.removeprefix("MODULES="))
    return modules


def _loaded(modules: list[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


def test_who_knows_on_a_current_store_imports_only_what_it_needs(
        tmp_path: Path, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    env = dict(os.environ, SYNCD_DATABASE_URL=sqlite_url)
    modules = _run_and_list_modules(["--quiet", "who-knows", "@fabrikam.example", "--json"],
                                    env, tmp_path)
    assert "syncd.cli.graph_cmds" in modules
    assert [p for p in NOT_FOR_WHO_KNOWS if _loaded(modules, p)] == []


def test_a_store_that_is_not_current_is_still_migrated_at_start(tmp_path: Path,
                                                                 sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        command.upgrade(alembic_config(engine), "0008")
    finally:
        engine.dispose()
    env = dict(os.environ, SYNCD_DATABASE_URL=sqlite_url)
    modules = _run_and_list_modules(["--quiet", "who-knows", "@fabrikam.example", "--json"],
                                    env, tmp_path)
    assert _loaded(modules, "alembic")
    engine = make_engine(sqlite_url)
    try:
        assert current_revision(engine) == head_revision(engine)
    finally:
        engine.dispose()


def test_leads_loaded_alone_has_the_lifecycle_commands(tmp_path: Path) -> None:
    """`leads` is data_cmds' group extended by lifecycle_cmds: loaded lazily in a fresh
    process it must still offer add/qualify/disqualify/show."""
    out = subprocess.run([sys.executable, "-m", "syncd", "leads", "--help"], check=True,
                         capture_output=True, text=True, cwd=tmp_path)
    for sub in ("add", "qualify", "disqualify", "show", "import", "list"):
        assert f"  {sub} " in out.stdout, sub


def test_head_read_from_the_files_is_alembics_head(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        cfg = alembic_config(engine)
        assert head_from_files() == ScriptDirectory.from_config(cfg).get_current_head()
        assert head_from_files() == head_revision(engine)
    finally:
        engine.dispose()


def _migration(folder: Path, name: str, revision: str, down: str) -> None:
    (folder / name).write_text(f'"""x"""\nrevision = {revision}\ndown_revision = {down}\n'
                               "branch_labels = None\n", encoding="utf-8")


@pytest.mark.parametrize("files", [
    [("a.py", "'0001'", "None"), ("b.py", "'0002'", "'0001'"), ("c.py", "'0003'", "'0001'")],
    [("a.py", "'0001'", "None"), ("b.py", "'0002'", "('0001', '0003')")],
    [("a.py", "'0001'", "None"), ("b.py", "REV", "'0001'")],
    [],
], ids=["branches", "merge", "computed", "empty"])
def test_head_from_files_gives_up_on_anything_not_plain(
        tmp_path: Path, files: list[tuple[str, str, str]]) -> None:
    for name, revision, down in files:
        _migration(tmp_path, name, revision, down)
    assert head_from_files(tmp_path) is None


def test_head_from_files_follows_a_linear_chain_in_any_file_order(tmp_path: Path) -> None:
    _migration(tmp_path, "z_first.py", '"0001"', "None")
    _migration(tmp_path, "a_third.py", "'0003'", "'0002'")
    (tmp_path / "m_second.py").write_text(
        "revision: str = '0002'\ndown_revision: str | None = '0001'\n", encoding="utf-8")
    assert head_from_files(tmp_path) == "0003"
    assert head_from_files(MIGRATIONS_DIR / "versions") == head_from_files()


def test_ensure_schema_creates_upgrades_and_then_only_reads(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert stored_revisions(engine) == ()
        ensure_schema(engine)
        head = head_revision(engine)
        assert stored_revisions(engine) == (head,)
        command.downgrade(alembic_config(engine), "0007")
        assert stored_revisions(engine) == ("0007",)
        ensure_schema(engine)
        assert current_revision(engine) == head
        ensure_schema(engine)
        assert stored_revisions(engine) == (head,)
    finally:
        engine.dispose()
