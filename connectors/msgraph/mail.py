"""Mail folder streams: per-folder message delta -> Interaction / Deletion / RejectedItem.

What we ask for (``$select``): only what capture needs (`MESSAGE_SELECT`) plus, by default,
``internetMessageHeaders``. Graph's v1.0 message has no sensitivity, automation or In-Reply-To
property. The cheap production route to them is ``$expand=singleValueExtendedProperties`` with
PR_SENSITIVITY (``Integer 0x0036``), PR_IN_REPLY_TO_ID (``String 0x1042``) and named
PS_INTERNET_HEADERS properties (``String {00020386-0000-0000-C000-000000000046} Name
Auto-Submitted``...), but the sandbox refuses ``$expand`` on message delta, so we read the
headers: we keep the six that matter (`_HEADER_NAMES`) and drop the rest at once. The price is
a larger page (a few KB per message of Received/DKIM lines), paid once per message because delta
only re-sends changed items. ``read_internet_headers=False`` turns it off: then private and
automated mail is recognised only by the sender address (no-reply@...) and ``in_reply_to`` stays
empty. Known gap either way: a sender's own Sent Items copy may carry no transport headers in
Exchange Online, so its privacy comes from the recipients' copies (same natural key).

Rules (mirroring connectors/files/rfc822.py so both connectors agree on the same mail):
natural key = normalised internetMessageId, else `email_fingerprint` (as the files connector);
occurred_at = sentDateTime, else receivedDateTime; thread_key = conversationId; drafts skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from connectors.base import (
    CursorInvalidError,
    Deletion,
    Interaction,
    Kind,
    NamedStream,
    Page,
    Participant,
    RejectedItem,
    Role,
    TransientError,
)

# The same stand-in for a missing Message-ID as the files connector, reused (not copied) so
# that one mail without an id gets one key whichever connector saw it. It lives in rfc822.py;
# moving it to connectors/normalize.py is left to its owner (that file was being edited).
from connectors.msgraph import operations
from connectors.msgraph.settings import MailboxInfo
from connectors.msgraph.transport import GraphCall, GraphTransport
from connectors.normalize import (  # _MIN/_MAX_YEAR: graph_time keeps parse_date's bounds
    _MAX_YEAR,
    _MIN_YEAR,
    decode_header_text,
    email_fingerprint,
    is_automated_address,
    normalize_address,
    normalize_message_id,
    parse_address_list,
    parse_date,
)

MESSAGE_SELECT = (
    "id",
    "internetMessageId",
    "subject",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "sentDateTime",
    "receivedDateTime",
    "conversationId",
    "parentFolderId",
    "isDraft",
    "inferenceClassification",
)
HEADERS_PROPERTY = "internetMessageHeaders"
MAX_PARTICIPANTS = 10_000  # as the files connector: the rest are counted in extra
EXCERPT_CHARS = 300

# Properties that carry content. A delta item with none of them is a property-only change
# (read flag, categories, flag): Graph then sends just id + the changed fields (a documented
# quirk, microsoft-graph-docs issue 7776), which is no change for us and not a reject.
_CONTENT_KEYS = (
    "internetMessageId",
    "subject",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "sentDateTime",
    "receivedDateTime",
)
_HEADER_NAMES = frozenset(
    {
        "sensitivity",
        "auto-submitted",
        "precedence",
        "in-reply-to",
        "list-id",
        "list-unsubscribe",
        "x-autoreply",
        "x-autorespond",
    }
)
_PRIVATE_SENSITIVITY = frozenset({"private", "company-confidential", "confidential"})
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_AUTOMATION_HEADERS = ("list-unsubscribe", "list-id", "x-autoreply", "x-autorespond")
_GRAPH_UTC_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_RECIPIENTS = (("toRecipients", Role.TO), ("ccRecipients", Role.CC), ("bccRecipients", Role.BCC))


def excerpt(item: Any) -> str:
    try:
        text = json.dumps(item, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(item)
    return text[:EXCERPT_CHARS]


def _headers(item: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for header in item.get(HEADERS_PROPERTY) or ():
        if not isinstance(header, dict):
            continue
        raw = header.get("name")
        name = _header_name(raw) if isinstance(raw, str) else _header_name(str(raw or ""))
        if name is not None:
            found.setdefault(name, []).append(str(header.get("value") or ""))
    return found


@lru_cache(maxsize=1024)  # a mailbox's header names are a few dozen spellings
def _header_name(raw: str) -> str | None:
    """The lower-case name of a header we keep, or None for the others."""
    name = raw.strip().lower()
    return name if name in _HEADER_NAMES else None


def _recipient(value: Any) -> tuple[str, str] | None:
    """(key, display name) of a Graph recipient object, or None when unusable."""
    if not isinstance(value, dict):
        return None
    email = value.get("emailAddress")
    if not isinstance(email, dict):
        return None
    return _recipient_of(str(email.get("address") or ""), str(email.get("name") or ""))


# A sales team's mail names the same few thousand people over and over: normalising each
# (address, name) pair once instead of per recipient per copy was a third of the Graph
# normalisation time. Both functions are pure; the bound keeps memory flat on huge tenants.
@lru_cache(maxsize=1 << 16)
def _recipient_of(raw_address: str, raw_name: str) -> tuple[str, str] | None:
    address = raw_address.strip()
    name = decode_header_text(raw_name)
    key = normalize_address(address) if address else None
    if key is None and address:
        # "Jane <jane@x>" in the address field (seen from some connectors): parse it.
        parsed = parse_address_list(address)
        if parsed:
            name, key = name or parsed[0][0], parsed[0][1]
    if key is None:
        return None
    return key, "" if name.lower() == address.lower() else name


@lru_cache(maxsize=1 << 14)
def subject_text(raw: str) -> str:
    """`decode_header_text` of a subject, memoised: a subject recurs in every copy of a mail
    and of a meeting, and in its replies' "RE:" forms (pure function, bounded cache)."""
    return decode_header_text(raw)


