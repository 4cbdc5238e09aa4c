"""Who is calling the sandbox's EWS endpoint: a Bearer token from the sandbox IdP (Exchange
Online, hybrid), or an on-premises account over HTTP Basic or NTLM, each scheme switchable per
test (`EwsAuth.require`).

NTLM authenticates the *connection*, not a request ([MS-NTHT], NTLM over HTTP: Negotiate, Challenge,
Authenticate travel over one keep-alive connection, and later requests on it carry no
header at all). IIS answers a request without credentials with ``401`` and one
``WWW-Authenticate`` per enabled scheme; requests_ntlm (exchangelib's NTLM) then runs the
handshake on the same connection. So the acceptor state is kept per connection, which the
HTTP layer names (``connection``: the client's address and port, unique while the connection
lives); a request on another connection starts over, as on IIS. The table is bounded (least
recently used first out): a forgotten connection only authenticates again.

The acceptor is pyspnego's (the NTLM library requests_ntlm itself uses for the client side).
Its only credential source for an acceptor is the file named by ``NTLM_USER_FILE``
(spnego/_ntlm.py ``_get_credential``: ``DOMAIN:USER:PASSWORD`` lines), read when the acceptor
is built and again when it checks the Authenticate message. That variable is set, to a
temporary file of the registered accounts, only around those two calls and under one lock (and
empty, or as it was, the rest of the time), so no password file outlives a handshake.

Extended Protection (on by default since Exchange Server 2019 CU14) binds the NTLM
Authenticate message to the TLS channel: the client puts a hash of the server certificate
(RFC 5929 ``tls-server-end-point``) in it, and the server refuses a binding to another
certificate. `EwsAuth.extended_protection` turns that check on.
"""

from __future__ import annotations

import base64
import hmac
import os
import tempfile
import threading
from collections import Counter, OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from syncd.sandbox.idp import IdentityProvider

