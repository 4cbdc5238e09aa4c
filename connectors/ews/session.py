"""exchangelib behind our boundary: credentials, one Account (and Protocol) per mailbox, TLS
trust, and the one place where exchangelib's exceptions become ConnectorErrors.

Why one exchangelib Protocol per mailbox: exchangelib caches a Protocol per (endpoint,
credentials) and keeps its session pool and back-off there. Shared by every mailbox, one
mailbox's ErrorServerBusy would shrink the pool (and, under FaultTolerance, set a back-off)
for all of them. Our credentials carry the mailbox they serve, which makes the cache key
per mailbox: throttling stays with the throttled mailbox (DESIGN contract 4). They carry the
connector and its auth kind too: the cache key has no auth type, so two connectors with the
same account (one NTLM, one Basic; or two names) would otherwise share the first one's
Protocol, its auth type, limits and sessions, and closing one would close the other's.
Retries are ours (FailFast in exchangelib), so a wait is visible and bounded per mailbox.

Tokens (OAuth2): msal owns them (M365-NOTES 3.1, pitfall 0.5). exchangelib's own
client-credentials class fetches from the hard-coded login.microsoftonline.com and drops its
token on every session close; the authorization-code subclass below only ever asks msal.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from exchangelib import (
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    FailFast,
    Identity,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.credentials import OAuth2AuthorizationCodeCredentials
from exchangelib.protocol import BaseProtocol, Protocol
from exchangelib.transport import BASIC
from requests.adapters import HTTPAdapter

from connectors.base import (
    AuthError,
    ConnectorError,
    CursorInvalidError,
    StreamGoneError,
    ThrottledError,
    TransientError,
)
from connectors.ews.settings import EwsSettings

log = logging.getLogger(__name__)

DEFAULT_BACK_OFF = 60.0  # seconds, when ErrorServerBusy names none (exchangelib's default too)
# API version names exchangelib knows -> a build of that version (Version needs one).
_BUILDS = {
    "Exchange2013": Build(15, 0),
    "Exchange2013_SP1": Build(15, 0, 847),
    "Exchange2016": Build(15, 1),
    "Exchange2019": Build(15, 2),
    "Exchange_O365": Build(15, 20),
}


# ---- TLS -----------------------------------------------------------------------------------

_CA_LOCK = threading.Lock()
_CA_BY_ENDPOINT: dict[str, str] = {}
READ_CHUNK = 65536


class _LargeChunks(requests.Response):
    """exchangelib parses every answer from ``response.iter_content()``, whose default chunk is
    ONE byte: on an already-read body that is one Python call per byte (measured: 80 % of an
    EWS sync's time went to requests' iter_slices for 8 MB of XML). Its reader
    (util.BytesGeneratorIO) accepts chunks of any size, so the default becomes 64 KiB."""

    def iter_content(self, chunk_size: int | None = 1,
                     decode_unicode: bool = False) -> Iterator[Any]:
        if chunk_size == 1:
            chunk_size = READ_CHUNK
        return super().iter_content(chunk_size, decode_unicode)


class _EwsAdapter(HTTPAdapter):
    """The adapter exchangelib mounts (``BaseProtocol.HTTP_ADAPTER_CLS``; it offers no
    per-endpoint ``verify``): verifies a configured endpoint against its ``ca_bundle``
    (whatever REQUESTS_CA_BUNDLE says, pitfall 0.1), leaves every other URL to requests'
    defaults, and hands back `_LargeChunks` responses."""

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        url = request.url or ""
        with _CA_LOCK:
            found = next((ca for prefix, ca in _CA_BY_ENDPOINT.items() if url.startswith(prefix)),
                         None)
        if found is not None:
            kwargs["verify"] = found
        return super().send(request, *args, **kwargs)

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        response.__class__ = _LargeChunks
        return response


def install_adapter() -> None:
    """Make exchangelib use `_EwsAdapter` (process-wide: its adapter class is global), and
    keep credentials out of its logs."""
    if BaseProtocol.HTTP_ADAPTER_CLS is not _EwsAdapter:
        BaseProtocol.HTTP_ADAPTER_CLS = _EwsAdapter
    install_log_redaction()


# ---- logs ----------------------------------------------------------------------------------

# At DEBUG, exchangelib logs every request's headers (util.post_ratelimited), Basic
# credentials and NTLM/Bearer tokens included, and requests-oauthlib logs the token it adds
# ("Adding token {...}"). Secrets never sit in the logs (DESIGN contract 6): these loggers'
# records are redacted before any handler sees them.
REDACTED_LOGGERS = ("exchangelib.util", "requests_oauthlib.oauth2_session")
_SECRETS = re.compile(
    r"""(?P<header>['"]?(?:proxy-)?authorization['"]?\s*[:=]\s*['"]?)(?P<scheme>[A-Za-z]+)\s+"""
    r"""[^'"\s,}]+"""
    r"""|(?P<field>['"](?:access_token|refresh_token|id_token)['"]\s*:\s*['"])[^'"]+""",
    re.IGNORECASE)


