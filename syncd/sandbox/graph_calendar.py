"""event: delta over a calendar view (``GET /users/{id}/calendarView/delta``).

The change log of a calendar holds one entry per event or series version. A delta page
expands the live entries into instances inside the window fixed by the initial request
(startDateTime/endDateTime are encoded in the tokens). For each entry the client is told:

* every current instance in the window (full event items; a moved instance as an
  ``exception`` at its new time, with the id of the occurrence it replaces), and
* ``@removed`` for instances it may hold from an earlier version that are gone now (series
  deleted or cancelled, instance cancelled by an EXDATE, moved out of the window).

"Earlier versions" are the last version written before the round began plus every version
written since: a client that saw any of them is told about what disappeared. Ids it never
saw may come as ``@removed`` too, which real Graph also does (event-delta docs).
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any

from syncd.sandbox.calendar import EventVersion, event_json
from syncd.sandbox.graph_common import (
    Ctx,
    applied,
    decode_token,
    gone_error,
    page_size,
    query_value,
    removed_item,
    require,
    require_own_mailbox,
)
from syncd.sandbox.ids import iso_7z, parse_iso
from syncd.sandbox.state import ChangeLog
from syncd.sandbox.wire import ApiResponse, GraphError, json_response

READ_ROLES = ("Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic")
READ_SCOPES = ("Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic")
DEFAULT_PAGE = 10
MAX_PAGE = 1000
WEB_BASE = "https://outlook.office365.com/owa/"
# "The following parameters are not supported with change tracking over the 'CalendarView'
# resource" (event-delta docs: no $select, $expand, $filter, $orderby, $search).
_FORBIDDEN = ("$select", "$expand", "$filter", "$orderby", "$search", "$top", "$count")


def _entry_items(
    log: ChangeLog, pos: int, base: int, initial: bool, snap: int, lo: datetime, hi: datetime
) -> list[dict[str, Any]]:
    change = log.entries[pos]
    current: EventVersion | None = change.version
    if current is None and initial and pos < snap:
        return []  # deleted before this client's first round began: it never saw it
    assert log.history is not None  # calendars keep it
    positions = log.history[change.item_id]
    first = max(0, bisect.bisect_left(positions, base) - 1)
    known: set[str] = set()
    for earlier in positions[first : bisect.bisect_left(positions, pos)]:
        version: EventVersion | None = log.entries[earlier].version
        if version is not None and not version.is_cancelled:
            known.update(occ.id for occ in version.occurrences(lo, hi))
    instances = () if current is None or current.is_cancelled else current.occurrences(lo, hi)
    gone = known - {occ.id for occ in instances}
    items = [removed_item("#microsoft.graph.event", occ_id) for occ_id in sorted(gone)]
    if current is not None:
        items.extend(event_json(current, occ, web_base=WEB_BASE) for occ in instances)
    return items


def calendar_view_delta(ctx: Ctx) -> ApiResponse:
    """event: delta (calendarView). Paging, tokens, 410 and Prefer as for message delta."""
    require(ctx, roles=READ_ROLES, scopes=READ_SCOPES)
    user = require_own_mailbox(ctx)
    box = ctx.state.mailboxes[user.email]
    services, req = ctx.services, ctx.req
    bad = [opt for opt in _FORBIDDEN if query_value(req, opt) is not None]
    if bad:
        raise GraphError(
            400,
            "ErrorInvalidUrlQuery",
            "The following parameters are not supported with change tracking over the "
            f"'CalendarView' resource: '{', '.join(bad)}'.",
        )
    link = f"{services.graph_url}users/{user.id}/calendarView/delta"
    skip, delta = req.query.get("$skiptoken"), req.query.get("$deltatoken")
    if skip or delta:
        token = skip or delta or ""
        tok = decode_token(ctx, "c", token)
        if tok["u"] != user.email:
            raise GraphError(400, "BadRequest", "The delta token belongs to another mailbox.")
        lo, hi = parse_iso(tok["lo"]), parse_iso(tok["hi"])
        expired = services.faults.delta_token_error(token, user.email, int(tok["z"]))
        if expired:
            raise gone_error(expired, f"{link}?startDateTime={tok['lo']}&endDateTime={tok['hi']}")
        cursor, sub, base, snap, initial = (int(tok[k]) for k in ("p", "q", "b", "s", "i"))
        if cursor > len(box.calendar.entries):  # from another sandbox run: its state is gone
            raise gone_error(
                "syncStateNotFound", f"{link}?startDateTime={tok['lo']}&endDateTime={tok['hi']}"
            )
        if delta:
            base, initial = cursor, 0
        size, from_prefer = page_size(req, DEFAULT_PAGE, MAX_PAGE, int(tok["ps"]))
        replay = services.faults.take_replay(user.email)
        if replay:
            cursor, sub = max(0, cursor - replay), 0
    else:
        start_text, end_text = query_value(req, "startDateTime"), query_value(req, "endDateTime")
        if not start_text or not end_text:
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query string parameters "
                "StartDateTime and EndDateTime.",
            )
        try:
            lo, hi = parse_iso(start_text), parse_iso(end_text)
        except ValueError as exc:
            raise GraphError(
                400, "ErrorInvalidParameter", f"Invalid date/time in the time window: {exc}"
            ) from exc
        if hi <= lo:
            raise GraphError(
                400, "ErrorInvalidParameter", "The end of the time window must be after its start."
            )
        size, from_prefer = page_size(req, DEFAULT_PAGE, MAX_PAGE)
        cursor, sub, base, initial = 0, 0, 0, 1
        with ctx.state.lock:
            snap = len(box.calendar.entries)
    values: list[dict[str, Any]] = []
    with ctx.state.lock:
        log = box.calendar
        end = len(log.entries)
        budget = max(1000, 20 * size)
        while cursor < end and len(values) < size and budget > 0:
            budget -= 1
            if not log.is_live(cursor):
                cursor, sub = cursor + 1, 0
                continue
            items = _entry_items(log, cursor, base, bool(initial), snap, lo, hi)
            taken = items[sub : sub + size - len(values)]
            values.extend(taken)
            sub += len(taken)
            if sub >= len(items):
                cursor, sub = cursor + 1, 0
        done = cursor >= end
    payload: dict[str, Any] = {
        "k": "c",
        "u": user.email,
        "lo": iso_7z(lo),
        "hi": iso_7z(hi),
        "ps": size,
        "z": services.faults.next_token_serial(),
    }
    body: dict[str, Any] = {"@odata.context": f"{services.graph_url}$metadata#Collection(event)"}
    if done:
        payload.update(p=cursor, q=0, b=cursor, s=cursor, i=0)
        body["@odata.deltaLink"] = f"{link}?$deltatoken={services.codec.encode(payload)}"
    else:
        payload.update(p=cursor, q=sub, b=base, s=snap, i=initial)
        body["@odata.nextLink"] = f"{link}?$skiptoken={services.codec.encode(payload)}"
    body["value"] = values
    return json_response(body, headers=applied(size, from_prefer))
