"""CLI commands for workflows, tracked mail and the web endpoint (issue 6):
`syncd serve`, `syncd send`, `syncd workflows validate|list|runs|retry|work`, `syncd forms`."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

import click
from sqlalchemy import func, select

from syncd.cli.context import CliContext, emit_json, fail, json_option, pass_ctx, table
from syncd.config import ConfigError


def _forms_dir(ctx: CliContext) -> Path | None:
    settings = ctx.settings
    if settings.web.forms_dir is not None:
        return settings.web.forms_dir
    return settings.source.parent / "forms" if settings.source is not None else None


def _load_forms(ctx: CliContext) -> dict[str, Any]:
    from syncd.forms.definitions import FormError, load_dir

    try:
        return dict(load_dir(_forms_dir(ctx)))
    except FormError as exc:
        fail("\n".join(exc.problems), code=2)


def _load_workflows(ctx: CliContext) -> list[Any]:
    from syncd.workflows.definitions import WorkflowError, load_dir
    from syncd.workflows.worker import workflows_dir

    try:
        return list(load_dir(workflows_dir(ctx.app)))
    except WorkflowError as exc:
        fail("\n".join(exc.problems), code=2)


@click.command("serve")
@click.option("--host", help="Listen address (default: [web] host).")
@click.option("--port", type=int, help="Listen port (default: [web] port).")
@pass_ctx
def serve_cmd(ctx: CliContext, host: str | None, port: int | None) -> None:
    """Serve the tracking pixel, tracked links, hosted forms, /healthz and /metrics."""
    import uvicorn

    from syncd.web.app import create_app

    forms = _load_forms(ctx)
    web = ctx.settings.web
    app = create_app(ctx.app, forms)
    host, port = host or web.host, port or web.port
    if not ctx.quiet:
        ctx.err.print(f"syncd serve: http://{host}:{port}  forms: {', '.join(forms) or 'none'}"
                      f"  public URL: {ctx.settings.tracking.public_base_url}")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                proxy_headers=web.trust_forwarded_for, server_header=False)


@click.command("send")
@click.option("--from", "sender", required=True, help="The rep's mailbox to send from.")
@click.option("--to", "to", required=True, help="Recipient address.")
@click.option("--subject", required=True)
@click.option("--html", "html_file", type=click.Path(exists=True, dir_okay=False,
                                                      path_type=Path),
              help="HTML body file (default: --body).")
@click.option("--body", default="", help="HTML body text.")
@click.option("--no-track", is_flag=True, help="No pixel, no link rewriting.")
@json_option
@pass_ctx
def send_cmd(ctx: CliContext, sender: str, to: str, subject: str, html_file: Path | None,
             body: str, no_track: bool, as_json: bool) -> None:
    """Send one mail through Graph from a rep's mailbox, with open and click tracking; linked
    to the recipient's lead or contact."""
    from connectors.normalize import normalize_address
    from syncd.tracking.mailer import Mailer, Outgoing, SendError, records_of

    to_key, from_key = normalize_address(to), normalize_address(sender)
    if not to_key or not from_key:
        fail(f"not an email address: {to if not to_key else sender!r}", code=2)
    html = html_file.read_text(encoding="utf-8") if html_file else body
    if not html.strip():
        fail("give a body: --body TEXT or --html FILE", code=2)
    with ctx.session() as s:
        lead_id, contact_id = records_of(s, to_key)
    try:
        result = Mailer(ctx.app).send(Outgoing(
            sender=from_key, to=to_key, subject=subject, html=html,
            idem_key=f"cli:{uuid.uuid4().hex}", lead_id=lead_id, contact_id=contact_id,
            track=not no_track))
    except SendError as exc:
        fail(str(exc))
    data = {"tracked_message_id": result.message_id, "to": to_key, "from": from_key,
            "internet_message_id": result.internet_message_id, "lead_id": lead_id,
            "contact_id": contact_id, "tracked": not no_track}
    if as_json:
        emit_json(data)
    else:
        ctx.out.print(f"Sent to {to_key} (tracked message #{result.message_id}"
                      + (f", lead #{lead_id}" if lead_id else "")
                      + (f", contact #{contact_id}" if contact_id else "") + ")")


@click.group("workflows")
def workflows_group() -> None:
    """Workflow definitions, runs and the worker."""