def _redact(match: re.Match[str]) -> str:
    if match.group("header") is not None:
        return f"{match.group('header')}{match.group('scheme')} [redacted]"
    return f"{match.group('field')}[redacted]"


class RedactCredentials(logging.Filter):
    """Replaces Authorization header values and OAuth token fields in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        redacted = _SECRETS.sub(_redact, message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction() -> None:
    """Idempotent: one `RedactCredentials` on each of `REDACTED_LOGGERS`."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactCredentials) for f in logger.filters):
            logger.addFilter(RedactCredentials())


def trust(endpoint: str, ca_bundle: str) -> None:
    """Verify ``endpoint`` with ``ca_bundle``."""
    with _CA_LOCK:
        _CA_BY_ENDPOINT[endpoint] = ca_bundle
    install_adapter()


# ---- credentials ---------------------------------------------------------------------------


class MsalCredentials(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]
    """OAuth2 for exchangelib with msal as the only token source. ``anchor`` (the mailbox)
    takes part in exchangelib's equality and hash, hence in its Protocol cache key."""

    def __init__(self, fetch: Callable[[], str], anchor: str, lifetime: float = 3000.0,
                 connector_key: str = "") -> None:
        self._fetch = fetch
        self._lifetime = lifetime
        self.anchor = anchor
        self.connector_key = connector_key  # part of the Protocol cache key (module doc)
        # identity: exchangelib adds ExchangeImpersonation to protocol-level services
        # (ResolveNames) from it, which app-only tokens need on Exchange Online.
        super().__init__(access_token=self._token(),
                         identity=Identity(primary_smtp_address=anchor))

    def _token(self) -> dict[str, Any]:
        # msal serves its cached token until 5 minutes before expiry; telling exchangelib a
        # shorter life than the real one only means asking msal (not the IdP) more often.
        return {"access_token": self._fetch(), "token_type": "Bearer",
                "expires_at": time.time() + self._lifetime}

    def refresh(self, session: Any) -> None:  # exchangelib: on TokenExpiredError
        self.access_token = self._token()


class AnchoredCredentials(Credentials):  # type: ignore[misc]
    """Username/password (NTLM or Basic) with the mailbox as part of the Protocol key."""

    def __init__(self, username: str, password: str, anchor: str, connector_key: str = "") -> None:
        super().__init__(username=username, password=password)
        self.anchor = anchor
        self.connector_key = connector_key  # part of the Protocol cache key (module doc)


# ---- accounts ------------------------------------------------------------------------------


class AccountPool:
    """One exchangelib Account per mailbox, created on first use and kept for the process."""

    def __init__(self, settings: EwsSettings, token: Callable[[], str] | None) -> None:
        self.settings = settings
        self._token = token
        self._accounts: dict[str, Account] = {}
        self._version: Version | None = _configured_version(settings.version)
        self._endpoint: str | None = settings.service_endpoint
        self._lock = threading.Lock()
        self.who = describe(settings)
        install_adapter()
        if settings.ca_bundle is not None and self._endpoint:
            trust(self._endpoint, str(settings.ca_bundle))

    def account(self, address: str) -> Account:
        """Raises: ConnectorError (translated)."""
        with self._lock:
            found = self._accounts.get(address)
        if found is not None:
            return found
        with translate(f"{self.who}: opening the mailbox {address}"):
            account = self._open(address)
        with self._lock:
            return self._accounts.setdefault(address, account)

    def _credentials(self, address: str) -> Any:
        s = self.settings
        if s.auth == "oauth2":
            if self._token is None:
                raise AuthError(f"connector {s.name!r}: OAuth2 needs client_id and a secret")
            return MsalCredentials(self._token, address, connector_key=f"{s.name}|{s.auth}")
        if not s.username or s.password is None:
            raise AuthError(f"connector {s.name!r}: {s.auth} needs username and password")
        return AnchoredCredentials(s.username, s.password, address,
                                   connector_key=f"{s.name}|{s.auth}")

    def _open(self, address: str) -> Account:
        s = self.settings
        credentials = self._credentials(address)
        auth_type = {"oauth2": OAUTH2, "ntlm": NTLM, "basic": BASIC}[s.auth]
        access = IMPERSONATION if s.impersonation or s.auth == "oauth2" else DELEGATE
        if self._endpoint is None:
            # Autodiscover (real deployments only: it needs the mail domain's DNS names).
            account = Account(address, credentials=credentials, autodiscover=True,
                              access_type=access)
            self._endpoint = account.protocol.service_endpoint
            return account
        config = Configuration(
            service_endpoint=self._endpoint, credentials=credentials, auth_type=auth_type,
            version=self._version, retry_policy=FailFast(),
            max_connections=s.max_connections_per_mailbox)
        account = Account(address, config=config, autodiscover=False, access_type=access)
        if self._version is None:
            # The first mailbox pays exchangelib's ConvertId version probe; the others reuse it.
            self._version = account.version
        return account

    def refresh(self, address: str) -> None:
        """A new token for the mailbox's credentials, and fresh sessions that carry it."""
        with self._lock:
            account = self._accounts.get(address)
        if account is None:
            return
        with translate(f"refreshing the token for {address}"):
            account.protocol.credentials.refresh(None)
            account.protocol.close()

    def close(self) -> None:
        with self._lock:
            accounts = list(self._accounts.values())
            self._accounts.clear()
        for account in accounts:
            protocol = account.protocol
            try:
                protocol.close()
            except Exception as exc:  # closing must not fail a shutdown
                log.debug("closing the EWS protocol failed: %s", exc)
            with Protocol._protocol_cache_lock:
                Protocol._protocol_cache.pop((protocol.service_endpoint, protocol.credentials),
                                             None)


