"""The calendar stream: calendarView delta -> one Interaction per meeting occurrence.

Natural key of a meeting occurrence, the same in every attendee's calendar (DESIGN contract 3)
----------------------------------------------------------------------------------------------
Graph's event ``id`` is per mailbox copy, so it cannot be the key. What every copy shares is
``iCalUId``: Exchange derives it from the meeting's GlobalObjectId (MS-OXOCAL 2.2.1.27,
PidLidGlobalObjectId), which the organizer's invitation carries to every attendee. For an
instance of a recurring series the GlobalObjectId embeds the *instance date* in bytes 16..19
(year high, year low, month, day), so Graph's iCalUId differs per occurrence (the event resource
docs say so) and is zero there for a single event or the series. The rule is therefore:

    series uid = iCalUId with bytes 16..19 zeroed ("CleanGlobalObjectId"), decoded further when
                 the blob wraps a foreign iCalendar UID ("vCal-Uid" + UID, meetings created
                 outside Outlook), in which case that UID itself is used;
    slot       = originalStart (the occurrence's place in the series, kept when an exception
                 moves it) for occurrences and exceptions, else start;
    key        = connectors.base.meeting_key(series uid, slot).

So the key survives a moved occurrence, and it is the key the files connector computes from an
.ics export of the same meeting (its UID is the clean GlobalObjectId, or the original UID).
A non-GlobalObjectId iCalUId (another server) is used as it is.

The window [now - backfill, now + horizon] is fixed by the first request (Graph encodes it in
its tokens); it is kept in our JSON cursor too, so that after a completed round whose window has
less than half the horizon left ahead, the next poll starts a fresh round with a new window
(items now before the window keep their sightings: they are history, not deletions).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.base import (
    CursorInvalidError,
    Interaction,
    Kind,
    NamedStream,
    Page,
    Participant,
    RejectedItem,
    Role,
    meeting_key,
)
from connectors.msgraph import operations
from connectors.msgraph.mail import build_page, excerpt, graph_time, participant, subject_text
from connectors.msgraph.settings import MailboxInfo
from connectors.msgraph.transport import GraphCall, GraphTransport
from connectors.normalize import decode_header_text, normalize_address, parse_date

FOLDER = "calendar"
CURSOR_VERSION = 1
_GOID_CLASS = bytes.fromhex("040000008200E00074C5B7101A82E008")
_VCAL_MARKER = b"vCal-Uid\x01\x00\x00\x00"
_GOID_HEADER = 40  # class id 16, instance date 4, creation time 8, reserved 8, data size 4
_PRIVATE = frozenset({"private", "confidential"})
_RESPONSES = {
    "accepted": "accepted",
    "declined": "declined",
    "tentativelyaccepted": "tentative",
    "tentative": "tentative",
    "organizer": "accepted",
    "none": "none",
    "notresponded": "none",
}


@lru_cache(maxsize=1 << 14)  # pure; an occurrence's iCalUId recurs in every attendee's calendar
def series_uid(ical_uid: str) -> str:
    """The identifier shared by every occurrence and every copy of a meeting (module doc)."""
    text = ical_uid.strip()
    try:
        blob = bytes.fromhex(text)
    except ValueError:
        return text
    if len(blob) < _GOID_HEADER or not blob.startswith(_GOID_CLASS):
        return text
    size = int.from_bytes(blob[36:40], "little")
    data = blob[_GOID_HEADER : _GOID_HEADER + size]
    if data.startswith(_VCAL_MARKER):
        original = data[len(_VCAL_MARKER) :].split(b"\x00", 1)[0].decode("utf-8", "replace")
        if original.strip():
            return original.strip()
    return (blob[:16] + b"\x00\x00\x00\x00" + blob[20:]).hex().upper()


def _event_time(value: Any) -> datetime | None:
    """A Graph dateTimeTimeZone (``{"dateTime": "2017-04-21T10:00:00.0000000", "timeZone":
    "UTC"}``) as aware UTC, or None."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        return None
    return _event_time_of(value["dateTime"], str(value.get("timeZone") or "UTC"))


