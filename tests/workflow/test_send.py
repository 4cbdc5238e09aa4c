"""Tracked mail through Graph sendMail against the local Microsoft 365 sandbox (real msal and
O365 over HTTPS): pixel and links in the body, linked to the lead, sent once per intent even
when the process died between sending and recording."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select, update
from workflow_helpers import ALICE, JANE, KEY, MakeApp, add_lead, inbox

from connectors.normalize import normalize_message_id
from syncd.cli import cli
from syncd.sandbox import Sandbox
from syncd.store.db import session_scope
from syncd.store.models_workflow import TrackedMessage, WorkflowRun, WorkflowStep
from syncd.tracking.mailer import Mailer, Outgoing
from syncd.tracking.tokens import Claim, TokenSigner
from syncd.workflows.worker import WorkflowWorker

SIGN = TokenSigner(KEY.encode())
BODY = '<html><body><p>Bonjour</p><a href="https://www.contoso.fr/tarifs">Tarifs</a></body></html>'


def test_syncd_send_tracks_and_links(sqlite_url: str, make_app: MakeApp,
                                     sandbox: Sandbox) -> None:
    app = make_app(sqlite_url, sandbox=sandbox, port=8123)
    lead_id = add_lead(app, JANE)
    result = CliRunner().invoke(cli, ["--config", str(app.settings.source), "send", "--from",
                                      ALICE, "--to", JANE, "--subject", "Proposition Contoso",
                                      "--body", BODY, "--json"])
    assert result.exit_code == 0, result.output
    sent = json.loads(result.output)
    assert sent["lead_id"] == lead_id and sent["tracked"]
    (mail,) = sandbox.state.outbox
    assert mail.sender == ALICE and mail.to == (JANE,)
    pixel = re.search(r'src="http://127\.0\.0\.1:8123/o/([^"]+)\.gif"', mail.body)
    link = re.search(r'href="http://127\.0\.0\.1:8123/c/([^"]+)"', mail.body)
    assert pixel and link
    assert SIGN.verify(pixel.group(1)) == Claim("open", sent["tracked_message_id"])
    assert SIGN.verify(link.group(1)) == Claim("click", sent["tracked_message_id"],
                                               "https://www.contoso.fr/tarifs")
    (received,) = inbox(sandbox, JANE)
    assert received["subject"] == "Proposition Contoso"
    with app.sessions() as s:
        row = s.get_one(TrackedMessage, sent["tracked_message_id"])
        assert row.status == "sent" and row.lead_id == lead_id and row.sent_at is not None
        assert row.internet_message_id == normalize_message_id(mail.message_id)


def test_a_send_interrupted_before_it_was_recorded_is_not_repeated(
        sqlite_url: str, make_app: MakeApp, sandbox: Sandbox) -> None:
    app = make_app(sqlite_url, sandbox=sandbox)
    out = Outgoing(sender=ALICE, to=JANE, subject="Une fois", html=BODY, idem_key="run:1:step:0")
    first = Mailer(app).send(out)
    assert not first.already_sent and len(sandbox.state.outbox) == 1
    # The process died after Graph accepted the mail and before the row said so.
    with session_scope(app.sessions) as s:
        s.execute(update(TrackedMessage).values(status="sending", internet_message_id=None))
    again = Mailer(app).send(out)
    assert again.already_sent and again.message_id == first.message_id
    assert len(sandbox.state.outbox) == 1 and len(inbox(sandbox, JANE)) == 1
    with app.sessions() as s:
        row = s.get_one(TrackedMessage, first.message_id)
        assert row.status == "sent" and row.internet_message_id == normalize_message_id(
            sandbox.state.outbox[0].message_id)
    # A row left "sending" whose mail never left is sent (once) by the next attempt.
    fresh = Outgoing(sender=ALICE, to=JANE, subject="Pas encore", html=BODY, idem_key="k2")
    with session_scope(app.sessions) as s:
        s.add(TrackedMessage(uid="never-sent", idem_key="k2", mailbox=ALICE, recipient=JANE,
                             subject="Pas encore", status="sending",
                             created_at=datetime.now(UTC)))
    assert not Mailer(app).send(fresh).already_sent
    assert [m.subject for m in sandbox.state.outbox] == ["Une fois", "Pas encore"]


FOLLOW = """on: lead.created
do:
  - send_email: {subject: "Bienvenue {{ lead.name }}", template: hello.html}
  - notify_owner: {}