@workflows_group.command("validate")
@json_option
@pass_ctx
def validate_cmd(ctx: CliContext, as_json: bool) -> None:
    """Check every workflow (and form) file; lists every problem and exits 2 if any."""
    from syncd.forms.definitions import FormError
    from syncd.forms.definitions import load_dir as load_forms
    from syncd.workflows.definitions import WorkflowError, load_dir
    from syncd.workflows.worker import workflows_dir

    problems: list[str] = []
    workflows: list[Any] = []
    forms: dict[str, Any] = {}
    try:
        workflows = load_dir(workflows_dir(ctx.app))
    except WorkflowError as exc:
        problems.extend(exc.problems)
    try:
        forms = dict(load_forms(_forms_dir(ctx)))
    except FormError as exc:
        problems.extend(f"forms/{p}" for p in exc.problems)
    if as_json:
        emit_json({"ok": not problems, "workflows": [w.name for w in workflows],
                   "forms": sorted(forms), "problems": problems})
    elif problems:
        for problem in problems:
            click.echo(problem, err=True)
    else:
        ctx.out.print(f"OK: {len(workflows)} workflow(s), {len(forms)} form(s)")
    if problems:
        raise SystemExit(2)


@workflows_group.command("list")
@json_option
@pass_ctx
def list_cmd(ctx: CliContext, as_json: bool) -> None:
    """The workflows defined, with what triggers them."""
    workflows = _load_workflows(ctx)
    rows = [{"name": w.name, "on": w.on, "enabled": w.enabled, "once_per": w.once_per,
             "steps": [s.action for s in w.steps], "file": w.source} for w in workflows]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        ctx.out.print("No workflows: put YAML files in the workflows directory "
                      "(see config/workflows/).")
        return
    table(ctx.out, "Workflows", ["name", "on", "enabled", "steps", "file"],
          [[r["name"], r["on"], "yes" if r["enabled"] else "no", " -> ".join(r["steps"]),
            r["file"]] for r in rows])


@workflows_group.command("runs")
@click.option("--status", type=click.Choice(["pending", "done", "dead"]),
              help="Only runs in this state (dead: the dead letters).")
@click.option("--workflow", help="Only runs of this workflow.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@json_option
@pass_ctx
def runs_cmd(ctx: CliContext, status: str | None, workflow: str | None, limit: int,
             as_json: bool) -> None:
    """Recent runs, their steps and errors."""
    from syncd.store.models_workflow import WorkflowRun, WorkflowStep

    with ctx.session() as s:
        q = select(WorkflowRun).order_by(WorkflowRun.id.desc()).limit(limit)
        if status:
            q = q.where(WorkflowRun.status == status)
        if workflow:
            q = q.where(WorkflowRun.workflow == workflow)
        rows: list[dict[str, Any]] = []
        for run in s.scalars(q):
            steps = s.scalars(select(WorkflowStep).where(WorkflowStep.run_id == run.id)
                              .order_by(WorkflowStep.idx)).all()
            rows.append({
                "id": run.id, "workflow": run.workflow, "event_type": run.event_type,
                "event_id": run.event_id, "status": run.status,
                "step": f"{run.next_step}/{len(run.definition)}",
                "due_at": run.due_at.isoformat(), "last_error": run.last_error,
                "created_at": run.created_at.isoformat(),
                "steps": [{"idx": st.idx, "action": st.action, "status": st.status,
                           "attempts": st.attempts, "error": st.error, "result": st.result}
                          for st in steps]})
        counts = dict(s.execute(select(WorkflowRun.status, func.count())
                                .group_by(WorkflowRun.status)).all())
    if as_json:
        emit_json({"counts": counts, "runs": rows})
        return
    ctx.out.print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "No runs yet.")
    if rows:
        table(ctx.out, "Runs", ["id", "workflow", "event", "status", "step", "due", "error"],
              [[r["id"], r["workflow"], r["event_type"], r["status"], r["step"],
                r["due_at"][:19] if r["status"] == "pending" else "", r["last_error"] or ""]
               for r in rows])


