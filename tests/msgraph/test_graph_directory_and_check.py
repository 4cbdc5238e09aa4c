"""Which mailboxes and folders, and `check()` in plain words."""

from __future__ import annotations

import pytest
from graph_helpers import ALICE, BOB, CAROL, MakeConnector, drain, mailbox, raw_mail

from connectors.base import AuthError, StreamGoneError
from connectors.msgraph import MailboxInfo
from syncd.sandbox import Sandbox
from syncd.sandbox.idp import DEFAULT_APP_ROLES


def test_mailboxes_from_a_list_and_a_group_deduplicated(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    box.state.add_user("dave@contoso.test", "Dave Petit", ["Support"])
    connector = make_connector(
        box,
        mailboxes=(" Dave@Contoso.TEST", "bob@contoso.test", "ghost@contoso.test"),
        group="Sales",
    )
    found = connector.list_mailboxes()
    assert [m.address for m in found] == ["dave@contoso.test", BOB, ALICE, CAROL]
    assert found[0].display_name == "Dave Petit" and found[0].user_id
    assert connector.problems == ["mailbox 'ghost@contoso.test' does not exist in tenant 'contoso'"]
    # (A name with an apostrophe is sent as OData '' but the sandbox's $filter parser refuses
    # doubled quotes, so the test uses a plain one.)
    with pytest.raises(StreamGoneError, match="no group named 'Marketing'"):
        make_connector(box, group="Marketing").list_mailboxes()
    assert make_connector(box, group=None).list_mailboxes() == []


def test_folders_by_name_path_and_all(box: Sandbox, make_connector: MakeConnector) -> None:
    state = box.state
    customers = state.add_folder(ALICE, "Customers", parent="inbox")
    state.add_folder(ALICE, "Customers", parent="archive")
    state.add_message(ALICE, customers, raw_mail("<c@fabrikam.test>"))
    state.add_message(ALICE, "drafts", raw_mail("<d@fabrikam.test>"))
    connector = make_connector(box, folders=("Inbox/Customers", "sentitems"), calendar=False)
    alice = mailbox(connector, ALICE)
    by_path, sent = connector.mailbox_streams(alice)
    assert by_path.key == f"{ALICE}/mail/{customers}" and sent.key == f"{ALICE}/mail/sentitems"
    (item,) = drain(by_path).interactions
    assert item.folder == "Inbox/Customers" and item.natural_key == "c@fabrikam.test"

    ambiguous = make_connector(box, folders=("customers", "nope"), calendar=False)
    (first,) = ambiguous.mailbox_streams(alice)
    assert first.key.endswith(customers)
    assert len(ambiguous.problems) == 2 and "give the path" in ambiguous.problems[0]
    assert ambiguous.problems[1] == f"{ALICE} has no folder named 'nope'"

    everything = make_connector(box, folders=("all",), calendar=False)
    keys = sorted(s.key.removeprefix(f"{ALICE}/mail/") for s in everything.mailbox_streams(alice))
    assert len(keys) == 5 and {"inbox", "sentitems", "archive", customers} <= set(keys)
    assert "drafts" not in keys and "deleteditems" not in keys


def test_check_reports_a_healthy_tenant(box: Sandbox, make_connector: MakeConnector) -> None:
    report = make_connector(box, call_records=True).check()
    assert report.ok, report.problems
    assert report.permissions == {
        "User.Read.All": True,
        "Mail.Read": True,
        "Calendars.Read": True,
        "CallRecords.Read.All": True,
        "GroupMember.Read.All": True,
    }
    assert [m.address for m in report.mailboxes] == [ALICE, BOB, CAROL]


def test_check_reports_a_removed_permission_in_plain_words(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    connector = make_connector(box)
    assert connector.check().ok  # the token in the cache still carries Mail.Read...
    box.idp.set_client_roles(
        "syncd-demo", DEFAULT_APP_ROLES - {"Mail.Read", "CallRecords.Read.All"}
    )
    report = connector.check()  # ...but check() asks for a fresh one
    assert not report.ok and report.token_ok
    assert report.permissions["Mail.Read"] is False
    assert report.permissions["CallRecords.Read.All"] is False
    assert report.permissions["Calendars.Read"] is True
    (problem,) = report.problems  # call records are off: their permission is only a note
    assert "The app lacks Mail.Read" in problem
    assert (
        "Grant admin consent for Mail.Read (Application) in Entra ID > App registrations > "
        "syncd-demo > API permissions" in problem
    )
    assert any("CallRecords.Read.All is not granted" in note for note in report.notes)


def test_check_reports_bad_credentials_without_raising(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    report = make_connector(box, client_secret="wrong").check()
    assert not report.ok and not report.token_ok
    (problem,) = report.problems
    assert problem.startswith("no token: the identity platform rejected client_secret")
    assert "Certificates & secrets" in problem


def test_streams_raise_auth_error_naming_the_permission_and_gone_for_a_lost_mailbox(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    box.idp.set_client_roles("syncd-demo", DEFAULT_APP_ROLES - {"Calendars.Read"})
    connector = make_connector(box)
    alice = mailbox(connector, ALICE)
    inbox, _, calendar = connector.mailbox_streams(alice)
    assert drain(inbox).pages[0].complete  # mail is still readable
    with pytest.raises(AuthError, match=r"lacks Calendars\.Read\. Grant admin consent for "):
        calendar.fetch_page(None)
    gone = MailboxInfo("left@contoso.test", "Left", "00000000-0000-0000-0000-000000000000")
    with pytest.raises(StreamGoneError, match="ErrorInvalidUser"):
        connector.mailbox_streams(gone)[0].fetch_page(None)
