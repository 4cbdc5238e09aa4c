"""Call records: watermark rounds, paging, version updates, participant keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from graph_helpers import ALICE, BOB, Clock, MakeConnector, drain

from connectors.base import Kind, Role
from connectors.msgraph.calls import STREAM_KEY
from syncd.demo import DemoCompany
from syncd.sandbox import Sandbox


def test_call_records_paging_then_new_and_updated_records(
    demo_box: Sandbox, company: DemoCompany, make_connector: MakeConnector
) -> None:
    clock = Clock()
    connector = make_connector(demo_box, clock=clock, call_records=True, page_size=5)
    assert make_connector(demo_box).tenant_streams() == []  # off by default
    (stream,) = connector.tenant_streams()
    assert stream.key == STREAM_KEY and stream.mailbox is None
    first = drain(stream)
    assert [len(p.interactions) for p in first.pages] == [5, 5, 2]
    assert [p.complete for p in first.pages] == [False, False, True]
    calls = {c.id: c for c in company.calls()}
    assert {(i.provider_id, i.version) for i in first.interactions} == {
        (c.id, c.version) for c in calls.values()
    }
    for item in first.interactions:
        call = calls[item.provider_id]
        assert item.kind is Kind.CALL and item.natural_key == f"call:{call.id}"
        assert (item.occurred_at, item.ended_at) == (call.start, call.end)
        assert item.participants[0] == item.participants[0].__class__(
            call.organizer, Role.CALLER, item.participants[0].name
        )
        assert {p.email for p in item.participants} == set(call.participants) | {call.organizer}
        assert all(p.role is Role.CALLEE for p in item.participants[1:])
    assert json.loads(str(first.cursor)) == {"next": None, "v": 1, "w": "2026-08-01T00:00:00Z"}


def test_next_rounds_bring_new_late_and_updated_records(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    def call(start: datetime, minutes: int = 30, **extra: object) -> str:
        spec = {"start": start, "end": start + timedelta(minutes=minutes), "organizer": ALICE,
                "participants": [BOB], **extra}  # fmt: skip
        return box.state.add_call_record(spec)

    early = call(datetime(2026, 7, 1, 9, tzinfo=UTC))
    recent = call(datetime(2026, 7, 31, 16, tzinfo=UTC))
    clock = Clock()  # 2026-08-01T00:00Z
    (stream,) = make_connector(box, clock=clock, call_records=True).tenant_streams()
    first = drain(stream)
    assert {i.provider_id for i in first.interactions} == {early, recent}

    clock.now += timedelta(hours=20)
    # A call that started before the last round but was published after it (a long call),
    # a new one with a phone and an external party, and an updated record (version 2).
    late = call(datetime(2026, 7, 31, 23, tzinfo=UTC), minutes=180)
    fresh = call(clock.now - timedelta(hours=2),
                 participants=[BOB, "+33 1 23 45 67 89", "jane@fabrikam.test"])  # fmt: skip
    assert box.state.update_call_record(recent, end=datetime(2026, 7, 31, 17, tzinfo=UTC)) == 2
    second = drain(stream, first.cursor)
    got = {i.provider_id: i for i in second.interactions}
    # Everything that started after (last round - 24 h overlap); the early call is not re-read.
    assert {(k, v.version) for k, v in got.items()} == {(recent, 2), (late, 1), (fresh, 1)}
    assert [(p.email, p.role) for p in got[fresh].participants] == [
        (ALICE, Role.CALLER),
        (BOB, Role.CALLEE),
        ("tel:+33123456789", Role.CALLEE),
        ("jane@fabrikam.test", Role.CALLEE),
    ]
    assert json.loads(str(second.cursor))["w"] == "2026-08-01T20:00:00Z"


def test_call_record_identities_without_an_address(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    box.state.add_call_record(
        {
            "start": datetime(2026, 7, 30, 10, tzinfo=UTC),
            "end": datetime(2026, 7, 30, 10, 5, tzinfo=UTC),
            "organizer": BOB,
            "participants": ["+1 (425) 555-0100"],
        }
    )
    connector = make_connector(box, call_records=True)
    (stream,) = connector.tenant_streams()
    (item,) = drain(stream).interactions
    assert [(p.email, p.role) for p in item.participants] == [
        (BOB, Role.CALLER),
        ("tel:+14255550100", Role.CALLEE),
    ]
    assert item.extra == {"call_type": "peerToPeer", "modalities": "audio"}
