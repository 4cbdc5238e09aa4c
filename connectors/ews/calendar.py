"""The calendar stream: SyncFolderItems says *whether* the calendar changed, a CalendarView
(FindItem + GetItem) says *what* it holds, one Interaction per meeting occurrence.

Why both: SyncFolderItems on a calendar reports single items and series masters, never the
occurrences and exceptions a recurrence expands to; CalendarView expands them but has no
change tracking. So each round first drains SyncFolderItems from the committed SyncState; if
nothing changed (and the window is not running out) the round ends there, one cheap request.
Otherwise the window is read again and every occurrence upserted (idempotent), and occurrences
of the previous view that are gone are deleted. The previous view's ids live in the cursor
(compressed), because a connector never reads the store; ids of occurrences that ended before
the new window are history, not deletions (as in the Graph calendar stream).

Natural key, the same as Graph's for the same meeting (parity, issue 4): EWS ``UID`` is the
meeting's clean GlobalObjectId (or the foreign iCalendar UID it wraps); Graph's iCalUId is the
same GlobalObjectId with the instance date. `connectors.msgraph.calendar.series_uid` maps both
to one series uid, and ``RecurrenceId`` is Graph's ``originalStart``. The item is shaped like a
Graph event and normalised by the Graph connector's `normalize_event`: one set of rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from exchangelib import EWSDateTime

from connectors.base import (
    Deletion,
    Interaction,
    NamedStream,
    Page,
    RejectedItem,
    TransientError,
)
from connectors.ews.mail import graph_address, iso, legacy_dns
from connectors.ews.resolve import LegacyDnResolver
from connectors.ews.retry import fetch_with_recovery
from connectors.ews.rounds import decode_cursor, encode_cursor
from connectors.ews.session import translate
from connectors.msgraph.calendar import normalize_event
from connectors.msgraph.mail import excerpt
from connectors.normalize import parse_date

FOLDER = "calendar"
VIEW_FIELDS = (
    "uid",
    "recurrence_id",
    "start",
    "end",
    "subject",
    "sensitivity",
    "is_all_day",
    "is_cancelled",
    "type",
    "my_response_type",
    "organizer",
    "required_attendees",
    "optional_attendees",
    "is_online_meeting",
)
_TYPES = {"Single": "singleInstance", "Occurrence": "occurrence", "Exception": "exception",
          "RecurringMaster": "seriesMaster"}
_RESPONSES = {"Accept": "accepted", "Tentative": "tentativelyAccepted", "Decline": "declined",
              "Organizer": "organizer", "NoResponseReceived": "notResponded", "Unknown": "none"}


def _event_time(value: Any) -> dict[str, str] | None:
    text = iso(value)
    return {"dateTime": text[:-1], "timeZone": "UTC"} if text else None


def event_as_graph(item: Any, smtp_of: dict[str, str | None]) -> dict[str, Any]:
    """The Graph event fields `normalize_event` reads, from an exchangelib CalendarItem."""
    kind = _TYPES.get(str(item.type or "Single"), "singleInstance")
    attendees = []
    for kind_name, values in (("required", item.required_attendees),
                              ("optional", item.optional_attendees)):
        for attendee in values or ():
            address = graph_address(attendee.mailbox, smtp_of)
            if address is None:
                continue
            response = _RESPONSES.get(str(attendee.response_type or "Unknown"), "none")
            attendees.append({"type": kind_name, "status": {"response": response}, **address})
    event: dict[str, Any] = {
        "id": str(item.id or ""),
        "iCalUId": item.uid,
        "type": kind,
        "subject": item.subject,
        "start": _event_time(item.start),
        "end": _event_time(item.end),
        "organizer": graph_address(item.organizer, smtp_of),
        "attendees": attendees,
        "responseStatus": {"response": _RESPONSES.get(str(item.my_response_type or ""), "none")},
        "sensitivity": str(item.sensitivity or "Normal").lower(),
        "isCancelled": bool(item.is_cancelled),
        "isOnlineMeeting": bool(getattr(item, "is_online_meeting", False)),
        "isAllDay": bool(item.is_all_day),
    }
    if kind in ("occurrence", "exception") and item.recurrence_id is not None:
        event["originalStart"] = iso(item.recurrence_id)
    return event


class EwsCalendarStream(NamedStream):
    """The primary calendar of one mailbox over [now - backfill, now + horizon].

    Cursor: ``{"v": 1, "state": SyncState, "lo": iso, "hi": iso, "ids": [[item id, start
    epoch], ...]}`` (rounds.py encodes it; "part" marks a page inside a round).
    """

    def __init__(
        self,
        account: Callable[[], Any],
        address: str,
        resolver: LegacyDnResolver,
        *,
        page_size: int,
        backfill_days: int,
        horizon_days: int,
        max_retry_wait: float,
        now: Callable[[], datetime],
        reauthenticate: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
        connector: str = "",
    ) -> None:
        self._account = account
        # Error messages start with the connector and its credentials (session.describe).
        self._who = f"{connector}: " if connector else ""
        self._reauthenticate = reauthenticate
        self._resolver = resolver
        self._page_size = max(1, page_size)
        self._backfill = timedelta(days=max(0, backfill_days))
        self._horizon = timedelta(days=max(1, horizon_days))
        self._max_retry_wait = max_retry_wait
        self._now = now
        self._sleep = sleep
        # The rest of a round being handed out: (cursor of the last page, pages left, final).
        self._live: tuple[str, list[Page], Page] | None = None
        super().__init__(f"{address}/calendar", address)

    @property
    def _what(self) -> str:
        return f"{self._who}the calendar of {self._owner}"

    def window(self) -> tuple[datetime, datetime]:
        """[now - backfill, now + horizon], widened to whole UTC days (as the Graph stream)."""
        now = self._now().astimezone(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight - self._backfill, midnight + self._horizon + timedelta(days=1)

    def fetch_page(self, cursor: str | None) -> Page:
        """Raises: CursorInvalidError, ThrottledError (beyond max_retry_wait), AuthError,
        StreamGoneError, TransientError."""
        return fetch_with_recovery(lambda: self._fetch(cursor), what=self._what, who=self._who,
                                   reauthenticate=self._reauthenticate, sleep=self._sleep,
                                   max_retry_wait=self._max_retry_wait)

    def _fetch(self, cursor: str | None) -> Page:
        live = self._live
        if live is not None and cursor is not None and live[0] == cursor:
            return self._next_live(live)
        self._live = None
        start = decode_cursor(cursor, self._what) if cursor else {"state": None}
        lo_text, hi_text = start.get("lo"), start.get("hi")
        window_end = parse_date(hi_text) if isinstance(hi_text, str) else None
        now = self._now().astimezone(UTC)
        rolled = window_end is None or window_end - now < self._horizon / 2
        if rolled or not isinstance(lo_text, str):
            lo, hi = self.window()
        else:
            lo, hi = parse_date(lo_text) or self.window()[0], window_end or self.window()[1]
        with translate(self._what):
            calendar = self._account().calendar
            calendar.item_sync_state = start.get("state")  # see EwsMailStream._fetch
            changes = list(calendar.sync_items(sync_state=start.get("state"), only_fields=["uid"],
                                               max_changes_returned=512))
            state = calendar.item_sync_state
        old_ids = [tuple(pair) for pair in start.get("ids") or () if len(pair) == 2]
        final = {"state": state, "lo": iso(lo), "hi": iso(hi)}
        if start.get("state") is not None and not changes and not rolled:
            return Page([], encode_cursor({**final, "ids": old_ids}), True, items_seen=0,
                        mailbox_hint=self._owner)
        items = self._view(calendar, lo, hi)
        interactions, rejected = self._normalize(items)
        seen = {i.provider_id for i in interactions}
        lo_epoch = int(lo.timestamp())
        deletions = [Deletion(str(item_id)) for item_id, epoch in old_ids
                     if item_id not in seen and int(epoch) >= lo_epoch]
        new_ids = sorted([i.provider_id, int(i.occurred_at.timestamp())] for i in interactions)
        chunks = [interactions[i : i + self._page_size]
                  for i in range(0, len(interactions), self._page_size)] or [[]]
        pages: list[Page] = []
        for number, chunk in enumerate(chunks):
            last = number == len(chunks) - 1
            page_cursor = (encode_cursor({**final, "ids": new_ids}) if last else
                           encode_cursor({**start, "part": number + 1}))
            pages.append(Page(
                interactions=chunk, cursor=page_cursor, complete=last,
                deletions=deletions if number == 0 else [],
                rejected=rejected if number == 0 else [],
                items_seen=len(chunk) + (len(rejected) if number == 0 else 0),
                mailbox_hint=self._owner))
        first = pages.pop(0)
        if pages:
            self._live = (str(first.cursor), pages, pages[-1])
        return first

    def _view(self, calendar: Any, lo: datetime, hi: datetime) -> list[Any]:
        """CalendarView ids (FindItem), then the items (GetItem). exchangelib's own view
        query silently drops items that fail in GetItem; here a failure fails the round, or
        the missing occurrences would look deleted. Raises: ConnectorError."""
        with translate(self._what):
            view = calendar.view(start=EWSDateTime.from_datetime(lo),
                                 end=EWSDateTime.from_datetime(hi))
            ids = list(view.values_list("id", "changekey"))
            items = list(self._account().fetch(ids=ids, only_fields=list(VIEW_FIELDS)))
        failed = [item for item in items if isinstance(item, Exception)]
        if failed:
            raise TransientError(f"{self._what}: {len(failed)} of {len(items)} occurrences "
                                 f"could not be read ({failed[0]!r}); the round will be retried")
        return items

    def _next_live(self, live: tuple[str, list[Page], Page]) -> Page:
        _cursor, pages, final = live
        page = pages.pop(0)
        self._live = (str(page.cursor), pages, final) if pages else None
        return page

    def _normalize(self, items: list[Any]) -> tuple[list[Interaction], list[RejectedItem]]:
        dns = legacy_dns(items, ("organizer", "required_attendees", "optional_attendees"))
        smtp_of: dict[str, str | None] = {}
        if dns:
            smtp_of = self._resolver.resolve_all(dns, self._account().protocol.resolve_names)
        interactions: list[Interaction] = []
        rejected: list[RejectedItem] = []
        for item in items:
            try:
                result = normalize_event(event_as_graph(item, smtp_of))
            except Exception as exc:  # contract 5
                result = RejectedItem(str(getattr(item, "id", "") or ""),
                                      f"unexpected item shape: {exc!r}"[:300], excerpt(repr(item)))
            if isinstance(result, Interaction):
                interactions.append(result)
            elif isinstance(result, RejectedItem):
                rejected.append(result)
        return interactions, rejected