SCHEMES = ("Bearer", "Basic", "NTLM")
_NTLM_STORE_LOCK = threading.Lock()
_DENIED = "401 - Unauthorized: Access is denied due to invalid credentials."
MAX_CONNECTIONS = 4096  # NTLM connection states kept


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``user``: the mailbox address of a signed-in user, None for an
    app-only token or a service account (which must impersonate, or name an anchor mailbox)."""

    user: str | None
    client_id: str | None
    app_only: bool
    scheme: str


class Unauthorized(Exception):
    """Answer 401. ``challenge``: an NTLM Challenge message to send instead of the scheme list."""

    def __init__(self, text: str, challenge: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.challenge = challenge


class _Connection:
    __slots__ = ("pending", "principal")

    def __init__(self) -> None:
        self.pending: Any = None  # a pyspnego acceptor between Challenge and Authenticate
        self.principal: Principal | None = None


class EwsAuth:
    """The accepted schemes, the on-premises accounts and the NTLM state of each connection.
    Thread-safe."""

    def __init__(self, idp: IdentityProvider, resource: str) -> None:
        self.idp = idp
        self.resource = resource
        self.schemes: tuple[str, ...] = SCHEMES
        self.accepted: Counter[str] = Counter()  # scheme -> requests let in (tests assert)
        self.ntlm_handshakes = 0
        self._accounts: dict[str, str] = {}  # lower-cased user name -> password
        self._bindings: Any = None  # spnego GssChannelBindings when Extended Protection is on
        self._lock = threading.Lock()
        self._connections: OrderedDict[Hashable, _Connection] = OrderedDict()

    # ---- switches ------------------------------------------------------------------------

    def add_account(self, username: str, password: str) -> None:
        """Accept ``username`` (``DOMAIN\\user`` or a UPN) with ``password`` over Basic and
        NTLM. A UPN that is a mailbox opens that mailbox; any other name is a service account
        that impersonates (the ApplicationImpersonation role).

        Raises: ValueError for a ``:`` or a line break in either (the NTLM account file's
        separators).
        """
        if any(c in text for text in (username, password) for c in ":\r\n"):
            raise ValueError("the sandbox's accounts cannot hold ':' or line breaks")
        with self._lock:
            self._accounts[username.strip().lower()] = password

    def require(self, *schemes: str) -> None:
        """Accept only these schemes (any of Bearer, Basic, NTLM; none given: all three), as an
        on-premises server with only Windows or Basic authentication enabled would.

        Raises: ValueError for an unknown scheme.
        """
        names = (s.strip() for s in schemes)
        wanted = tuple(dict.fromkeys("NTLM" if s.lower() == "ntlm" else s.capitalize()
                                     for s in names)) or SCHEMES
        unknown = [s for s in wanted if s not in SCHEMES]
        if unknown:
            raise ValueError(f"unknown EWS auth scheme(s) {unknown}: use {', '.join(SCHEMES)}")
        with self._lock:
            self.schemes = wanted
            self._connections.clear()

    def reset(self) -> None:
        """All schemes again, no Extended Protection, every NTLM connection forgotten
        (accounts stay)."""
        self.require()
        self.extended_protection(None)

    def extended_protection(self, certificate_der: bytes | None) -> None:
        """Refuse NTLM logins not bound to the TLS channel of this server certificate (DER);
        None turns the check off."""
        bindings = None
        if certificate_der is not None:
            from spnego.channel_bindings import GssChannelBindings

            certificate = x509.load_der_x509_certificate(certificate_der)
            algorithm = certificate.signature_hash_algorithm
            # RFC 5929 4.1: the certificate's own signature hash, SHA-256 for MD5 and SHA-1.
            if algorithm is None or algorithm.name in ("md5", "sha1"):
                algorithm = hashes.SHA256()
            digest = hashes.Hash(algorithm)
            digest.update(certificate_der)
            bindings = GssChannelBindings(
                application_data=b"tls-server-end-point:" + digest.finalize())
        with self._lock:
            self._bindings = bindings
            self._connections.clear()

    def www_authenticate(self) -> list[tuple[str, str]]:
        """The ``WWW-Authenticate`` headers of a plain 401, one per enabled scheme. (IIS with
        Windows authentication offers Negotiate too; it is left out because Kerberos/SPNEGO
        is not served, and requests_ntlm picks NTLM when both are offered anyway.)"""
        values = {"Bearer": 'Bearer realm=""', "Basic": 'Basic realm=""', "NTLM": "NTLM"}
        return [("WWW-Authenticate", values[s]) for s in self.schemes]

    # ---- request path --------------------------------------------------------------------

    def authenticate(self, authorization: str, connection: Hashable | None) -> Principal:
        """The caller of one request. Raises: Unauthorized."""
        scheme, _, value = authorization.strip().partition(" ")
        kind = scheme.lower()
        if kind == "ntlm" and "NTLM" in self.schemes:
            return self._ntlm(value.strip(), connection)
        if kind == "bearer" and value.strip() and "Bearer" in self.schemes:
            return self._count(self._bearer(value.strip()))
        if kind == "basic" and "Basic" in self.schemes:
            return self._count(self._basic(value.strip()))
        if not kind and "NTLM" in self.schemes and connection is not None:
            state = self._state(connection, create=False)
            if state is not None and state.principal is not None:
                return self._count(state.principal)
        raise Unauthorized(_DENIED)

    def _count(self, principal: Principal) -> Principal:
        with self._lock:
            self.accepted[principal.scheme] += 1
        return principal

    def _bearer(self, value: str) -> Principal:
        token, problem = self.idp.validate(value)
        if problem or token is None or token.audience.rstrip("/") != self.resource:
            raise Unauthorized("401 - Unauthorized: " + (problem or "invalid audience"))
        return Principal(token.user, token.client_id, token.app_only, "Bearer")

    def _basic(self, value: str) -> Principal:
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raw = b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # requests encodes Basic credentials in Latin-1
        user, _, password = text.partition(":")
        with self._lock:
            expected = self._accounts.get(user.strip().lower())
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise Unauthorized(_DENIED)
        return _principal(user, "Basic")

    def _state(self, connection: Hashable, *, create: bool) -> _Connection | None:
        with self._lock:
            state = self._connections.get(connection)
            if state is not None:
                self._connections.move_to_end(connection)
            elif create:
                state = self._connections[connection] = _Connection()
                if len(self._connections) > MAX_CONNECTIONS:
                    self._connections.popitem(last=False)
            return state

    def _ntlm(self, value: str, connection: Hashable | None) -> Principal:
        # Imported here: only NTLM needs it (it comes with exchangelib, via requests_ntlm).
        import spnego
        from spnego.exceptions import SpnegoError

        state = self._state(connection, create=True) if connection is not None else None
        if state is None:
            raise Unauthorized("401 - Unauthorized: NTLM needs a persistent connection.")
        try:
            token = base64.b64decode(value, validate=True)
        except ValueError:
            token = b""
        # MS-NLMP 2.2.1: "NTLMSSP\0" then the message type (1 Negotiate, 3 Authenticate).
        kind = int.from_bytes(token[8:12], "little") if token[:8] == b"NTLMSSP\0" else 0
        with self._lock:
            accounts, bindings = dict(self._accounts), self._bindings
        try:
            if kind == 1:
                with _ntlm_store(accounts):
                    acceptor = spnego.server(protocol="ntlm")
                    challenge = acceptor.step(token) or b""
                with self._lock:
                    state.pending, state.principal = acceptor, None
                raise Unauthorized(_DENIED, "NTLM " + base64.b64encode(challenge).decode())
            with self._lock:
                acceptor, state.pending = state.pending, None
            if kind != 3 or acceptor is None:
                raise Unauthorized(_DENIED)
            with _ntlm_store(accounts):
                acceptor.step(token, channel_bindings=bindings)
        except SpnegoError as exc:
            # A wrong password, an unknown user or a foreign channel binding (the acceptor's
            # own words stay here: a server does not tell which).
            raise Unauthorized(_DENIED) from exc
        principal = _principal(str(acceptor.client_principal or ""), "NTLM")
        with self._lock:
            state.principal = principal
            self.ntlm_handshakes += 1
        return self._count(principal)


def _principal(user: str, scheme: str) -> Principal:
    name = user.strip().lower()
    address = name if "@" in name and "\\" not in name else None
    return Principal(address, None, address is None, scheme)


@contextmanager
def _ntlm_store(accounts: Mapping[str, str]) -> Iterator[None]:
    """``NTLM_USER_FILE`` naming a temporary file of ``accounts`` (module docstring)."""
    with _NTLM_STORE_LOCK, tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", prefix="sandbox-ntlm-", suffix=".txt") as store:
        for username, password in accounts.items():
            domain, _, user = username.rpartition("\\")
            store.write(f"{domain}:{user}:{password}\n")
        store.flush()
        before = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = store.name
        try:
            yield
        finally:
            # Restored but never removed: other threads read os.environ on every request
            # (requests looks up proxies there), and a key that vanishes between their
            # snapshot of the keys and the lookup raises KeyError. Empty means "no file".
            os.environ["NTLM_USER_FILE"] = before or ""