"""


def test_workflow_send_email_and_notify_owner(db_url: str, make_app: MakeApp,
                                              sandbox: Sandbox) -> None:
    app = make_app(db_url, sandbox=sandbox, workflows={"hello.yaml": FOLLOW},
                   templates={"hello.html": "<p>Bonjour {{ lead.name }} &mdash; "
                              "<a href='https://www.contoso.fr/'>site</a></p>"})
    add_lead(app, JANE)
    assert WorkflowWorker(app, "w").run_once() == 2
    follow, note = sandbox.state.outbox
    assert (follow.sender, follow.to, follow.subject) == (ALICE, (JANE,), "Bienvenue Jane Dupont")
    assert "/o/" in follow.body and "/c/" in follow.body  # tracked
    assert note.to == (ALICE,) and "/o/" not in note.body  # internal: not tracked
    assert "lead.created" in note.subject and "jane.dupont@fabrikam.test" in note.body
    # A worker that died inside step 1 finds it "started": re-running it sends nothing new.
    with session_scope(app.sessions) as s:
        s.execute(update(WorkflowStep).where(WorkflowStep.idx == 0).values(status="started"))
        s.execute(update(WorkflowRun).values(status="pending", next_step=0))
    assert WorkflowWorker(app, "w2").run_once() == 2
    assert len(sandbox.state.outbox) == 2
    with app.sessions() as s:
        results = [st.result for st in s.scalars(select(WorkflowStep).order_by(WorkflowStep.idx))]
    # Step 1 found its mail in Sent Items; step 2 was done already and was not run again.
    assert results[0]["already_sent"] is True and results[1]["already_sent"] is False


def test_sent_mail_becomes_an_activity_of_the_lead(sqlite_url: str, make_app: MakeApp,
                                                   sandbox: Sandbox) -> None:
    """The sent copy is captured from the rep's Sent Items by the next sync, under the
    Message-ID recorded on the tracked message, and linked to the lead."""
    from syncd.store import models as m
    from syncd.sync import run_pass

    app = make_app(sqlite_url, sandbox=sandbox)
    lead_id = add_lead(app, JANE)
    sent = Mailer(app).send(Outgoing(sender=ALICE, to=JANE, subject="Devis", html=BODY,
                                     idem_key="cli:devis"))
    run_pass(app)
    assert sent.internet_message_id
    with app.sessions() as s:
        interaction = s.scalars(select(m.Interaction).where(
            m.Interaction.natural_key == sent.internet_message_id)).one()
        activity = s.scalars(select(m.Activity).where(
            m.Activity.interaction_id == interaction.id)).one()
        links = {(t, i) for t, i in s.execute(
            select(m.ActivityLink.target_type, m.ActivityLink.target_id)
            .where(m.ActivityLink.activity_id == activity.id))}
    assert ("lead", lead_id) in links


REPLY_WF = """on: reply.received
do:
  - create_task: {title: "Répondre à {{ lead.name }} : {{ subject }}"}
"""


def test_a_reply_to_a_tracked_mail_is_a_reply_received_event(
        sqlite_url: str, make_app: MakeApp, sandbox: Sandbox, tmp_path: Path) -> None:
    from syncd.store import models as m
    from syncd.store.models_workflow import WorkflowTask
    from syncd.sync import run_pass

    app = make_app(sqlite_url, sandbox=sandbox, workflows={"reply.yaml": REPLY_WF})
    lead_id = add_lead(app, JANE)
    sent = Mailer(app).send(Outgoing(sender=ALICE, to=JANE, subject="Devis", html=BODY,
                                     idem_key="cli:devis"))
    reply = tmp_path / "reply.eml"
    reply.write_text(
        f"From: Jane Dupont <{JANE}>\nTo: Alice Martin <{ALICE}>\nSubject: Re: Devis\n"
        f"Date: {format_datetime(datetime.now(UTC))}\nMessage-ID: <reply-1@fabrikam.test>\n"
        f"In-Reply-To: <{sent.internet_message_id}>\n\nMerci, c'est d'accord.\n")
    assert sandbox.seed_mailfiles(ALICE, [reply]) == 1
    run_pass(app)
    worker = WorkflowWorker(app, "w")
    worker.run_once()  # activity.captured -> reply.received
    worker.run_once()  # reply.received -> the task
    with app.sessions() as s:
        (task,) = s.scalars(select(WorkflowTask)).all()
        assert task.title == "Répondre à Jane Dupont : Re: Devis" and task.lead_id == lead_id
        (payload,) = s.scalars(select(m.Event.payload).where(
            m.Event.type == "reply.received")).all()
    assert payload["message_id"] == sent.message_id


def test_message_id_found_later_when_sent_items_lagged(sqlite_url: str, make_app: MakeApp,
                                                       sandbox: Sandbox) -> None:
    """Exchange files the sent copy asynchronously: a Message-ID not known at send time is
    looked up again by the worker."""
    app = make_app(sqlite_url, sandbox=sandbox)
    sent = Mailer(app).send(Outgoing(sender=ALICE, to=JANE, subject="Plus tard", html=BODY,
                                     idem_key="cli:later"))
    with session_scope(app.sessions) as s:  # as if Sent Items had not shown it yet
        s.execute(update(TrackedMessage).values(internet_message_id=None))
    WorkflowWorker(app, "w").run_once()
    with app.sessions() as s:
        row = s.get_one(TrackedMessage, sent.message_id)
    assert row.internet_message_id == sent.internet_message_id and row.status == "sent"
    assert len(sandbox.state.outbox) == 1
