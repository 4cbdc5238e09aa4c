"""Client-side helpers for tests against the sandbox: the real msal / O365 / requests objects,
wired to it, and a tiny webhook receiver for change notifications.

Nothing here fakes a library: these are the documented ways to point msal and O365 at another
authority and service root (M365-NOTES 1.4 and 2.2).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

import msal
import requests
from O365 import Account
from O365.connection import MSGraphProtocol
from O365.utils.token import MemoryTokenBackend
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from syncd.sandbox.server import Sandbox

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]


def confidential_app(
    sandbox: Sandbox,
    client_id: str = "syncd-demo",
    credential: str | dict[str, str] = "demo-secret",
    token_cache: msal.TokenCache | None = None,
) -> msal.ConfidentialClientApplication:
    """msal app bound to the sandbox (``instance_discovery=False``: no call to Microsoft)."""
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=sandbox.authority,
        instance_discovery=False,
        verify=str(sandbox.ca_path),
        token_cache=token_cache,
    )


def app_token(sandbox: Sandbox, client_id: str = "syncd-demo", secret: str = "demo-secret") -> str:
    """A fresh app-only Graph token (client credentials).

    Raises: RuntimeError with the identity platform's error when none is issued.
    """
    result = confidential_app(sandbox, client_id, secret).acquire_token_for_client(
        scopes=GRAPH_SCOPES
    )
    if "access_token" not in result:
        raise RuntimeError(f"{result.get('error')}: {result.get('error_description')}")
    return str(result["access_token"])


def graph_session(sandbox: Sandbox, token: str) -> requests.Session:
    """A requests session that trusts the sandbox CA and sends ``token``."""
    session = requests.Session()
    session.verify = str(sandbox.ca_path)
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def o365_account(
    sandbox: Sandbox,
    main_resource: str,
    *,
    client_id: str = "syncd-demo",
    secret: str = "demo-secret",
    request_retries: int = 3,
) -> Account:
    """An O365 ``Account`` (credentials flow) whose Graph root is the sandbox.

    O365 hard-codes login.microsoftonline.com as authority and builds msal without
    ``instance_discovery=False``, so an msal app bound to the sandbox is put into
    ``con._msal_client``, sharing O365's token backend as its cache.
    """
    protocol_class = type(
        "SandboxGraph", (MSGraphProtocol,), {"_protocol_url": f"{sandbox.base_url}/"}
    )
    backend = MemoryTokenBackend()
    account = Account(
        (client_id, secret),
        auth_flow_type="credentials",
        tenant_id=sandbox.tenant,
        protocol=protocol_class(),
        token_backend=backend,
        main_resource=main_resource,
        requests_delay=0,
        request_retries=request_retries,
        verify_ssl=str(sandbox.ca_path),
    )
    account.con._msal_client = confidential_app(sandbox, client_id, secret, token_cache=backend)
    if not account.authenticate(requested_scopes=GRAPH_SCOPES):
        raise RuntimeError("O365 could not authenticate against the sandbox")
    return account


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class NotificationReceiver:
    """A loopback webhook endpoint (plain http) for change-notification tests.

    ``mode``: ``"echo"`` answers the validation handshake correctly; ``"wrong"`` answers 200
    with another body; ``"error"`` answers 500. Notifications are kept in `received`.
    """

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.received: list[dict[str, Any]] = []
        self.validations: list[str] = []
        self._cond = threading.Condition()
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}/notify"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> NotificationReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        token = request.args.get("validationToken")
        if token is not None:
            self.validations.append(token)
            if self.mode == "error":
                response = Response("no", status=500)
            else:
                body = token if self.mode == "echo" else "not the token"
                response = Response(body, status=200, content_type="text/plain")
            return response(environ, start_response)
        with self._cond:
            self.received.append(json.loads(request.get_data() or b"{}"))
            self._cond.notify_all()
        return Response(status=202)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until ``count`` notifications arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self.received)
