"""A Microsoft identity platform (v2.0) look-alike, enough for the real msal to run real flows.

Served under ``/{tenant}/`` (tenant name or tenant id):

* ``GET  v2.0/.well-known/openid-configuration`` (OpenID Connect metadata document)
* ``POST oauth2/v2.0/token`` grants ``client_credentials`` (client secret, secret via HTTP
  Basic, or a certificate-signed ``client_assertion`` RS256/PS256: "Microsoft identity platform
  application authentication certificate credentials"), device code, ``refresh_token``
* ``POST oauth2/v2.0/devicecode`` ("OAuth 2.0 device authorization grant")
* ``GET  discovery/v2.0/keys`` (empty JWKS: our tokens are opaque)
* ``GET|POST /devicelogin``: a bare form to approve a device code by hand (CLI demos)

Access tokens are opaque random strings remembered with their expiry, audience, app roles
(app-only) or scopes (delegated). Errors use the AAD body: ``error``, ``error_description``,
``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from syncd.sandbox.faults import FaultPlan
from syncd.sandbox.state import SandboxState, User
from syncd.sandbox.wire import ApiRequest, ApiResponse, json_response

GRAPH_RESOURCE = "https://graph.microsoft.com"
RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Application permissions a registered client holds unless told otherwise. The brief's five,
# plus GroupMember.Read.All: listing a group's members needs it (group-list-members docs).
DEFAULT_APP_ROLES = frozenset(
    {
        "Mail.Read",
        "Calendars.Read",
        "CallRecords.Read.All",
        "User.Read.All",
        "Mail.Send",
        "GroupMember.Read.All",
    }
)
# What a delegated ".default" request is granted.
DEFAULT_DELEGATED_SCOPES = frozenset(
    {"User.Read", "User.ReadBasic.All", "Mail.Read", "Calendars.Read", "Mail.Send"}
)


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    client_id: str
    audience: str  # resource, e.g. https://graph.microsoft.com
    roles: frozenset[str]  # application permissions (app-only tokens)
    scopes: frozenset[str]  # delegated permissions, short names ("Mail.Read")
    user: str | None  # signed-in user's email for delegated tokens
    issued_at: float
    expires_at: float

    @property
    def app_only(self) -> bool:
        return self.user is None


@dataclass(frozen=True, slots=True)
class _RefreshToken:
    client_id: str
    user: str
    scope: str
    expires_at: float


@dataclass(slots=True)
class _DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    user: str | None = None
    declined: bool = False


@dataclass(slots=True)
class ClientApp:
    """An app registration: a secret and/or certificates, plus its application permissions."""

    client_id: str
    secret: str | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    roles: set[str] = field(default_factory=lambda: set(DEFAULT_APP_ROLES))


class IdpError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status, self.error, self.code, self.description = status, error, code, description


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _thumbprint_matches(
    header: str | None, cert: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> bool:
    return bool(header) and str(header).rstrip("=") == _b64url(cert.fingerprint(algorithm))


class IdentityProvider:
    """Client registry, token issuance and token validation. Thread-safe."""

    def __init__(
        self,
        state: SandboxState,
        faults: FaultPlan,
        *,
        token_lifetime: int = 3599,
        refresh_lifetime: int = 90 * 86400,
        device_code_interval: int = 5,
    ) -> None:
        self.state = state
        self.faults = faults
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.device_code_interval = device_code_interval
        self.base_url = ""  # set by Sandbox.start() once the port is known
        self.clients: dict[str, ClientApp] = {}
        self._lock = threading.Lock()
        self._tokens: dict[str, AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._devices: dict[str, _DeviceCode] = {}  # device_code -> state
        self._user_codes: dict[str, str] = {}  # user_code -> device_code

    # ---- registry ------------------------------------------------------------------------

    def register_client(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        certificate_pem: str | bytes | None = None,
        roles: Iterable[str] | None = None,
    ) -> ClientApp:
        """Add (or extend) an app registration with a secret and/or a public certificate."""
        with self._lock:
            app = self.clients.setdefault(client_id, ClientApp(client_id))
            if secret is not None:
                app.secret = secret
            if certificate_pem is not None:
                pem = (
                    certificate_pem.encode()
                    if isinstance(certificate_pem, str)
                    else certificate_pem
                )
                app.certificates.append(x509.load_pem_x509_certificate(pem))
            if roles is not None:
                app.roles = set(roles)
            return app

    def set_client_roles(self, client_id: str, roles: Iterable[str]) -> None:
        """Change an app's application permissions. Like Entra ID, this affects tokens issued
        afterwards; existing tokens keep the roles they carry."""
        with self._lock:
            self.clients[client_id].roles = set(roles)

    # ---- validation (used by the Graph side) ---------------------------------------------

    def validate(self, value: str) -> tuple[AccessToken | None, str]:
        """(token, "") when usable, else (None or the token, a Graph error message)."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return None, "IDX14100: JWT is not well formed, there are no dots (.)."
        if time.time() >= token.expires_at or token.issued_at < self.faults.tokens_valid_after:
            return token, "Lifetime validation failed, the token is expired."
        return token, ""

    def expire_all(self) -> None:
        """Make every access token issued so far expired (same as the fault)."""
        self.faults.expire_access_tokens()

    # ---- device code ---------------------------------------------------------------------

    def approve_device(self, user_code: str, user_email: str) -> None:
        """Sign ``user_email`` in for a pending device code (what the user does in a browser).

        Raises: KeyError for an unknown code or user.
        """
        user = self.state.user(user_email)
        if user is None:
            raise KeyError(f"unknown user {user_email!r}")
        with self._lock:
            device = self._devices[self._user_codes[user_code.strip().upper()]]
            device.user = user.email

    def decline_device(self, user_code: str) -> None:
        with self._lock:
            self._devices[self._user_codes[user_code.strip().upper()]].declined = True

    # ---- HTTP ----------------------------------------------------------------------------

    def handle(self, req: ApiRequest) -> ApiResponse | None:
        """Answer an identity-platform request, or None when the path is not ours."""
        parts = [p for p in req.path.split("/") if p]
        if parts == ["devicelogin"]:
            return self._device_login_page(req)
        if len(parts) < 3:
            return None
        tenant, rest = parts[0], "/".join(parts[1:]).lower()
        routes = {
            ("GET", "v2.0/.well-known/openid-configuration"): self._discovery,
            ("POST", "oauth2/v2.0/token"): self._token,
            ("POST", "oauth2/v2.0/devicecode"): self._devicecode,
            ("GET", "discovery/v2.0/keys"): self._keys,
        }
        handler = routes.get((req.method, rest))
        if handler is None:
            if rest in ("oauth2/v2.0/authorize", "oauth2/v2.0/logout"):
                return self._error(
                    IdpError(
                        400,
                        "unsupported_response_type",
                        70000,
                        "The sandbox does not serve interactive sign-in; use the device code flow.",
                    )
                )
            return None
        try:
            if tenant not in (self.state.tenant, self.state.tenant_id):
                raise IdpError(
                    400,
                    "invalid_tenant",
                    90002,
                    f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                    "tenant ID.",
                )
            return handler(req, tenant)
        except IdpError as exc:
            return self._error(exc)

    def _error(self, exc: IdpError) -> ApiResponse:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        body = {
            "error": exc.error,
            "error_description": f"AADSTS{exc.code}: {exc.description} Trace ID: {trace} "
            f"Correlation ID: {correlation} Timestamp: {stamp}",
            "error_codes": [exc.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{self.base_url}/error?code={exc.code}",
        }
        return json_response(body, exc.status, [("Cache-Control", "no-store")])

    def _discovery(self, req: ApiRequest, tenant: str) -> ApiResponse:
        base = f"{self.base_url}/{tenant}"
        return json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.base_url}/{self.state.tenant_id}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": [
                    "sub",
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "oid",
                ],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "sandbox.test",
                "cloud_graph_host_name": "graph.sandbox.test",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    def _keys(self, req: ApiRequest, tenant: str) -> ApiResponse:
        return json_response({"keys": []})

    @staticmethod
    def _form(req: ApiRequest) -> dict[str, str]:
        parsed = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def _client(self, client_id: str) -> ClientApp:
        with self._lock:
            app = self.clients.get(client_id)
        if app is None:
            raise IdpError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.state.tenant}'.",
            )
        return app

    def _authenticate(
        self, req: ApiRequest, form: dict[str, str], tenant: str, *, required: bool
    ) -> ClientApp:
        """Check the client's credential (secret in body or Basic header, or assertion)."""
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = req.header("authorization")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (ValueError, UnicodeError) as exc:
                raise IdpError(
                    401, "invalid_client", 7000216, "Malformed Basic credentials."
                ) from exc
        app = self._client(client_id)
        if form.get("client_assertion"):
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise IdpError(
                    400,
                    "invalid_request",
                    7000219,
                    "'client_assertion_type' is missing or invalid.",
                )
            self._verify_assertion(app, form["client_assertion"], tenant)
        elif secret is not None:
            if app.secret is None or not secrets.compare_digest(secret, app.secret):
                raise IdpError(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    f"is the client secret value, not the client secret ID, for a secret added "
                    f"to app '{client_id}'.",
                )
        elif required:
            raise IdpError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )
        return app

    def _verify_assertion(self, app: ClientApp, assertion: str, tenant: str) -> None:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError as exc:
            raise IdpError(
                401, "invalid_client", 50027, f"JWT token is invalid or malformed: {exc}."
            ) from exc
        algorithm = header.get("alg")
        if algorithm not in ("RS256", "PS256"):
            raise IdpError(
                401,
                "invalid_client",
                5002738,
                f"Unsupported client assertion algorithm {algorithm!r}.",
            )
        candidates = [
            cert
            for cert in app.certificates
            if _thumbprint_matches(header.get("x5t#S256"), cert, hashes.SHA256())
            or _thumbprint_matches(
                header.get("x5t"), cert, hashes.SHA1()
            )  # x5t is SHA-1 by spec (RFC 7515)
        ]
        if not candidates:
            raise IdpError(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. The key was not found on app "
                f"'{app.client_id}'.",
            )
        audiences = [
            f"{self.base_url}/{t}/{suffix}"
            for t in (tenant, self.state.tenant, self.state.tenant_id)
            for suffix in ("oauth2/v2.0/token", "v2.0")
        ]
        try:
            claims = jwt.decode(
                assertion,
                candidates[0].public_key(),  # type: ignore[arg-type]
                algorithms=[algorithm],
                audience=audiences,
                issuer=app.client_id,
                leeway=300,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.InvalidSignatureError as exc:
            raise IdpError(
                401, "invalid_client", 700027, "Client assertion contains an invalid signature."
            ) from exc
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
            raise IdpError(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range.",
            ) from exc
        except jwt.InvalidAudienceError as exc:
            raise IdpError(
                401,
                "invalid_client",
                700016,
                "Client assertion audience claim does not match the token endpoint.",
            ) from exc
        except jwt.PyJWTError as exc:
            raise IdpError(
                401, "invalid_client", 50027, f"Invalid client assertion: {exc}."
            ) from exc
        if claims.get("sub") != app.client_id:
            raise IdpError(
                401, "invalid_client", 700021, "Client assertion subject must be the client id."
            )

    def _token(self, req: ApiRequest, tenant: str) -> ApiResponse:
        form = self._form(req)
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            return self._client_credentials(req, form, tenant)
        if grant == DEVICE_GRANT:
            return self._device_token(req, form, tenant)
        if grant == "refresh_token":
            return self._refresh_token(req, form, tenant)
        raise IdpError(
            400,
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant}'.",
        )

    def _client_credentials(
        self, req: ApiRequest, form: dict[str, str], tenant: str
    ) -> ApiResponse:
        app = self._authenticate(req, form, tenant, required=True)
        scopes = form.get("scope", "").split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise IdpError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {' '.join(scopes)} is not valid. Client "
                "credential flows must have a scope value with /.default suffixed to the "
                "resource identifier.",
            )
        token = self._issue(
            app.client_id,
            scopes[0].removesuffix("/.default"),
            frozenset(app.roles),
            frozenset(),
            None,
        )
        return self._token_response(
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token.value,
            }
        )

    def _issue(
        self,
        client_id: str,
        audience: str,
        roles: frozenset[str],
        scopes: frozenset[str],
        user: str | None,
    ) -> AccessToken:
        now = time.time()
        token = AccessToken(
            "sbx." + secrets.token_urlsafe(32),
            client_id,
            audience,
            roles,
            scopes,
            user,
            now,
            now + self.token_lifetime,
        )
        with self._lock:
            if len(self._tokens) > 50_000:  # keep memory flat in long benchmarks
                self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > now}
            self._tokens[token.value] = token
        return token

    def _devicecode(self, req: ApiRequest, tenant: str) -> ApiResponse:
        form = self._form(req)
        app = self._client(form.get("client_id", ""))
        scope = form.get("scope", "")
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        with self._lock:
            self._devices[device_code] = _DeviceCode(
                device_code, user_code, app.client_id, scope, time.time() + 900
            )
            self._user_codes[user_code] = device_code
        uri = f"{self.base_url}/devicelogin"
        return json_response(
            {
                "user_code": user_code,
                "device_code": device_code,
                "verification_uri": uri,
                "expires_in": 900,
                "interval": self.device_code_interval,
                "message": f"To sign in, use a web browser to open the page {uri} and enter "
                f"the code {user_code} to authenticate.",
            }
        )

    def _device_token(self, req: ApiRequest, form: dict[str, str], tenant: str) -> ApiResponse:
        app = self._authenticate(req, form, tenant, required=False)
        with self._lock:
            device = self._devices.get(form.get("device_code", ""))
            if device is None or device.client_id != app.client_id:
                raise IdpError(400, "invalid_grant", 70000, "The provided device code is invalid.")
            if time.time() >= device.expires_at:
                raise IdpError(400, "expired_token", 70019, "Verification code expired.")
            if device.declined:
                raise IdpError(
                    400, "authorization_declined", 70020, "The user declined the sign-in."
                )
            if device.user is None:
                raise IdpError(
                    400,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                )
            del self._devices[device.device_code]  # a device code is redeemed once
            self._user_codes.pop(device.user_code, None)
        user = self.state.user(device.user)
        assert user is not None
        return self._user_tokens(app.client_id, user, device.scope)

    def _refresh_token(self, req: ApiRequest, form: dict[str, str], tenant: str) -> ApiResponse:
        app = self._authenticate(req, form, tenant, required=False)
        with self._lock:
            grant = self._refresh.get(form.get("refresh_token", ""))
        if grant is None or grant.client_id != app.client_id:
            raise IdpError(
                400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        if time.time() >= grant.expires_at:
            raise IdpError(
                400, "invalid_grant", 700082, "The refresh token has expired due to inactivity."
            )
        user = self.state.user(grant.user)
        if user is None:
            raise IdpError(
                400, "invalid_grant", 50034, "The user account does not exist in the directory."
            )
        return self._user_tokens(app.client_id, user, form.get("scope") or grant.scope)

    def _user_tokens(self, client_id: str, user: User, scope: str) -> ApiResponse:
        requested = scope.split()
        resource = GRAPH_RESOURCE
        short: set[str] = set()
        for item in requested:
            if item in RESERVED_SCOPES:
                continue
            prefix, _, name = item.rpartition("/")
            resource = prefix or resource
            short.update(DEFAULT_DELEGATED_SCOPES if name == ".default" else {name})
        token = self._issue(client_id, resource, frozenset(), frozenset(short), user.email)
        refresh = "sbxr." + secrets.token_urlsafe(40)
        with self._lock:
            self._refresh[refresh] = _RefreshToken(
                client_id, user.email, scope, time.time() + self.refresh_lifetime
            )
        now = int(time.time())
        tid = self.state.tenant_id
        claims = {
            "aud": client_id,
            "iss": f"{self.base_url}/{tid}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "name": user.name,
            "oid": user.id,
            "preferred_username": user.email,
            "sub": _b64url(hashlib.sha256(f"{client_id}:{user.id}".encode()).digest()),
            "tid": tid,
            "ver": "2.0",
        }
        # Unsigned (alg none): msal >= 1.38 decodes the id_token without validating it.
        id_token = ".".join(
            (
                _b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode()),
                _b64url(json.dumps(claims).encode()),
                "",
            )
        )
        return self._token_response(
            {
                "token_type": "Bearer",
                # Echo the granted scopes: without "scope" msal caches the AT with an empty
                # target and redeems the refresh token on every acquire_token_silent.
                "scope": " ".join(requested),
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token.value,
                "refresh_token": refresh,
                "id_token": id_token,
                "client_info": _b64url(json.dumps({"uid": user.id, "utid": tid}).encode()),
            }
        )

    @staticmethod
    def _token_response(body: Mapping[str, object]) -> ApiResponse:
        return json_response(
            dict(body), 200, [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        )

    def _device_login_page(self, req: ApiRequest) -> ApiResponse:
        note = ""
        if req.method == "POST":
            form = self._form(req)
            try:
                self.approve_device(form.get("code", ""), form.get("email", ""))
                note = "<p>Signed in. You can close this window.</p>"
            except KeyError as exc:
                note = f"<p>Could not sign in: {html.escape(str(exc))}</p>"
        page = (
            "<!doctype html><title>Sandbox device login</title><h1>Sign in (sandbox)</h1>"
            f"{note}<form method=post><label>Code <input name=code></label> "
            "<label>User e-mail <input name=email></label> <button>Sign in</button></form>"
        )
        return ApiResponse(200, text=page, headers=[("Content-Type", "text/html; charset=utf-8")])
