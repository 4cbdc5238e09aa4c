"""Helpers shared by the workflow, tracking and forms tests (imported as
``workflow_helpers``): a configuration file per test, the sandbox mailbox reader, `syncd serve`
on a real socket, a webhook receiver, polling with a bound, and a lead with its event."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import uvicorn

from syncd.app import App
from syncd.capture import ensure_persons
from syncd.sandbox import Sandbox
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.web.app import create_app
from syncd.workflows import outbox

KEY = "k3y-for-tests-0123456789abcdef"
ALICE, BOB = "alice@contoso.test", "bob@contoso.test"
JANE = "jane.dupont@fabrikam.test"
SALES = "ventes@contoso.test"

FORM_YAML = """title: Demande de démonstration
lang: fr
allowed_origins: ["https://www.contoso.test"]
honeypot: website
owner: {email: alice@contoso.test}
fields:
  - {name: email, label: "E-mail", type: email, required: true, maps_to: email}
  - {name: nom, label: "Nom", required: true, maps_to: name, max_length: 100}
  - {name: societe, label: "Société", maps_to: company}
  - {name: effectif, label: "Salariés", type: integer, min: 1, max: 100000}
  - {name: message, label: "Message", type: textarea, max_length: 500}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(tmp: Path, db_url: str, *, port: int = 8080, sandbox: Sandbox | None = None,
                 workflows: dict[str, str] | None = None, templates: dict[str, str] | None = None,
                 forms: dict[str, str] | None = None, extra: str = "", form_limit: int = 5,
                 tracking_limit: int = 120, machine_within: float = 0) -> Path:
    """A syncd.toml (and workflows/, forms/ beside it) for one test."""
    root = tmp / "conf"
    (root / "workflows" / "templates").mkdir(parents=True, exist_ok=True)
    (root / "forms").mkdir(parents=True, exist_ok=True)
    for name, text in (workflows or {}).items():
        (root / "workflows" / name).write_text(text, encoding="utf-8")
    for name, text in (templates or {}).items():
        (root / "workflows" / "templates" / name).write_text(text, encoding="utf-8")
    for name, text in (forms or {}).items():
        (root / "forms" / name).write_text(text, encoding="utf-8")
    conf = f'''database_url = "{db_url}"
internal_domains = ["contoso.test"]

[tracking]
key = "env:SYNCD_TEST_TRACKING_KEY"
public_base_url = "http://127.0.0.1:{port}"
machine_within_seconds = {machine_within}

[web]
host = "127.0.0.1"
port = {port}
form_posts_per_minute = {form_limit}
tracking_hits_per_minute = {tracking_limit}

[workflows]
default_sender = "{SALES}"
step_attempts = 2
step_retry_seconds = 0
poll_seconds = 0.2
{extra}
'''
    if sandbox is not None:
        conf += f'''
[[connectors]]
kind = "msgraph"
name = "m365"
tenant_id = "{sandbox.tenant}"
client_id = "syncd-demo"
client_secret = "env:SYNCD_TEST_M365_SECRET"
cloud = "custom"
authority_host = "{sandbox.base_url}"
graph_url = "{sandbox.graph_url}"
ca_bundle = "{sandbox.ca_path}"
mailboxes = ["{ALICE}"]
'''
    path = root / "syncd.toml"
    path.write_text(conf, encoding="utf-8")
    return path


MakeApp = Callable[..., App]


def inbox(box: Sandbox, owner: str) -> list[dict[str, Any]]:
    """The messages in a sandbox user's Inbox: subject, html body, headers."""
    with box.state.lock:
        mailbox = box.state.mailbox(owner)
        assert mailbox is not None
        folder = mailbox.folder("inbox")
        assert folder is not None
        return [{"subject": v.content.fields.get("subject"),
                 "body": (v.content.fields.get("body") or {}).get("content", ""),
                 "headers": {h["name"].lower(): h["value"] for h in v.content.headers}}
                for v in folder.log.items.values()]


class Served:
    """An ASGI app on a real socket, in a thread of the test process."""

    def __init__(self, asgi: Any, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def serve(app: App) -> Served:
    from syncd.forms.definitions import load_dir

    assert app.settings.source is not None
    forms = load_dir(app.settings.source.parent / "forms")
    return Served(create_app(app, forms), app.settings.web.port)


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll ``check`` until it returns something true (a bound on waiting, not a threshold
    on speed: it only fails when the thing never happens)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def add_lead(app: App, email: str = "jane@fabrikam.test", owner: str | None = ALICE) -> int:
    now = datetime.now(UTC)
    with session_scope(app.sessions) as s:
        ids, _ = ensure_persons(s, {email: "Jane"}, app.policy, now)
        owner_id = None
        if owner:
            oids, _ = ensure_persons(s, {owner: "Alice"}, app.policy, now)
            user = m.User(person_id=oids[owner], display_name="Alice Martin")
            s.add(user)
            s.flush()
            owner_id = user.id
        lead = m.Lead(person_id=ids[email], name="Jane Dupont", company="Fabrikam",
                      owner_user_id=owner_id, created_at=now)
        s.add(lead)
        s.flush()
        outbox.emit(s, "lead.created", {"lead_id": lead.id, "source": "test"})
        return lead.id


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                owner.requests.append(Received(self.path, {k.lower(): v for k, v in
                                                           self.headers.items()}, body))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
