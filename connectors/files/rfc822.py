"""One RFC 5322 message header block -> Interaction, or RejectedItem with the reason.

Only the header block is ever read or parsed: bodies are not stored (DESIGN.md, contract 8), and
skipping them is what makes a 40,000-file import fast. The field splitter below is a small
hand-rolled equivalent of `email.parser.BytesHeaderParser(policy=compat32)` restricted to what we
need (name/value pairs, unfolded, stopping at the first line that is not a header): it is several
times faster because it does not run the feed parser's per-line state machine or build a Message.
Values keep their RFC 2047 encoded words; `connectors.normalize` decodes them.
"""

from __future__ import annotations

import mmap
import re
from datetime import datetime

from connectors.base import Interaction, Kind, Participant, RejectedItem, Role
from connectors.files.common import excerpt
from connectors.normalize import (
    decode_header_text,
    email_fingerprint,
    is_automated_address,
    normalize_message_id,
    parse_address_list,
    parse_date,
)

# A header block larger than this is not mail we can use (a 10,000-recipient To: is ~400 KiB).
MAX_HEADER_BYTES = 8 * 1024 * 1024
# Past this many participants the rest are dropped and the total recorded in extra.
MAX_PARTICIPANTS = 10_000
_READ_CHUNK = 64 * 1024

# RFC 5322 field name: printable ASCII except ":"; obsolete syntax allows blanks before the colon.
_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:(.*)")
_ANGLE_ID = re.compile(r"<[^<>\s]+>")
_RECIPIENT_FIELDS = (("to", Role.TO), ("cc", Role.CC), ("bcc", Role.BCC))
_PRIVATE_SENSITIVITY = frozenset({"private", "company-confidential", "confidential"})
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_AUTOMATION_FIELDS = ("list-unsubscribe", "list-id", "x-autoreply", "x-autorespond")

Fields = dict[str, list[str]]


def header_end(data: bytes | mmap.mmap, start: int = 0, stop: int | None = None) -> int:
    """Offset of the blank line ending the header block in data[start:stop], or -1.

    Accepts LF, CRLF and the mixed `\\n\\r\\n` that some converters write.
    """
    stop = len(data) if stop is None else stop
    if data[start : start + 1] == b"\n" or data[start : start + 2] == b"\r\n":
        return start  # no header at all
    found = [
        pos
        for pos in (data.find(b"\n\n", start, stop), data.find(b"\n\r\n", start, stop))
        if pos >= 0
    ]
    return min(found) if found else -1


def read_header_block(path: str) -> tuple[bytes, bool]:
    """Read a message file up to the end of its header block.

    Returns (block, terminated): `terminated` is False when the file ended (or the size cap was
    hit) before a blank line. Raises OSError.
    """
    with open(path, "rb") as handle:
        # Some exporters put blank lines before the header (Enron allen-p/inbox/8 does); an
        # empty header block is never valid, so they are dropped rather than read as one.
        data = handle.read(_READ_CHUNK).lstrip(b"\r\n")
        while True:
            end = header_end(data)
            if end >= 0:
                return data[:end], True
            if len(data) >= MAX_HEADER_BYTES:
                return data, False
            more = handle.read(_READ_CHUNK * 4)
            if not more:
                return data, False
            data += more


def _decode(block: bytes) -> str:
    """Headers should be ASCII; in practice they are also raw UTF-8 or Windows-1252."""
    try:
        return block.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Mixed blocks exist (one field UTF-8, another Latin-1): decode line by line.
    lines = []
    for line in block.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("cp1252", "replace"))
    return "\n".join(lines)


def split_fields(text: str) -> Fields:
    """Unfolded header fields by lower-cased name, in order of appearance.

    Like the stdlib feed parser, the block ends at the first line that is neither a field nor a
    continuation, and a leading mbox `From ` envelope line is skipped.
    """
    fields: Fields = {}
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("From "):
        del lines[0]
    name = ""
    parts: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if name:
                parts.append(line)
            continue
        match = _FIELD.match(line)
        if match is None:
            break
        if name:
            fields.setdefault(name, []).append("".join(parts).strip())
        name = match.group(1).lower()
        parts = [match.group(2)]
    if name:
        fields.setdefault(name, []).append("".join(parts).strip())
    return fields


