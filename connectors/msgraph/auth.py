"""Tokens: msal app-only (client secret or certificate) and delegated (device code) tokens.

msal owns every token; O365 and our Graph calls only read them. The msal applications are built
lazily (msal fetches the OpenID configuration in its constructor, and building a connector must
not do network I/O), with ``instance_discovery=False`` (no call to login.microsoftonline.com for
a custom authority, M365-NOTES 1.4) and our `GraphHttpSession` as ``http_client`` (so the
configured CA bundle really applies, M365-NOTES 0.1).

Every msal/requests exception and every identity-platform error is translated here, once, into
the connector error tree (``AuthError`` names the setting to fix).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from connectors.base import AuthError, ConnectorError, ThrottledError, TransientError
from connectors.msgraph.clouds import CloudEndpoints
from connectors.msgraph.http import GraphHttpSession
from connectors.msgraph.settings import GraphSettings
from connectors.msgraph.tokencache import FileTokenCache

log = logging.getLogger(__name__)

# Delegated permissions a device-code sign-in asks for (short names; the resource is prefixed).
DELEGATED_SCOPES = ("Mail.Read", "Calendars.Read", "User.Read")
_TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error", "service_unavailable"}


def _first_line(text: object, limit: int = 300) -> str:
    """The AADSTS sentence of an error description, without trace/correlation ids."""
    value = " ".join(str(text or "").split())
    for marker in (" Trace ID:", " Trace ID :"):
        value = value.split(marker, 1)[0]
    return value[:limit]


def certificate_credential(pem: str) -> tuple[dict[str, str], str]:
    """msal's ``client_credential`` for a PEM holding a private key and its certificate, and
    the certificate's SHA-1 thumbprint (hex, as Entra ID lists it) for messages.

    We pass ``public_certificate`` rather than a ``thumbprint``: msal then signs the client
    assertion with PS256 and an ``x5t#S256`` header (SHA-256 thumbprint, which it computes
    from the certificate), instead of the deprecated SHA-1/RS256 form.

    Raises: AuthError when the PEM lacks a usable key or certificate, or they do not match.
    """
    data = pem.encode("utf-8")
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise AuthError(
            "client_certificate_pem holds no readable PEM certificate "
            "('-----BEGIN CERTIFICATE-----'): put the certificate after the private key"
        ) from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AuthError(
            "client_certificate_pem holds no readable, unencrypted PEM private key "
            f"({_first_line(exc, 120)})"
        ) from exc
    public = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if (
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        != public
    ):
        raise AuthError("client_certificate_pem: the private key does not match the certificate")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()  # an id, not a security use
    return {"private_key": key_pem, "public_certificate": cert_pem}, thumbprint


class TokenProvider:
    """Hands out Graph access tokens for one connector. Thread-safe."""

    def __init__(
        self,
        settings: GraphSettings,
        endpoints: CloudEndpoints,
        cache: FileTokenCache,
        http: GraphHttpSession,
    ) -> None:
        self.settings = settings
        self.endpoints = endpoints
        self.cache = cache
        self.http = http
        self.authority = f"{endpoints.authority_host}/{settings.tenant_id}"
        self.thumbprint: str | None = None
        self._credential: str | dict[str, str] | None = None
        self._confidential: msal.ConfidentialClientApplication | None = None
        self._public: msal.PublicClientApplication | None = None
        self._lock = threading.RLock()

    # ---- public --------------------------------------------------------------------------

    @property
    def delegated(self) -> bool:
        return bool(self.settings.delegated_username)

    @property
    def msal_app(self) -> msal.ClientApplication | None:
        """The msal application built so far (None before the first token)."""
        return self._public if self.delegated else self._confidential

    @property
    def app_scopes(self) -> list[str]:
        return [f"{self.endpoints.resource}/.default"]

    @property
    def delegated_scopes(self) -> list[str]:
        return [f"{self.endpoints.resource}/{name}" for name in DELEGATED_SCOPES]

    def token(self) -> str:
        """A valid access token (msal serves it from the cache until 5 minutes before expiry).

        Raises: AuthError (credentials, consent, no sign-in), TransientError (network).
        """
        with self._lock:
            if self.delegated:
                result = self._delegated_silent()
            else:
                app = self._confidential_app()
                result = self._call(lambda: app.acquire_token_for_client(scopes=self.app_scopes))
            self._save()
        return self._access_token(result)

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached access token ``token`` (None: all of ours) so that the next `token`
        goes to the identity platform. A refresh token, if any, is kept."""
        with self._lock:
            entries = list(
                self.cache.search(
                    msal.TokenCache.CredentialType.ACCESS_TOKEN,
                    query={"client_id": self.settings.client_id},
                )
            )
            for entry in entries:
                if token is None or entry.get("secret") == token:
                    self.cache.remove_at(entry)
            self._save()

    def device_login(self, show: Callable[[str], None]) -> str:
        """Delegated sign-in with the device-code flow; returns the signed-in username.

        ``show`` receives the message to display ("open https://... and enter the code ...").
        Blocks until the user signs in, declines, or the code expires. The tokens go to the
        same persisted cache; later runs use them silently (refreshing with the refresh token).

        Raises: AuthError (declined, expired, refused), TransientError (network).
        """
        app = self._public_app()
        flow = self._call(lambda: app.initiate_device_flow(scopes=self.delegated_scopes))
        if "user_code" not in flow:
            raise self._auth_error(flow, "starting the device sign-in")
        show(str(flow.get("message") or f"Enter the code {flow['user_code']}"))
        result = self._call(lambda: app.acquire_token_by_device_flow(flow))
        with self._lock:
            self._save()
        self._access_token(result, doing="completing the device sign-in")
        claims = result.get("id_token_claims") or {}
        username = claims.get("preferred_username") or claims.get("upn") or claims.get("email")
        if not username:
            accounts = app.get_accounts()
            username = accounts[0].get("username") if accounts else None
        if not username:
            raise AuthError("the device sign-in succeeded but returned no username")
        return str(username)

    def close(self) -> None:
        with self._lock:
            self._save()

    # ---- msal applications ---------------------------------------------------------------

    def _client_credential(self) -> str | dict[str, str]:
        if self._credential is None:
            settings = self.settings
            if settings.client_certificate_pem:
                credential, thumbprint = certificate_credential(settings.client_certificate_pem)
                self._credential, self.thumbprint = credential, thumbprint
            elif settings.client_secret:
                self._credential = settings.client_secret
            else:
                raise AuthError(
                    f"connector {settings.name!r} has no client_secret or client_certificate_pem:"
                    " set one (app-only access), or set delegated_username and run "
                    "`syncd connector login`"
                )
        return self._credential

    def _confidential_app(self) -> msal.ConfidentialClientApplication:
        if self._confidential is None:
            credential = self._client_credential()
            self._confidential = self._call(
                lambda: msal.ConfidentialClientApplication(
                    self.settings.client_id,
                    client_credential=credential,
                    authority=self.authority,
                    instance_discovery=False,
                    token_cache=self.cache,
                    http_client=self.http,
                )
            )
        return self._confidential

    def _public_app(self) -> msal.PublicClientApplication:
        with self._lock:
            if self._public is None:
                self._public = self._call(
                    lambda: msal.PublicClientApplication(
                        self.settings.client_id,
                        authority=self.authority,
                        instance_discovery=False,
                        token_cache=self.cache,
                        http_client=self.http,
                    )
                )
            return self._public

    def _delegated_silent(self) -> dict[str, Any]:
        app = self._public_app()
        username = str(self.settings.delegated_username)
        accounts = self._call(lambda: app.get_accounts(username=username))
        if not accounts:
            raise AuthError(
                f"no delegated sign-in for {username} in the token cache: run "
                f"`syncd connector login {self.settings.name}` and sign in as {username}"
            )
        result = self._call(
            lambda: app.acquire_token_silent_with_error(self.delegated_scopes, account=accounts[0])
        )
        if result is None:
            raise AuthError(
                f"the sign-in of {username} has expired or was revoked: run "
                f"`syncd connector login {self.settings.name}` again"
            )
        return dict(result)

    # ---- translation ---------------------------------------------------------------------

    def _save(self) -> None:
        try:
            self.cache.save_token()
        except OSError as exc:
            # Tokens still work from memory; the next start fetches new ones.
            log.warning("cannot write the token cache %s: %s", self.cache.path, exc)

    def _call(self, action: Callable[[], Any]) -> Any:
        """Run one msal operation; network and msal exceptions become ConnectorErrors."""
        try:
            return action()
        except ConnectorError:
            raise
        except requests.exceptions.SSLError as exc:
            raise TransientError(
                f"TLS verification of the identity platform at {self.authority} failed: "
                f"{_first_line(exc, 160)} (check ca_bundle)"
            ) from exc
        except requests.RequestException as exc:
            raise TransientError(
                f"cannot reach the identity platform at {self.authority}: {_first_line(exc, 160)}"
            ) from exc
        except ValueError as exc:
            # msal: discovery failed (unknown tenant, wrong authority host) or a bad credential.
            text = _first_line(exc)
            if "authority" in text.lower() or "discovery" in text.lower():
                raise AuthError(
                    f"the identity platform does not know tenant {self.settings.tenant_id!r} at "
                    f"{self.endpoints.authority_host}: check tenant_id (the directory id or a "
                    "verified domain) and cloud/authority_host"
                ) from exc
            raise AuthError(f"msal refused the configuration: {text}") from exc
        except Exception as exc:  # msal raises RuntimeError and others from deep inside
            raise TransientError(f"token acquisition failed: {_first_line(exc)}") from exc

    def _access_token(self, result: Any, doing: str = "getting an app-only token") -> str:
        if isinstance(result, dict) and result.get("access_token"):
            return str(result["access_token"])
        raise self._auth_error(result if isinstance(result, dict) else {}, doing)

    def _auth_error(self, result: dict[str, Any], doing: str) -> ConnectorError:
        error = str(result.get("error") or "unknown_error")
        text = _first_line(result.get("error_description")) or error
        cid, name = self.settings.client_id, self.settings.name
        if error == "invalid_client":
            what = (
                f"the certificate (thumbprint {self.thumbprint})"
                if self.thumbprint
                else "client_secret"
            )
            return AuthError(
                f"the identity platform rejected {what} of app {cid} while {doing} ({text}). "
                f"Fix: set a current secret *value* (not its id) or certificate for connector "
                f"{name!r}; see Entra ID > App registrations > {cid} > Certificates & secrets"
            )
        if error == "unauthorized_client":
            return AuthError(
                f"app {cid} is not registered in tenant {self.settings.tenant_id!r} ({text}). "
                "Fix: check client_id and tenant_id (Entra ID > App registrations > Overview)"
            )
        if error in ("invalid_tenant", "invalid_request") and "tenant" in text.lower():
            return AuthError(f"tenant_id {self.settings.tenant_id!r} is not valid ({text})")
        if error == "invalid_scope":
            return AuthError(
                f"the scope {self.app_scopes[0]} was refused ({text}): check cloud / graph_url"
            )
        if error in ("authorization_declined", "expired_token", "bad_verification_code"):
            return AuthError(f"the device sign-in did not complete ({error}): {text}")
        if error == "invalid_grant":
            return AuthError(
                f"the delegated sign-in is no longer valid ({text}): run "
                f"`syncd connector login {name}` again"
            )
        if error in _TRANSIENT_ERRORS:
            return TransientError(f"the identity platform is unavailable ({error}): {text}")
        if "retry" in text.lower() and "after" in text.lower():
            return ThrottledError(f"the identity platform throttled us: {text}", 60.0)
        return AuthError(f"{doing} failed for app {cid}: {error}: {text}")
