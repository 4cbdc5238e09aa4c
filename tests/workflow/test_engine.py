"""The outbox and the engine on SQLite and PostgreSQL: runs from events, store actions once,
durable delays, signed webhooks, dead letters and retry."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from workflow_helpers import MakeApp, Receiver, add_lead

from syncd.app import App
from syncd.cli import cli
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.store.models_workflow import WorkflowRun, WorkflowStep, WorkflowTask
from syncd.workflows import outbox
from syncd.workflows.worker import WorkflowWorker


def count(app: App, model: type[m.Base]) -> int:
    with app.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


QUALIFY = """on: lead.created
when: {field: lead.company, eq: fabrikam}
do:
  - create_task: {title: "Appeler {{ lead.name }}", due_in: 1d}
  - update_lead: {status: qualified, fields: {origine: "{{ source }}"}}
"""


def test_store_actions_run_exactly_once(db_url: str, make_app: MakeApp) -> None:
    app = make_app(db_url, workflows={"qualify.yaml": QUALIFY})
    lead_id = add_lead(app)
    worker = WorkflowWorker(app, "w1")
    assert worker.run_once() == 2
    assert worker.run_once() == 0
    assert WorkflowWorker(app, "w2").run_once() == 0  # a second worker finds nothing to redo
    with app.sessions() as s:
        (task,) = s.scalars(select(WorkflowTask)).all()
        assert task.title == "Appeler Jane Dupont" and task.lead_id == lead_id
        assert task.owner_user_id is not None and task.due_at is not None
        lead = s.get_one(m.Lead, lead_id)
        assert lead.status == "qualified" and lead.fields["origine"] == "test"
        run = s.scalars(select(WorkflowRun)).one()
        assert (run.status, run.next_step, run.lease_owner) == ("done", 2, None)
        assert [st.status for st in s.scalars(select(WorkflowStep))] == ["done", "done"]
        # Qualifying goes through the lead lifecycle: contact and opportunity made once, and
        # its events appended in the step's transaction.
        assert s.scalar(select(func.count()).select_from(m.Opportunity)) == 1
        assert s.scalars(select(m.Contact.name)).all() == ["Jane Dupont"]
        types = s.scalars(select(m.Event.type).order_by(m.Event.id)).all()
        assert types == ["lead.created", "opportunity.stage_changed", "lead.qualified"]
        assert s.scalar(select(func.count()).select_from(m.Event)
                        .where(m.Event.processed_at.is_(None))) == 0


def test_when_and_once_per(db_url: str, make_app: MakeApp) -> None:
    wf = """on: email.opened
when: [{field: human, eq: true}]
once_per: message_id
do: [{create_task: {title: "Ouvert"}}]
"""
    app = make_app(db_url, workflows={"opened.yaml": wf})
    with session_scope(app.sessions) as s:
        for human, message in ((False, 1), (True, 1), (True, 1), (True, 2)):
            outbox.emit(s, "email.opened", {"message_id": message, "human": human})
        outbox.emit(s, "link.clicked", {"message_id": 1, "human": True})
    assert WorkflowWorker(app, "w").run_once() == 2
    with app.sessions() as s:
        keys = sorted(s.scalars(select(WorkflowRun.dedupe_key)))
    assert keys == ["message_id:1", "message_id:2"]


def test_delay_survives_a_restart(db_url: str, make_app: MakeApp) -> None:
    wf = """on: lead.created
do:
  - create_task: {title: avant}
  - delay: 3d
  - create_task: {title: après}
"""
    app = make_app(db_url, workflows={"later.yaml": wf})
    add_lead(app)
    assert WorkflowWorker(app, "w1").run_once() == 2  # task, then the delay is recorded
    with app.sessions() as s:
        run = s.scalars(select(WorkflowRun)).one()
        assert run.status == "pending" and run.next_step == 2
        assert run.due_at > datetime.now(UTC) + timedelta(days=2)
    restarted = WorkflowWorker(app, "w2")
    assert restarted.run_once() == 0  # not due yet, whoever asks
    with session_scope(app.sessions) as s:  # three days pass
        s.execute(update(WorkflowRun).values(due_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert restarted.run_once() == 1
    with app.sessions() as s:
        assert sorted(s.scalars(select(WorkflowTask.title))) == ["après", "avant"]
        assert s.scalars(select(WorkflowRun.status)).one() == "done"


def test_webhook_is_signed(db_url: str, make_app: MakeApp,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as hook:
        monkeypatch.setenv("HOOK_URL", hook.url)
        monkeypatch.setenv("HOOK_SECRET", "s3cret")
        wf = """on: lead.created