def _first(fields: Fields, name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _first_id(value: str | None) -> str | None:
    """The first message id of a References/In-Reply-To value (which may carry comments)."""
    if not value:
        return None
    match = _ANGLE_ID.search(value)
    if match:
        return normalize_message_id(match.group(0))
    words = value.split()
    return normalize_message_id(words[0]) if words else None


def _received_date(fields: Fields) -> datetime | None:
    # The bottom-most Received (the first hop, next to the sender) is the closest to the send
    # time and the most likely to be the same in every recipient's copy.
    for value in reversed(fields.get("received", [])):
        _, sep, when = value.rpartition(";")
        if sep:
            parsed = parse_date(when)
            if parsed is not None:
                return parsed
    return None


def _is_automated(fields: Fields, sender: str | None) -> bool:
    auto = _first(fields, "auto-submitted")
    if auto and auto.split(";", 1)[0].strip().lower() != "no":
        return True
    precedence = _first(fields, "precedence")
    if precedence and precedence.strip().lower() in _BULK_PRECEDENCE:
        return True
    if any(name in fields for name in _AUTOMATION_FIELDS):
        return True
    return sender is not None and is_automated_address(sender)


def parse_message(block: bytes, *, provider_id: str, folder: str) -> Interaction | RejectedItem:
    """Normalise one header block (bytes up to, not including, the blank line).

    Never raises for bad input: the reason comes back as a RejectedItem.
    """
    if not block.strip():
        return RejectedItem(provider_id, "empty message: no header fields", excerpt(block))
    if b"\x00" in block:
        return RejectedItem(provider_id, "not a message: binary data in the header", excerpt(block))
    fields = split_fields(_decode(block))
    if not fields:
        reason = "not an RFC 5322 message: no header fields"
        return RejectedItem(provider_id, reason, excerpt(block))

    extra: dict[str, str] = {}
    date_value = _first(fields, "date")
    sent_at = parse_date(date_value) if date_value else None
    occurred_at = sent_at
    if occurred_at is None:
        occurred_at = _received_date(fields)
        if occurred_at is None:
            return RejectedItem(provider_id, "no usable Date header", excerpt(block))
        extra["date_source"] = "received"

    participants: list[Participant] = []
    seen: set[tuple[str, Role]] = set()
    recipients: list[str] = []  # To + Cc keys, for the derived key; never capped
    total = 0

    def add(value: str, role: Role) -> None:
        nonlocal total
        for name, key in parse_address_list(value):
            if (key, role) in seen:
                continue
            seen.add((key, role))
            total += 1
            if role is not Role.BCC and role is not Role.FROM:
                recipients.append(key)
            if len(participants) < MAX_PARTICIPANTS:
                participants.append(Participant(key, role, name))

    # Sender stands in for a missing or unusable From (RFC 5322 3.6.2).
    for sender_field in ("from", "sender"):
        for value in fields.get(sender_field, ()):
            add(value, Role.FROM)
        if participants:
            break
    sender = participants[0].email if participants else None
    for field_name, role in _RECIPIENT_FIELDS:
        for value in fields.get(field_name, ()):
            add(value, role)
    if not participants:
        return RejectedItem(provider_id, "no usable sender or recipient", excerpt(block))
    if total > len(participants):
        extra["participants_total"] = str(total)

    subject = decode_header_text(_first(fields, "subject"))
    date_part = sent_at.isoformat() if sent_at else (date_value or "").strip()
    fingerprint = email_fingerprint(sender or "", date_part, subject, recipients)
    natural_key = normalize_message_id(_first(fields, "message-id")) or fingerprint
    in_reply_to = _first_id(_first(fields, "in-reply-to"))
    sensitivity = (_first(fields, "sensitivity") or "").strip().lower()
    return Interaction(
        natural_key=natural_key,
        kind=Kind.EMAIL,
        provider_id=provider_id,
        occurred_at=occurred_at,
        subject=subject,
        thread_key=_first_id(_first(fields, "references")) or in_reply_to or natural_key,
        in_reply_to=in_reply_to,
        participants=tuple(participants),
        is_private=sensitivity in _PRIVATE_SENSITIVITY,
        is_automated=_is_automated(fields, sender),
        folder=folder,
        extra=extra,
        fingerprint=fingerprint,
    )
