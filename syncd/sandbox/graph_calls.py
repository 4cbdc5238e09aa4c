"""Teams call records (``/communications/callRecords``), tenant-wide, app-only.

* List callRecords: ``$filter`` on ``startDateTime`` (ge/gt/le/lt, joined by ``and``),
  ``Prefer: odata.maxpagesize`` (default 60), ``$expand=participants_v2``, nextLink paging.
* Get callRecord: ``$expand=sessions($expand=segments)`` and/or ``participants_v2``.

Records are indexed by (startDateTime, id), so a filter is a bisect, not a scan. There is no
delta: clients poll with a start-time watermark and dedupe on (id, version).
"""

from __future__ import annotations

import bisect
import re
from datetime import datetime
from typing import Any

from syncd.sandbox.graph_common import Ctx, applied, decode_token, page_size, require
from syncd.sandbox.ids import guid, iso_7z, parse_iso
from syncd.sandbox.state import CallRecordVersion, Identity
from syncd.sandbox.wire import ApiResponse, GraphError, json_response

ROLES = ("CallRecords.Read.All",)
DEFAULT_PAGE = 60
MAX_PAGE = 1000
_CLAUSE = re.compile(r"^\s*startDateTime\s+(ge|gt|le|lt)\s+(\S+)\s*$", re.IGNORECASE)
_IDENTITY_KINDS = (
    "acsUser",
    "spoolUser",
    "phone",
    "guest",
    "encrypted",
    "onPremises",
    "acsApplicationInstance",
    "spoolApplicationInstance",
    "applicationInstance",
    "application",
    "device",
    "user",
)


def _user_identity(who: Identity, *, v2: bool) -> dict[str, Any]:
    if who.phone:
        return {"id": who.phone, "displayName": None, "tenantId": None}
    user: dict[str, Any] = {"id": who.id, "displayName": who.name, "tenantId": who.tenant_id}
    if v2:
        user = {"@odata.type": "#microsoft.graph.callRecords.userIdentity", **user}
        user["userPrincipalName"] = who.email
    return user


def _identity_set(who: Identity, *, v2: bool) -> dict[str, Any]:
    """identitySet: the deprecated ``organizer``/``participants`` carry ``user`` and
    ``phone``; ``*_v2`` carry every kind, nulls included (list-callrecords docs sample)."""
    kind = "phone" if who.phone else "user"
    if not v2:
        return {"user": None, "phone": None, kind: _user_identity(who, v2=False)}
    out: dict[str, Any] = dict.fromkeys(_IDENTITY_KINDS)
    out[kind] = _user_identity(who, v2=True)
    return out


def _endpoint(who: Identity) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.callRecords.participantEndpoint",
        "userAgent": {
            "@odata.type": "#microsoft.graph.callRecords.clientUserAgent",
            "headerValue": "Teams/1.6 (Windows NT 10.0; sandbox)",
            "platform": "windows",
            "productFamily": "teams",
        },
        "identity": {"@odata.type": "#microsoft.graph.identitySet", **_identity_set(who, v2=False)},
    }


def _sessions(graph_url: str, rec: CallRecordVersion) -> list[dict[str, Any]]:
    """One session (with one segment) per participant other than the organizer."""
    sessions = []
    for who in rec.participants:
        if who.id == rec.organizer.id:
            continue
        session_id = guid("session", rec.id, who.id)
        leg = {
            "startDateTime": iso_7z(rec.start),
            "endDateTime": iso_7z(rec.end),
            "caller": _endpoint(rec.organizer),
            "callee": _endpoint(who),
        }
        sessions.append(
            {
                "modalities": list(rec.modalities),
                "id": session_id,
                **leg,
                "segments@odata.context": f"{graph_url}$metadata#communications/callRecords"
                f"('{rec.id}')/sessions('{session_id}')/segments",
                "segments": [{"id": guid("segment", session_id), **leg}],
            }
        )
    return sessions


def call_json(
    graph_url: str, rec: CallRecordVersion, *, participants_v2: bool, sessions: bool
) -> dict[str, Any]:
    """The callRecord resource (callrecords-callrecord-get and list samples)."""
    item: dict[str, Any] = {
        "id": rec.id,
        "version": rec.version,
        "type": rec.type,
        "modalities": list(rec.modalities),
        "lastModifiedDateTime": iso_7z(rec.last_modified),
        "startDateTime": iso_7z(rec.start),
        "endDateTime": iso_7z(rec.end),
        "joinWebUrl": rec.join_url,
        "organizer": _identity_set(rec.organizer, v2=False),
        "participants": [_identity_set(p, v2=False) for p in rec.participants],
        "organizer_v2@odata.context": f"{graph_url}$metadata#communications/callRecords('{rec.id}')"
        "/organizer_v2/$entity",
        "organizer_v2": {"id": rec.organizer.id, "identity": _identity_set(rec.organizer, v2=True)},
    }
    if participants_v2:
        item["participants_v2@odata.context"] = (
            f"{graph_url}$metadata#communications/callRecords('{rec.id}')/participants_v2"
        )
        item["participants_v2"] = [
            {"id": p.id, "identity": _identity_set(p, v2=True)} for p in rec.participants
        ]
    if sessions:
        item["sessions@odata.context"] = (
            f"{graph_url}$metadata#communications/callRecords('{rec.id}')/sessions(segments())"
        )
        item["sessions"] = _sessions(graph_url, rec)
    return item


