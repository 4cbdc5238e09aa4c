"""Calendar events: immutable event versions, recurrence expansion and Graph event JSON.

A calendar stores one `EventVersion` per single event or series master. calendarView (and its
delta) never returns a series master: it expands the series into ``occurrence`` items, moved
instances into ``exception`` items at their new time, and leaves cancelled instances (EXDATE)
out (event resource and calendarView docs).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr  # type: ignore[import-untyped, unused-ignore]

from syncd.sandbox.ids import ical_uid, iso_7, iso_z, outlook_id, utc

# Graph responseType values (attendee status / responseStatus).
_RESPONSES = {
    "accepted": "accepted",
    "accept": "accepted",
    "tentative": "tentativelyAccepted",
    "tentativelyaccepted": "tentativelyAccepted",
    "declined": "declined",
    "decline": "declined",
    "organizer": "organizer",
    "notresponded": "notResponded",
    "needs-action": "notResponded",
    "none": "none",
    "": "none",
}


def graph_response(value: str | None) -> str:
    """Map an iCalendar PARTSTAT or a loose label onto Graph's responseType enum."""
    return _RESPONSES.get((value or "").replace("_", "").lower(), "none")


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str
    name: str = ""
    response: str = "none"  # Graph responseType
    type: str = "required"  # required / optional / resource


@dataclass(frozen=True, slots=True)
class Occurrence:
    id: str
    original_start: datetime | None  # None for a single instance
    start: datetime
    end: datetime
    type: str  # singleInstance / occurrence / exception


@dataclass(frozen=True, slots=True)
class EventVersion:
    """One version of a single event or series master in one owner's calendar (immutable: an
    update stores a new version, so the change log can diff what a client saw before)."""

    id: str
    owner: str
    uid: str
    subject: str
    organizer: Attendee
    attendees: tuple[Attendee, ...]
    start: datetime
    end: datetime
    rrule: str | None = None  # RRULE value, e.g. "FREQ=WEEKLY;BYDAY=MO;COUNT=10"
    exdates: frozenset[datetime] = frozenset()  # original starts of cancelled instances
    overrides: tuple[tuple[datetime, datetime, datetime], ...] = ()  # (original, start, end)
    is_private: bool = False
    is_online: bool = False
    is_cancelled: bool = False
    tz: str = "UTC"  # IANA zone the series repeats in (wall-clock time, as in Outlook)
    body: str = ""
    location: str = ""
    created: datetime | None = None
    modified: datetime | None = None
    change_key: str = ""

    @property
    def is_series(self) -> bool:
        return self.rrule is not None

    def occurrences(self, lo: datetime, hi: datetime) -> tuple[Occurrence, ...]:
        """Instances overlapping [lo, hi), sorted by start."""
        return _expand(self, lo, hi)


def occurrence_id(master_id: str, original: datetime) -> str:
    # Stable across versions of the series: an exception keeps the id of the occurrence it
    # replaces, as in Exchange, so a moved instance is an update, not a delete + create.
    return outlook_id("AAMkAGI", master_id, original.isoformat())


@functools.lru_cache(maxsize=1024)
def _rule(value: str, start: datetime, tz: str) -> tuple[rrule, bool]:
    """(rule, naive). The rule runs on an aware DTSTART in ``tz``: Python adds time deltas on
    the wall clock, so a 09:30 Paris meeting stays at 09:30 across a DST change. dateutil
    refuses a floating UNTIL with an aware DTSTART; such a rule runs on the naive wall clock
    (``naive``) and `_instances` puts the zone back."""
    text = value if value.upper().startswith("RRULE:") else f"RRULE:{value}"
    local = start.astimezone(ZoneInfo(tz))
    try:
        return rrulestr(text, dtstart=local), False
    except ValueError:
        return rrulestr(text, dtstart=local.replace(tzinfo=None)), True


def check_rrule(value: str, start: datetime, tz: str = "UTC") -> None:
    """Raises: ValueError when ``value`` is not a usable RRULE (or ``tz`` not a zone)."""
    try:
        _rule(value, utc(start), tz)
    except ZoneInfoNotFoundError as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def _instances(value: str, start: datetime, tz: str, lo: datetime, hi: datetime) -> list[datetime]:
    rule, naive = _rule(value, start, tz)
    if naive:
        zone = ZoneInfo(tz)
        wall_lo = lo.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
        wall_hi = hi.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
        found = [d.replace(tzinfo=zone) for d in rule.between(wall_lo, wall_hi, inc=True)]
        return [utc(d) for d in found if lo <= d <= hi]
    return [utc(d) for d in rule.between(lo, hi, inc=True)]


