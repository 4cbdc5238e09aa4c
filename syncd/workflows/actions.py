"""What each workflow action does. Two kinds:

- store actions (create_task, update_lead) run inside the transaction that records the step
  as done: they happen exactly once;
- outside actions (send_email, notify_owner, webhook) reach the network, outside any
  transaction. send_email and notify_owner by email are made idempotent by the mailer (the
  step's key names the mail; see tracking.mailer); a webhook carries the step's key in
  ``Idempotency-Key`` so that a receiver can drop the repeat a crash mid-call may cause.

Raises: ActionError (``permanent`` when retrying cannot help).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy.orm import Session

from connectors.normalize import normalize_address
from syncd.config import ConfigError, resolve_secret
from syncd.store import models as m
from syncd.store.models_workflow import WorkflowTask
from syncd.tracking.mailer import Mailer, Outgoing, SendError
from syncd.workflows.context import Context, user_by_email
from syncd.workflows.definitions import (
    CreateTask,
    NotifyOwner,
    SendEmail,
    UpdateLead,
    Webhook,
    parse_duration,
)
from syncd.workflows.templates import render_html, render_text

if TYPE_CHECKING:
    from syncd.app import App

STORE_ACTIONS = frozenset({"create_task", "update_lead"})
USER_AGENT = "syncd-workflows/1"

NOTIFY_BODY = """<p>{{ event.type }}{% if lead.name or lead.email %} — {{ lead.name }}
&lt;{{ lead.email or recipient }}&gt;{% endif %}</p>
{% if subject %}<p>Message : {{ subject }}</p>{% endif %}
{% if url %}<p>Lien : {{ url }}</p>{% endif %}
{% if fields %}<table>{% for k, v in fields.items() %}<tr><th align="left">{{ k }}</th>
<td>{{ v }}</td></tr>{% endfor %}</table>{% endif %}
"""


class ActionError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class StepInput:
    run_id: int
    idx: int
    workflow: str
    context: Context
    idem_key: str  # names this step for ever: "run:<id>:step:<idx>"


@dataclass
class Services:
    """What outside actions need; one per worker."""

    app: App
    workflows_dir: Path | None
    http: requests.Session

    def mailer(self) -> Mailer:
        return Mailer(self.app)


def _address(value: str, what: str) -> str:
    key = normalize_address(value) if value else None
    if not key or key.startswith("x500:"):
        raise ActionError(f"{what}: {value!r} is not an email address", permanent=True)
    return key


def _sender(services: Services, ctx: Context, explicit: str | None) -> str:
    if explicit:
        return _address(render_text(explicit, ctx), "from")
    owner = str((ctx.get("owner") or {}).get("email") or "")
    fallback = services.app.settings.workflows.default_sender or ""
    if not (owner or fallback):
        raise ActionError("no sender: the lead has no owner and [workflows] default_sender "
                          "is not set", permanent=True)
    return _address(owner or fallback, "from")


def _send(services: Services, inp: StepInput, out: Outgoing) -> dict[str, Any]:
    try:
        result = services.mailer().send(out)
    except SendError as exc:
        raise ActionError(str(exc), permanent=exc.permanent) from exc
    return {"tracked_message_id": result.message_id, "to": out.to, "from": out.sender,
            "already_sent": result.already_sent}


def _ids(ctx: Context) -> tuple[int | None, int | None]:
    lead = (ctx.get("lead") or {}).get("id")
    contact = (ctx.get("contact") or {}).get("id")
    return (lead if isinstance(lead, int) else None,
            contact if isinstance(contact, int) else None)


def send_email(services: Services, inp: StepInput, spec: SendEmail) -> dict[str, Any]:
    ctx = inp.context
    to = _address(render_text(spec.to, ctx), "to")
    sender = _sender(services, ctx, spec.sender)
    if spec.template:
        if services.workflows_dir is None:
            raise ActionError("template given but no workflows directory", permanent=True)
        try:
            source = (services.workflows_dir / "templates" / spec.template).read_text("utf-8")
        except OSError as exc:
            raise ActionError(f"template {spec.template}: {exc.strerror}", permanent=True) from exc
    else:
        source = spec.body or ""
    lead_id, contact_id = _ids(ctx)
    return _send(services, inp, Outgoing(
        sender=sender, to=to, subject=render_text(spec.subject, ctx),
        html=render_html(source, ctx), idem_key=inp.idem_key, lead_id=lead_id,
        contact_id=contact_id, run_id=inp.run_id, track=spec.track))


def notify_owner(services: Services, inp: StepInput, spec: NotifyOwner) -> dict[str, Any]:
    ctx = inp.context
    subject = render_text(spec.subject, ctx)
    body = render_html(spec.body or NOTIFY_BODY, ctx)
    if spec.via == "webhook":
        if not spec.url:
            raise ActionError("notify_owner via webhook needs url", permanent=True)
        text = f"{subject}\n\n{render_text(spec.body or NOTIFY_BODY, ctx)}"
        return _post(services, inp, spec.url, {"text": text}, None)
    owner = str((ctx.get("owner") or {}).get("email") or "")
    target = render_text(spec.to, ctx) if spec.to else owner
    target = target or services.app.settings.workflows.default_sender or ""
    if not target:
        raise ActionError("the lead has no owner; set notify_owner.to or [workflows] "
                          "default_sender", permanent=True)
    to = _address(target, "to")
    sender = _address(services.app.settings.workflows.default_sender or to, "from")
    lead_id, contact_id = _ids(ctx)
    return _send(services, inp, Outgoing(
        sender=sender, to=to, subject=subject, html=body, idem_key=inp.idem_key,
        lead_id=lead_id, contact_id=contact_id, run_id=inp.run_id, track=False))


def _render_tree(value: Any, ctx: Context) -> Any:
    if isinstance(value, str):
        return render_text(value, ctx)
    if isinstance(value, dict):
        return {str(k): _render_tree(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(v, ctx) for v in value]
    return value


def _resolve(ref: str, what: str) -> str:
    if not ref.startswith(("env:", "file:")):
        return ref
    try:
        return resolve_secret(ref)
    except ConfigError as exc:
        raise ActionError(f"{what}: {'; '.join(exc.problems)}", permanent=True) from exc


def _post(services: Services, inp: StepInput, url_ref: str, body: Any,
          secret_ref: str | None) -> dict[str, Any]:
    url = _resolve(url_ref, "url")
    data = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "Idempotency-Key": inp.idem_key, "X-Syncd-Workflow": inp.workflow,
               "X-Syncd-Event": str((inp.context.get("event") or {}).get("type") or ""),
               "X-Syncd-Timestamp": stamp}
    if secret_ref:
        key = _resolve(secret_ref, "secret").encode("utf-8")
        # Signed: timestamp "." body, so a captured request cannot be replayed later unnoticed.
        digest = hmac.new(key, stamp.encode() + b"." + data, hashlib.sha256).hexdigest()
        headers["X-Syncd-Signature"] = f"sha256={digest}"
    timeout = services.app.settings.workflows.webhook_timeout_seconds
    try:
        response = services.http.post(url, data=data, headers=headers, timeout=timeout,
                                      allow_redirects=False)
    except requests.RequestException as exc:
        raise ActionError(f"webhook: cannot reach {_host(url)}: {type(exc).__name__}") from exc
    if 200 <= response.status_code < 300:
        return {"status": response.status_code, "host": _host(url)}
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
    raise ActionError(f"webhook: {_host(url)} answered HTTP {response.status_code}",
                      permanent=permanent)


def _host(url: str) -> str:
    # The URL itself may hold a secret (Teams webhook URLs do); only its host is reported.
    return url.split("://", 1)[-1].split("/", 1)[0]


def webhook(services: Services, inp: StepInput, spec: Webhook) -> dict[str, Any]:
    body = _render_tree(spec.body, inp.context) if spec.body is not None else inp.context
    return _post(services, inp, spec.url, body, spec.secret)


def create_task(session: Session, inp: StepInput, spec: CreateTask,
                now: datetime) -> dict[str, Any]:
    ctx = inp.context
    lead_id, contact_id = _ids(ctx)
    owner = (ctx.get("owner") or {}).get("id")
    task = WorkflowTask(title=render_text(spec.title, ctx)[:500],
                        notes=render_text(spec.notes, ctx), lead_id=lead_id,
                        contact_id=contact_id, owner_user_id=owner if isinstance(owner, int)
                        else None, run_id=inp.run_id, status="open",
                        due_at=now + parse_duration(spec.due_in) if spec.due_in is not None
                        else None, created_at=now)
    session.add(task)
    session.flush()
    return {"task_id": task.id, "title": task.title}


def update_lead(services: Services, session: Session, inp: StepInput, spec: UpdateLead,
                now: datetime) -> dict[str, Any]:
    from syncd.lifecycle import LifecycleError
    from syncd.lifecycle.qualify import disqualify_lead, qualify_lead

    lead_id, _ = _ids(inp.context)
    lead = session.get(m.Lead, lead_id) if lead_id is not None else None
    if lead is None:
        raise ActionError("update_lead: this event is not about a lead", permanent=True)
    changed: list[str] = []
    result: dict[str, Any] = {"lead_id": lead.id, "changed": changed}
    if spec.owner:
        user = user_by_email(session, render_text(spec.owner, inp.context))
        if user is None:
            raise ActionError(f"update_lead: no colleague {spec.owner!r} (owners are users)",
                              permanent=True)
        if lead.owner_user_id != user.id:
            lead.owner_user_id = user.id
            changed.append("owner")
    if spec.fields:
        fields = dict(lead.fields or {})
        for key, template in spec.fields.items():
            value = render_text(template, inp.context)
            if key in ("name", "company", "title", "phone"):
                if getattr(lead, key) != value:
                    setattr(lead, key, value[:300])
                    changed.append(key)
            elif fields.get(key) != value:
                fields[key] = value
                changed.append(key)
        lead.fields = fields
    session.flush()
    before = lead.status
    try:
        if spec.status == "qualified":
            done = qualify_lead(session, lead.id, services.app.policy)
            result.update(opportunity_id=done.opportunity_id, contact_id=done.contact_id,
                          account_id=done.account_id)
        elif spec.status == "disqualified":
            assert spec.reason is not None
            disqualify_lead(session, lead.id, render_text(spec.reason, inp.context),
                            services.app.settings.lifecycle.disqualify_reasons)
        elif spec.status == "open" and lead.status != "open":
            lead.status, lead.status_reason, lead.status_changed_at = "open", None, now
    except LifecycleError as exc:
        raise ActionError(f"update_lead: {exc}", permanent=True) from exc
    if lead.status != before:
        changed.append("status")
    return result
