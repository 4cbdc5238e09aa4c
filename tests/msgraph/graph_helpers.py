"""Helpers shared by the Graph connector tests (imported as ``graph_helpers``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from connectors.base import Deletion, Interaction, Page, RejectedItem, Stream
from connectors.msgraph import GraphConnector, GraphSettings, MailboxInfo
from syncd.sandbox import Sandbox

ALICE, BOB, CAROL = "alice@contoso.test", "bob@contoso.test", "carol@contoso.test"
# The demo company spans 2026-05-01 .. 2026-10-28; "now" sits inside it so every window and
# watermark is deterministic whatever today's date is.
NOW = datetime(2026, 8, 1, tzinfo=UTC)
MakeConnector = Callable[..., GraphConnector]  # the make_connector fixture (conftest.py)


def settings_for(sandbox: Sandbox, tmp: Path | None = None, **overrides: Any) -> GraphSettings:
    base = GraphSettings(
        name="m365",
        tenant_id=sandbox.tenant,
        client_id="syncd-demo",
        client_secret="demo-secret",
        cloud="custom",
        authority_host=sandbox.base_url,
        graph_url=sandbox.graph_url,
        ca_bundle=sandbox.ca_path,
        group="Sales",
        calendar_backfill_days=120,
        calendar_horizon_days=120,
        token_cache_path=(tmp / "state" / "msal-m365.json") if tmp else None,
    )
    return replace(base, **overrides)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Round:
    """Everything one stream returned from a cursor to the end of its round."""

    pages: list[Page] = field(default_factory=list)

    @property
    def interactions(self) -> list[Interaction]:
        return [i for p in self.pages for i in p.interactions]

    @property
    def deletions(self) -> list[Deletion]:
        return [d for p in self.pages for d in p.deletions]

    @property
    def rejected(self) -> list[RejectedItem]:
        return [r for p in self.pages for r in p.rejected]

    @property
    def cursor(self) -> str | None:
        return self.pages[-1].cursor

    @property
    def keys(self) -> set[str]:
        return {i.natural_key for i in self.interactions}


def drain(stream: Stream, cursor: str | None = None, limit: int = 1000) -> Round:
    """Fetch pages from ``cursor`` until one is complete."""
    result = Round()
    for _ in range(limit):
        page = stream.fetch_page(cursor)
        result.pages.append(page)
        cursor = page.cursor
        if page.complete:
            return result
    raise AssertionError(f"{stream.key}: no complete page after {limit} pages")


def mailbox(connector: GraphConnector, address: str) -> MailboxInfo:
    (found,) = [m for m in connector.list_mailboxes() if m.address == address]
    return found


def stream_by_key(connector: GraphConnector, box: MailboxInfo, suffix: str) -> Stream:
    (found,) = [s for s in connector.mailbox_streams(box) if s.key.endswith(suffix)]
    return found


def graph_requests(sandbox: Sandbox, path_contains: str = "/v1.0/") -> int:
    return len(sandbox.requests(path_contains=path_contains))


def token_requests(sandbox: Sandbox) -> int:
    return len(sandbox.requests(path_contains="/oauth2/v2.0/token"))


def raw_mail(
    message_id: str | None,
    *,
    sender: str = "jane@fabrikam.test",
    to: str = ALICE,
    subject: str = "Proposal",
    date: datetime = datetime(2026, 7, 1, 9, 30, tzinfo=UTC),
    **headers: str,
) -> bytes:
    """An RFC 5322 message; a header given as Auto_Submitted="..." becomes Auto-Submitted."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    if message_id:
        msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello.\n")
    return msg.as_bytes()
