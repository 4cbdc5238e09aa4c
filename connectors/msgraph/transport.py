"""Graph GET requests through O365, with our limits, back-off, token refresh and error mapping.

O365 carries the calls (``Connection.get`` -> ``oauth_request``), set up as M365-NOTES 2.2 says:
an `MSGraphProtocol` subclass whose ``_protocol_url`` is our Graph root, our msal application
injected into ``con._msal_client`` (O365 hard-codes login.microsoftonline.com), ``requests_delay=0``
and ``request_retries=0`` (O365's urllib3 Retry would sleep any Retry-After, unbounded and out of
sight, and does not count against our budget), ``raise_http_errors=False`` (we read the status
ourselves). Each thread gets its own O365 Account (requests sessions are not guaranteed
thread-safe); all of them share the token cache and the per-mailbox limiters.

This module is the one boundary where requests/O365 exceptions and HTTP statuses become the
connector error tree (``Raises`` below).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import requests
import tenacity
from O365 import Account
from O365.connection import Connection, MSGraphProtocol

from connectors.base import (
    AuthError,
    ConnectorError,
    CursorInvalidError,
    StreamGoneError,
    ThrottledError,
    TransientError,
)
from connectors.msgraph.auth import TokenProvider
from connectors.msgraph.clouds import CloudEndpoints
from connectors.msgraph.http import GraphHttpSession
from connectors.msgraph.limits import LimiterRegistry
from connectors.msgraph.settings import GraphSettings
from connectors.msgraph.tokencache import FileTokenCache

log = logging.getLogger(__name__)


class _DropO365HttpErrorLogs(logging.Filter):
    """O365 logs every 4xx at ERROR ("Client Error: ...") even with raise_http_errors off; we
    map and report each status ourselves (a 410 or a 404 probe is routine), so its copy goes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Client Error:", "Server Error:"))


logging.getLogger("O365.connection").addFilter(_DropO365HttpErrorLogs())

DEFAULT_RETRY_AFTER = 2.0  # a 429 without Retry-After (Graph always sends one, in practice)
_RESYNC_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})


@dataclass(frozen=True, slots=True)
class GraphCall:
    """What a request is for: used for limits and for plain-words errors."""

    what: str  # "the inbox of alice@contoso.com"
    limiter: str  # mailbox address, or limits.TENANT
    permission: str  # the application permission it needs, named when Graph says 403
    cursor: bool = False  # following a stored nextLink/deltaLink (a 400 means a bad cursor)


