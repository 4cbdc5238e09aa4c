"""Raw RFC 5322 mail <-> the content fields of a Graph ``message`` resource.

Parsing uses the stdlib's ``compat32`` policy on purpose: it never raises on broken headers
(the modern policy does, lazily, when a header is read), and real corpora are full of them.
"Bad input is data, not a crash": whatever cannot be parsed is passed through as Graph would,
with empty or odd values, for the connector under test to reject.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from typing import Any

from syncd.sandbox.ids import iso_z, parse_iso

# Headers a relationship connector reads from internetMessageHeaders (threading, robots,
# privacy). Graph returns every header; these are the ones the brief calls out.
INTERESTING_HEADERS = (
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "Precedence",
    "List-Unsubscribe",
    "Sensitivity",
)

_PREVIEW_CHARS = 255  # Graph's bodyPreview is "the first 255 characters of the message body"
_TAG = re.compile(r"<[^>]*>")
_MSGID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """The copy-independent part of a message: shared by every mailbox holding a copy."""

    fields: dict[str, Any]  # Graph fields: subject, from, toRecipients, body, internetMessageId...
    headers: tuple[dict[str, str], ...]  # internetMessageHeaders, in message order
    sent_at: datetime | None  # from Date:, None when missing or unparseable

    @property
    def internet_message_id(self) -> str:
        return str(self.fields.get("internetMessageId") or "")


def decode_text(value: str | None) -> str:
    """Decode RFC 2047 words and unfold; never raises."""
    if not value:
        return ""
    try:
        text = str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        text = value
    return " ".join(text.split())


def recipients(values: Sequence[str]) -> list[dict[str, Any]]:
    """Graph ``recipient`` objects for header values; unusable fragments are dropped."""
    out: list[dict[str, Any]] = []
    for name, address in getaddresses([decode_text(v) for v in values if v]):
        if name or address:
            out.append({"emailAddress": {"name": name or address, "address": address}})
    return out


def _payload_text(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name in the wild
        return raw.decode("latin-1")


def _bodies(msg: Message) -> tuple[str | None, str | None, bool]:
    """(text/plain, text/html, has attachments) of a message."""
    text: str | None = None
    html: str | None = None
    attachments = False
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            attachments = True
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and text is None:
            text = _payload_text(part)
        elif ctype == "text/html" and html is None:
            html = _payload_text(part)
    return text, html, attachments


def _importance(msg: Message) -> str:
    value = (msg.get("Importance") or "").strip().lower()
    if value in ("high", "low", "normal"):
        return value
    priority = (msg.get("X-Priority") or "").strip()[:1]
    return {"1": "high", "2": "high", "4": "low", "5": "low"}.get(priority, "normal")


def _conversation(msg: Message, own_id: str) -> tuple[str, str]:
    """(conversationId, conversationIndex). Exchange groups a thread by its root message; the
    index grows by 5 bytes per reply level (MS-OXOMSG PidTagConversationIndex)."""
    references = _MSGID.findall(msg.get("References") or "")
    parent = _MSGID.findall(msg.get("In-Reply-To") or "")
    root = (references or parent or [own_id])[0]
    digest = hashlib.sha256(root.encode()).digest()
    conversation_id = "AAQkA" + base64.urlsafe_b64encode(digest[:30]).decode()
    thread_index = (msg.get("Thread-Index") or "").strip()
    if thread_index:
        return conversation_id, thread_index
    depth = len(references) or len(parent)
    index = b"\x01" + digest[:21] + hashlib.sha256(own_id.encode()).digest()[: 5 * min(depth, 40)]
    return conversation_id, base64.b64encode(index).decode()


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 5322 "-0000": no zone information; Exchange assumes UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_message(raw: bytes, *, mail_host: str) -> ParsedMessage:
    """Build the Graph content fields of one raw message.

    A missing Message-ID gets one derived from the content, as Exchange assigns one at
    submission: every copy of the same raw message then carries the same internetMessageId.
    ``mail_host`` is the right-hand side used for such ids.
    """
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    own_id = " ".join((msg.get("Message-ID") or "").split())
    if not own_id:
        own_id = f"<{hashlib.sha256(raw).hexdigest()[:32]}@{mail_host}>"
    text, html, attachments = _bodies(msg)
    if html is not None:
        body = {"contentType": "html", "content": html}
        preview_source = text if text is not None else _TAG.sub(" ", html)
    else:
        body = {"contentType": "text", "content": text or ""}
        preview_source = text or ""
    sender_from = recipients(msg.get_all("From") or [])
    sender = recipients(msg.get_all("Sender") or []) or sender_from
    conversation_id, conversation_index = _conversation(msg, own_id)
    sent_at = _date(msg.get("Date"))
    fields: dict[str, Any] = {
        "internetMessageId": own_id,
        "subject": decode_text(msg.get("Subject")),
        "bodyPreview": " ".join(preview_source.split())[:_PREVIEW_CHARS],
        "importance": _importance(msg),
        "conversationId": conversation_id,
        "conversationIndex": conversation_index,
        "hasAttachments": attachments,
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": msg.get("Disposition-Notification-To") is not None,
        "sender": sender[0] if sender else None,
        "from": sender_from[0] if sender_from else None,
        "toRecipients": recipients(msg.get_all("To") or []),
        "ccRecipients": recipients(msg.get_all("Cc") or []),
        "bccRecipients": recipients(msg.get_all("Bcc") or []),
        "replyTo": recipients(msg.get_all("Reply-To") or []),
        "body": body,
        "categories": [],
        "flag": {"flagStatus": "notFlagged"},
    }
    if sent_at is not None:
        fields["sentDateTime"] = iso_z(sent_at)
    headers = tuple(
        {"name": name, "value": " ".join(str(value).split())} for name, value in msg.items()
    )
    return ParsedMessage(fields=fields, headers=headers, sent_at=sent_at)


def parse_graph_message(message: Mapping[str, Any], *, mail_host: str) -> ParsedMessage:
    """Content fields from a Graph-shaped dict (tests, sendMail); missing fields get defaults."""
    body = message.get("body") or {"contentType": "text", "content": ""}
    content = str(body.get("content") or "")
    preview = content if body.get("contentType") == "text" else _TAG.sub(" ", content)
    own_id = str(message.get("internetMessageId") or "")
    if not own_id:
        digest = hashlib.sha256(repr(sorted(message.items())).encode()).hexdigest()
        own_id = f"<{digest[:32]}@{mail_host}>"
    sender = message.get("sender") or message.get("from")
    fields: dict[str, Any] = {
        "internetMessageId": own_id,
        "subject": str(message.get("subject") or ""),
        "bodyPreview": " ".join(preview.split())[:_PREVIEW_CHARS],
        "importance": message.get("importance", "normal"),
        "conversationId": message.get("conversationId")
        or "AAQkA"
        + base64.urlsafe_b64encode(hashlib.sha256(own_id.encode()).digest()[:30]).decode(),
        "conversationIndex": message.get("conversationIndex")
        or base64.b64encode(b"\x01" + hashlib.sha256(own_id.encode()).digest()[:21]).decode(),
        "hasAttachments": bool(message.get("hasAttachments", False)),
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "sender": sender,
        "from": message.get("from") or sender,
        "toRecipients": list(message.get("toRecipients") or []),
        "ccRecipients": list(message.get("ccRecipients") or []),
        "bccRecipients": list(message.get("bccRecipients") or []),
        "replyTo": list(message.get("replyTo") or []),
        "body": {"contentType": body.get("contentType", "text"), "content": content},
        "categories": list(message.get("categories") or []),
        "flag": message.get("flag") or {"flagStatus": "notFlagged"},
    }
    sent_at: datetime | None = None
    if message.get("sentDateTime"):
        sent_at = parse_iso(str(message["sentDateTime"]))
        fields["sentDateTime"] = iso_z(sent_at)
    headers = tuple(dict(h) for h in message.get("internetMessageHeaders") or ())
    return ParsedMessage(fields=fields, headers=headers, sent_at=sent_at)


def _address_header(items: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for item in items:
        email = item.get("emailAddress") or {}
        name, address = str(email.get("name") or ""), str(email.get("address") or "")
        parts.append(f'"{name}" <{address}>' if name and name != address else address)
    return ", ".join(parts)


def compose_raw(
    message: Mapping[str, Any],
    *,
    sender: tuple[str, str],
    message_id: str,
    sent_at: datetime,
) -> bytes:
    """The RFC 5322 form of a sendMail ``message`` (what Exchange would put on the wire)."""
    out = EmailMessage()
    name, address = sender
    out["From"] = f'"{name}" <{address}>' if name else address
    for header, key in (("To", "toRecipients"), ("Cc", "ccRecipients")):
        if message.get(key):
            out[header] = _address_header(message[key])
    if message.get("replyTo"):
        out["Reply-To"] = _address_header(message["replyTo"])
    out["Subject"] = str(message.get("subject") or "")
    out["Date"] = format_datetime(sent_at)
    out["Message-ID"] = message_id
    for extra in message.get("internetMessageHeaders") or ():
        # Graph only accepts custom x- headers here (message resource docs); we pass them on.
        out[str(extra.get("name"))] = str(extra.get("value"))
    body = message.get("body") or {}
    content = str(body.get("content") or "")
    subtype = "html" if str(body.get("contentType", "text")).lower() == "html" else "plain"
    out.set_content(content, subtype=subtype)
    return out.as_bytes()
