"""`EwsConnector`: the same surface as `GraphConnector` (list_mailboxes, mailbox_streams,
tenant_streams, check, close), so the sync loop drives either without knowing which."""

from __future__ import annotations

import logging
import operator
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.base import AuthError, ConnectorError, Stream
from connectors.ews.calendar import EwsCalendarStream
from connectors.ews.mail import EwsMailStream
from connectors.ews.resolve import LegacyDnResolver
from connectors.ews.session import AccountPool, translate
from connectors.ews.settings import AUTH_KINDS, EWS_RESOURCE, EwsSettings
from connectors.msgraph.auth import TokenProvider
from connectors.msgraph.clouds import CloudEndpoints
from connectors.msgraph.http import GraphHttpSession
from connectors.msgraph.settings import CheckReport, GraphSettings, MailboxInfo
from connectors.msgraph.tokencache import FileTokenCache
from connectors.normalize import normalize_address

log = logging.getLogger(__name__)

# Well-known mail folder name -> exchangelib Account attribute (a DistinguishedFolderId).
FOLDER_ATTRIBUTES = {
    "inbox": "inbox",
    "sentitems": "sent",
    "deleteditems": "trash",
    "junkemail": "junk",
    "archive": "archive_inbox",
    "outbox": "outbox",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EwsConnector:
    """The Exchange Web Services connector for one Exchange organisation.

    Building it does no network I/O. One instance per process: the legacy DN cache and the
    per-mailbox exchangelib accounts (sessions, back-off) live in it and are shared by the
    streams it hands out, across threads.
    """

    def __init__(self, settings: EwsSettings, *, now: Callable[[], datetime] = _utc_now) -> None:
        """Raises: ValueError for an unusable configuration."""
        if settings.auth not in AUTH_KINDS:
            raise ValueError(f"auth must be one of {', '.join(AUTH_KINDS)}")
        if not settings.service_endpoint and not settings.autodiscover:
            raise ValueError("set service_endpoint, or autodiscover = true")
        unknown = [f for f in settings.folders if f.lower() not in FOLDER_ATTRIBUTES]
        if unknown:
            raise ValueError(f"folders {unknown} are not well-known EWS folders: use "
                             f"{', '.join(FOLDER_ATTRIBUTES)}")
        if settings.page_size < 1 or settings.max_connections_per_mailbox < 1:
            raise ValueError("page_size and max_connections_per_mailbox must be at least 1")
        self.settings = settings
        self._now = now
        self.resolver = LegacyDnResolver()
        self.problems: list[str] = []
        self._http: GraphHttpSession | None = None
        self.auth: TokenProvider | None = None
        token: Callable[[], str] | None = None
        if settings.auth == "oauth2":
            if not settings.tenant_id or not settings.client_id:
                raise ValueError("auth 'oauth2' needs tenant_id and client_id")
            self._http = GraphHttpSession(settings.ca_bundle)
            # msal through the Graph connector's token provider (same cache file handling,
            # certificate credentials and error translation), asking for the EWS resource.
            endpoints = CloudEndpoints(settings.authority_host.rstrip("/"), "", EWS_RESOURCE)
            graph_like = GraphSettings(
                name=settings.name, tenant_id=settings.tenant_id, client_id=settings.client_id,
                client_secret=settings.client_secret,
                client_certificate_pem=settings.client_certificate_pem,
                ca_bundle=settings.ca_bundle, token_cache_path=settings.token_cache_path)
            self.auth = TokenProvider(graph_like, endpoints,
                                      FileTokenCache(settings.token_cache_path), self._http)
            token = self.auth.token
        self.accounts = AccountPool(settings, token)
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    # ---- mailboxes and streams -----------------------------------------------------------

    def list_mailboxes(self) -> list[MailboxInfo]:
        """The configured mailboxes, normalised and deduplicated, with display names from
        ResolveNames (addresses the server does not know are reported in `problems`).

        Raises: AuthError.
        """
        found: list[MailboxInfo] = []
        problems: list[str] = []
        seen: set[str] = set()
        for raw in self.settings.mailboxes:
            address = normalize_address(raw)
            if address is None or address.startswith("x500:") or address in seen:
                if address is None:
                    problems.append(f"{raw!r} is not an email address")
                continue
            seen.add(address)
            try:
                name = self._display_name(address)
            except AuthError:
                raise
            except ConnectorError as exc:
                # A throttled or failing mailbox must not hide the others: keep it, nameless;
                # its streams meet the same error and back off alone.
                log.info("%s: display name not resolved: %s", address, exc)
                name = ""
            if name is None:
                problems.append(f"{address}: no such mailbox on the Exchange server")
                continue
            found.append(MailboxInfo(address, name, address))
        with self._lock:
            self.problems = problems
        return found

    def _display_name(self, address: str) -> str | None:
        with self._lock:
            if address in self._names:
                return self._names[address]
        def resolve() -> list[Any]:
            account = self.accounts.account(address)
            with translate(f"{self.accounts.who}: resolving {address}"):
                return list(account.protocol.resolve_names([address]))

        try:
            answers = resolve()
        except AuthError:
            # A cached token the server refuses (revoked, or issued for another tenant
            # instance): refresh once, then report.
            self.reauthenticate(address)
            answers = resolve()
        name: str | None = None
        for answer in answers:
            email = str(getattr(answer, "email_address", "") or "").lower()
            if email == address:
                name = str(getattr(answer, "name", "") or "")
        if name is None and not any(isinstance(a, Exception) for a in answers) and answers:
            name = ""
        if name is not None:
            with self._lock:
                self._names[address] = name
        return name

    def mailbox_streams(self, mailbox: MailboxInfo) -> list[Stream]:
        """One stream per configured folder (key ``{address}/mail/{name}``, as the Graph
        connector's) plus the calendar (``{address}/calendar``). No network I/O here."""
        address = mailbox.address
        s = self.settings

        def account() -> Any:
            return self.accounts.account(address)

        streams: list[Stream] = []
        for name in s.folders:
            attribute = FOLDER_ATTRIBUTES[name.lower()]
            streams.append(EwsMailStream(
                account, operator.attrgetter(attribute), address, name.lower(),
                self.resolver, page_size=s.page_size, max_retry_wait=s.max_retry_wait,
                reauthenticate=lambda: self.reauthenticate(address), connector=self.accounts.who))
        if s.calendar:
            streams.append(EwsCalendarStream(
                account, address, self.resolver, page_size=s.page_size,
                backfill_days=s.calendar_backfill_days, horizon_days=s.calendar_horizon_days,
                max_retry_wait=s.max_retry_wait, now=self._now,
                reauthenticate=lambda: self.reauthenticate(address), connector=self.accounts.who))
        return streams

    def reauthenticate(self, address: str) -> None:
        """After a 401: drop the cached app token and give the mailbox's sessions a fresh one
        (OAuth2); username/password credentials have nothing to refresh. Never raises: a
        failure shows as the retried request's own error."""
        if self.auth is None:
            return
        try:
            self.auth.invalidate()
            self.accounts.refresh(address)
        except ConnectorError as exc:
            log.info("%s: token refresh failed: %s", address, exc)

    def tenant_streams(self) -> list[Stream]:
        """EWS has no tenant-wide feed (Teams call records are Graph-only)."""
        return []

    # ---- check ---------------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Token (OAuth2), then for each mailbox: open it and read its inbox and calendar
        folders. Never raises: every problem comes back as a sentence with its fix."""
        problems: list[str] = []
        notes: list[str] = []
        permissions: dict[str, bool | None] = {"mailbox access": None}
        if self.auth is not None:
            self.auth.invalidate()
            try:
                self.auth.token()
            except ConnectorError as exc:
                problems.append(f"no token: {exc}")
                return CheckReport(False, permissions, [], problems, notes)
            notes.append(f"token acquired from {self.auth.authority} (app-only, impersonation)")
        try:
            mailboxes = self.list_mailboxes()
        except ConnectorError as exc:
            problems.append(f"could not list the mailboxes: {exc}")
            return CheckReport(not isinstance(exc, AuthError), permissions, [], problems, notes)
        problems.extend(self.problems)
        if not mailboxes:
            problems.append(f"no mailbox to sync: set mailboxes = [...] for connector "
                            f"{self.settings.name!r}")
        for mailbox in mailboxes:
            try:
                account = self.accounts.account(mailbox.address)
                with translate(f"{self.accounts.who}: reading the folders of "
                               f"{mailbox.address}"):
                    _ = account.inbox.total_count
                    if self.settings.calendar:
                        _ = account.calendar.total_count
            except AuthError as exc:
                permissions["mailbox access"] = False
                problems.append(f"{exc}. Fix: grant the app full_access_as_app (Exchange "
                                "Online) or the service account the ApplicationImpersonation "
                                "role (on premises)")
            except ConnectorError as exc:
                problems.append(f"{mailbox.address}: {exc}")
            else:
                if permissions["mailbox access"] is None:
                    permissions["mailbox access"] = True
        if mailboxes:
            notes.append(f"{len(mailboxes)} mailbox(es) to sync")
        return CheckReport(True, permissions, mailboxes, problems, notes)

    def close(self) -> None:
        """Close the exchangelib sessions, save the token cache."""
        self.accounts.close()
        if self.auth is not None:
            self.auth.close()
        if self._http is not None:
            self._http.close()
