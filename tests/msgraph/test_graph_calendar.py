"""Calendar streams against the sandbox: one key per occurrence shared by every attendee's
calendar, roles and responses, privacy, incremental changes, resync and window roll-over."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from graph_helpers import (
    ALICE,
    BOB,
    CAROL,
    Clock,
    MakeConnector,
    drain,
    graph_requests,
    mailbox,
    stream_by_key,
)

from connectors.base import (
    CursorInvalidError,
    Deletion,
    Interaction,
    Kind,
    RejectedItem,
    Role,
    meeting_key,
)
from connectors.msgraph.calendar import CalendarStream, normalize_event, series_uid
from syncd.demo import DemoCompany
from syncd.sandbox import Sandbox
from syncd.sandbox.ids import ical_uid

FIRST = datetime(2026, 7, 6, 9, 0, tzinfo=UTC)  # a Monday, 11:00 in Paris
WEEK = timedelta(weeks=1)
UID = "weekly-review@contoso.test"  # made outside Outlook: Exchange wraps it in a GOID


def _series(**changes: Any) -> dict[str, Any]:
    """A weekly 30-minute meeting, six times, one cancelled (EXDATE) and one moved."""
    spec: dict[str, Any] = dict(
        uid=UID,
        subject="Weekly review",
        organizer=(ALICE, "Alice Martin"),
        attendees=[
            (ALICE, "Alice Martin", "accepted"),
            (BOB, "Bob Durand", "accepted"),
            (CAROL, "Carol Simon", "tentative"),
            ("jane@fabrikam.test", "Jane", "declined"),
        ],
        start=FIRST,
        end=FIRST + timedelta(minutes=30),
        rrule="FREQ=WEEKLY;COUNT=6",
        exdates=[FIRST + 2 * WEEK],
        overrides=[(FIRST + 3 * WEEK, FIRST + 3 * WEEK + timedelta(days=1, hours=5),
                    FIRST + 3 * WEEK + timedelta(days=1, hours=5, minutes=30))],
        tz="Europe/Paris",
    )  # fmt: skip
    spec.update(changes)
    return spec


def test_series_uid_decodes_exchange_global_object_ids() -> None:
    outlook = "040000008200E00074C5B7101A82E00800000000" + "1A2B" * 10
    day = datetime(2026, 7, 20, 9, tzinfo=UTC)
    assert series_uid(ical_uid(outlook, day)) == outlook  # the instance date is zeroed
    assert series_uid(ical_uid(outlook)) == outlook
    assert series_uid(ical_uid(UID, day)) == UID  # a foreign UID comes back as itself
    assert series_uid("not-a-goid") == "not-a-goid"


def test_one_key_per_occurrence_in_every_attendees_calendar(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    master = box.state.add_event(ALICE, **_series())
    for attendee in (BOB, CAROL):  # each attendee's copy, with its own ids
        box.state.add_event(attendee, **_series())
    connector = make_connector(box)
    results = {
        who: drain(stream_by_key(connector, mailbox(connector, who), "/calendar"))
        for who in (ALICE, BOB, CAROL)
    }
    slots = [FIRST, FIRST + WEEK, FIRST + 3 * WEEK, FIRST + 4 * WEEK, FIRST + 5 * WEEK]
    expected = {meeting_key(UID, slot) for slot in slots}  # what the files connector computes
    for who, result in results.items():
        assert result.keys == expected, who
        assert len(result.interactions) == 5 and not result.rejected
    provider_ids = [{i.provider_id for i in r.interactions} for r in results.values()]
    assert not provider_ids[0] & provider_ids[1]  # copies have their own ids...
    by_key = {i.natural_key: i for i in results[BOB].interactions}  # ...but the same keys
    moved = by_key[meeting_key(UID, FIRST + 3 * WEEK)]  # keyed by its slot in the series
    assert moved.occurred_at == FIRST + 3 * WEEK + timedelta(days=1, hours=5)
    assert moved.ended_at == moved.occurred_at + timedelta(minutes=30)
    assert moved.extra["event_type"] == "exception" and moved.kind is Kind.MEETING
    assert moved.thread_key == UID and moved.folder == "calendar"
    assert [(p.email, p.role, p.response) for p in moved.participants] == [
        (ALICE, Role.ORGANIZER, None),
        (ALICE, Role.ATTENDEE, "accepted"),
        (BOB, Role.ATTENDEE, "accepted"),
        (CAROL, Role.ATTENDEE, "tentative"),
        ("jane@fabrikam.test", Role.ATTENDEE, "declined"),
    ]
    assert moved.extra["own_response"] == "accepted"
    assert master  # the series master itself never shows up in calendarView


def test_full_calendar_sync_of_the_demo_company(
    demo_box: Sandbox, company: DemoCompany, make_connector: MakeConnector
) -> None:
    connector = make_connector(demo_box, page_size=7)
    uids = {e.uid for e in company.events()}
    private = {e.uid for e in company.events() if e.is_private}
    assert private
    for box in connector.list_mailboxes():
        calendar = stream_by_key(connector, box, "/calendar")
        assert isinstance(calendar, CalendarStream)
        lo, hi = calendar.window()
        result = drain(calendar)
        assert not result.rejected and result.interactions
        # The key of each occurrence: the demo UID (an Outlook GlobalObjectId) and its slot.
        truth = {
            meeting_key(v.uid, occ.original_start or occ.start)
            for v in demo_box.state.mailboxes[box.address].calendar.items.values()
            for occ in v.occurrences(lo, hi)
        }
        assert result.keys == truth, box.address
        for item in result.interactions:
            assert item.thread_key in uids
            assert item.is_private == (item.thread_key in private)


def test_incremental_calendar_changes(box: Sandbox, make_connector: MakeConnector) -> None:
    state = box.state
    master = state.add_event(ALICE, **_series())
    lunch = state.add_event(
        ALICE,
        uid="lunch@contoso.test",
        subject="Lunch",
        organizer=ALICE,
        attendees=[(BOB, "Bob", "none")],
        start=FIRST + timedelta(days=2, hours=3),
        end=FIRST + timedelta(days=2, hours=4),
    )
    connector = make_connector(box, page_size=3)
    calendar = stream_by_key(connector, mailbox(connector, ALICE), "/calendar")
    first = drain(calendar)
    assert len(first.pages) == 2 and len(first.interactions) == 6
    by_key = {i.natural_key: i for i in first.interactions}
    assert by_key[meeting_key("lunch@contoso.test", FIRST + timedelta(days=2, hours=3))]

    state.cancel_occurrence(ALICE, master, FIRST + WEEK)  # one occurrence cancelled
    state.update_event(ALICE, lunch, subject="Lunch (private)", is_private=True)
    second = drain(calendar, first.cursor)
    gone = by_key[meeting_key(UID, FIRST + WEEK)].provider_id
    assert second.deletions == [Deletion(gone)]
    (changed,) = [i for i in second.interactions if i.thread_key == "lunch@contoso.test"]
    assert changed.is_private and changed.subject == "Lunch (private)"
    assert [(p.email, p.response) for p in changed.participants] == [(ALICE, None), (BOB, "none")]

    state.delete_event(ALICE, master)
    third = drain(calendar, second.cursor)
    assert len(third.deletions) == 4 and not third.interactions
    before = graph_requests(box)
    quiet = calendar.fetch_page(third.cursor)
    assert quiet.complete and not quiet.interactions and not quiet.deletions
    assert graph_requests(box) - before == 1


def test_calendar_resync_and_window_roll_over(box: Sandbox, make_connector: MakeConnector) -> None:
    box.state.add_event(ALICE, **_series())
    clock = Clock()
    connector = make_connector(box, clock=clock, calendar_horizon_days=60, page_size=2)
    calendar = stream_by_key(connector, mailbox(connector, ALICE), "/calendar")
    first = calendar.fetch_page(None)
    state = json.loads(str(first.cursor))
    assert (state["lo"], state["hi"]) == ("2026-04-03T00:00:00Z", "2026-10-01T00:00:00Z")
    box.faults.expire_delta_tokens(ALICE, code="resyncRequired")
    with pytest.raises(CursorInvalidError, match="resyncRequired"):
        calendar.fetch_page(first.cursor)
    done = drain(calendar)
    assert len(done.interactions) == 5

    clock.now += timedelta(days=20)  # 40 of 60 days still ahead: keep the round going
    assert calendar.fetch_page(done.cursor).complete
    assert "startDateTime" not in box.requests(path_contains="/calendarView/delta")[-1].query
    clock.now += timedelta(days=20)  # 20 days ahead < half the horizon: a new window
    rolled = drain(calendar, done.cursor)
    assert "startDateTime=2026-05-13" in box.requests(path_contains="/calendarView/delta")[-3].query
    assert json.loads(str(rolled.cursor))["hi"] == "2026-11-10T00:00:00Z"
    assert len(rolled.interactions) == 5  # the whole new window, once


def test_event_shapes_the_sandbox_does_not_serve() -> None:
    """Real Graph keeps a cancelled meeting (isCancelled) in attendees' calendars, sends
    all-day events, rooms as attendees, and confidential sensitivity."""
    base: dict[str, Any] = {
        "id": "AAMkE1",
        "iCalUId": ical_uid(UID, FIRST),
        "type": "occurrence",
        "originalStart": "2026-07-06T09:00:00Z",
        "start": {"dateTime": "2026-07-06T11:00:00.0000000", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2026-07-06T09:30:00.0000000", "timeZone": "UTC"},
        "subject": "=?utf-8?q?R=C3=A9union?=",
        "sensitivity": "confidential",
        "isCancelled": True,
        "isAllDay": False,
        "organizer": {"emailAddress": {"name": "Alice", "address": "Alice@Contoso.test"}},
        "attendees": [
            {"type": "resource", "emailAddress": {"address": "room1@contoso.test"}},
            {
                "type": "required",
                "status": {"response": "notResponded"},
                "emailAddress": {"name": "Bob", "address": BOB},
            },
        ],
    }
    item = normalize_event(base)
    assert isinstance(item, Interaction)
    assert item.natural_key == meeting_key(UID, FIRST)
    assert item.occurred_at == FIRST  # 11:00 in Paris is 09:00Z
    assert item.is_cancelled and item.is_private and item.subject == "Réunion"
    assert [(p.email, p.role, p.response) for p in item.participants] == [
        (ALICE, Role.ORGANIZER, None),
        (BOB, Role.ATTENDEE, "none"),
    ]
    assert normalize_event({**base, "sensitivity": "personal"}).is_private is False  # type: ignore[union-attr]
    rejected = normalize_event({**base, "iCalUId": None})
    assert isinstance(rejected, RejectedItem) and rejected.reason == "event without iCalUId"
    assert normalize_event({**base, "isDraft": True}) is None
