"""Mail folder streams: SyncFolderItems -> Interaction / Deletion / RejectedItem.

The same mail must give the same interaction through Graph and through EWS (issue 4, parity).
So an EWS message is turned into the Graph message shape and normalised by the Graph
connector's `normalize_message`: one set of rules (natural key, fingerprint, privacy,
automation, In-Reply-To, drafts), two wire formats. Legacy DN senders are resolved to SMTP
first (resolve.py); InternetMessageHeaders carry what Graph reads from internetMessageHeaders.
EWS has Sensitivity and InReplyTo as properties too; they fill in when the headers lack them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.base import (
    Deletion,
    Interaction,
    NamedStream,
    Page,
    RejectedItem,
)
from connectors.ews.resolve import LegacyDnResolver
from connectors.ews.retry import fetch_with_recovery
from connectors.ews.rounds import LiveRound, decode_cursor, encode_cursor
from connectors.ews.session import translate
from connectors.msgraph.mail import excerpt, normalize_message

MESSAGE_FIELDS = (
    "message_id",
    "subject",
    "author",
    "sender",
    "to_recipients",
    "cc_recipients",
    "bcc_recipients",
    "datetime_sent",
    "datetime_received",
    "conversation_id",
    "is_draft",
    "sensitivity",
    "in_reply_to",
    "headers",
)
_PRIVATE_SENSITIVITY = {"Private": "private", "Confidential": "company-confidential",
                        "Personal": "personal"}


def iso(value: Any) -> str | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # Through a timestamp: EWSDateTime.astimezone() only takes exchangelib's own zones.
    return datetime.fromtimestamp(value.timestamp(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_legacy_dn(mailbox: Any) -> bool:
    address = str(getattr(mailbox, "email_address", "") or "")
    return getattr(mailbox, "routing_type", None) == "EX" or address.lower().startswith("/o=")


def graph_address(mailbox: Any, smtp_of: dict[str, str | None]) -> dict[str, Any] | None:
    """An exchangelib Mailbox/Attendee mailbox as Graph's ``{"emailAddress": {...}}``; a legacy
    DN becomes its SMTP address when resolved, else stays a DN (normalised to ``x500:``)."""
    if mailbox is None:
        return None
    address = str(getattr(mailbox, "email_address", "") or "")
    if is_legacy_dn(mailbox):
        address = smtp_of.get(address) or address
    return {"emailAddress": {"name": str(getattr(mailbox, "name", "") or ""), "address": address}}


def legacy_dns(items: list[Any], attributes: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for item in items:
        for attribute in attributes:
            value = getattr(item, attribute, None)
            for mailbox in value if isinstance(value, list | tuple) else [value]:
                inner = getattr(mailbox, "mailbox", mailbox)  # Attendee wraps a Mailbox
                if inner is not None and is_legacy_dn(inner):
                    found.add(str(inner.email_address))
    return found


def message_as_graph(item: Any, smtp_of: dict[str, str | None]) -> dict[str, Any]:
    """The Graph message fields `normalize_message` reads, from an exchangelib Message."""
    headers = [{"name": str(h.name), "value": str(h.value)} for h in (item.headers or ())
               if getattr(h, "name", None)]
    names = {h["name"].lower() for h in headers}
    sensitivity = _PRIVATE_SENSITIVITY.get(str(getattr(item, "sensitivity", "") or ""))
    if sensitivity and "sensitivity" not in names:
        headers.append({"name": "Sensitivity", "value": sensitivity})
    in_reply_to = getattr(item, "in_reply_to", None)
    if in_reply_to and "in-reply-to" not in names:
        headers.append({"name": "In-Reply-To", "value": str(in_reply_to)})
    conversation = getattr(item, "conversation_id", None)
    out: dict[str, Any] = {
        "id": str(item.id or ""),
        "internetMessageId": getattr(item, "message_id", None),
        "subject": item.subject,
        "from": graph_address(getattr(item, "author", None), smtp_of),
        "sender": graph_address(getattr(item, "sender", None), smtp_of),
        "sentDateTime": iso(getattr(item, "datetime_sent", None)),
        "receivedDateTime": iso(getattr(item, "datetime_received", None)),
        "conversationId": getattr(conversation, "id", None),
        "isDraft": bool(getattr(item, "is_draft", False)),
        "internetMessageHeaders": headers,
    }
    for key, attribute in (("toRecipients", "to_recipients"), ("ccRecipients", "cc_recipients"),
                           ("bccRecipients", "bcc_recipients")):
        values = getattr(item, attribute, None) or ()
        out[key] = [address for address in (graph_address(v, smtp_of) for v in values)
                    if address is not None]
    return {key: value for key, value in out.items() if value is not None}


class EwsMailStream(NamedStream):
    """SyncFolderItems of one mail folder of one mailbox (cursor: rounds.py)."""

    def __init__(
        self,
        account: Callable[[], Any],
        folder: Callable[[Any], Any],
        address: str,
        label: str,
        resolver: LegacyDnResolver,
        *,
        page_size: int,
        max_retry_wait: float,
        reauthenticate: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
        connector: str = "",
    ) -> None:
        self._account = account
        # Error messages start with the connector and its credentials (session.describe).
        self._who = f"{connector}: " if connector else ""
        self._reauthenticate = reauthenticate
        self._folder = folder
        self.label = label
        self._resolver = resolver
        self._page_size = max(1, min(512, page_size))
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._round: LiveRound | None = None
        super().__init__(f"{address}/mail/{label}", address)

    @property
    def _what(self) -> str:
        return f"{self._who}the {self.label} folder of {self._owner}"

    def fetch_page(self, cursor: str | None) -> Page:
        """The next page of the current sync round (module doc of rounds.py).

        Raises: CursorInvalidError (ErrorInvalidSyncStateData or a foreign cursor),
        ThrottledError (ErrorServerBusy longer than max_retry_wait), AuthError,
        StreamGoneError, TransientError.
        """
        def forget() -> None:
            self._round = None  # the generator died with the request; replay the round

        return fetch_with_recovery(lambda: self._fetch(cursor), what=self._what, who=self._who,
                                   reauthenticate=self._reauthenticate, sleep=self._sleep,
                                   max_retry_wait=self._max_retry_wait, forget=forget)

    def _fetch(self, cursor: str | None) -> Page:
        live = self._round
        if live is None or cursor is None or live.cursor != cursor:
            start = decode_cursor(cursor, self._what) if cursor else {"state": None}
            with translate(self._what):
                folder = self._folder(self._account())
                # exchangelib falls back to the folder object's last item_sync_state when
                # given none: a full resync must clear it, or it replays the rejected state.
                folder.item_sync_state = start.get("state")
                changes = folder.sync_items(
                    sync_state=start.get("state"), only_fields=MESSAGE_FIELDS,
                    max_changes_returned=self._page_size)
            live = self._round = LiveRound(iter(changes), {"state": start.get("state")},
                                           source=folder)
        with translate(self._what):
            batch, done = live.take(self._page_size)
        page = self._page(batch)
        live.part += 1
        if done:
            state = live.source.item_sync_state
            next_cursor = encode_cursor({"state": state})
            self._round = None
        else:
            next_cursor = encode_cursor({**live.start, "part": live.part})
            live.cursor = next_cursor
        return Page(
            interactions=page[0], cursor=next_cursor, complete=done, deletions=page[1],
            rejected=page[2], items_seen=len(batch), mailbox_hint=self._owner)

    def _page(
        self, batch: list[tuple[str, Any]]
    ) -> tuple[list[Interaction], list[Deletion], list[RejectedItem]]:
        items = [obj for kind, obj in batch if kind in ("create", "update")]
        dns = legacy_dns(items, ("author", "sender", "to_recipients", "cc_recipients",
                                 "bcc_recipients"))
        smtp_of: dict[str, str | None] = {}
        if dns:
            account = self._account()
            smtp_of = self._resolver.resolve_all(dns, account.protocol.resolve_names)
        interactions: list[Interaction] = []
        deletions: list[Deletion] = []
        rejected: list[RejectedItem] = []
        for kind, obj in batch:
            if kind == "delete":
                item_id = getattr(obj, "id", None)
                if item_id:
                    deletions.append(Deletion(str(item_id)))
                continue
            if kind not in ("create", "update"):
                continue  # read_flag_change: no change for us
            try:
                shaped = message_as_graph(obj, smtp_of)
                result = normalize_message(shaped, folder=self.label)
            except Exception as exc:  # contract 5: bad input is data, never a crash
                result = RejectedItem(str(getattr(obj, "id", "") or ""),
                                      f"unexpected item shape: {exc!r}"[:300], excerpt(repr(obj)))
            if isinstance(result, Interaction):
                interactions.append(result)
            elif isinstance(result, RejectedItem):
                rejected.append(result)
        return interactions, deletions, rejected
