"""The tenant's Teams call records: a watermark poll over List callRecords.

There is no delta for call records (M365-NOTES 4.7). A round lists the records whose
``startDateTime`` is at or after the previous round's start minus `OVERLAP`, page by page, and
the next round starts from the new watermark. A record only appears once the call has ended
(and is kept 30 days), so the overlap must exceed the longest call plus the publishing delay;
records seen again are re-sent and the service keeps the highest ``version`` per key. The
first round looks back ``calendar_backfill_days`` (Graph returns at most 30 days anyway).

Keys: ``natural_key = "call:<record id>"`` (the id is tenant-wide, the same for every
participant), ``version`` = the record's version. Participants: the organizer is the CALLER,
everyone else a CALLEE. A participant's key is its normalised userPrincipalName when Graph gives
one (``participants_v2``), else ``aad:<Entra object id>`` for users and guests without one
(resolvable later through the directory), ``tel:<E.164 number>`` for PSTN parties. Bots,
applications and devices (call queues, auto attendants, rooms) are not people and are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import (
    CursorInvalidError,
    Interaction,
    Kind,
    NamedStream,
    Page,
    Participant,
    RejectedItem,
    Role,
    TransientError,
)
from connectors.msgraph import operations
from connectors.msgraph.limits import TENANT
from connectors.msgraph.mail import excerpt
from connectors.msgraph.transport import GraphCall, GraphTransport
from connectors.normalize import normalize_address, parse_date

STREAM_KEY = "tenant/callRecords"
OVERLAP = timedelta(hours=24)
CURSOR_VERSION = 1
_PEOPLE_KINDS = ("user", "guest", "onPremises", "encrypted")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity_key(identity_set: Any) -> tuple[str, str] | None:
    """(participant key, display name) of a Graph identitySet, or None (not a person)."""
    if not isinstance(identity_set, dict):
        return None
    for kind in _PEOPLE_KINDS:
        who = identity_set.get(kind)
        if not isinstance(who, dict):
            continue
        name = str(who.get("displayName") or "")
        for field in ("userPrincipalName", "email", "mail"):
            value = who.get(field)
            key = normalize_address(value) if isinstance(value, str) else None
            if key is not None and not key.startswith("x500:"):
                return key, name
        if who.get("id"):
            return f"aad:{str(who['id']).strip().lower()}", name
    phone = identity_set.get("phone")
    if isinstance(phone, dict) and phone.get("id"):
        number = "".join(c for c in str(phone["id"]) if c.isdigit() or c == "+")
        if number.strip("+"):
            return f"tel:{number}", str(phone.get("displayName") or "")
    return None


def normalize_call(record: dict[str, Any]) -> Interaction | RejectedItem:
    """One callRecord -> Interaction, or RejectedItem with the reason. Never raises."""
    record_id = str(record.get("id") or "")
    if not record_id:
        return RejectedItem("", "call record without id", excerpt(record))
    start = parse_date(record.get("startDateTime"))
    if start is None:
        return RejectedItem(
            record_id, "call record without a usable startDateTime", excerpt(record)
        )
    organizer_v2 = record.get("organizer_v2")
    organizer_set = (
        organizer_v2.get("identity") if isinstance(organizer_v2, dict) else None
    ) or record.get("organizer")
    organizer = identity_key(organizer_set)
    participants: list[Participant] = []
    if organizer is not None:
        participants.append(Participant(organizer[0], Role.CALLER, organizer[1]))
    others = record.get("participants_v2")
    sets = (
        [p.get("identity") for p in others if isinstance(p, dict)]
        if isinstance(others, list)
        else list(record.get("participants") or ())
    )
    seen = {organizer[0]} if organizer else set()
    for identity in sets:
        found = identity_key(identity)
        if found is None or found[0] in seen:
            continue
        seen.add(found[0])
        participants.append(Participant(found[0], Role.CALLEE, found[1]))
    try:
        version = int(record.get("version") or 0)
    except (TypeError, ValueError):
        version = 0
    extra = {"call_type": str(record.get("type") or "unknown")}
    modalities = record.get("modalities")
    if isinstance(modalities, list) and modalities:
        extra["modalities"] = ",".join(str(m) for m in modalities)
    return Interaction(
        natural_key=f"call:{record_id}",
        kind=Kind.CALL,
        provider_id=record_id,
        occurred_at=start,
        ended_at=parse_date(record.get("endDateTime")),
        participants=tuple(participants),
        version=version,
        folder="callRecords",
        extra=extra,
    )


class CallRecordsStream(NamedStream):
    """Tenant-wide call records. Cursor: JSON ``{"v": 1, "w": watermark, "next": link|null}``:
    ``w`` is the start of the current (or last) round; ``next`` the page to fetch within it."""

    def __init__(
        self,
        transport: GraphTransport,
        *,
        page_size: int,
        lookback_days: int,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__(STREAM_KEY, None)
        self._transport = transport
        self._page_size = page_size
        self._lookback = timedelta(days=max(1, lookback_days))
        self._now = now

    def fetch_page(self, cursor: str | None) -> Page:
        """One List callRecords request.

        Raises: CursorInvalidError, AuthError (CallRecords.Read.All missing), ThrottledError,
        TransientError.
        """
        link: str | None = None
        now = self._now().astimezone(UTC)
        if cursor is None:
            watermark, since = now, now - self._lookback
        else:
            previous, link = self._load(cursor)
            if link is None:  # the last round is complete: a new one from its start
                watermark, since = now, previous - OVERLAP
            else:
                watermark, since = previous, previous  # `since` is unused when following
        call = GraphCall(
            "the tenant's call records", TENANT, "CallRecords.Read.All", cursor=bool(link)
        )
        body = operations.list_call_records(
            self._transport, call, since=_iso(since), page_size=self._page_size, link=link
        )
        values = body.get("value")
        records = values if isinstance(values, list) else []
        next_link = body.get("@odata.nextLink")
        if next_link is not None and not isinstance(next_link, str):
            raise TransientError("call records: malformed @odata.nextLink")
        interactions: list[Interaction] = []
        rejected: list[RejectedItem] = []
        for record in records:
            result = (
                normalize_call(record)
                if isinstance(record, dict)
                else RejectedItem("", "call record is not a JSON object", excerpt(record))
            )
            if isinstance(result, Interaction):
                interactions.append(result)
            else:
                rejected.append(result)
        state = {"v": CURSOR_VERSION, "w": _iso(watermark), "next": next_link}
        return Page(
            interactions=interactions,
            cursor=json.dumps(state, separators=(",", ":"), sort_keys=True),
            complete=next_link is None,
            rejected=rejected,
            items_seen=len(records),
        )

    def _load(self, cursor: str) -> tuple[datetime, str | None]:
        try:
            state = json.loads(cursor)
        except ValueError as exc:
            raise CursorInvalidError(f"{STREAM_KEY}: cursor is not JSON") from exc
        if not isinstance(state, dict) or state.get("v") != CURSOR_VERSION:
            raise CursorInvalidError(f"{STREAM_KEY}: unknown cursor {cursor[:80]!r}")
        watermark = parse_date(state.get("w")) if isinstance(state.get("w"), str) else None
        link = state.get("next")
        if watermark is None or (link is not None and not isinstance(link, str)):
            raise CursorInvalidError(f"{STREAM_KEY}: unusable cursor {cursor[:80]!r}")
        if isinstance(link, str) and not link.startswith(self._transport.graph_url):
            raise CursorInvalidError(f"{STREAM_KEY}: foreign nextLink {link[:80]!r}")
        return watermark, link