do:
  - webhook: {url: "env:HOOK_URL", secret: "env:HOOK_SECRET",
              body: {lead: "{{ lead.email }}", who: "{{ owner.name }}"}}
"""
        app = make_app(db_url, workflows={"hook.yaml": wf})
        lead_id = add_lead(app)
        assert WorkflowWorker(app, "w").run_once() == 1
    (req,) = hook.requests
    assert json.loads(req.body) == {"lead": "jane@fabrikam.test", "who": "Alice Martin"}
    stamp = req.headers["x-syncd-timestamp"]
    expected = hmac.new(b"s3cret", stamp.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-syncd-signature"] == f"sha256={expected}"
    assert req.headers["idempotency-key"].startswith("run:") and lead_id


def test_failing_step_is_a_dead_letter_then_retried(db_url: str, make_app: MakeApp,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    with Receiver(status=503) as hook:
        monkeypatch.setenv("HOOK_URL", hook.url)
        wf = """on: lead.created
do:
  - create_task: {title: d'abord}
  - webhook: {url: "env:HOOK_URL"}
  - create_task: {title: ensuite}
"""
        app = make_app(db_url, workflows={"hook.yaml": wf})
        add_lead(app)
        assert WorkflowWorker(app, "w").run_once() == 2
        assert len(hook.requests) == 2  # step_attempts = 2 (tenacity), then dead
        with app.sessions() as s:
            run = s.scalars(select(WorkflowRun)).one()
            assert run.status == "dead"
            assert run.last_error == f"step 2 (webhook): webhook: 127.0.0.1:" \
                f"{hook.url.split(':')[2].split('/')[0]} answered HTTP 503"
        config = str(app.settings.source)
        runner = CliRunner()
        shown = runner.invoke(cli, ["--config", config, "workflows", "runs", "--status", "dead",
                                    "--json"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["runs"][0]["steps"][1]["status"] == "failed"
        status = runner.invoke(cli, ["--config", config, "status", "--json"])
        assert status.exit_code == 0, status.output
        workflows = json.loads(status.output)["workflows"]
        assert workflows["runs"] == {"dead": 1} and workflows["dead"][0]["workflow"] == "hook"
        human = runner.invoke(cli, ["--config", config, "status"])
        assert "Dead workflow runs" in human.output and "HTTP 503" in human.output
        hook.status = 200
        retried = runner.invoke(cli, ["--config", config, "workflows", "retry", "--all-dead"])
        assert retried.exit_code == 0, retried.output
        assert WorkflowWorker(app, "w").run_once() == 2
        assert len(hook.requests) == 3
    assert count(app, WorkflowTask) == 2  # the first task was not made again
    with app.sessions() as s:
        assert s.scalars(select(WorkflowRun.status)).one() == "done"


def test_permanent_errors_are_not_retried(db_url: str, make_app: MakeApp) -> None:
    wf = "on: lead.created\ndo: [{update_lead: {owner: nobody@contoso.test}}]\n"
    app = make_app(db_url, workflows={"owner.yaml": wf})
    add_lead(app)
    WorkflowWorker(app, "w").run_once()
    with app.sessions() as s:
        step = s.scalars(select(WorkflowStep)).one()
        assert (step.status, step.attempts) == ("failed", 1)
        assert "no colleague 'nobody@contoso.test'" in (step.error or "")


def test_notify_owner_by_webhook(db_url: str, make_app: MakeApp,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as teams:
        monkeypatch.setenv("TEAMS_URL", teams.url)
        wf = """on: lead.created
do: [{notify_owner: {via: webhook, url: "env:TEAMS_URL", subject: "Nouveau lead {{ lead.name }}"}}]
"""
        app = make_app(db_url, workflows={"teams.yaml": wf})
        add_lead(app)
        assert WorkflowWorker(app, "w").run_once() == 1
    (req,) = teams.requests
    text = json.loads(req.body)["text"]  # the shape of a Teams incoming webhook message
    assert text.startswith("Nouveau lead Jane Dupont") and "jane@fabrikam.test" in text


def test_two_workers_share_the_work_without_repeating_a_step(db_url: str,
                                                             make_app: MakeApp) -> None:
    import threading

    wf = "on: lead.created\ndo: [{create_task: {title: t}}, {create_task: {title: u}}]\n"
    app = make_app(db_url, workflows={"two.yaml": wf})
    for i in range(12):
        add_lead(app, f"p{i}@fabrikam.test", owner=None)
    workers = [WorkflowWorker(app, "a"), WorkflowWorker(app, "b")]
    done: list[int] = []
    errors: list[BaseException] = []

    def drain(worker: WorkflowWorker) -> None:
        try:
            while True:
                n = worker.run_once(limit=3)
                done.append(n)
                if n == 0 and count(app, WorkflowTask) == 24:
                    return
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sum(done) == 24 and count(app, WorkflowTask) == 24
    with app.sessions() as s:
        assert set(s.scalars(select(WorkflowStep.attempts))) == {1}
        assert set(s.scalars(select(WorkflowRun.status))) == {"done"}


def test_a_broken_template_ends_in_a_dead_letter_not_a_loop(db_url: str,
                                                             make_app: MakeApp) -> None:
    wf = """on: lead.created
do:
  - create_task: {title: "{{ 1 / 0 }}"}
"""
    webhook = """on: lead.created
do:
  - webhook: {url: "http://127.0.0.1:9/", body: {x: "{{ lead.name + 1 }}"}}
"""
    app = make_app(db_url, workflows={"task.yaml": wf, "hook.yaml": webhook})
    add_lead(app)
    WorkflowWorker(app, "w").run_once()
    with app.sessions() as s:
        runs = {r.workflow: r for r in s.scalars(select(WorkflowRun))}
    assert runs["task"].status == "dead" and "ZeroDivisionError" in (runs["task"].last_error or "")
    assert runs["hook"].status == "dead" and "TypeError" in (runs["hook"].last_error or "")


def test_disqualify_through_the_lifecycle(db_url: str, make_app: MakeApp) -> None:
    good = "on: lead.created\ndo: [{update_lead: {status: disqualified, reason: Lost}}]\n"
    bad = "on: lead.created\ndo: [{update_lead: {status: disqualified, reason: bored}}]\n"
    app = make_app(db_url, workflows={"good.yaml": good, "bad.yaml": bad})
    lead_id = add_lead(app)
    WorkflowWorker(app, "w").run_once()
    with app.sessions() as s:
        lead = s.get_one(m.Lead, lead_id)
        assert (lead.status, lead.status_reason) == ("disqualified", "lost")
        runs = {r.workflow: r for r in s.scalars(select(WorkflowRun))}
    assert runs["good"].status == "done"
    assert runs["bad"].status == "dead" and "'bored' is not a disqualification reason" in (
        runs["bad"].last_error or "")


def test_edited_definitions_are_picked_up(sqlite_url: str, make_app: MakeApp) -> None:
    app = make_app(sqlite_url, workflows={"a.yaml": "on: lead.created\ndo: [{create_task: "
                                                    "{title: avant}}]\n"})
    worker = WorkflowWorker(app, "w")
    add_lead(app)
    assert worker.run_once() == 1
    assert app.settings.source is not None
    path = app.settings.source.parent / "workflows" / "a.yaml"
    path.write_text("on: lead.created\ndo: [{teleport: {}}]\n")  # broken: the old one stays
    os.utime(path, ns=(1, 10**18 - 1))  # a new stamp, whatever the clock's resolution
    add_lead(app, "x@fabrikam.test", owner=None)
    assert worker.run_once() == 1
    path.write_text("on: lead.created\ndo: [{create_task: {title: après}}]\n")
    os.utime(path, ns=(1, 10**18))
    add_lead(app, "y@fabrikam.test", owner=None)
    assert worker.run_once() == 1
    with app.sessions() as s:
        assert s.scalars(select(WorkflowTask.title).order_by(WorkflowTask.id)).all() == [
            "avant", "avant", "après"]