class _Backoff(Exception):
    """A 429/503 with Retry-After: sleep and try again (inside tenacity only)."""

    def __init__(self, status: int, retry_after: float, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.retry_after = retry_after


def consent_fix(permission: str, client_id: str, delegated: bool) -> str:
    """The Entra ID step that grants ``permission`` to the app, in plain words."""
    kind = "Delegated" if delegated else "Application"
    return (
        f"Grant admin consent for {permission} ({kind}) in Entra ID > App registrations > "
        f"{client_id} > API permissions"
    )


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_of(response: requests.Response) -> tuple[str, str]:
    """(code, message) of a Graph error body; ("", first bytes) when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return "", " ".join(response.text[:200].split())
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), " ".join(str(error.get("message") or "").split())
    return "", ""


class _Connection(Connection):  # type: ignore[misc]  # O365 ships no type hints
    """O365 Connection with our session (CA pinned, no urllib3 retry) and no O365 401 dance.

    O365's ``oauth_request`` retries a 401/403 once after a refresh, but only when the cached
    token is past its expiry time and with the token kept in the session header; we send the
    token per request and handle a 401 ourselves (`GraphTransport.get`), so requests go
    straight to ``_internal_request``.
    """

    session_factory: Callable[[], requests.Session] = GraphHttpSession

    def get_session(self, load_token: bool = False) -> requests.Session:
        return self.session_factory()

    def oauth_request(self, url: str, method: str, **kwargs: Any) -> requests.Response:
        session: requests.Session | None = getattr(self, "session", None)
        if session is None:
            session = self.session = self.get_session()
        response: requests.Response = self._internal_request(
            session, url, method, ignore40x=False, **kwargs
        )
        return response


class _Account(Account):  # type: ignore[misc]
    connection_constructor = _Connection


class GraphTransport:
    """GET JSON from Graph for one connector. Thread-safe."""

    def __init__(
        self,
        settings: GraphSettings,
        endpoints: CloudEndpoints,
        auth: TokenProvider,
        cache: FileTokenCache,
        limiters: LimiterRegistry,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.endpoints = endpoints
        self.auth = auth
        self.cache = cache
        self.limiters = limiters
        self._sleep = sleep
        self._local = threading.local()
        self._accounts: list[Any] = []
        self._lock = threading.Lock()
        self._protocol_class = type(
            "SyncdGraphProtocol",
            (MSGraphProtocol,),
            {
                "_protocol_url": endpoints.graph_root,
                "_oauth_scope_prefix": f"{endpoints.resource}/",
            },
        )

    @property
    def graph_url(self) -> str:
        return self.endpoints.graph_url

    # ---- O365 plumbing -------------------------------------------------------------------

    def _connection(self) -> Any:
        account = getattr(self._local, "account", None)
        if account is None:
            delegated = bool(self.settings.delegated_username)
            credentials: Any = (
                (self.settings.client_id,)
                if delegated
                else (self.settings.client_id, "(held by msal)")  # O365 never sees the secret
            )
            account = _Account(
                credentials,
                auth_flow_type="public" if delegated else "credentials",
                tenant_id=self.settings.tenant_id,
                protocol=self._protocol_class(api_version=self.endpoints.api_version),
                main_resource="",
                token_backend=self.cache,
                requests_delay=0,
                request_retries=0,
                raise_http_errors=False,
            )
            ca_bundle = self.settings.ca_bundle
            account.con.session_factory = lambda: GraphHttpSession(ca_bundle)
            # O365 would build its own msal app for login.microsoftonline.com; ours is bound
            # to the configured authority (and is only used through TokenProvider anyway).
            account.con._msal_client = self.auth.msal_app
            self._local.account = account
            with self._lock:
                self._accounts.append(account)
        return account.con

    def close(self) -> None:
        with self._lock:
            accounts, self._accounts = self._accounts, []
        for account in accounts:
            session = getattr(account.con, "session", None)
            if session is not None:
                session.close()
                account.con.session = None
        self._local = threading.local()

    # ---- requests ------------------------------------------------------------------------

    def get(
        self,
        url: str,
        call: GraphCall,
        *,
        params: dict[str, str] | None = None,
        prefer: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """GET ``url`` and return its JSON object.

        429/503 with Retry-After are retried (Retry-After plus jitter) while the total sleep
        stays within ``max_retry_wait``. A 401 drops the cached token and retries once.

        Raises: ThrottledError (back-off budget or request budget spent), CursorInvalidError
        (410, syncStateNotFound/resyncRequired, a refused cursor), AuthError (401 twice, 403),
        StreamGoneError (404), TransientError (network, 5xx, not JSON), ConnectorError (other
        4xx).
        """
        headers = {"Prefer": ", ".join(prefer)} if prefer else {}
        response: requests.Response | None = None
        for attempt in (1, 2):
            token = self.auth.token()
            response = self._get_with_backoff(url, call, params, headers, token)
            if response.status_code != 401 or attempt == 2:
                break
            # Expired or revoked before its time (password reset, key roll, sandbox fault):
            # forget it and ask the identity platform once more.
            log.info("%s: 401 from Graph, getting a new token and retrying once", call.what)
            self.auth.invalidate(token)
        assert response is not None
        if 200 <= response.status_code < 300:
            try:
                # orjson straight from the bytes: a delta page is ~100 KB to MBs of JSON and
                # requests' .json() first decodes it to str (and guesses the charset when the
                # header names none); this was the largest share of a page's client time.
                body = orjson.loads(response.content)
            except ValueError as exc:
                raise TransientError(
                    f"{call.what}: Graph answered with a body that is not JSON"
                ) from exc
            if not isinstance(body, dict):
                raise TransientError(f"{call.what}: Graph answered with unexpected JSON")
            return body
        raise self._error(response, call)

    def post(self, url: str, call: GraphCall, body: dict[str, Any]) -> int:
        """POST a JSON ``body`` (an action such as sendMail); returns the 2xx status.

        Only a 429/503 with Retry-After is retried (Graph has then not acted on the request),
        and a 401 once with a new token; anything else is raised, never retried here, because
        an action is not idempotent.

        Raises: what `get` raises.
        """
        response: requests.Response | None = None
        for attempt in (1, 2):
            token = self.auth.token()
            response = self._get_with_backoff(url, call, None, {}, token, body)
            if response.status_code != 401 or attempt == 2:
                break
            self.auth.invalidate(token)
        assert response is not None
        if 200 <= response.status_code < 300:
            return response.status_code
        raise self._error(response, call)

    def _get_with_backoff(
        self,
        url: str,
        call: GraphCall,
        params: dict[str, str] | None,
        headers: dict[str, str],
        token: str,
        body: dict[str, Any] | None = None,
    ) -> requests.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Backoff),
            wait=self._wait,
            stop=self._stop,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            response: requests.Response = retrying(
                self._attempt,
                url,
                call,
                params,
                {**headers, "Authorization": f"Bearer {token}"},
                body,
            )
        except _Backoff as exc:
            raise ThrottledError(
                f"{call.what}: Graph keeps throttling (HTTP {exc.status}); retry after "
                f"{exc.retry_after:g} s",
                exc.retry_after,
            ) from exc
        return response

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        base = exc.retry_after if isinstance(exc, _Backoff) else DEFAULT_RETRY_AFTER
        return base + random.uniform(0.0, min(1.0, 0.2 * base))  # jitter, not crypto

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        return state.idle_for + state.upcoming_sleep > self.settings.max_retry_wait

    def _attempt(
        self,
        url: str,
        call: GraphCall,
        params: dict[str, str] | None,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
    ) -> requests.Response:
        limiter = self.limiters.get(call.limiter)
        limiter.spend()
        with limiter.slot():
            response = self._send(url, call, params, headers, body)
        if response.status_code in (429, 503):
            wait = _retry_after(response)
            if wait is None and response.status_code == 429:
                wait = DEFAULT_RETRY_AFTER
            if wait is not None:
                code, message = _error_of(response)
                raise _Backoff(response.status_code, wait, f"{code} {message}".strip())
        return response

    def _send(
        self,
        url: str,
        call: GraphCall,
        params: dict[str, str] | None,
        headers: dict[str, str],
        body: dict[str, Any] | None = None,
    ) -> requests.Response:
        """One HTTP request through O365 (a POST of JSON when ``body`` is given); transport
        exceptions become TransientError."""
        try:
            response: requests.Response
            if body is None:
                response = self._connection().get(url, params=params, headers=dict(headers))
            else:
                response = self._connection().post(url, data=body, headers=dict(headers))
            return response
        except requests.exceptions.SSLError as exc:
            raise TransientError(
                f"{call.what}: TLS verification of {self.graph_url} failed (check ca_bundle): "
                f"{str(exc)[:160]}"
            ) from exc
        except requests.RequestException as exc:
            raise TransientError(f"{call.what}: cannot reach Graph: {str(exc)[:200]}") from exc
        except ConnectorError:
            raise
        except Exception as exc:  # O365 raises RuntimeError/ValueError for its own states
            raise TransientError(f"{call.what}: request failed: {exc!r}"[:300]) from exc

    def _error(self, response: requests.Response, call: GraphCall) -> ConnectorError:
        status = response.status_code
        code, message = _error_of(response)
        detail = f"{code}: {message}" if code else message or f"HTTP {status}"
        if status == 410 or code.lower() in _RESYNC_CODES:
            return CursorInvalidError(f"{call.what}: Graph asks for a full resync ({detail})")
        if status == 400 and call.cursor:
            return CursorInvalidError(f"{call.what}: Graph refused the stored cursor ({detail})")
        delegated = bool(self.settings.delegated_username)
        if status == 401:
            return AuthError(
                f"{call.what}: Graph refused a freshly issued token ({detail}). Check that app "
                f"{self.settings.client_id} belongs to tenant {self.settings.tenant_id!r} and "
                "that graph_url matches the cloud of the token"
            )
        if status == 403:
            scope = (
                " (a delegated sign-in can only read its own mailbox)"
                if delegated
                else (
                    "; if it is granted, an Exchange application access policy may exclude this "
                    "mailbox"
                    if call.limiter.find("@") > 0
                    else ""
                )
            )
            return AuthError(
                f"{call.what}: access denied ({detail}). The app lacks {call.permission}. "
                f"{consent_fix(call.permission, self.settings.client_id, delegated)}{scope}"
            )
        if status == 404:
            return StreamGoneError(f"{call.what}: not found ({detail})")
        if status == 429:
            return ThrottledError(f"{call.what}: throttled ({detail})", DEFAULT_RETRY_AFTER)
        if status >= 500:
            return TransientError(f"{call.what}: Graph failed with HTTP {status} ({detail})")
        return ConnectorError(f"{call.what}: Graph answered HTTP {status} ({detail})")
