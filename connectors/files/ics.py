"""A stream over one iCalendar (.ics) file: every occurrence of every VEVENT in a time window
becomes one meeting interaction.

Window. Recurring series are infinite, so occurrences are expanded between two instants: the
`window` given to `open_streams`, else today (UTC) -/+ 365 days. A file with no occurrence at all
in that default window (an archive, e.g. a 2001 export) is expanded over its own span instead:
earliest DTSTART to latest DTSTART + 365 days, so that an old export imports something useful and
an open-ended series still stops. An explicit window is always used as given.

Occurrence identity. natural_key = "<UID>|<RECURRENCE-ID in UTC>", which for every occurrence that
was not moved is its start; for a moved occurrence (an override with RECURRENCE-ID) it is the
original slot. That keeps one interaction per occurrence even when some attendees' copies still
show the old time (DESIGN.md contract 3).

Time zones. TZIDs resolve through the file's VTIMEZONE, Olson names (Europe/Paris) and Windows
names (Romance Standard Time -> Europe/Paris), all handled by icalendar itself. Floating times,
and TZIDs nobody knows, are read as UTC (the latter flagged in `extra`); all-day events start at
midnight UTC.

Cursor::

    {"v": 1, "index": <occurrences done>, "done": bool, "sig": [size, mtime_ns],
     "window": [start, end]}

A change of file or window starts a new round from index 0.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar
import recurring_ical_events

from connectors.base import (
    Interaction,
    Kind,
    Page,
    Participant,
    RejectedItem,
    Role,
    meeting_key,
)
from connectors.files.common import (
    PAGE_SIZE,
    FileStream,
    dump_cursor,
    excerpt,
    io_error,
    load_cursor,
)
from connectors.normalize import normalize_address

log = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 365
MAX_ICS_BYTES = 256 * 1024 * 1024
FOLDER = "calendar"

# RFC 5545 PARTSTAT -> the Participant.response vocabulary (accepted/declined/tentative/none).
_RESPONSES = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "NEEDS-ACTION": "none",
}
_PRIVATE_CLASSES = frozenset({"PRIVATE", "CONFIDENTIAL"})
# Rooms and equipment are attendees in iCalendar but not people: they would become graph nodes.
_NOT_PEOPLE = frozenset({"ROOM", "RESOURCE"})

Window = tuple[datetime, datetime]
Item = Interaction | RejectedItem


def default_window(now: datetime | None = None) -> Window:
    """Today (UTC midnight) -/+ DEFAULT_WINDOW_DAYS: stable all day, so re-imports are no-ops."""
    now = now or datetime.now(UTC)
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    span = timedelta(days=DEFAULT_WINDOW_DAYS)
    return today - span, today + span


def to_utc(value: object) -> datetime:
    """An iCalendar DATE or DATE-TIME as aware UTC: dates at midnight, floating times as UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"not a date or date-time: {value!r}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _address(value: Any) -> str | None:
    raw = str(value).strip()
    if raw[:7].lower() == "mailto:":
        raw = raw[7:]
    key = normalize_address(raw) if raw else None
    if key is None:
        # Some servers put a urn:uuid: in the value and the address in the EMAIL parameter.
        email = getattr(value, "params", {}).get("EMAIL")
        key = normalize_address(str(email)) if email else None
    return key


def _participants(event: Any) -> list[Participant]:
    found: list[Participant] = []
    seen: set[tuple[str, Role]] = set()

    def add(value: Any, role: Role) -> None:
        params = getattr(value, "params", {})
        if str(params.get("CUTYPE", "")).upper() in _NOT_PEOPLE:
            return
        key = _address(value)
        if key is None or (key, role) in seen:
            return
        seen.add((key, role))
        response = None
        if role is Role.ATTENDEE:
            partstat = str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()
            response = _RESPONSES.get(partstat, partstat.lower())
        found.append(Participant(key, role, str(params.get("CN", "")).strip(), response))

    for organizer in _as_list(event.get("ORGANIZER")):
        add(organizer, Role.ORGANIZER)
    for attendee in _as_list(event.get("ATTENDEE")):
        add(attendee, Role.ATTENDEE)
    return found


