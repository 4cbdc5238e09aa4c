"""Questions reps and admins ask: who-knows, explain, status."""

from __future__ import annotations

import click

from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.queries import QueryError, explain, status, who_knows


@click.command("who-knows")
@click.argument("target")
@click.option("--limit", default=10, show_default=True, help="How many colleagues to show.")
@click.option("--all", "everyone", is_flag=True,
              help="Rank anyone, not only internal colleagues.")
@json_option
@pass_ctx
def who_knows_cmd(ctx: CliContext, target: str, limit: int, everyone: bool,
                  as_json: bool) -> None:
    """Who in the company knows TARGET, and how well.

    TARGET is an address (jane@fabrikam.com), a domain (@fabrikam.com), an account name or a
    person's name (accents optional). Strength is 0-1, decayed to the latest captured activity.
    """
    with ctx.session() as s:
        try:
            tgt, ranked, as_of = who_knows(s, target, ctx.app.policy,
                                           ctx.settings.graph.half_life_days,
                                           everyone=everyone, limit=limit)
        except QueryError as exc:
            fail(str(exc))
    if as_json:
        emit_json([r.as_json() for r in ranked])
        return
    if not tgt.person_ids:
        ctx.out.print(f"Nobody matching {target!r} appears in the captured mail.")
        return
    if not ranked:
        ctx.out.print(f"No colleague has been in touch with {tgt.label}.")
        return
    table(ctx.out, f"Who knows {tgt.label} (as of {as_of:%Y-%m-%d})",
          ["#", "colleague", "name", "strength", "direct", "evidence"],
          [[i + 1, r.email, r.name, f"{r.strength:.2f}", "yes" if r.direct else "no",
            r.summary] for i, r in enumerate(ranked)])


@click.command("explain")
@click.argument("ref")
@json_option
@pass_ctx
def explain_cmd(ctx: CliContext, ref: str, as_json: bool) -> None:
    """Why an interaction (id or Message-ID) was or was not captured as an activity."""
    with ctx.session() as s:
        try:
            data = explain(s, ref, ctx.app.policy)
        except QueryError as exc:
            fail(str(exc))
    if as_json:
        emit_json(data)
        return
    verdict = "CAPTURED" if data["captured"] else "NOT captured"
    ctx.out.print(f"[bold]{data['kind']} #{data['interaction_id']}[/bold] "
                  f"{data['occurred_at'][:16]} {data['direction']}: {data['subject']!r}")
    ctx.out.print(f"{verdict} because:")
    for reason in data["decision"].get("reasons", []):
        ctx.out.print(f"  - {reason}")
    table(ctx.out, "Participants", ["role", "address", "name", "what matched"],
          [[p["role"], p["email"], p["name"], "; ".join(p["facts"])]
           for p in data["participants"]])
    ctx.out.print("Seen in: " + ", ".join(f"{x['stream']} ({x['folder']})"
                                          + (" [deleted]" if x["deleted"] else "")
                                          for x in data["sightings"]))


@click.command("status")
@json_option
@pass_ctx
def status_cmd(ctx: CliContext, as_json: bool) -> None:
    """What is synced, up to when, and the last error of each stream."""
    with ctx.session() as s:
        data = status(s)
    if as_json:
        emit_json(data)
        return
    ctx.out.print("  ".join(f"{k}: {v}" for k, v in data["counts"].items()))
    if not data["streams"]:
        ctx.out.print("No streams yet: `syncd import PATH` or configure a connector.")
        return
    table(ctx.out, "Streams", ["connector", "stream", "mailbox", "phase", "items", "rejected",
                               "last success", "last error"],
          [[x["connector"], x["stream"], x["mailbox"], x["phase"], x["items"], x["rejected"],
            (x["last_success_at"] or "never")[:19], x["last_error"] or ""]
           for x in data["streams"]])


COMMANDS = [who_knows_cmd, explain_cmd, status_cmd]