def _bounds(text: str | None) -> tuple[str | None, bool, str | None, bool]:
    """(low, low inclusive, high, high inclusive) from a startDateTime $filter."""
    lo: str | None = None
    hi: str | None = None
    lo_inc = hi_inc = True
    if not text:
        return lo, lo_inc, hi, hi_inc
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if not match:
            raise GraphError(
                400,
                "BadRequest",
                f"Invalid filter clause '{clause}': the sandbox supports "
                "startDateTime ge|gt|le|lt <dateTime>.",
            )
        op, value = match.group(1).lower(), match.group(2)
        try:
            when = iso_7z(parse_iso(value))
        except ValueError as exc:
            raise GraphError(400, "BadRequest", f"Invalid dateTime '{value}' in $filter.") from exc
        if op in ("ge", "gt"):
            lo, lo_inc = when, op == "ge"
        else:
            hi, hi_inc = when, op == "le"
    return lo, lo_inc, hi, hi_inc


def _expands(text: str | None) -> tuple[bool, bool]:
    value = (text or "").replace(" ", "").lower()
    return "participants_v2" in value, value.startswith("sessions") or ",sessions" in value


def list_call_records(ctx: Ctx) -> ApiResponse:
    """List callRecords (cloudCommunications: list callRecords)."""
    require(ctx, roles=ROLES, scopes=())
    services, req = ctx.services, ctx.req
    skip = req.query.get("$skiptoken")
    if skip:
        tok = decode_token(ctx, "cr", skip)
        lo, lo_inc, hi, hi_inc = tok["lo"], bool(tok["li"]), tok["hi"], bool(tok["hi_"])
        after: tuple[datetime, str] | None = (parse_iso(tok["a"][0]), tok["a"][1])
        size, from_prefer = page_size(req, DEFAULT_PAGE, MAX_PAGE, int(tok["ps"]))
        expand_v2 = bool(tok["x"])
    else:
        lo, lo_inc, hi, hi_inc = _bounds(req.query.get("$filter"))
        after = None
        size, from_prefer = page_size(req, DEFAULT_PAGE, MAX_PAGE)
        expand_v2 = _expands(req.query.get("$expand"))[0]
    state = ctx.state
    with state.lock:
        index = state.call_index
        if after is not None:
            start = bisect.bisect_right(index, after)
        elif lo is not None:
            key = (parse_iso(lo), "" if lo_inc else "\uffff")
            start = bisect.bisect_left(index, key)
        else:
            start = 0
        high = parse_iso(hi) if hi is not None else None
        records: list[CallRecordVersion] = []
        pos = start
        while pos < len(index) and len(records) < size:
            when, call_id = index[pos]
            if high is not None and (when > high or (when == high and not hi_inc)):
                break
            records.append(state.calls[call_id])
            pos += 1
        more = pos < len(index) and (
            high is None or index[pos][0] < high or (index[pos][0] == high and hi_inc)
        )
    graph_url = services.graph_url
    body: dict[str, Any] = {
        "@odata.context": f"{graph_url}$metadata#communications/callRecords",
        "value": [
            call_json(graph_url, r, participants_v2=expand_v2, sessions=False) for r in records
        ],
    }
    if more and records:
        last = records[-1]
        token = services.codec.encode(
            {
                "k": "cr",
                "lo": lo,
                "li": lo_inc,
                "hi": hi,
                "hi_": hi_inc,
                "ps": size,
                "x": expand_v2,
                "a": [iso_7z(last.start), last.id],
            }
        )
        body["@odata.nextLink"] = f"{graph_url}communications/callRecords?$skiptoken={token}"
    return json_response(body, headers=applied(size, from_prefer))


def get_call_record(ctx: Ctx) -> ApiResponse:
    """Get callRecord (``GET /communications/callRecords/{id}``)."""
    require(ctx, roles=ROLES, scopes=())
    with ctx.state.lock:
        rec = ctx.state.calls.get(ctx.args[0])
    if rec is None:
        raise GraphError(404, "NotFound", f"Call record '{ctx.args[0]}' was not found.")
    participants_v2, sessions = _expands(ctx.req.query.get("$expand"))
    graph_url = ctx.services.graph_url
    body = call_json(graph_url, rec, participants_v2=participants_v2, sessions=sessions)
    suffix = "(sessions(segments()))" if sessions else ""
    return json_response(
        {
            "@odata.context": f"{graph_url}$metadata#communications/callRecords{suffix}/$entity",
            **body,
        }
    )