def _unresolved_tzids(calendars: Iterable[Any]) -> dict[str, str]:
    """UID -> TZID for events whose TZID neither the file nor icalendar could resolve.

    Looked up before expansion: expanded occurrences no longer carry the TZID parameter.
    """
    found: dict[str, str] = {}
    for calendar in calendars:
        for event in calendar.walk("VEVENT"):
            try:
                start = event["DTSTART"]
                tzid = start.params.get("TZID")
                if tzid and isinstance(start.dt, datetime) and start.dt.tzinfo is None:
                    found[str(event.get("UID") or "").strip()] = str(tzid)[:100]
            except Exception:  # no or broken DTSTART: reported when the event is expanded
                continue
    return found


def _meeting(event: Any, cancelled_by_method: bool, unresolved: dict[str, str]) -> Interaction:
    """One expanded occurrence (as recurring_ical_events returns it) -> Interaction.

    Raises ValueError (and whatever a broken property raises) for unusable occurrences.
    """
    start_prop = event.get("DTSTART")
    if start_prop is None:
        raise ValueError("VEVENT without DTSTART")
    start = to_utc(start_prop.dt)
    recurrence_id = event.get("RECURRENCE-ID")
    slot = to_utc(recurrence_id.dt) if recurrence_id is not None else start
    end_prop = event.get("DTEND")
    ended_at = to_utc(end_prop.dt) if end_prop is not None else None
    participants = _participants(event)
    summary = str(event.get("SUMMARY") or "").strip()
    uid = str(event.get("UID") or "").strip()
    if not uid:
        # RFC 5545 requires a UID; some exporters drop it. Derive one every copy shares.
        organizer = next((p.email for p in participants if p.role is Role.ORGANIZER), "")
        uid = "sha1:" + hashlib.sha1(f"{organizer}\x1f{summary}".encode()).hexdigest()
    extra: dict[str, str] = {}
    if not isinstance(start_prop.dt, datetime):
        extra["all_day"] = "true"
    elif uid in unresolved:
        extra["tzid_unresolved"] = unresolved[uid]
    natural_key = meeting_key(uid, slot)
    try:
        sequence = int(event.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    return Interaction(
        natural_key=natural_key,
        kind=Kind.MEETING,
        provider_id=natural_key,
        occurred_at=start,
        subject=summary,
        ended_at=ended_at,
        thread_key=uid,
        participants=tuple(participants),
        is_private=str(event.get("CLASS", "")).upper() in _PRIVATE_CLASSES,
        is_cancelled=cancelled_by_method or str(event.get("STATUS", "")).upper() == "CANCELLED",
        version=sequence,
        folder=FOLDER,
        extra=extra,
    )


def _expand(calendar: Any, window: Window) -> tuple[list[Any], list[RejectedItem]]:
    """Occurrences of every VEVENT in `window`. A series that cannot be expanded (bad RRULE,
    broken DTSTART) becomes a RejectedItem instead of failing the whole file."""
    try:
        return list(recurring_ical_events.of(calendar).between(*window)), []
    except Exception:
        log.debug("expanding the whole calendar failed; retrying series by series", exc_info=True)
    timezones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
    series: dict[str, list[Any]] = {}
    for component in calendar.subcomponents:
        if component.name == "VEVENT":
            series.setdefault(str(component.get("UID", "")), []).append(component)
    occurrences: list[Any] = []
    rejected: list[RejectedItem] = []
    for uid, components in series.items():
        single = icalendar.Calendar()
        for component in [*timezones, *components]:
            single.add_component(component)
        try:
            occurrences.extend(recurring_ical_events.of(single).between(*window))
        except Exception as exc:
            reason = f"cannot expand event: {type(exc).__name__}: {exc}"
            rejected.append(RejectedItem(uid or "(no UID)", reason[:500]))
    return occurrences, rejected


def _span(calendars: Iterable[Any]) -> Window | None:
    """Earliest DTSTART .. latest DTSTART + DEFAULT_WINDOW_DAYS over all VEVENTs, if any."""
    starts: list[datetime] = []
    for calendar in calendars:
        for event in calendar.walk("VEVENT"):
            try:
                starts.append(to_utc(event["DTSTART"].dt))
            except Exception:
                continue
    if not starts:
        return None
    # +1 s: `between` excludes occurrences starting exactly at its end.
    return min(starts), max(starts) + timedelta(days=DEFAULT_WINDOW_DAYS, seconds=1)


def read_calendar(data: bytes, name: str, window: Window, *, window_is_default: bool) -> list[Item]:
    """All items of one .ics file in a stable order (rejects first, then by start and key)."""
    try:
        components = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception as exc:
        return [RejectedItem(name, f"not an iCalendar file: {exc}"[:500], excerpt(data))]
    calendars = [c for c in components if c.name == "VCALENDAR"]
    if not calendars:
        return [RejectedItem(name, "not an iCalendar file: no VCALENDAR", excerpt(data))]

    def expand_all(window: Window) -> tuple[list[tuple[Any, bool]], list[RejectedItem]]:
        found: list[tuple[Any, bool]] = []
        rejected: list[RejectedItem] = []
        for calendar in calendars:
            cancelled = str(calendar.get("METHOD", "")).upper() == "CANCEL"
            occurrences, bad = _expand(calendar, window)
            found.extend((occurrence, cancelled) for occurrence in occurrences)
            rejected.extend(bad)
        return found, rejected

    occurrences, rejected = expand_all(window)
    if not occurrences and window_is_default:
        span = _span(calendars)
        if span is not None:
            occurrences, rejected = expand_all(span)

    unresolved = _unresolved_tzids(calendars)
    meetings: dict[str, Interaction] = {}
    for event, cancelled in occurrences:
        try:
            meeting = _meeting(event, cancelled, unresolved)
        except Exception as exc:
            uid = str(event.get("UID") or "(no UID)")
            reason = f"unusable event: {type(exc).__name__}: {exc}"[:500]
            rejected.append(RejectedItem(uid, reason, excerpt(event.to_ical())))
            continue
        # The same occurrence twice (two VCALENDARs, a re-sent invitation): the highest
        # SEQUENCE, then the later one in the file, wins.
        known = meetings.get(meeting.natural_key)
        if known is None or meeting.version >= known.version:
            meetings[meeting.natural_key] = meeting
    rejected.sort(key=lambda r: (r.provider_id, r.reason))
    return [*rejected, *sorted(meetings.values(), key=lambda m: (m.occurred_at, m.natural_key))]


class IcsStream(FileStream):
    """One .ics file. See the module docstring for the window and the cursor."""

    def __init__(
        self,
        *,
        key: str,
        path: str,
        window: Window,
        window_is_default: bool,
        mailbox: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        super().__init__(key=key, mailbox=mailbox, page_size=page_size)
        self._path = path
        self._window = window
        self._window_is_default = window_is_default
        self._cache: tuple[list[int], list[Item]] | None = None

    def fetch_page(self, cursor: str | None) -> Page:
        """The next page of up to `page_size` occurrences after `cursor`.

        Raises: StreamGoneError (the file is gone), AuthError (permission denied),
        TransientError (other I/O errors), CursorInvalidError (not one of our cursors).
        """
        sig = self._stat()
        window = [self._window[0].isoformat(), self._window[1].isoformat()]
        index = 0
        if cursor is not None:
            state = load_cursor(cursor, self._key, ("sig", "window"))
            if state["sig"] == sig and state["window"] == window:
                if state.get("done"):
                    return Page(interactions=[], cursor=cursor, complete=True)
                index = state.get("index", 0)
                index = index if isinstance(index, int) and index >= 0 else 0
        items = self._items(sig)
        batch = items[index : index + self._page_size]
        complete = index + len(batch) >= len(items)
        state_out = {"index": index + len(batch), "done": complete, "sig": sig, "window": window}
        interactions = [i for i in batch if isinstance(i, Interaction)]
        return Page(
            interactions=interactions,
            cursor=dump_cursor(state_out),
            complete=complete,
            rejected=[i for i in batch if isinstance(i, RejectedItem)],
            items_seen=len(batch),
        )

    def _stat(self) -> list[int]:
        try:
            stat = os.stat(self._path)
        except OSError as exc:
            raise io_error(self._key, exc) from exc
        return [stat.st_size, stat.st_mtime_ns]

    def _items(self, sig: Sequence[int]) -> list[Item]:
        # Parsing and expanding is the expensive part; pages of one round share it.
        if self._cache is not None and self._cache[0] == list(sig):
            return self._cache[1]
        name = os.path.basename(self._path)
        try:
            with open(self._path, "rb") as handle:
                data = handle.read(MAX_ICS_BYTES + 1)
        except OSError as exc:
            raise io_error(self._key, exc) from exc
        if len(data) > MAX_ICS_BYTES:
            items: list[Item] = [RejectedItem(name, "calendar file larger than 256 MiB")]
        else:
            default = self._window_is_default
            items = read_calendar(data, name, self._window, window_is_default=default)
        self._cache = (list(sig), items)
        return items
