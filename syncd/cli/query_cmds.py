"""Questions reps and admins ask: explain, status (graph questions: graph_cmds)."""

from __future__ import annotations

import click

from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.queries import QueryError, explain


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
@click.option("--streams", "show_streams", is_flag=True, help="Also list every stream.")
@json_option
@pass_ctx
def status_cmd(ctx: CliContext, show_streams: bool, as_json: bool) -> None:
    """Per connector and mailbox: synced up to when, backlog, throttling, last error."""
    from syncd.cli.workflow_cmds import print_workflow_status
    from syncd.service.status import service_status
    from syncd.workflows.status import workflow_status

    with ctx.session() as s:
        data = service_status(s, lease_seconds=ctx.settings.service.lease_seconds)
        data["workflows"] = workflow_status(s)
    if as_json:
        emit_json(data)
        return
    ctx.out.print("  ".join(f"{k}: {v}" for k, v in data["counts"].items()))
    print_workflow_status(ctx, data["workflows"])
    if not data["streams"]:
        ctx.out.print("No streams yet: `syncd import PATH` or configure a connector.")
        return
    table(ctx.out, "Connectors", ["connector", "mailboxes", "ok", "problems", "streams",
                                  "backlog", "throttled", "synced up to"],
          [[c["connector"], c["mailboxes"], c["ok"], c["problems"], c["streams"], c["backlog"],
            c["throttled"], (c["synced_up_to"] or "never")[:19]] for c in data["connectors"]])
    table(ctx.out, "Mailboxes", ["connector", "mailbox", "state", "synced up to", "items",
                                 "backlog", "worker", "last error"],
          [[x["connector"], x["mailbox"], x["state"], (x["synced_up_to"] or "never")[:19],
            x["items"], x["backlog"], x["leased_by"] or "", x["last_error"] or ""]
           for x in data["mailboxes"]])
    if show_streams:
        table(ctx.out, "Streams", ["connector", "stream", "state", "items", "rejected",
                                   "last success", "next poll", "last error"],
              [[x["connector"], x["stream"], x["state"], x["items"], x["rejected"],
                (x["last_success_at"] or "never")[:19], (x["next_poll_at"] or "")[:19],
                x["last_error_plain"] or ""] for x in data["streams"]])
    if data["workers"]:
        table(ctx.out, "Workers", ["worker", "state", "alive", "last heartbeat", "summary"],
              [[w["id"], w["state"], "yes" if w["alive"] else "NO", (w["heartbeat_at"] or "")[:19],
                w["summary"]] for w in data["workers"]])


COMMANDS = [explain_cmd, status_cmd]  # who-knows lives in graph_cmds
