"""The EWS connector's configuration (secrets already resolved by syncd)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EWS_RESOURCE = "https://outlook.office365.com"  # OAuth scope resource of Exchange Online
AUTH_KINDS = ("oauth2", "ntlm", "basic")


@dataclass(frozen=True)
class EwsSettings:
    """One Exchange connector as configured.

    ``auth="oauth2"``: app-only tokens from msal (client secret or certificate) and
    ExchangeImpersonation of each mailbox (Exchange Online, hybrid). ``"ntlm"``/``"basic"``:
    a service account (``username``/``password``) of an on-premises server, impersonating
    each mailbox when ``impersonation`` is on (the ApplicationImpersonation role), else
    opening them as a delegate.
    """

    name: str
    service_endpoint: str | None = None  # https://mail.example.com/EWS/Exchange.asmx
    autodiscover: bool = False  # find the endpoint from the first mailbox's domain
    auth: str = "oauth2"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_certificate_pem: str | None = None
    authority_host: str = "https://login.microsoftonline.com"
    username: str | None = None
    password: str | None = None
    ca_bundle: Path | None = None
    mailboxes: tuple[str, ...] = ()
    folders: tuple[str, ...] = ("inbox", "sentitems")  # well-known folder names
    calendar: bool = True
    calendar_backfill_days: int = 90
    calendar_horizon_days: int = 180
    impersonation: bool = True
    version: str | None = None  # "Exchange2016"...: skip exchangelib's version probe
    page_size: int = 100  # SyncFolderItems MaxChangesReturned (1..512)
    max_connections_per_mailbox: int = 4
    max_retry_wait: float = 30.0  # ErrorServerBusy back-offs up to this are slept in-thread
    token_cache_path: Path | None = None
