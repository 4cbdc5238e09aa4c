"""Mail folder streams against the sandbox: full sync of the demo company, exact incremental
changes, one request per quiet poll, natural keys across mailboxes, rejects, flags, resync."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from graph_helpers import (
    ALICE,
    BOB,
    CAROL,
    MakeConnector,
    drain,
    graph_requests,
    mailbox,
    raw_mail,
    stream_by_key,
)

from connectors.base import CursorInvalidError, Deletion, Interaction, Kind, Role
from connectors.msgraph.mail import normalize_message
from connectors.normalize import normalize_message_id
from syncd.demo import DemoCompany
from syncd.sandbox import Sandbox


def test_full_sync_of_the_demo_company_matches_the_ground_truth(
    demo_box: Sandbox, company: DemoCompany, make_connector: MakeConnector
) -> None:
    connector = make_connector(demo_box, page_size=25)
    mailboxes = connector.list_mailboxes()
    assert [m.address for m in mailboxes] == [u.email for u in company.users]
    seen: set[tuple[str, str, str]] = set()
    by_key: dict[str, list[tuple[str, Interaction]]] = {}
    for box in mailboxes:
        streams = connector.mailbox_streams(box)
        assert [s.key for s in streams] == [
            f"{box.address}/mail/inbox",
            f"{box.address}/mail/sentitems",
            f"{box.address}/calendar",
        ]
        for stream in streams[:2]:
            result = drain(stream)
            assert not result.rejected and not result.deletions
            for item in result.interactions:
                assert item.kind is Kind.EMAIL and item.folder in ("inbox", "sentitems")
                assert item.occurred_at.tzinfo is not None and item.thread_key
                seen.add((box.address, item.folder, item.natural_key))
                by_key.setdefault(item.natural_key, []).append((box.address, item))
    truth = demo_box.state.ground_truth()
    expected = {
        (owner, folder, normalize_message_id(mid) or mid) for owner, folder, mid in truth.messages
    }
    assert seen == expected
    # Each mail is one natural key in every mailbox holding a copy (DESIGN contract 3), with
    # the demo generator's own privacy, robot and reply facts.
    checked = 0
    for message in company.messages():
        key = normalize_message_id(message.message_id)
        if message.malformed or key is None:
            continue
        copies = by_key[key]
        assert {(owner, item.folder) for owner, item in copies} == set(message.copies)
        # The generator also marks "Sensitivity: Personal" private; the files connector pins
        # Personal as not private, and both connectors must agree on the same mail.
        private = message.is_private and b"Sensitivity: Personal" not in message.raw
        for _, item in copies:
            assert item.is_private == private, key
            assert item.is_automated == message.is_automated, key
            assert item.in_reply_to == normalize_message_id(message.in_reply_to), key
        checked += 1
    assert checked > 100


def test_sent_copy_and_inbox_copies_share_the_natural_key(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    sent_at = datetime(2026, 7, 2, 14, 0, tzinfo=UTC)
    common: dict[str, Any] = {
        "sender": ALICE,
        "to": f"Bob <{BOB}>, {CAROL}",
        "subject": "Pricing",
        "date": sent_at,
    }
    # The sender's copy keeps the Bcc; the recipients' copies do not (and arrive later).
    box.state.add_message(
        ALICE, "sentitems", raw_mail("<Pricing.1@Contoso.Test>", Bcc="boss@contoso.test", **common)
    )
    for owner in (BOB, CAROL):
        box.state.add_message(
            owner, "inbox", raw_mail("<Pricing.1@Contoso.Test>", **common),
            received_at=datetime(2026, 7, 2, 14, 0, 5, tzinfo=UTC),
        )  # fmt: skip
    connector = make_connector(box)
    sent = drain(stream_by_key(connector, mailbox(connector, ALICE), "/mail/sentitems"))
    inboxes = [
        drain(stream_by_key(connector, mailbox(connector, who), "/mail/inbox"))
        for who in (BOB, CAROL)
    ]
    (copy,) = sent.interactions
    assert copy.natural_key == "Pricing.1@contoso.test"  # left part kept, domain lower-cased
    for inbox in inboxes:
        (received,) = inbox.interactions
        assert received.natural_key == copy.natural_key
        assert received.occurred_at == copy.occurred_at == sent_at  # sentDateTime, not received
        assert received.thread_key == copy.thread_key  # conversationId
        assert received.provider_id != copy.provider_id
    assert {(p.email, p.role) for p in copy.participants} == {
        (ALICE, Role.FROM),
        (BOB, Role.TO),
        (CAROL, Role.TO),
        ("boss@contoso.test", Role.BCC),
    }
    assert copy.folder == "sentitems" and inboxes[0].interactions[0].folder == "inbox"


def test_incremental_round_reports_exactly_the_changes(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    state = box.state
    ids = [state.add_message(ALICE, "inbox", raw_mail(f"<m{n}@fabrikam.test>")) for n in range(6)]
    connector = make_connector(box, page_size=4)
    inbox = stream_by_key(connector, mailbox(connector, ALICE), "/mail/inbox")
    first = drain(inbox)
    assert len(first.pages) == 2 and [p.complete for p in first.pages] == [False, True]
    assert first.keys == {f"m{n}@fabrikam.test" for n in range(6)}

    new_id = state.add_message(ALICE, "inbox", raw_mail("<new@fabrikam.test>", subject="New"))
    state.update_message(ALICE, ids[1], subject="Proposal v2")
    state.delete_message(ALICE, ids[2])
    moved_id = state.move_message(ALICE, ids[3], "archive")
    second = drain(inbox, first.cursor)
    assert {(i.provider_id, i.natural_key, i.subject) for i in second.interactions} == {
        (new_id, "new@fabrikam.test", "New"),
        (ids[1], "m1@fabrikam.test", "Proposal v2"),
    }
    assert set(second.deletions) == {Deletion(ids[2]), Deletion(ids[3])}
    assert moved_id not in {i.provider_id for i in second.interactions}  # it is in Archive now

    # A poll with nothing new is exactly one request per stream (and says it is complete).
    streams = connector.mailbox_streams(mailbox(connector, ALICE))
    cursors = {s.key: drain(s).cursor for s in streams}
    cursors[inbox.key] = second.cursor
    before = graph_requests(box)
    for stream in streams:
        page = stream.fetch_page(cursors[stream.key])
        assert page.complete and not page.interactions and not page.deletions
    assert graph_requests(box) - before == len(streams) == 3


def test_malformed_items_become_rejects_and_the_stream_moves_on(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    box.state.add_message(ALICE, "inbox", raw_mail("<ok@fabrikam.test>"))
    box.faults.malformed_next(2, mailbox=ALICE, kind="mixed")
    connector = make_connector(box)
    page = stream_by_key(connector, mailbox(connector, ALICE), "/mail/inbox").fetch_page(None)
    assert page.items_seen == 3 and page.complete
    (rejected,) = page.rejected
    assert rejected.reason == "no usable sentDateTime or receivedDateTime"
    assert rejected.provider_id and '"subject": null' in rejected.excerpt
    # The garbage sender is dropped, the Exchange legacy DN recipient is kept as an x500 key.
    garbage = next(i for i in page.interactions if i.natural_key != "ok@fabrikam.test")
    assert garbage.natural_key.startswith("malformed-") and garbage.extra["sender_unparsed"]
    assert [(p.email[:12], p.role) for p in garbage.participants] == [("x500:/o=exch", Role.TO)]
    assert garbage.extra["date_source"] == "received"  # sentDateTime was "not-a-date"


def test_privacy_automation_and_reply_headers(box: Sandbox, make_connector: MakeConnector) -> None:
    state = box.state
    state.add_message(ALICE, "inbox", raw_mail("<p@x.test>", Sensitivity="Company-Confidential"))
    state.add_message(ALICE, "inbox", raw_mail("<q@x.test>", Sensitivity="Personal"))
    state.add_message(ALICE, "inbox", raw_mail("<b@x.test>", Precedence="bulk"))
    state.add_message(ALICE, "inbox", raw_mail("<l@x.test>", List_Unsubscribe="<mailto:u@x.test>"))
    state.add_message(ALICE, "inbox", raw_mail("<a@x.test>", Auto_Submitted="auto-replied"))
    state.add_message(ALICE, "inbox", raw_mail("<n@x.test>", Auto_Submitted="no"))
    state.add_message(ALICE, "inbox", raw_mail("<r@x.test>", sender="no-reply@shop.test"))
    state.add_message(ALICE, "inbox", raw_mail("<c@x.test>", In_Reply_To="<p@x.test>"))
    state.add_message(ALICE, "drafts", raw_mail("<draft@x.test>"))
    connector = make_connector(box, folders=("inbox", "drafts"))
    streams = connector.mailbox_streams(mailbox(connector, ALICE))
    flags = {
        i.natural_key.split("@")[0]: (i.is_private, i.is_automated, i.in_reply_to)
        for i in drain(streams[0]).interactions
    }
    assert flags == {
        "p": (True, False, None),
        "q": (False, False, None),  # "Personal" is not private (as in the files connector)
        "b": (False, True, None),
        "l": (False, True, None),
        "a": (False, True, None),
        "n": (False, False, None),
        "r": (False, True, None),
        "c": (False, False, "p@x.test"),
    }
    drafts = drain(streams[1])
    assert drafts.pages[0].items_seen == 1 and not drafts.interactions  # drafts are skipped
    # Without internetMessageHeaders only the sender address tells a robot apart.
    lean = make_connector(box, read_internet_headers=False)
    lean_flags = {
        i.natural_key.split("@")[0]: (i.is_private, i.is_automated)
        for i in drain(stream_by_key(lean, mailbox(lean, ALICE), "/mail/inbox")).interactions
    }
    assert lean_flags["r"] == (False, True) and lean_flags["p"] == (False, False)
    query = box.requests(path_contains="/messages/delta")[-1].query
    assert "internetMessageHeaders" not in query and "internetMessageId" in query


def test_missing_message_id_gets_the_files_connector_key() -> None:
    from connectors.normalize import email_fingerprint

    item = {
        "id": "AAMk1",
        "subject": "  Hello   there ",
        "from": {"emailAddress": {"name": "Jane", "address": "Jane@Fabrikam.test"}},
        "toRecipients": [{"emailAddress": {"name": "A", "address": "alice@contoso.test"}}],
        "sentDateTime": "2026-07-01T09:30:00Z",
    }
    interaction = normalize_message(item, folder="inbox")
    assert not isinstance(interaction, type(None))
    assert interaction.natural_key == email_fingerprint(  # type: ignore[union-attr]
        "jane@fabrikam.test",
        datetime(2026, 7, 1, 9, 30, tzinfo=UTC).isoformat(),
        "Hello there",
        ["alice@contoso.test"],
    )
    # A property-only change (Graph sends id + the changed fields) is no interaction at all.
    assert (
        normalize_message({"id": "AAMk1", "isRead": True, "parentFolderId": "x"}, folder="i")
        is None
    )


def test_expired_delta_links_mean_restart_from_none(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    for n in range(5):
        box.state.add_message(ALICE, "inbox", raw_mail(f"<e{n}@fabrikam.test>"))
    connector = make_connector(box, page_size=2)
    inbox = stream_by_key(connector, mailbox(connector, ALICE), "/mail/inbox")
    first = inbox.fetch_page(None)
    assert not first.complete
    box.faults.expire_delta_tokens(ALICE)  # mid-round: the nextLink now gets 410 Gone
    with pytest.raises(CursorInvalidError, match=r"full resync.*syncStateNotFound"):
        inbox.fetch_page(first.cursor)
    restarted = drain(inbox)  # what the service does: start the stream again from None
    assert len(restarted.keys) == 5
    box.faults.expire_delta_link(str(restarted.cursor), code="resyncRequired")
    with pytest.raises(CursorInvalidError, match="resyncRequired"):
        inbox.fetch_page(restarted.cursor)
    with pytest.raises(CursorInvalidError, match="not a message delta link"):
        inbox.fetch_page("https://evil.test/v1.0/users/x/mailFolders/inbox/messages/delta")
