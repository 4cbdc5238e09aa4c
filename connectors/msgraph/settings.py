"""The connector's configuration and the small records its public methods return."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WELL_KNOWN_FOLDERS = frozenset(
    {
        "archive",
        "clutter",
        "conflicts",
        "conversationhistory",
        "deleteditems",
        "drafts",
        "inbox",
        "junkemail",
        "localfailures",
        "msgfolderroot",
        "outbox",
        "recoverableitemsdeletions",
        "scheduled",
        "searchfolders",
        "sentitems",
        "serverfailures",
        "syncissues",
    }
)  # mailFolder resource docs: "Use well-known folder names to access folders"


@dataclass(frozen=True)
class GraphSettings:
    """One Microsoft 365 connector as configured (secrets already resolved by syncd).

    App-only access needs ``client_secret`` or ``client_certificate_pem``; with
    ``delegated_username`` the connector uses the token of a device-code sign-in instead.
    """

    name: str
    tenant_id: str
    client_id: str
    client_secret: str | None = None  # already-resolved secret value
    client_certificate_pem: str | None = None  # PEM with private key + certificate
    cloud: str = "global"  # global | usgov-l4 | usgov-l5 | china | custom (see clouds.py)
    authority_host: str | None = None  # overrides the cloud preset (the sandbox is 'custom')
    graph_url: str | None = None
    ca_bundle: Path | None = None  # verify= for msal and Graph calls
    mailboxes: tuple[str, ...] = ()  # explicit list, and/or...
    group: str | None = None  # ...members of the group with this displayName
    folders: tuple[str, ...] = ("inbox", "sentitems")  # well-known or display names; ("all",)
    calendar: bool = True
    calendar_backfill_days: int = 90
    calendar_horizon_days: int = 180
    call_records: bool = False
    max_concurrency_per_mailbox: int = 4
    request_budget_per_10min: int = 10000
    token_cache_path: Path | None = None  # msal cache, written atomically with mode 0600
    delegated_username: str | None = None  # device-code (delegated) token instead of app-only
    page_size: int = 100  # Prefer: odata.maxpagesize
    max_retry_wait: float = 120.0  # seconds of Retry-After sleeping per request
    # Added by the connector (not in the original brief): read the few internet headers that
    # carry privacy and automation (Sensitivity, Auto-Submitted, Precedence, List-*, and
    # In-Reply-To). See mail.py for why this is the default and what turning it off costs.
    read_internet_headers: bool = True


@dataclass(frozen=True, slots=True)
class MailboxInfo:
    """A mailbox the connector would sync."""

    address: str  # normalised primary SMTP address
    display_name: str
    user_id: str  # Entra ID object id (stable when the address changes)


@dataclass(frozen=True)
class CheckReport:
    """What `GraphConnector.check` found. ``problems`` are plain sentences with the fix."""

    token_ok: bool
    permissions: dict[str, bool | None]  # permission -> granted (None: not probed)
    mailboxes: list[MailboxInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.token_ok and not self.problems

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (``syncd connector test --json``)."""
        return {
            "ok": self.ok,
            "token_ok": self.token_ok,
            "permissions": dict(self.permissions),
            "mailboxes": [
                {"address": m.address, "display_name": m.display_name, "user_id": m.user_id}
                for m in self.mailboxes
            ],
            "problems": list(self.problems),
            "notes": list(self.notes),
        }

    def lines(self) -> list[str]:
        """The report for a terminal, one fact per line, problems last."""
        out = [f"token: {'ok' if self.token_ok else 'FAILED'}"]
        for name, granted in self.permissions.items():
            state = {True: "granted", False: "MISSING", None: "not checked"}[granted]
            out.append(f"permission {name}: {state}")
        shown = ", ".join(m.address for m in self.mailboxes[:10])
        more = f" and {len(self.mailboxes) - 10} more" if len(self.mailboxes) > 10 else ""
        out.append(
            f"mailboxes ({len(self.mailboxes)}): {shown}{more}" if shown else "mailboxes: none"
        )
        out.extend(f"note: {note}" for note in self.notes)
        out.extend(f"problem: {problem}" for problem in self.problems)
        out.append("result: ok" if self.ok else f"result: {len(self.problems)} problem(s)")
        return out
