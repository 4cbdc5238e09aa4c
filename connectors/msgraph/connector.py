"""`GraphConnector`: what syncd calls to list mailboxes, get streams, check and log in."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from connectors.base import AuthError, ConnectorError, Stream, StreamGoneError
from connectors.msgraph import operations
from connectors.msgraph.auth import TokenProvider
from connectors.msgraph.calendar import CalendarStream
from connectors.msgraph.calls import CallRecordsStream
from connectors.msgraph.clouds import resolve_cloud
from connectors.msgraph.directory import resolve_folders, resolve_mailboxes
from connectors.msgraph.http import GraphHttpSession
from connectors.msgraph.limits import LimiterRegistry
from connectors.msgraph.mail import MailFolderStream
from connectors.msgraph.settings import CheckReport, GraphSettings, MailboxInfo
from connectors.msgraph.tokencache import FileTokenCache
from connectors.msgraph.transport import GraphCall, GraphTransport, consent_fix

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class GraphConnector:
    """The Microsoft Graph connector for one app registration (or one delegated sign-in).

    Building it does no network I/O. One instance per process and app registration: the
    per-mailbox limits (4 requests in flight, the 10-minute budget) live in the instance and
    are shared by every stream it hands out, across threads.
    """

    def __init__(self, settings: GraphSettings, *, now: Callable[[], datetime] = _utc_now) -> None:
        """Raises: ValueError for an unusable configuration (unknown cloud, bad sizes)."""
        if settings.page_size < 1 or settings.max_concurrency_per_mailbox < 1:
            raise ValueError("page_size and max_concurrency_per_mailbox must be at least 1")
        if settings.request_budget_per_10min < 1 or settings.max_retry_wait < 0:
            raise ValueError("request_budget_per_10min must be >= 1 and max_retry_wait >= 0")
        self.settings = settings
        self.endpoints = resolve_cloud(settings.cloud, settings.authority_host, settings.graph_url)
        self._now = now
        self.cache = FileTokenCache(settings.token_cache_path)
        self._idp_http = GraphHttpSession(settings.ca_bundle)
        self.auth = TokenProvider(settings, self.endpoints, self.cache, self._idp_http)
        self.limiters = LimiterRegistry(
            settings.max_concurrency_per_mailbox, settings.request_budget_per_10min
        )
        self.transport = GraphTransport(
            settings, self.endpoints, self.auth, self.cache, self.limiters
        )
        self.problems: list[str] = []  # from the last list_mailboxes / mailbox_streams
        self._lock = threading.Lock()

    # ---- mailboxes and streams -----------------------------------------------------------

    def list_mailboxes(self) -> list[MailboxInfo]:
        """The mailboxes this connector syncs: ``mailboxes`` and/or the members of ``group``,
        normalised and deduplicated. Configured addresses that do not exist are left out and
        reported in `problems` (and by `check`).

        Raises: AuthError, StreamGoneError (the group does not exist), ThrottledError,
        TransientError.
        """
        if (
            not self.settings.mailboxes
            and not self.settings.group
            and not (self.settings.delegated_username)
        ):
            return []
        mailboxes, problems = resolve_mailboxes(self.transport, self.settings)
        with self._lock:
            self.problems = problems
        return mailboxes

    def mailbox_streams(self, mailbox: MailboxInfo) -> list[Stream]:
        """One stream per configured folder (key ``{address}/mail/{well-known name or id}``)
        plus the calendar view (``{address}/calendar``) when ``calendar`` is on. Folders given
        by display name, or ``("all",)``, cost a walk of the folder tree.

        Raises: AuthError, StreamGoneError (mailbox gone), ThrottledError, TransientError.
        """
        settings = self.settings
        folders, problems = resolve_folders(self.transport, mailbox, settings.folders)
        with self._lock:
            self.problems = problems
        streams: list[Stream] = [
            MailFolderStream(
                self.transport,
                mailbox,
                choice.ref,
                choice.label,
                page_size=settings.page_size,
                read_headers=settings.read_internet_headers,
            )
            for choice in folders
        ]
        if settings.calendar:
            streams.append(
                CalendarStream(
                    self.transport,
                    mailbox,
                    page_size=settings.page_size,
                    backfill_days=settings.calendar_backfill_days,
                    horizon_days=settings.calendar_horizon_days,
                    now=self._now,
                )
            )
        return streams

    def tenant_streams(self) -> list[Stream]:
        """The tenant's call records (key ``tenant/callRecords``) when ``call_records`` is on.
        App-only access only: call records have no delegated permission."""
        if not self.settings.call_records:
            return []
        if self.settings.delegated_username:
            log.warning("%s: call records need app-only access; skipped", self.settings.name)
            return []
        return [
            CallRecordsStream(
                self.transport,
                page_size=self.settings.page_size,
                lookback_days=self.settings.calendar_backfill_days,
                now=self._now,
            )
        ]

    # ---- check ---------------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Acquire a fresh token, probe each permission with one cheap request, list the
        mailboxes. Never raises: every problem comes back as a sentence with its fix.

        The cached app token is dropped first: consent changes only reach tokens issued after
        them, and a check should report the tenant as it is now.
        """
        settings = self.settings
        delegated = bool(settings.delegated_username)
        problems: list[str] = []
        notes: list[str] = []
        permissions: dict[str, bool | None] = {
            "User.Read.All": None,
            "Mail.Read": None,
            "Calendars.Read": None,
            "CallRecords.Read.All": None,
        }
        if settings.group:
            permissions["GroupMember.Read.All"] = None
        if not delegated:
            self.auth.invalidate()
        try:
            self.auth.token()
        except ConnectorError as exc:
            problems.append(f"no token: {exc}")
            return CheckReport(False, permissions, [], problems, notes)
        notes.append(
            f"token acquired from {self.auth.authority} "
            + ("(delegated)" if delegated else "(app-only)")
        )

        def fix(permission: str) -> str:
            return consent_fix(permission, settings.client_id, delegated)

        def probe(permission: str, action: Callable[[], object], needed: bool = True) -> None:
            try:
                action()
            except AuthError as exc:
                permissions[permission] = False
                message = str(exc)
                if "Grant admin consent" not in message:
                    message = f"the app cannot use {permission} ({message}). {fix(permission)}"
                if needed:
                    problems.append(message)
                else:
                    notes.append(f"{permission} is not granted (not needed by this configuration)")
            except ConnectorError as exc:
                problems.append(f"could not probe {permission}: {exc}")
            else:
                permissions[permission] = True

        if not delegated:
            probe("User.Read.All", lambda: operations.list_users(self.transport, 1))
            probe(
                "CallRecords.Read.All",
                lambda: CallRecordsStream(
                    self.transport, page_size=1, lookback_days=1, now=self._now
                ).fetch_page(None),
                needed=settings.call_records,
            )
        mailboxes: list[MailboxInfo] = []
        if permissions.get("User.Read.All") is not False:
            try:
                mailboxes = self.list_mailboxes()
                problems.extend(self.problems)
            except AuthError as exc:
                if settings.group:
                    permissions["GroupMember.Read.All"] = False
                problems.append(str(exc))
            except StreamGoneError as exc:
                problems.append(f"{exc}: check the group setting")
            except ConnectorError as exc:
                problems.append(f"could not list the mailboxes: {exc}")
            else:
                if settings.group:
                    permissions["GroupMember.Read.All"] = True
        if not mailboxes and permissions.get("User.Read.All") is not False:
            problems.append(
                "no mailbox to sync: set mailboxes = [...] or group = '...' for connector "
                f"{settings.name!r}"
                if not settings.mailboxes and not settings.group and not delegated
                else "none of the configured mailboxes was found"
            )
        else:
            first = mailboxes[0]
            probe(
                "Mail.Read",
                lambda: operations.get_mail_folder(
                    self.transport, first.address, first.user_id, "inbox"
                ),
            )
            start = self._now().astimezone(UTC)
            probe(
                "Calendars.Read",
                lambda: operations.calendar_view_delta(
                    self.transport,
                    GraphCall(f"the calendar of {first.address}", first.address, "Calendars.Read"),
                    user_id=first.user_id,
                    start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    end=(start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    page_size=1,
                    link=None,
                ),
                needed=settings.calendar,
            )
            notes.append(f"{len(mailboxes)} mailbox(es) to sync")
        if delegated:
            permissions["User.Read.All"] = None
            notes.append("delegated access: only the signed-in user's own mailbox is readable")
        return CheckReport(True, permissions, mailboxes, problems, notes)

    # ---- delegated sign-in ---------------------------------------------------------------

    def device_login(self, show: Callable[[str], None]) -> str:
        """Device-code sign-in (delegated access) into the persisted token cache; returns the
        signed-in username. ``show`` gets the instructions to display.

        Raises: AuthError (declined, expired, refused), TransientError (network).
        """
        return self.auth.device_login(show)

    def close(self) -> None:
        """Save the token cache and close the HTTP sessions."""
        self.auth.close()
        self.transport.close()
        self._idp_http.close()