def describe(settings: EwsSettings) -> str:
    """The connector and whose credentials it uses, for error messages: the account name is
    what an admin needs to fix a refused login, the secret never appears."""
    if settings.auth == "oauth2":
        return f"connector {settings.name!r} (OAuth2 app {settings.client_id})"
    return f"connector {settings.name!r} ({settings.auth.upper()} as {settings.username})"


def named(exc: AuthError, what: str, who: str) -> AuthError:
    """``exc`` with ``what`` (connector, folder, mailbox) in front unless it already starts
    with ``who`` (the connector, session.describe: such messages name their mailbox): a
    refused login may surface in a ResolveNames call that names only a legacy DN."""
    if who and str(exc).startswith(who):
        return exc
    return AuthError(f"{what}: {exc}")


def _configured_version(name: str | None) -> Version | None:
    if not name:
        return None
    build = _BUILDS.get(name)
    if build is None:
        raise ValueError(f"unknown EWS version {name!r}: use one of {', '.join(_BUILDS)}")
    return Version(build=build, api_version=name)


# ---- errors --------------------------------------------------------------------------------

_GONE = (ews_errors.ErrorFolderNotFound, ews_errors.ErrorNonExistentMailbox)
_AUTH = (ews_errors.UnauthorizedError, ews_errors.ErrorAccessDenied,
         ews_errors.ErrorImpersonateUserDenied, ews_errors.ErrorImpersonationDenied)


@contextmanager
def translate(what: str) -> Iterator[None]:
    """exchangelib, requests and oauthlib exceptions -> the ConnectorError tree (base.py)."""
    try:
        yield
    except ConnectorError:
        raise
    except ews_errors.ErrorServerBusy as exc:
        if "HTTP 401" in str(exc):
            # exchangelib retries a 401 as a token refresh, then reports a persistent one as
            # ErrorServerBusy("Caused by HTTP 401 response"): it is a refused credential.
            raise AuthError(f"{what}: the server refused the credentials (HTTP 401 Unauthorized)"
                            ) from exc
        back_off = float(exc.back_off or DEFAULT_BACK_OFF)
        raise ThrottledError(f"{what}: the server is busy (ErrorServerBusy, back off "
                             f"{back_off:g} s)", back_off) from exc
    except ews_errors.RateLimitError as exc:
        raise ThrottledError(f"{what}: {exc}", float(getattr(exc, "wait", DEFAULT_BACK_OFF))
                             ) from exc
    except ews_errors.ErrorInvalidSyncStateData as exc:
        raise CursorInvalidError(f"{what}: the server rejected the SyncState "
                                 "(ErrorInvalidSyncStateData)") from exc
    except _GONE as exc:
        raise StreamGoneError(f"{what}: {type(exc).__name__}: {exc}") from exc
    except ews_errors.UnauthorizedError as exc:
        # FailFast's reading of a 401 (NTLM/Basic: a wrong password, a locked or unknown
        # account); its text names the endpoint, not the credentials.
        raise AuthError(f"{what}: the server refused the credentials ({exc})") from exc
    except _AUTH as exc:
        raise AuthError(f"{what}: {type(exc).__name__}: {exc} (check the credentials and the "
                        "ApplicationImpersonation role / full_access_as_app permission)") from exc
    except (ews_errors.EWSError, requests.RequestException) as exc:
        raise TransientError(f"{what}: {type(exc).__name__}: {str(exc)[:300]}") from exc
    except Exception as exc:
        # oauthlib's InsecureTransportError and friends; never let a third-party type escape.
        if type(exc).__module__.startswith(("oauthlib", "requests_oauthlib")):
            raise AuthError(f"{what}: {type(exc).__name__}: {exc}") from exc
        raise