@lru_cache(maxsize=1 << 14)  # pure; a meeting's times recur in every attendee's calendar
def _event_time_of(date_time: str, zone_name: str) -> datetime | None:
    text = date_time.strip()
    head, dot, fraction = text.partition(".")
    if dot:  # Graph sends 7 fractional digits
        text = f"{head}.{fraction[:6]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if zone_name.upper() in ("UTC", "Z", "GMT", "COORDINATED UNIVERSAL TIME"):
            parsed = parsed.replace(tzinfo=UTC)
        else:
            try:
                parsed = parsed.replace(tzinfo=ZoneInfo(zone_name))
            except (ZoneInfoNotFoundError, ValueError):
                return None
    return parsed.astimezone(UTC)


def _person(value: Any) -> tuple[str, str] | None:
    email = value.get("emailAddress") if isinstance(value, dict) else None
    if not isinstance(email, dict):
        return None
    return _person_of(str(email.get("address") or ""), str(email.get("name") or ""))


@lru_cache(maxsize=1 << 16)  # pure; attendees recur across occurrences and calendars
def _person_of(raw_address: str, raw_name: str) -> tuple[str, str] | None:
    address = raw_address.strip()
    key = normalize_address(address) if address else None
    if key is None:
        return None
    name = decode_header_text(raw_name)
    return key, "" if name.lower() == address.lower() else name


@lru_cache(maxsize=1 << 16)  # pure; the same people answer the same way across occurrences
def _attendee(raw_address: str, raw_name: str, raw_response: str) -> Participant | None:
    found = _person_of(raw_address, raw_name)
    if found is None:
        return None
    response = _RESPONSES.get(raw_response.lower(), "none")
    return participant(found[0], Role.ATTENDEE, found[1], response)


