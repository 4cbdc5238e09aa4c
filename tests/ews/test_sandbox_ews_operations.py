"""Every operation and fault issue 4 lists for the sandbox's EWS endpoint, driven by the real
exchangelib (through the connector's own Account setup) over HTTPS: GetFolder (root, inbox,
sentitems, calendar), SyncFolderHierarchy, SyncFolderItems (paging with
IncludesLastItemInRange; Create, Update, Delete, ReadFlagChange), GetItem, FindItem with
CalendarView (recurring meetings expanded), ResolveNames of a legacy DN, ConvertId (the version
probe), and the faults ErrorServerBusy with BackOffMilliseconds, ErrorInvalidSyncStateData,
ErrorItemNotFound, 401 and 503, each arriving as exchangelib's own error. (The XML itself is
compared with Microsoft's samples in test_sandbox_ews_shapes.py.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from exchangelib import Build, EWSDateTime
from exchangelib import errors as ews_errors

from syncd.demo import DemoCompany, generate
from syncd.sandbox import Sandbox

FIELDS = ["subject", "is_read"]


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return generate(12, users=3, accounts=3, messages=60, events=12, calls=0)


@pytest.fixture
def box(tmp_path: Path, company: DemoCompany) -> Iterator[Sandbox]:
    with Sandbox(state_dir=tmp_path / "sandbox", seed=12) as sandbox:
        sandbox.seed_demo(company)
        yield sandbox


def calls(box: Sandbox, since: int = 0) -> Counter[str]:
    return Counter(r.path.rpartition("#")[2] for r in box.requests(path_contains="/EWS/")[since:])


def test_each_listed_operation_is_served_to_exchangelib(
    box: Sandbox, company: DemoCompany, connector_for: Any
) -> None:
    owner, other = company.users[0].email, company.users[1].email
    connector = connector_for(box, mailboxes=(owner,))  # no version: exchangelib probes it
    account = connector.accounts.account(owner)

    # ConvertId: the probe exchangelib sends to learn the version (ServerVersionInfo header).
    assert calls(box)["ConvertId"] >= 1
    assert account.version.build >= Build(15, 0)

    # GetFolder of the four distinguished folders.
    mark = len(box.requests(path_contains="/EWS/"))
    root, inbox, sent, calendar = account.root, account.inbox, account.sent, account.calendar
    assert calls(box, mark)["GetFolder"] >= 1
    assert (inbox.folder_class, sent.folder_class, calendar.folder_class) == (
        "IPF.Note", "IPF.Note", "IPF.Appointment")
    mailbox = box.state.mailboxes[owner]
    box_inbox, box_sent = mailbox.folder("inbox"), mailbox.folder("sentitems")
    assert box_inbox is not None and box_sent is not None
    assert inbox.total_count == len(box_inbox.log.items)
    assert root.id and root.id not in (inbox.id, sent.id, calendar.id)

    # SyncFolderHierarchy: everything once, then nothing from the returned state.
    created = [f for kind, f in root.sync_hierarchy() if kind == "create"]
    assert {inbox.id, sent.id, calendar.id} <= {f.id for f in created}
    state = root.folder_sync_state
    assert state and list(root.sync_hierarchy(sync_state=state)) == []

    # SyncFolderItems: pages of 3 until IncludesLastItemInRange, every item created once.
    mark = len(box.requests(path_contains="/EWS/"))
    first = list(inbox.sync_items(only_fields=FIELDS, max_changes_returned=3))
    assert Counter(kind for kind, _ in first) == {"create": len(box_inbox.log.items)}
    assert calls(box, mark)["SyncFolderItems"] == -(-len(box_inbox.log.items) // 3)
    state = inbox.item_sync_state
    ids = [item.id for _kind, item in first]
    changed, flagged, deleted = ids[0], ids[1], ids[2]
    box.state.update_message(owner, changed, subject="Devis révisé")
    was_read = box.state.message(owner, flagged).is_read  # type: ignore[union-attr]
    box.state.update_message(owner, flagged, isRead=not was_read)
    box.state.delete_message(owner, deleted)
    later = dict(inbox.sync_items(sync_state=state, only_fields=FIELDS))
    assert set(later) == {"update", "read_flag_change", "delete"}
    assert later["update"].id == changed and later["update"].subject == "Devis révisé"
    assert later["read_flag_change"][0].id == flagged
    assert later["read_flag_change"][1] is (not was_read)
    assert later["delete"].id == deleted

    # GetItem, and ErrorItemNotFound for the deleted one (per item, not a fault).
    fetched = list(account.fetch(ids=[(changed, None), (deleted, None)], only_fields=FIELDS))
    assert fetched[0].subject == "Devis révisé"
    assert isinstance(fetched[1], ews_errors.ErrorItemNotFound)

    # FindItem with CalendarView: single meetings plus every occurrence of each series.
    now = datetime.now(UTC)
    lo, hi = now - timedelta(days=400), now + timedelta(days=180)
    view = list(calendar.view(start=EWSDateTime.from_datetime(lo),
                              end=EWSDateTime.from_datetime(hi)))
    truth = box.state.ground_truth(window=(lo, hi))
    assert len(view) == sum(1 for who, _uid, _start in truth.events if who == owner)
    series = [v for v in mailbox.calendar.items.values() if v.rrule]
    assert series, "the demo company has recurring meetings"
    assert {"Occurrence"} <= {item.type for item in view}
    assert calls(box)["FindItem"] >= 1

    # ResolveNames: a colleague's legacy DN gives back the SMTP address.
    answers = account.protocol.resolve_names([box.ews.legacy_dn(other)])
    assert [str(a.email_address).lower() for a in answers] == [other]


def test_each_listed_fault_reaches_exchangelib_as_its_own_error(
    box: Sandbox, company: DemoCompany, connector_for: Any
) -> None:
    owner = company.users[0].email
    connector = connector_for(box, mailboxes=(owner,), version="Exchange2016")
    account = connector.accounts.account(owner)
    inbox = account.inbox
    list(inbox.sync_items(only_fields=FIELDS))
    state = inbox.item_sync_state
    faults = box.ews.faults

    faults.server_busy_next(1, mailbox=owner, back_off_ms=1500)
    with pytest.raises(ews_errors.ErrorServerBusy) as busy:
        list(inbox.sync_items(sync_state=state, only_fields=FIELDS))
    assert busy.value.back_off == 1.5  # BackOffMilliseconds, read by exchangelib

    faults.invalidate_sync_states(owner)
    with pytest.raises(ews_errors.ErrorInvalidSyncStateData):
        list(inbox.sync_items(sync_state=state, only_fields=FIELDS))

    faults.item_not_found_next(1, mailbox=owner)
    folder = box.state.mailboxes[owner].folder("inbox")
    assert folder is not None
    item_id = next(iter(folder.log.items))
    [missing] = account.fetch(ids=[(item_id, None)])
    assert isinstance(missing, ews_errors.ErrorItemNotFound)

    faults.unauthorized_next(1, mailbox=owner)
    with pytest.raises(ews_errors.UnauthorizedError):
        list(account.fetch(ids=[(item_id, None)]))

    faults.unavailable_next(1, mailbox=owner)
    # exchangelib reads a 503 as ErrorInternalServerTransientError and re-raises it as a
    # back-off (services/common.py _get_elements).
    with pytest.raises(ews_errors.ErrorServerBusy, match="HTTP 503"):
        list(account.fetch(ids=[(item_id, None)]))

    assert faults.injected == {"busy": 1, "invalid-sync-state": 1, "item-not-found": 1,
                               "401": 1, "503": 1}
    # And the endpoint is healthy again.
    [again] = account.fetch(ids=[(item_id, None)])
    assert again.id == item_id
