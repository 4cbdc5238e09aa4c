"""Administration and the main demo job: db upgrade, demo."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.store.db import make_engine, upgrade


@click.group("db")
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: CliContext) -> None:
    """Apply pending migrations (syncd also does this automatically at start)."""
    engine = make_engine(ctx.settings.db_url)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"Database already at revision {after}.")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to {after}.")


@click.command("demo")
@click.option("--seed", default=42, show_default=True, help="Seed of the generated company.")
@click.option("--messages", default=3000, show_default=True, help="How many emails to generate.")
@click.option("--source", type=click.Choice(["m365", "files"]), default="m365", show_default=True,
              help="m365: the local Microsoft 365 sandbox over HTTPS (msal + Graph); "
              "files: the same company exported as Maildir and .ics files.")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="Where to write the generated files (default: STATE_DIR/demo-data).")
@json_option
@pass_ctx
def demo(ctx: CliContext, seed: int, messages: int, source: str, data_dir: Path | None,
         as_json: bool) -> None:
    """The main job on the embedded default: a generated French sales team's mailboxes,
    calendars and calls, served by the local Microsoft 365 sandbox, synced over HTTPS by the
    msgraph connector with real msal tokens into SQLite; then who knows whom.

    Needs no Microsoft 365 account; running it again adds nothing.
    """
    from syncd.demo_job import run_demo, run_demo_graph

    settings = ctx.settings
    job = run_demo_graph if source == "m365" else run_demo
    try:
        result = job(ctx, seed=seed, messages=messages,
                     data_dir=data_dir or settings.state_dir / "demo-data")
    except ValueError as exc:
        fail(str(exc))
    if as_json:
        emit_json(dataclasses.asdict(result))
        return
    imp = result.import_summary
    ctx.out.print(f"Source: {result.source}.")
    ctx.out.print(f"[bold]{result.company}[/bold] ({result.domain}): {result.users} sales reps, "
                  f"{result.accounts} accounts, {result.contacts} contacts.")
    ctx.out.print(
        f"Capture: {imp['items_seen']} items read from {imp['streams']} streams, "
        f"{imp['interactions_new']} new interactions, {imp['sightings_new']} new sightings, "
        f"{imp['captured']} captured as activities, {imp['rejected']} rejected "
        f"({imp['seconds']} s).")
    ctx.out.print("Database " + result.database + " now holds " + ", ".join(
        f"{v} {k}" for k, v in result.totals.items()) + ".")
    table(ctx.out, f"Who knows {result.question}?",
          ["#", "colleague", "name", "strength", "evidence"],
          [[i + 1, r["email"], r["name"], f"{r['strength']:.2f}", r["summary"]]
           for i, r in enumerate(result.answer)])
    ctx.out.print("Next: `syncd who-knows @DOMAIN`, `syncd activities list`, `syncd status`, "
                  "`syncd explain ID`.")


@click.command("sandbox", context_settings={"ignore_unknown_options": True,
                                            "allow_extra_args": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox(args: tuple[str, ...]) -> None:
    """Run the local Microsoft 365 sandbox (IdP + Graph over HTTPS) until Ctrl-C.

    Seeded with the demo company; prints the URLs, client id and secret, and CA bundle to give
    a connector. `syncd sandbox --help` lists its options (port, seed, sizes, faults).
    """
    from syncd.sandbox import main as sandbox_main

    raise SystemExit(sandbox_main(list(args)))


COMMANDS = [db, demo, sandbox]
