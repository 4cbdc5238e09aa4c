"""End to end in a real headless Chromium: a tracked mail opened in the browser loads its
pixel and the email.opened workflow sends the follow-up into the prospect's sandbox mailbox;
the hosted form, filled in and submitted, creates one lead (twice: still one) and notifies
the owner; bad input shows per-field errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from sqlalchemy import func, select
from workflow_helpers import (
    ALICE,
    FORM_YAML,
    JANE,
    MakeApp,
    add_lead,
    free_port,
    inbox,
    serve,
    wait_for,
)

from syncd.app import App
from syncd.sandbox import Sandbox
from syncd.store import models as m
from syncd.store.models_workflow import FormSubmission, TrackingHit
from syncd.tracking.mailer import Mailer, Outgoing
from syncd.workflows.worker import WorkflowWorker

FOLLOW_UP = """on: email.opened
when:
  - {field: human, eq: true}
  - {field: first_human_open, eq: true}
once_per: message_id
do:
  - send_email: {subject: "Suite à notre échange", template: follow-up.html}
"""
TEMPLATE = "<p>Bonjour {{ lead.name }}, suite à votre lecture de « {{ subject }} »...</p>"
NOTIFY = """on: form.submitted
do:
  - notify_owner: {subject: "Nouveau contact : {{ fields.nom }}"}
"""


def count(app: App, model: Any) -> int:
    with app.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_opening_the_mail_sends_the_follow_up(db_url: str, make_app: MakeApp,
                                              sandbox: Sandbox, browser: Any,
                                              tmp_path: Path) -> None:
    app = make_app(db_url, port=free_port(), sandbox=sandbox,
                   workflows={"follow-up.yaml": FOLLOW_UP},
                   templates={"follow-up.html": TEMPLATE})
    add_lead(app, JANE)
    Mailer(app).send(Outgoing(sender=ALICE, to=JANE, subject="Proposition commerciale",
                              html="<html><body><p>Voici notre proposition.</p></body></html>",
                              idem_key="test:proposal"))
    worker = WorkflowWorker(app, "w")
    worker.run_once()  # lead.created: no workflow; nothing sent yet
    assert [x["subject"] for x in inbox(sandbox, JANE)] == ["Proposition commerciale"]
    # Jane reads the mail: its HTML, as delivered to her sandbox mailbox, in a real browser.
    page = tmp_path / "mail.html"
    page.write_text(inbox(sandbox, JANE)[0]["body"], encoding="utf-8")
    with serve(app):
        browser.get(page.as_uri())
        wait_for(lambda: count(app, TrackingHit), "the pixel reached syncd serve")
    with app.sessions() as s:
        hit = s.scalars(select(TrackingHit)).one()
        assert (hit.kind, hit.machine, hit.ip_class) == ("open", False, "loopback")
        assert "Chrome" in hit.user_agent
    assert worker.run_once() == 1
    subjects = [x["subject"] for x in inbox(sandbox, JANE)]
    assert subjects == ["Proposition commerciale", "Suite à notre échange"]
    follow = inbox(sandbox, JANE)[1]["body"]
    assert "Bonjour Jane Dupont" in follow and "Proposition commerciale" in follow
    assert worker.run_once() == 0  # once per message, however many opens


def fill(browser: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        field = browser.find_element(By.ID, f"f-{name}")
        field.clear()
        field.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_form_in_the_browser(db_url: str, make_app: MakeApp, sandbox: Sandbox,
                             browser: Any) -> None:
    app = make_app(db_url, port=free_port(), sandbox=sandbox, forms={"demo.yaml": FORM_YAML},
                   workflows={"notify.yaml": NOTIFY})
    with serve(app) as served:
        # Bad input first: per-field errors, nothing stored.
        browser.get(f"{served.url}/f/demo")
        fill(browser, {"email": "jane-at-fabrikam", "nom": "Jane", "effectif": "beaucoup"})
        error = wait_for(lambda: browser.find_elements(By.ID, "e-email"), "email error shown")
        assert error[0].text == "Adresse e-mail invalide."
        assert browser.find_element(By.ID, "e-effectif").text == "Nombre entier attendu."
        assert browser.find_element(By.ID, "f-email").get_attribute("aria-invalid") == "true"
        assert browser.find_element(By.ID, "f-nom").get_attribute("value") == "Jane"
        assert "Le formulaire contient des erreurs." in browser.find_element(
            By.ID, "error-summary").text
        assert count(app, FormSubmission) == 0 and count(app, m.Lead) == 0
        # Good input, twice.
        for name in ("<b>Jane</b> Dupont", "Jane Dupont"):
            browser.get(f"{served.url}/f/demo")
            fill(browser, {"email": "Jane.Dupont@Fabrikam.test", "nom": name,
                           "societe": "Fabrikam", "effectif": "40",
                           "message": "Une démo, s'il vous plaît"})
            thanks = wait_for(lambda: browser.find_elements(By.ID, "thanks"), "thank-you page")
            assert "bien été reçue" in thanks[0].text
    assert count(app, m.Lead) == 1 and count(app, FormSubmission) == 2
    assert WorkflowWorker(app, "w").run_once() == 2
    notes = [x for x in inbox(sandbox, ALICE) if x["subject"].startswith("Nouveau contact")]
    assert [x["subject"] for x in notes] == ["Nouveau contact : <b>Jane</b> Dupont",
                                             "Nouveau contact : Jane Dupont"]
    # Field values are escaped in the mailed HTML.
    assert "<b>Jane</b>" not in notes[0]["body"] and "&lt;b&gt;Jane&lt;/b&gt;" in notes[0]["body"]