@workflows_group.command("retry")
@click.argument("run_ids", nargs=-1, type=int)
@click.option("--all-dead", is_flag=True, help="Every dead run.")
@json_option
@pass_ctx
def retry_cmd(ctx: CliContext, run_ids: tuple[int, ...], all_dead: bool, as_json: bool) -> None:
    """Put dead runs back in the queue: they resume at the step that failed (steps already
    done are not repeated)."""
    from datetime import UTC, datetime

    from syncd.store.models_workflow import WorkflowRun

    if not run_ids and not all_dead:
        fail("give run ids or --all-dead", code=2)
    now = datetime.now(UTC)
    retried: list[int] = []
    problems: list[str] = []
    with ctx.session() as s:
        if all_dead:
            runs = list(s.scalars(select(WorkflowRun).where(WorkflowRun.status == "dead")))
        else:
            runs = []
            for rid in run_ids:
                run = s.get(WorkflowRun, rid)
                if run is None:
                    problems.append(f"no run #{rid}")
                elif run.status != "dead":
                    problems.append(f"run #{rid} is {run.status}, not dead")
                else:
                    runs.append(run)
        for run in runs:
            run.status, run.due_at, run.updated_at = "pending", now, now
            run.lease_owner = run.lease_until = None
            retried.append(run.id)
    if as_json:
        emit_json({"retried": retried, "problems": problems})
    else:
        for problem in problems:
            click.echo(f"syncd: {problem}", err=True)
        ctx.out.print(f"Queued again: {', '.join(f'#{r}' for r in retried) or 'nothing'}")
    if problems:
        raise SystemExit(1)


@workflows_group.command("work")
@click.option("--once", is_flag=True, help="One pass, then exit.")
@click.option("--worker-id", help="Name in leases (default: host:pid).")
@click.option("--interval", type=float, help="Idle wait in seconds (default: "
              "[workflows] poll_seconds).")
@json_option
@pass_ctx
def work_cmd(ctx: CliContext, once: bool, worker_id: str | None, interval: float | None,
             as_json: bool) -> None:
    """Run the workflow worker: turn events into runs and run due steps. SIGTERM/SIGINT stop it
    between steps."""
    from syncd.workflows.definitions import WorkflowError
    from syncd.workflows.worker import WorkflowWorker

    try:
        worker = WorkflowWorker(ctx.app, worker_id or f"{socket.gethostname()}:{os.getpid()}")
    except WorkflowError as exc:
        fail("\n".join(exc.problems), code=2)
    except ConfigError as exc:
        fail("\n".join(exc.problems), code=2)
    stop = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    total = 0
    wait = interval if interval is not None else ctx.settings.workflows.poll_seconds
    try:
        while not stop:
            try:
                done = worker.run_once()
            except Exception as exc:  # the database went away: wait and try again
                if once:
                    raise
                click.echo(f"syncd: workflow worker: {type(exc).__name__}: {exc}"[:500],
                           err=True)
                done = 0
            total += done
            if once:
                break
            if done == 0:
                deadline = time.monotonic() + wait
                while not stop and time.monotonic() < deadline:
                    time.sleep(min(0.2, wait))
    finally:
        worker.close()
    if as_json:
        emit_json({"steps": total})
    elif once and not ctx.quiet:
        ctx.out.print(f"{total} step(s) processed")


@click.group("forms")
def forms_group() -> None:
    """Hosted web forms."""


@forms_group.command("list")
@json_option
@pass_ctx
def forms_list_cmd(ctx: CliContext, as_json: bool) -> None:
    """The forms served at /f/<name>, with their submission counts."""
    from syncd.store.models_workflow import FormSubmission

    forms = _load_forms(ctx)
    with ctx.session() as s:
        counts = dict(s.execute(select(FormSubmission.form, func.count())
                                .group_by(FormSubmission.form)).all())
    base = ctx.settings.tracking.public_base_url.rstrip("/")
    rows = [{"name": name, "title": f.title, "url": f"{base}/f/{name}",
             "fields": [x.name for x in f.fields], "submissions": counts.get(name, 0)}
            for name, f in sorted(forms.items())]
    if as_json:
        emit_json(rows)
        return
    table(ctx.out, "Forms", ["name", "title", "url", "fields", "submissions"],
          [[r["name"], r["title"], r["url"], ", ".join(r["fields"]), r["submissions"]]
           for r in rows])


def print_workflow_status(ctx: CliContext, info: dict[str, Any]) -> None:
    """The workflow lines of `syncd status`: run counts, backlog and the dead letters."""
    runs = info["runs"]
    if not runs and not info["events_waiting"]:
        return
    ctx.out.print("workflows: " + "  ".join(f"{k}: {v}" for k, v in sorted(runs.items()))
                  + f"  events waiting: {info['events_waiting']}")
    if info["dead"]:
        table(ctx.out, "Dead workflow runs (`syncd workflows retry ID` after fixing the cause)",
              ["run", "workflow", "since", "error"],
              [[d["id"], d["workflow"], d["updated_at"][:19], d["error"] or ""]
               for d in info["dead"]])


COMMANDS: list[click.Command] = [serve_cmd, send_cmd, workflows_group, forms_group]
