"""Identifiers, timestamps and opaque paging tokens, shaped the way Microsoft 365 shapes them.

Everything here is deterministic for the same inputs, so a sandbox seeded twice the same way hands
out the same ids (benchmarks and failing tests can be replayed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

_NAMESPACE = uuid.UUID("5b0c3d4e-8f1a-4c2b-9d7e-6a5f4e3d2c1b")

# Exchange's GlobalObjectId starts with this class id (MS-OXOCAL 2.2.1.27). Graph's iCalUId is
# the hex form of that structure, which is why documented samples start with "040000008200E000".
_GOID_CLASS = bytes.fromhex("040000008200E00074C5B7101A82E008")
_VCAL_MARKER = b"vCal-Uid\x01\x00\x00\x00"


def guid(*parts: str) -> str:
    """A stable GUID string (directory object ids: users, groups, tenants, call records)."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def outlook_id(prefix: str, *parts: str) -> str:
    """An opaque Exchange-style item id such as ``AAMkA...=``: URL-safe base64, stable per parts.

    Real ids are base64 of an EntryId; clients must treat them as opaque, and so do we. The
    URL-safe alphabet keeps them usable as path segments without quoting.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()[:31]
    return prefix + base64.urlsafe_b64encode(digest).decode()


def ical_uid(uid: str, instance: datetime | None = None) -> str:
    """Graph's ``iCalUId`` for an event with iCalendar UID ``uid``.

    Real Graph documents iCalUId as "different for each occurrence in a recurring series"
    (event resource, microsoft-graph-docs). Exchange builds it from the GlobalObjectId, whose
    bytes 16..19 hold the instance date (year hi, year lo, month, day) of an occurrence and are
    zero for a single event or series master. We do the same, so every attendee's copy of one
    occurrence has the same iCalUId and a connector can still recover the series (bytes after 20).
    """
    if instance is None:
        date = b"\x00\x00\x00\x00"
    else:
        date = bytes([instance.year >> 8, instance.year & 0xFF, instance.month, instance.day])
    try:
        goid = bytes.fromhex(uid)
    except ValueError:
        goid = b""
    if goid.startswith(_GOID_CLASS) and len(goid) >= 40:
        # An Outlook-made UID already is a GlobalObjectId: only the instance date changes.
        return (goid[:16] + date + goid[20:]).hex().upper()
    data = _VCAL_MARKER + uid.encode() + b"\x00"
    blob = _GOID_CLASS + date + b"\x00" * 16 + len(data).to_bytes(4, "little") + data
    return blob.hex().upper()


def change_key(*parts: str) -> str:
    """A changeKey-like token (``CQAAABYAAAA...``) that differs for each version of an item."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()[:21]
    return "CQAAABYAAA" + base64.b64encode(digest).decode()


# ---- timestamps --------------------------------------------------------------------------

_ZERO_TIME = "0001-01-01T00:00:00Z"  # Graph's "never" (attendee status time when unanswered)


def utc(dt: datetime) -> datetime:
    """Aware UTC; naive values are taken as UTC (the demo generator and tests use UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso_z(dt: datetime | None) -> str:
    """Message and directory form: ``2018-09-09T03:15:08Z`` (whole seconds, like Graph)."""
    if dt is None:
        return _ZERO_TIME
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_7(dt: datetime) -> str:
    """dateTimeTimeZone.dateTime form: ``2017-04-21T10:00:00.0000000`` (no offset, 7 digits)."""
    value = utc(dt)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0"


def iso_7z(dt: datetime) -> str:
    """Subscription / call record form: ``2016-11-20T18:23:45.9356913Z``."""
    return iso_7(dt) + "Z"


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp as Graph clients send it (``Z``, offsets, 7 digits, naive=UTC).

    Raises: ValueError when ``value`` is not a timestamp.
    """
    text = value.strip().strip("'")
    # An unencoded "+" in a query string arrives as a space: "...T10:00:00 02:00".
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text)
    return utc(datetime.fromisoformat(text))  # 3.11 takes "Z" and 7 fractional digits


# ---- opaque tokens -----------------------------------------------------------------------


class TokenCodec:
    """Signs small JSON payloads into opaque URL-safe strings ($skiptoken, $deltatoken).

    Graph tells clients to treat paging links as opaque; the MAC makes the sandbox reject a
    token that a client edited instead of following verbatim.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encode(self, payload: dict[str, Any]) -> str:
        data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(self._key, data, hashlib.sha256).digest()[:9]
        return base64.urlsafe_b64encode(mac + data).decode().rstrip("=")

    def decode(self, token: str) -> dict[str, Any] | None:
        """The payload, or None when the token is malformed or was not issued by us."""
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        mac, data = blob[:9], blob[9:]
        expected = hmac.new(self._key, data, hashlib.sha256).digest()[:9]
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None
