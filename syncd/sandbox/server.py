"""The Microsoft 365 sandbox server: one loopback HTTPS listener for both the identity
platform (``/{tenant}/...``, for msal) and Microsoft Graph (``/v1.0/...``, for O365 and raw
requests).

    with Sandbox().start() as sandbox:
        sandbox.seed_demo(company)
        app = msal.ConfidentialClientApplication(
            "syncd-demo", client_credential="demo-secret", authority=sandbox.authority,
            instance_discovery=False, verify=str(sandbox.ca_path))
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import parse_qs

from cheroot import wsgi
from cheroot.ssl import Adapter
from cheroot.ssl.builtin import BuiltinSSLAdapter
from werkzeug.wrappers import Request, Response

from syncd.sandbox.ews_api import PATH as EWS_PATH
from syncd.sandbox.ews_api import EwsApi
from syncd.sandbox.faults import FaultPlan
from syncd.sandbox.graph_api import GraphApi, RequestRecord
from syncd.sandbox.graph_common import Services
from syncd.sandbox.idp import IdentityProvider
from syncd.sandbox.ids import TokenCodec
from syncd.sandbox.seed import CompanyLike, SeedReport, seed_demo, seed_mailfiles
from syncd.sandbox.state import SandboxState
from syncd.sandbox.subscriptions import SubscriptionManager
from syncd.sandbox.tls import issue_server_tls
from syncd.sandbox.wire import ApiRequest, ApiResponse, GraphError, new_request_id

DEFAULT_CLIENTS = {"syncd-demo": "demo-secret"}

log = logging.getLogger(__name__)


# Worker threads of the HTTP server: the most requests served at once. Idle keep-alive
# connections hold no thread (cheroot parks them in a selector), so this bounds only requests
# in flight; it is well above what the fault plan's per-mailbox concurrency cap (4) times the
# tests' and benchmarks' workers can send, so a request over the cap gets its 429 instead of
# queueing for a thread.
SERVER_THREADS = 64
KEEP_ALIVE_CONNECTIONS = 1024  # idle persistent connections kept open (cheroot's default: 10)
IDLE_TIMEOUT = 30  # seconds before the server closes an idle connection


class _Server(wsgi.Server):
    """cheroot's WSGI server with its messages sent to logging instead of stderr: a client
    that drops the TLS handshake (one that does not trust the sandbox's CA, on purpose in
    the TLS tests) is routine; errors of the server itself stay errors."""

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False
                  ) -> None:
        if level >= logging.ERROR:
            log.error("%s", msg, exc_info=traceback)
        else:
            log.debug("%s", msg)


class _ContextTls(BuiltinSSLAdapter):
    """cheroot's standard-library TLS adapter around an `ssl.SSLContext` we already built
    (`issue_server_tls`); its own constructor wants certificate and key files."""

    def __init__(self, context: ssl.SSLContext) -> None:
        Adapter.__init__(self, None, None)
        self.context = context
        self._server_env: dict[str, str] = {}  # SSL_SERVER_* environ entries: none needed


class Sandbox:
    """A local Microsoft 365 tenant over HTTPS. See the module docstring."""

    def __init__(
        self,
        *,
        tenant: str = "contoso",
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
        clients: dict[str, str] | None = None,
        client_certs: dict[str, str] | None = None,
        client_roles: Mapping[str, Iterable[str]] | None = None,
        token_lifetime: int = 3599,
        device_code_interval: int = 5,
        subscription_max_minutes: int = 4230,
        validation_timeout: float = 10.0,
        seed: int = 0,
        request_log_limit: int = 1_000_000,
    ) -> None:
        """``clients``: client id -> secret (default ``{"syncd-demo": "demo-secret"}``);
        ``client_certs``: client id -> PEM certificate for certificate credentials;
        ``client_roles``: client id -> application permissions (default: Mail.Read,
        Calendars.Read, CallRecords.Read.All, User.Read.All, Mail.Send, GroupMember.Read.All).
        """
        self.tenant = tenant
        self.host = host
        self.port = port
        self.state_dir = state_dir
        self.request_log: list[RequestRecord] = []
        self.request_log_limit = request_log_limit
        self.state = SandboxState(tenant)
        self.faults = FaultPlan(seed=seed)
        self.idp = IdentityProvider(
            self.state,
            self.faults,
            token_lifetime=token_lifetime,
            device_code_interval=device_code_interval,
        )
        roles = dict(client_roles or {})
        for client_id, secret in (DEFAULT_CLIENTS if clients is None else clients).items():
            self.idp.register_client(client_id, secret=secret, roles=roles.get(client_id))
        for client_id, pem in (client_certs or {}).items():
            self.idp.register_client(client_id, certificate_pem=pem, roles=roles.get(client_id))
        # Deterministic key: paging links survive a restart of an identically seeded sandbox.
        key = hashlib.sha256(f"syncd-sandbox:{tenant}:{seed}".encode()).digest()
        self.services = Services(self.state, self.faults, TokenCodec(key))
        self.subscriptions = SubscriptionManager(
            self.services,
            max_minutes=subscription_max_minutes,
            validation_timeout=validation_timeout,
        )
        self.graph = GraphApi(self.services, self.idp, self.subscriptions, self._log)
        # Exchange Web Services over the same tenant (issue 4): /EWS/Exchange.asmx.
        self.ews = EwsApi(self.state, self.idp, self._log, key=key)
        self.base_url = ""
        self._ca_path: Path | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._own_dir: Path | None = None
        self._log_lock = threading.Lock()

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Bind, issue TLS material, serve in a background thread. Idempotent."""
        if self._server is not None:
            return self
        directory = self.state_dir
        if directory is None:
            directory = self._own_dir = Path(tempfile.mkdtemp(prefix="syncd-sandbox-"))
        tls = issue_server_tls(directory)
        self._ca_path = tls.ca_path
        # cheroot, not werkzeug's development server: werkzeug answers every request with
        # "Connection: close", so each request cost the client a new TCP connection and TLS
        # handshake, which real Graph (HTTP/1.1 keep-alive) does not; that was most of a
        # no-change poll's CPU in bench/service_scale.py. cheroot keeps connections alive
        # over TLS and serves requests from a thread pool.
        server = _Server((self.host, self.port), self._wsgi, numthreads=SERVER_THREADS,
                         request_queue_size=128, timeout=IDLE_TIMEOUT, shutdown_timeout=5)
        server.keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS
        server.ssl_adapter = _ContextTls(tls.context)
        self._server = server
        # (cheroot takes fd 3 instead of binding when LISTEN_PID is set, as under systemd
        # socket activation; nothing here runs the sandbox that way.)
        # prepare() (bind, listen, start the worker threads) runs in the serving thread: the
        # threads cheroot starts inherit its daemon flag, so a sandbox that is never stopped
        # does not keep the interpreter from exiting.
        prepared = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                server.prepare()
            except BaseException as exc:
                failure.append(exc)
                return
            finally:
                prepared.set()
            server.serve()

        self._thread = threading.Thread(target=serve, name="sandbox-http", daemon=True)
        self._thread.start()
        prepared.wait()
        if failure:
            self._thread.join()
            self._server = self._thread = None
            raise failure[0]
        self.port = int(server.bind_addr[1])
        self.base_url = f"https://{self.host}:{self.port}"
        self.services.base_url = self.base_url
        self.idp.base_url = self.base_url
        return self

    def stop(self) -> None:
        """Stop serving and delete the temporary TLS directory (if the sandbox made it)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.subscriptions.stop()
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- addresses -----------------------------------------------------------------------

    @property
    def authority(self) -> str:
        """msal ``authority=`` (use with ``instance_discovery=False``)."""
        return f"{self.base_url}/{self.tenant}"

    @property
    def graph_url(self) -> str:
        """Graph service root, ``https://127.0.0.1:PORT/v1.0/`` (O365 ``protocol.service_url``)."""
        return f"{self.base_url}/v1.0/"

    @property
    def ews_url(self) -> str:
        """EWS service endpoint, ``https://127.0.0.1:PORT/EWS/Exchange.asmx``."""
        return f"{self.base_url}/EWS/Exchange.asmx"

    @property
    def ca_path(self) -> Path:
        """CA bundle to pass as ``verify=``. Raises RuntimeError before `start`."""
        if self._ca_path is None:
            raise RuntimeError("the sandbox is not started")
        return self._ca_path

    # ---- conveniences --------------------------------------------------------------------

    def approve_device(self, user_code: str, user_email: str) -> None:
        """Complete a device-code sign-in as ``user_email`` (what the user does in a browser)."""
        self.idp.approve_device(user_code, user_email)

    def seed_demo(self, company: CompanyLike) -> SeedReport:
        """Load a ``syncd.demo.DemoCompany`` (users in group Sales, mail, calendars, calls)."""
        return seed_demo(self.state, company)

    def seed_mailfiles(self, owner: str, paths: list[Path]) -> int:
        """Seed ``owner``'s inbox from mbox / Maildir / .eml files; returns the count."""
        return seed_mailfiles(self.state, owner, paths)

    def requests(
        self, *, path_contains: str = "", mailbox: str | None = None
    ) -> list[RequestRecord]:
        """Filter `request_log` (tests count requests with it)."""
        with self._log_lock:
            records = list(self.request_log)
        return [
            r
            for r in records
            if path_contains.lower() in r.path.lower() and (mailbox is None or r.mailbox == mailbox)
        ]

    # ---- HTTP ----------------------------------------------------------------------------

    def _log(self, record: RequestRecord) -> None:
        with self._log_lock:
            self.request_log.append(record)
            if len(self.request_log) > self.request_log_limit:
                del self.request_log[: self.request_log_limit // 2]

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        req = ApiRequest(
            method=request.method,
            path=request.path,
            query=dict(request.args.items()),
            headers={key.lower(): value for key, value in request.headers.items()},
            body=request.get_data(),
        )
        path = req.path.rstrip("/")
        if path == "/v1.0" or path.startswith("/v1.0/"):
            response = self.graph.handle(req)
        elif path.lower() == EWS_PATH:
            # NTLM authenticates a connection: the client's address and port name it.
            peer = (environ.get("REMOTE_ADDR"), environ.get("REMOTE_PORT"))
            response = self.ews.handle(req, connection=peer)
        else:
            found = self.idp.handle(req)
            if found is None:
                error = GraphError(
                    404,
                    "NotFound",
                    f"The sandbox does not serve '{req.path}' (Graph is under /v1.0).",
                )
                found = error.to_response(new_request_id(), new_request_id())
            response = found
            client_id = parse_qs(req.body.decode("utf-8", "replace")).get("client_id", [None])[0]
            self._log(
                RequestRecord(time.time(), req.method, req.path, None, response.status, client_id)
            )
        return self._respond(response)(environ, start_response)

    @staticmethod
    def _respond(response: ApiResponse) -> Response:
        headers = list(response.headers)
        content_type = response.content_type()
        if content_type and not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", content_type))
        return Response(response.body_bytes(), status=response.status, headers=headers)


# ---- command line ------------------------------------------------------------------------


def _company(args: argparse.Namespace) -> CompanyLike:
    from syncd.demo import generate

    sizes = {k: getattr(args, k) for k in ("users", "accounts", "messages", "events", "calls")}
    company: CompanyLike = generate(args.seed, **{k: v for k, v in sizes.items() if v is not None})
    return company


def main(argv: list[str] | None = None) -> int:
    """``python -m syncd.sandbox``: run a seeded sandbox until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m syncd.sandbox",
        description="Run the local Microsoft 365 sandbox (identity platform + Graph v1.0 over "
        "HTTPS on loopback), seeded with a demo company, until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--tenant", default="contoso")
    parser.add_argument("--client-id", default="syncd-demo")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument(
        "--state-dir", type=Path, help="where to write sandbox-ca.pem (default: a temp dir)"
    )
    parser.add_argument("--seed", type=int, default=42, help="demo company seed")
    for name in ("users", "accounts", "messages", "events", "calls"):
        parser.add_argument(f"--{name}", type=int, help=f"demo company size: {name}")
    parser.add_argument(
        "--mailfiles",
        action="append",
        default=[],
        metavar="OWNER=PATH",
        help="also seed OWNER's inbox from an mbox/Maildir/.eml path (repeatable)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help='fault to inject, e.g. "429:rate=0.1", "503:next=2", "slow:ms=200", '
        '"ews-busy:next=2,ms=1500" (repeatable)',
    )
    parser.add_argument("--no-seed", action="store_true", help="start with an empty tenant")
    args = parser.parse_args(argv)
    sandbox = Sandbox(
        tenant=args.tenant,
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        clients={args.client_id: args.client_secret},
        seed=args.seed,
    )
    try:
        for spec in args.fault:
            # "ews-..." specs are the EWS endpoint's faults (ews_faults.py), the rest Graph's.
            (sandbox.ews.faults if spec.startswith("ews-") else sandbox.faults).apply(spec)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.no_seed:
        report = sandbox.seed_demo(_company(args))
        print(f"seeded: {report}", file=sys.stderr)
    for item in args.mailfiles:
        owner, _, path = item.partition("=")
        count = sandbox.seed_mailfiles(owner, [Path(path)])
        print(f"seeded {count} messages from {path} into {owner}", file=sys.stderr)
    sandbox.start()
    print(f"base URL:      {sandbox.base_url}")
    print(f"authority:     {sandbox.authority}")
    print(f"graph URL:     {sandbox.graph_url}")
    print(f"EWS endpoint:  {sandbox.ews_url}")
    print(f"client id:     {args.client_id}")
    print(f"client secret: {args.client_secret}")
    print(f"CA bundle:     {sandbox.ca_path}")
    print("(unset REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE, or they override verify=)")
    sys.stdout.flush()
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Both, explicitly: a shell starts background jobs with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        stop.wait()
    finally:
        sandbox.stop()
    return 0