def normalize_event(item: dict[str, Any]) -> Interaction | RejectedItem | None:
    """One calendarView delta item -> Interaction (one occurrence), RejectedItem, or None
    (drafts and series masters, which calendarView does not normally return). Never raises."""
    provider_id = str(item.get("id") or "")
    kind = str(item.get("type") or "singleInstance")
    if item.get("isDraft") is True or kind == "seriesMaster":
        return None
    ical = item.get("iCalUId")
    if not isinstance(ical, str) or not ical.strip():
        return RejectedItem(provider_id, "event without iCalUId", excerpt(item))
    start = _event_time(item.get("start"))
    if start is None:
        return RejectedItem(provider_id, "event without a usable start", excerpt(item))
    end = _event_time(item.get("end"))
    slot = start
    if kind in ("occurrence", "exception"):
        slot = graph_time(item.get("originalStart")) or start
    uid = series_uid(ical)

    participants: list[Participant] = []
    seen: set[tuple[str, Role]] = set()
    organizer = _person(item.get("organizer"))
    if organizer is not None:
        participants.append(participant(organizer[0], Role.ORGANIZER, organizer[1]))
        seen.add((organizer[0], Role.ORGANIZER))
    attendees: set[str] = set()  # an address listed twice is one attendee
    for attendee in item.get("attendees") or ():
        if not isinstance(attendee, dict) or attendee.get("type") == "resource":
            continue  # rooms and equipment are not people
        email = attendee.get("emailAddress")
        if not isinstance(email, dict):
            continue
        status = attendee.get("status")
        found = _attendee(
            str(email.get("address") or ""),
            str(email.get("name") or ""),
            str(status.get("response") or "") if isinstance(status, dict) else "",
        )
        if found is None or found.email in attendees:
            continue
        attendees.add(found.email)
        participants.append(found)

    extra = {"event_type": kind}
    own = item.get("responseStatus")
    if isinstance(own, dict) and own.get("response"):
        extra["own_response"] = _RESPONSES.get(str(own["response"]).lower(), "none")
    if item.get("isAllDay") is True:
        extra["all_day"] = "true"
    if item.get("isOnlineMeeting") is True:
        extra["online"] = "true"
    subject = item.get("subject")
    return Interaction(
        natural_key=meeting_key(uid, slot),
        kind=Kind.MEETING,
        provider_id=provider_id,
        occurred_at=start,
        subject=subject_text(subject) if isinstance(subject, str) else "",
        ended_at=end,
        thread_key=uid,
        participants=tuple(participants),
        is_private=str(item.get("sensitivity") or "").lower() in _PRIVATE,
        is_cancelled=item.get("isCancelled") is True,
        folder=FOLDER,
        extra=extra,
    )


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CalendarStream(NamedStream):
    """calendarView delta of one mailbox's primary calendar.

    Cursor: JSON ``{"v": 1, "link": nextLink/deltaLink, "done": bool, "lo": iso, "hi": iso}``.
    """

    def __init__(
        self,
        transport: GraphTransport,
        mailbox: MailboxInfo,
        *,
        page_size: int,
        backfill_days: int,
        horizon_days: int,
        now: Callable[[], datetime],
    ) -> None:
        self._transport = transport
        self._mailbox = mailbox
        self._page_size = page_size
        self._backfill = timedelta(days=max(0, backfill_days))
        self._horizon = timedelta(days=max(1, horizon_days))
        self._now = now
        super().__init__(f"{mailbox.address}/calendar", mailbox.address)

    def window(self) -> tuple[datetime, datetime]:
        """[now - backfill, now + horizon], widened to whole UTC days."""
        now = self._now().astimezone(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        lo = midnight - self._backfill
        hi = midnight + self._horizon + timedelta(days=1)
        return lo, hi

    def fetch_page(self, cursor: str | None) -> Page:
        """One calendarView delta request.

        Raises: CursorInvalidError, StreamGoneError, AuthError, ThrottledError, TransientError.
        """
        link: str | None = None
        if cursor is not None:
            state = self._load(cursor)
            lo, hi = state["lo"], state["hi"]
            link = state["link"]
            window_end = parse_date(hi)
            if (
                state["done"]
                and window_end is not None
                and window_end - self._now().astimezone(UTC) < self._horizon / 2
            ):
                link = None  # the window is running out: a new round with a new window
        if link is None:
            start, end = self.window()
            lo, hi = _iso(start), _iso(end)
        call = GraphCall(
            f"the calendar of {self._mailbox.address}",
            self._mailbox.address,
            "Calendars.Read",
            cursor=link is not None,
        )
        body = operations.calendar_view_delta(
            self._transport,
            call,
            user_id=self._mailbox.user_id,
            start=lo,
            end=hi,
            page_size=self._page_size,
            link=link,
        )
        page = build_page(body, call.what, self._mailbox.address, normalize_event)
        page_cursor = json.dumps(
            {"v": CURSOR_VERSION, "link": page.cursor, "done": page.complete, "lo": lo, "hi": hi},
            separators=(",", ":"),
            sort_keys=True,
        )
        return Page(
            interactions=page.interactions,
            cursor=page_cursor,
            complete=page.complete,
            deletions=page.deletions,
            rejected=page.rejected,
            items_seen=page.items_seen,
            mailbox_hint=page.mailbox_hint,
        )

    def _load(self, cursor: str) -> dict[str, Any]:
        try:
            state = json.loads(cursor)
        except ValueError as exc:
            raise CursorInvalidError(f"{self._key}: cursor is not JSON") from exc
        ok = (
            isinstance(state, dict)
            and state.get("v") == CURSOR_VERSION
            and isinstance(state.get("link"), str)
            and isinstance(state.get("lo"), str)
            and isinstance(state.get("hi"), str)
            and state["link"].startswith(self._transport.graph_url)
            and "/calendarview/delta" in state["link"].lower()
        )
        if not ok:
            raise CursorInvalidError(f"{self._key}: not a calendar cursor: {cursor[:80]!r}")
        state["done"] = bool(state.get("done"))
        return dict(state)