@lru_cache(maxsize=1 << 16)
def participant(key: str, role: Role, name: str, response: str | None = None) -> Participant:
    """Participant(key, role, name, response), shared: it is frozen, so one instance per
    value is safe, and it skips the frozen dataclass __init__ (a setattr per field) for
    every recipient of every copy."""
    return Participant(key, role, name, response)


def graph_time(value: Any) -> datetime | None:
    """A Graph DateTimeOffset (``2024-03-01T09:30:00Z``) as aware UTC, exactly as
    `parse_date` reads it, without its RFC 5322 attempt first (Graph never sends that form).
    Anything but the plain UTC form goes to `parse_date`."""
    if isinstance(value, str) and _GRAPH_UTC_RE.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return parse_date(value)
        return parsed if _MIN_YEAR <= parsed.year <= _MAX_YEAR else None
    return parse_date(value)


def _first_id(values: list[str] | None) -> str | None:
    for value in values or ():
        for token in value.replace(",", " ").split():
            found = normalize_message_id(token)
            if found:
                return found
    return None


def normalize_message(item: dict[str, Any], *, folder: str) -> Interaction | RejectedItem | None:
    """One message delta item -> Interaction, RejectedItem (with the reason), or None for
    items that are no interaction (drafts, property-only changes). Never raises."""
    provider_id = str(item.get("id") or "")
    if item.get("isDraft") is True:
        return None
    if not any(key in item for key in _CONTENT_KEYS):
        return None
    extra: dict[str, str] = {}
    occurred_at = graph_time(item.get("sentDateTime"))
    sent_at = occurred_at
    if occurred_at is None:
        occurred_at = graph_time(item.get("receivedDateTime"))
        if occurred_at is None:
            return RejectedItem(
                provider_id, "no usable sentDateTime or receivedDateTime", excerpt(item)
            )
        extra["date_source"] = "received"

    participants: list[Participant] = []
    seen: set[tuple[str, Role]] = set()
    recipients: list[str] = []  # To + Cc keys for the derived key
    total = 0

    def add(value: Any, role: Role) -> bool:
        nonlocal total
        found = _recipient(value)
        if found is None or (found[0], role) in seen:
            return False
        key, name = found
        seen.add((key, role))
        total += 1
        if role is Role.TO or role is Role.CC:
            recipients.append(key)
        if len(participants) < MAX_PARTICIPANTS:
            participants.append(participant(key, role, name))
        return True

    if not add(item.get("from"), Role.FROM):  # Sender stands in for an unusable From
        add(item.get("sender"), Role.FROM)
    sender = participants[0].email if participants else None
    for field, role in _RECIPIENTS:
        values = item.get(field)
        for value in values if isinstance(values, list) else ():
            add(value, role)
    if not participants:
        return RejectedItem(provider_id, "no usable sender or recipient", excerpt(item))
    if total > len(participants):
        extra["participants_total"] = str(total)
    if sender is None:
        extra["sender_unparsed"] = "true"

    raw_subject = item.get("subject")
    subject = subject_text(raw_subject) if isinstance(raw_subject, str) else ""
    date_part = sent_at.isoformat() if sent_at else occurred_at.isoformat()
    fingerprint = email_fingerprint(sender or "", date_part, subject, recipients)
    natural_key = normalize_message_id(item.get("internetMessageId")) or fingerprint
    headers = _headers(item)
    sensitivity = (headers.get("sensitivity") or [""])[0].strip().lower()
    conversation = item.get("conversationId")
    classification = item.get("inferenceClassification")
    if isinstance(classification, str) and classification:
        extra["inference_classification"] = classification
    return Interaction(
        natural_key=natural_key,
        kind=Kind.EMAIL,
        provider_id=provider_id,
        occurred_at=occurred_at,
        subject=subject,
        thread_key=str(conversation) if conversation else natural_key,
        in_reply_to=_first_id(headers.get("in-reply-to")),
        participants=tuple(participants),
        is_private=sensitivity in _PRIVATE_SENSITIVITY,
        is_automated=_is_automated(headers, sender),
        folder=folder,
        extra=extra,
        fingerprint=fingerprint,
    )