@functools.lru_cache(maxsize=8192)
def _expand(version: EventVersion, lo: datetime, hi: datetime) -> tuple[Occurrence, ...]:
    if version.rrule is None:
        if version.start < hi and version.end > lo:
            return (Occurrence(version.id, None, version.start, version.end, "singleInstance"),)
        return ()
    duration = version.end - version.start
    moved = {orig: (start, end) for orig, start, end in version.overrides}
    found: list[Occurrence] = []
    for original in _instances(version.rrule, version.start, version.tz, lo - duration, hi):
        if original in version.exdates or original in moved:
            continue
        end = original + duration
        if original < hi and end > lo:
            found.append(
                Occurrence(
                    occurrence_id(version.id, original), original, original, end, "occurrence"
                )
            )
    for original, (start, end) in moved.items():
        if original not in version.exdates and start < hi and end > lo:
            found.append(
                Occurrence(occurrence_id(version.id, original), original, start, end, "exception")
            )
    found.sort(key=lambda occ: (occ.start, occ.id))
    return tuple(found)


def series_span(version: EventVersion, horizon: timedelta) -> tuple[datetime, datetime]:
    """A window that holds every instance of the event, bounded by start + horizon."""
    lo = min([version.start, *(start for _, start, _ in version.overrides)])
    if version.rrule is None:
        return lo, version.end
    cap = version.start + horizon
    last = _instances(version.rrule, version.start, version.tz, version.start, cap)
    ends = [d + (version.end - version.start) for d in last]
    ends += [end for _, _, end in version.overrides]
    return lo, max(ends or [version.end])


def _address(attendee: Attendee) -> dict[str, Any]:
    return {"emailAddress": {"name": attendee.name or attendee.email, "address": attendee.email}}


def _location(name: str) -> dict[str, Any]:
    # Outlook names a free-text location by itself ("private" unique id); no location at all
    # is an empty displayName with an "unknown" id type.
    if not name:
        return {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}
    return {
        "displayName": name,
        "locationType": "default",
        "uniqueId": name,
        "uniqueIdType": "private",
    }


@functools.lru_cache(maxsize=20_000)  # about 50 MB at most
def event_json(version: EventVersion, occ: Occurrence, *, web_base: str) -> dict[str, Any]:
    """The Graph ``event`` for one instance, as calendarView (delta) returns it.

    Cached per (version, instance): versions are immutable, so the item a change produced is
    built once and re-served as is by later rounds, replays and resyncs. Callers must not
    modify the returned dict.

    Times are UTC (no ``Prefer: outlook.timezone`` support). ``originalStart`` exists only on
    occurrences and exceptions, as documented.
    """
    own = version.owner
    is_organizer = version.organizer.email == own
    if is_organizer:
        response = {"response": "organizer", "time": "0001-01-01T00:00:00Z"}
    else:
        mine = next((a for a in version.attendees if a.email == own), None)
        response = {
            "response": mine.response if mine else "none",
            "time": iso_z(version.modified)
            if mine and mine.response != "none"
            else "0001-01-01T00:00:00Z",
        }
    join_url = f"https://teams.microsoft.com/l/meetup-join/{quote(version.uid, safe='')}"
    item: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.event",
        "@odata.etag": f'W/"{version.change_key}"',
        "id": occ.id,
        "createdDateTime": iso_7(version.created or version.start) + "Z",
        "lastModifiedDateTime": iso_7(version.modified or version.start) + "Z",
        "changeKey": version.change_key,
        "categories": [],
        "transactionId": None,
        "originalStartTimeZone": version.tz,
        "originalEndTimeZone": version.tz,
        "iCalUId": ical_uid(version.uid, occ.original_start),
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": version.subject,
        "bodyPreview": " ".join(version.body.split())[:255],
        "importance": "normal",
        "sensitivity": "private" if version.is_private else "normal",
        "isAllDay": False,
        "isCancelled": False,
        "isOrganizer": is_organizer,
        "responseRequested": True,
        "seriesMasterId": version.id if version.is_series else None,
        "showAs": "busy" if response["response"] != "declined" else "free",
        "type": occ.type,
        "webLink": f"{web_base}?itemid={quote(occ.id, safe='')}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": version.is_online,
        "onlineMeetingProvider": "teamsForBusiness" if version.is_online else "unknown",
        "allowNewTimeProposals": True,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": response,
        "body": {"contentType": "html", "content": f"<html><body>{version.body}</body></html>"},
        "start": {"dateTime": iso_7(occ.start), "timeZone": "UTC"},
        "end": {"dateTime": iso_7(occ.end), "timeZone": "UTC"},
        "location": _location(version.location),
        "locations": [_location(version.location)] if version.location else [],
        "recurrence": None,
        "attendees": [
            {
                "type": a.type,
                "status": {"response": a.response, "time": "0001-01-01T00:00:00Z"},
                **_address(a),
            }
            for a in version.attendees
        ],
        "organizer": _address(version.organizer),
        "onlineMeeting": {"joinUrl": join_url} if version.is_online else None,
    }
    if occ.original_start is not None:
        item["originalStart"] = iso_z(occ.original_start)
    return item