def _is_automated(headers: dict[str, list[str]], sender: str | None) -> bool:
    auto = (headers.get("auto-submitted") or [""])[0]
    if auto and auto.split(";", 1)[0].strip().lower() != "no":
        return True
    precedence = (headers.get("precedence") or [""])[0]
    if precedence.strip().lower() in _BULK_PRECEDENCE:
        return True
    if any(name in headers for name in _AUTOMATION_HEADERS):
        return True
    return sender is not None and is_automated_address(sender)


class MailFolderStream(NamedStream):
    """Message delta of one folder of one mailbox. The cursor is Graph's nextLink/deltaLink."""

    def __init__(
        self,
        transport: GraphTransport,
        mailbox: MailboxInfo,
        folder_ref: str,
        label: str,
        *,
        page_size: int,
        read_headers: bool,
    ) -> None:
        self._transport = transport
        self._mailbox = mailbox
        self.folder_ref = folder_ref  # well-known name or folder id (what the URL uses)
        self.label = label  # Interaction.folder: well-known name or display name
        self._page_size = page_size
        self._select = MESSAGE_SELECT + ((HEADERS_PROPERTY,) if read_headers else ())
        super().__init__(f"{mailbox.address}/mail/{folder_ref}", mailbox.address)

    def fetch_page(self, cursor: str | None) -> Page:
        """One message delta request: the page after ``cursor`` (None: a new full round).

        Raises: CursorInvalidError (a foreign or expired cursor: restart from None),
        StreamGoneError (folder or mailbox gone), AuthError, ThrottledError, TransientError.
        """
        if cursor is not None and not (
            cursor.startswith(self._transport.graph_url) and "/messages/delta" in cursor
        ):
            raise CursorInvalidError(f"{self._key}: not a message delta link: {cursor[:80]!r}")
        call = GraphCall(
            f"the {self.label} folder of {self._mailbox.address}",
            self._mailbox.address,
            "Mail.Read",
            cursor=cursor is not None,
        )
        body = operations.message_delta(
            self._transport,
            call,
            user_id=self._mailbox.user_id,
            folder=self.folder_ref,
            select=self._select,
            page_size=self._page_size,
            link=cursor,
        )
        return build_page(body, call.what, self._mailbox.address, self._normalize)

    def _normalize(self, item: dict[str, Any]) -> Interaction | RejectedItem | None:
        return normalize_message(item, folder=self.label)


Normalizer = Callable[[dict[str, Any]], Interaction | RejectedItem | None]


def build_page(body: dict[str, Any], what: str, owner: str | None, normalize: Normalizer) -> Page:
    """A delta response -> Page: ``@removed`` items become Deletions, others go through
    ``normalize`` (Interaction | RejectedItem | None); a normaliser crash becomes a reject.

    Raises: TransientError when the response has neither nextLink nor deltaLink.
    """
    next_link = body.get("@odata.nextLink")
    delta_link = body.get("@odata.deltaLink")
    if not isinstance(next_link, str) and not isinstance(delta_link, str):
        raise TransientError(f"{what}: delta response without nextLink or deltaLink")
    values = body.get("value")
    items = values if isinstance(values, list) else []
    interactions: list[Interaction] = []
    deletions: list[Deletion] = []
    rejected: list[RejectedItem] = []
    for item in items:
        if not isinstance(item, dict):
            rejected.append(RejectedItem("", "delta item is not a JSON object", excerpt(item)))
            continue
        if "@removed" in item:
            if item.get("id"):
                deletions.append(Deletion(str(item["id"])))
            continue
        try:
            result = normalize(item)
        except Exception as exc:  # contract 5: bad input is data, never a crash
            result = RejectedItem(
                str(item.get("id") or ""), f"unexpected item shape: {exc!r}"[:300], excerpt(item)
            )
        if isinstance(result, Interaction):
            interactions.append(result)
        elif isinstance(result, RejectedItem):
            rejected.append(result)
    return Page(
        interactions=interactions,
        cursor=next_link if isinstance(next_link, str) else str(delta_link),
        complete=not isinstance(next_link, str),
        deletions=deletions,
        rejected=rejected,
        items_seen=len(items),
        mailbox_hint=owner,
    )
