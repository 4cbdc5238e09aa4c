"""The sandbox's Microsoft Graph, driven by O365, msal and requests over real TLS sockets."""

from __future__ import annotations

import mailbox
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
from requests.exceptions import HTTPError

from syncd.demo import generate
from syncd.sandbox import Sandbox
from syncd.sandbox.clients import NotificationReceiver, app_token, graph_session, o365_account
from syncd.sandbox.idp import DEFAULT_APP_ROLES

ALICE, BOB, CAROL = "alice@contoso.test", "bob@contoso.test", "carol@contoso.test"  # see conftest
SHARED = Path(__file__).resolve().parents[3] / "shared"
MakeRaw = Callable[..., bytes]
Get = Callable[..., requests.Response]


def delta_round(get: Get, url: str, page: int = 10) -> tuple[list[dict[str, Any]], str, int]:
    """Follow @odata.nextLink to the @odata.deltaLink: (items, deltaLink, requests made)."""
    items: list[dict[str, Any]] = []
    requests_made = 0
    while True:
        body = get(url, headers={"Prefer": f"odata.maxpagesize={page}"}).json()
        requests_made += 1
        items.extend(body["value"])
        if "@odata.nextLink" in body:
            url = body["@odata.nextLink"]
        else:
            return items, body["@odata.deltaLink"], requests_made


def ids(items: list[dict[str, Any]], removed: bool = False) -> set[str]:
    return {i["id"] for i in items if ("@removed" in i) == removed}


def test_o365_reads_the_directory_with_paging(sandbox: Sandbox) -> None:
    account = o365_account(sandbox, f"users/{ALICE}")
    users = list(account.directory().get_users(limit=100, batch=2))
    assert sorted(u.mail for u in users) == [ALICE, BOB, CAROL]
    assert len(sandbox.requests(path_contains="/v1.0/users")) == 2  # two pages of two
    bob = account.directory().get_user(BOB)
    assert bob.display_name == "Bob Durand" and bob.job_title == "Account Executive"

    con, url = account.con, sandbox.graph_url
    (sales,) = con.get(url + "groups", params={"$filter": "displayName eq 'Sales'"}).json()["value"]
    first = con.get(
        url + f"groups/{sales['id']}/members", params={"$top": 2, "$select": "mail"}
    ).json()
    second = con.get(first["@odata.nextLink"]).json()
    assert [m["mail"] for m in first["value"] + second["value"]] == [ALICE, BOB, CAROL]
    assert "@odata.nextLink" not in second


def test_mail_folders_and_child_folders(
    sandbox: Sandbox, graph: requests.Session, make_raw: MakeRaw
) -> None:
    custom = sandbox.state.add_folder(ALICE, "Customers", parent="inbox")
    sandbox.state.add_message(ALICE, custom, make_raw(1))
    body = graph.get(sandbox.graph_url + f"users/{ALICE}/mailFolders").json()
    names = {f["displayName"]: f for f in body["value"]}
    assert set(names) == {"Inbox", "Sent Items", "Deleted Items", "Drafts", "Archive"}
    assert names["Inbox"]["childFolderCount"] == 1
    children = graph.get(
        sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox/childFolders"
    ).json()["value"]
    assert [(c["id"], c["totalItemCount"], c["unreadItemCount"]) for c in children] == [
        (custom, 1, 1)
    ]
    assert graph.get(sandbox.graph_url + f"users/{ALICE}/mailFolders/nope").status_code == 404
    unknown_user = graph.get(sandbox.graph_url + "users/nobody@contoso.test/mailFolders")
    assert (
        unknown_user.status_code == 404
        and unknown_user.json()["error"]["code"] == "ErrorInvalidUser"
    )


def test_message_delta_round_then_exactly_the_changes(sandbox: Sandbox, make_raw: MakeRaw) -> None:
    state = sandbox.state
    seeded = [state.add_message(ALICE, "inbox", make_raw(n)) for n in range(7)]
    state.add_message(BOB, "inbox", make_raw(99, to=BOB))  # another mailbox: never in Alice's delta
    account = o365_account(sandbox, f"users/{ALICE}")
    start = account.mailbox().build_url("/mailFolders/inbox/messages/delta")

    items, delta_link, made = delta_round(account.con.get, start, page=3)
    assert made == 3 and ids(items) == set(seeded) and not ids(items, removed=True)
    assert "/messages/delta?$deltatoken=" in delta_link

    added = state.add_message(ALICE, "inbox", make_raw(7))
    state.update_message(ALICE, seeded[0], isRead=True)
    state.delete_message(ALICE, seeded[1])
    moved = state.move_message(ALICE, seeded[2], "archive")
    changes, delta_link, made = delta_round(account.con.get, delta_link, page=3)
    assert made == 2
    assert ids(changes) == {added, seeded[0]}
    assert ids(changes, removed=True) == {seeded[1], seeded[2]}
    assert next(i for i in changes if i["id"] == seeded[0])["isRead"] is True
    assert all(i["@removed"] == {"reason": "deleted"} for i in changes if "@removed" in i)

    before = len(sandbox.requests(path_contains="/messages/delta"))
    quiet, delta_link, made = delta_round(account.con.get, delta_link)
    assert quiet == [] and made == 1
    assert len(sandbox.requests(path_contains="/messages/delta")) == before + 1

    archive, _, _ = delta_round(
        account.con.get, account.mailbox().build_url("/mailFolders/archive/messages/delta")
    )
    assert ids(archive) == {moved}
    assert archive[0]["internetMessageId"] == "<m2@fabrikam.test>"


def test_select_is_kept_across_pages_and_headers_only_when_selected(
    sandbox: Sandbox, graph: requests.Session, make_raw: MakeRaw
) -> None:
    state = sandbox.state
    state.add_message(ALICE, "inbox", make_raw(1))
    reply = make_raw(
        2,
        In_Reply_To="<m1@fabrikam.test>",
        References="<m1@fabrikam.test>",
        Auto_Submitted="auto-replied",
        Precedence="bulk",
        List_Unsubscribe="<mailto:unsubscribe@fabrikam.test>",
        Sensitivity="Private",
    )
    state.add_message(ALICE, "inbox", reply)
    select = "subject,internetMessageId,internetMessageHeaders,conversationId"
    url = sandbox.graph_url + f"users/{ALICE}/mailFolders('Inbox')/messages/delta?$select={select}"
    items, _, made = delta_round(graph.get, url, page=1)
    assert made == 2
    for item in items:
        assert set(item) == {"@odata.type", "@odata.etag", "id", *select.split(",")}
    headers = {h["name"]: h["value"] for h in items[1]["internetMessageHeaders"]}
    for name in (
        "In-Reply-To",
        "References",
        "Auto-Submitted",
        "Precedence",
        "List-Unsubscribe",
        "Sensitivity",
    ):
        assert name in headers
    assert items[0]["conversationId"] == items[1]["conversationId"]  # one thread: same root
    full, _, _ = delta_round(
        graph.get, sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox/messages/delta"
    )
    assert "internetMessageHeaders" not in full[0]
    assert {
        "body",
        "from",
        "toRecipients",
        "receivedDateTime",
        "parentFolderId",
        "changeKey",
    } <= set(full[0])
    bad = graph.get(
        sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox/messages/delta?$select=subjekt"
    )
    assert bad.status_code == 400


def test_throttling_is_honoured_by_o365_retries(
    sandbox: Sandbox, graph: requests.Session, make_raw: MakeRaw
) -> None:
    sandbox.state.add_message(ALICE, "inbox", make_raw(1))
    url = sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox/messages/delta"

    sandbox.faults.throttle_next(1, mailbox=ALICE, retry_after=1)
    raw = graph.get(url)
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "1"
    error = raw.json()["error"]
    assert error["code"] == "TooManyRequests" and {"date", "request-id"} <= set(error["innerError"])

    account = o365_account(sandbox, f"users/{ALICE}")
    for inject, status in (
        (sandbox.faults.throttle_next, 429),
        (sandbox.faults.unavailable_next, 503),
    ):
        inject(1, mailbox=ALICE, retry_after=1)
        began = time.monotonic()
        assert account.con.get(url).status_code == 200  # urllib3 Retry slept Retry-After
        assert time.monotonic() - began >= 0.9
        assert [r.status for r in sandbox.requests(path_contains="/messages/delta")][-2:] == [
            status,
            200,
        ]

    sandbox.faults.throttle_next(1)  # global: also tenant-wide requests
    assert graph.get(sandbox.graph_url + "users").status_code == 429


def test_mailbox_request_budget(sandbox: Sandbox, graph: requests.Session) -> None:
    sandbox.faults.mailbox_budget = 3
    inbox = sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox"
    assert [graph.get(inbox).status_code for _ in range(3)] == [200, 200, 200]
    over = graph.get(inbox)
    assert over.status_code == 429 and over.json()["error"]["code"] == "ApplicationThrottled"
    assert int(over.headers["Retry-After"]) >= 1
    assert graph.get(sandbox.graph_url + f"users/{BOB}/mailFolders/inbox").status_code == 200


def test_mailbox_concurrency_cap(sandbox: Sandbox, token: str, make_raw: MakeRaw) -> None:
    sandbox.state.add_message(ALICE, "inbox", make_raw(1))
    sandbox.faults.slow(400, mailbox=ALICE)
    url = sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox/messages/delta"
    barrier = threading.Barrier(8)
    results: list[requests.Response] = []

    def call() -> None:
        with graph_session(sandbox, token) as session:
            session.get(sandbox.graph_url + f"users/{BOB}/mailFolders")  # warm the TLS connection
            barrier.wait()
            results.append(session.get(url))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) <= 4 and 429 in statuses
    rejected = next(r.json()["error"] for r in results if r.status_code == 429)
    assert (
        rejected["code"] == "ApplicationThrottled" and "MailboxConcurrency" in rejected["message"]
    )
    assert sandbox.faults.max_in_flight[ALICE] >= 5
    assert sandbox.faults.max_in_flight[BOB] <= 4


def test_expired_delta_link_gives_410_and_location(
    sandbox: Sandbox, graph: requests.Session, make_raw: MakeRaw
) -> None:
    sandbox.state.add_message(ALICE, "inbox", make_raw(1))
    start = sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox/messages/delta?$select=subject"
    _, delta_link, _ = delta_round(graph.get, start)

    sandbox.faults.expire_delta_tokens(ALICE)
    gone = graph.get(delta_link)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "syncStateNotFound"
    restart = gone.headers["Location"]
    assert "$deltatoken" not in restart and restart.endswith("/messages/delta?$select=subject")
    items, fresh_link, _ = delta_round(graph.get, restart)
    assert [i["subject"] for i in items] == ["Message 1"]

    sandbox.faults.expire_delta_link(fresh_link, code="resyncRequired")
    account = o365_account(sandbox, f"users/{ALICE}")
    with pytest.raises(HTTPError) as caught:
        account.con.get(fresh_link)
    assert caught.value.response.status_code == 410
    assert caught.value.response.json()["error"]["code"] == "resyncRequired"
    tampered = graph.get(fresh_link[:-3] + "AAA")
    assert tampered.status_code == 400


def test_replayed_and_malformed_items(
    sandbox: Sandbox, graph: requests.Session, make_raw: MakeRaw
) -> None:
    first = [sandbox.state.add_message(ALICE, "inbox", make_raw(n)) for n in range(4)]
    start = sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox/messages/delta"
    _, delta_link, _ = delta_round(graph.get, start)
    added = sandbox.state.add_message(ALICE, "inbox", make_raw(9))
    sandbox.faults.replay_next(1, mailbox=ALICE, count=2)
    items, delta_link, _ = delta_round(graph.get, delta_link)
    assert ids(items) == {added, *first[-2:]}  # two changes sent in the last round, again

    sandbox.faults.malformed_next(2, mailbox=ALICE)
    items, _, _ = delta_round(graph.get, delta_link)
    assert len(items) == 2
    missing, garbage = items
    assert "internetMessageId" not in missing and "from" not in missing
    assert garbage["sender"]["emailAddress"]["address"] == "not an address@@"
    assert garbage["toRecipients"][0]["emailAddress"]["address"].startswith("/O=EXCHANGELABS")


def test_calendar_view_delta_expands_a_weekly_series(
    sandbox: Sandbox, graph: requests.Session
) -> None:
    state = sandbox.state
    first = datetime(2024, 3, 18, 9, 0, tzinfo=UTC)  # 10:00 in Paris, before the DST change
    week = timedelta(weeks=1)
    # A 10:00 Paris weekly meeting: 09:00Z until 31 March, 08:00Z after (wall clock kept).
    starts = [first, first + week, *(first + k * week - timedelta(hours=1) for k in range(2, 6))]
    series = dict(
        uid="weekly-review@contoso.test",
        subject="Weekly review",
        organizer=(ALICE, "Alice Martin"),
        attendees=[(BOB, "Bob Durand", "accepted"), ("jane@fabrikam.test", "Jane", "tentative")],
        start=first,
        end=first + timedelta(minutes=30),
        rrule="FREQ=WEEKLY;COUNT=6",
        exdates=[starts[3]],
        overrides=[
            (
                starts[4],
                starts[4] + timedelta(days=1, hours=5),
                starts[4] + timedelta(days=1, hours=5, minutes=30),
            )
        ],
        tz="Europe/Paris",
        location="Room 1",
    )
    master = state.add_event(ALICE, **series)
    state.add_event(BOB, **series)  # the attendee's copy
    single = state.add_event(
        ALICE,
        uid="lunch@contoso.test",
        subject="Lunch",
        organizer=ALICE,
        attendees=[CAROL],
        start=datetime(2024, 3, 20, 12, tzinfo=UTC),
        end=datetime(2024, 3, 20, 13, tzinfo=UTC),
    )
    window = "startDateTime=2024-03-01T00:00:00Z&endDateTime=2024-05-01T00:00:00Z"
    url = sandbox.graph_url + f"users/{ALICE}/calendarView/delta?{window}"

    items, delta_link, made = delta_round(graph.get, url, page=2)
    assert made == 3 and "/calendarView/delta?$deltatoken=" in delta_link
    by_start = {i["start"]["dateTime"][:16]: i for i in items}
    assert sorted(by_start) == [
        "2024-03-18T09:00",
        "2024-03-20T12:00",
        "2024-03-25T09:00",
        "2024-04-01T08:00",
        "2024-04-16T13:00",
        "2024-04-22T08:00",
    ]
    assert "2024-04-08T08:00" not in by_start  # the EXDATE
    exception = by_start["2024-04-16T13:00"]
    assert exception["type"] == "exception" and exception["originalStart"] == "2024-04-15T08:00:00Z"
    assert by_start["2024-03-20T12:00"]["type"] == "singleInstance"
    occurrences = [i for i in items if i["type"] != "singleInstance"]
    assert {i["seriesMasterId"] for i in occurrences} == {master}
    assert len({i["iCalUId"] for i in occurrences}) == 5  # per occurrence, as in real Graph
    # ...but every copy of an occurrence has the same iCalUId in every calendar
    bob_items, _, _ = delta_round(
        graph.get, sandbox.graph_url + f"users/{BOB}/calendarView/delta?{window}"
    )
    assert {i["iCalUId"] for i in bob_items} == {i["iCalUId"] for i in occurrences}
    assert by_start["2024-03-18T09:00"]["responseStatus"]["response"] == "organizer"
    assert {i["responseStatus"]["response"] for i in bob_items} == {"accepted"}

    state.cancel_occurrence(ALICE, master, starts[1])
    state.update_event(ALICE, single, subject="Lunch (moved)")
    changes, delta_link, _ = delta_round(graph.get, delta_link)
    assert ids(changes, removed=True) == {by_start["2024-03-25T09:00"]["id"]}
    assert any(i.get("subject") == "Lunch (moved)" for i in changes)

    state.delete_event(ALICE, master)
    changes, delta_link, _ = delta_round(graph.get, delta_link)
    remaining = {
        by_start[k]["id"]
        for k in ("2024-03-18T09:00", "2024-04-01T08:00", "2024-04-16T13:00", "2024-04-22T08:00")
    }
    assert ids(changes, removed=True) == remaining and not ids(changes)
    quiet, _, made = delta_round(graph.get, delta_link)
    assert quiet == [] and made == 1

    assert graph.get(url + "&$select=subject").status_code == 400  # not supported, as in Graph
    assert graph.get(sandbox.graph_url + f"users/{ALICE}/calendarView/delta").status_code == 400


def test_call_records_filter_paging_and_expand(sandbox: Sandbox, graph: requests.Session) -> None:
    base = datetime(2024, 5, 2, 8, tzinfo=UTC)
    made = [
        sandbox.state.add_call_record(
            {
                "start": base + timedelta(hours=h),
                "end": base + timedelta(hours=h, minutes=20),
                "organizer": ALICE,
                "participants": [BOB, "jane@fabrikam.test"] if h % 2 else [CAROL],
            }
        )
        for h in range(7)
    ]
    url = sandbox.graph_url + "communications/callRecords"
    flt = "startDateTime ge 2024-05-02T10:00:00Z and startDateTime lt 2024-05-02T14:00:00Z"
    body = graph.get(url, params={"$filter": flt}, headers={"Prefer": "odata.maxpagesize=2"}).json()
    page2 = graph.get(body["@odata.nextLink"]).json()
    assert [r["id"] for r in body["value"] + page2["value"]] == made[2:6]
    assert "@odata.nextLink" not in page2
    later = graph.get(url, params={"$filter": "startDateTime ge 2024-05-02T13:00:00Z"}).json()[
        "value"
    ]
    assert [r["id"] for r in later] == made[5:]
    strictly = graph.get(url, params={"$filter": "startDateTime gt 2024-05-02T13:00:00Z"}).json()[
        "value"
    ]
    assert [r["id"] for r in strictly] == made[6:]
    assert graph.get(url, params={"$filter": "subject eq 'x'"}).status_code == 400

    group = later[0]
    assert (
        group["type"] == "groupCall"
        and group["organizer_v2"]["identity"]["user"]["displayName"] == "Alice Martin"
    )
    assert sandbox.state.update_call_record(made[5], end=base + timedelta(hours=6)) == 2
    detail = graph.get(f"{url}/{made[5]}", params={"$expand": "sessions($expand=segments)"}).json()
    assert detail["version"] == 2 and len(detail["sessions"]) == 2
    assert all(len(s["segments"]) == 1 for s in detail["sessions"])
    v2 = graph.get(f"{url}/{made[5]}", params={"$expand": "participants_v2"}).json()[
        "participants_v2"
    ]
    assert {p["identity"]["user"]["userPrincipalName"] for p in v2} == {
        ALICE,
        BOB,
        "jane@fabrikam.test",
    }


def test_send_mail_is_delivered(sandbox: Sandbox, graph: requests.Session) -> None:
    account = o365_account(sandbox, f"users/{ALICE}")
    message = account.new_message(resource=ALICE)
    message.to.add([BOB, "partner@fabrikam.test"])
    message.cc.add(CAROL)
    message.subject = "Proposal"
    message.body = "<p>Here it is.</p>"
    assert message.send()
    assert sandbox.requests(path_contains="/sendMail")[-1].status == 202

    (sent,) = sandbox.state.outbox
    assert sent.external == ("partner@fabrikam.test",) and sent.subject == "Proposal"
    assert sent.content_type == "html" and b"Message-ID: " + sent.message_id.encode() in sent.raw
    for owner, folder in ((ALICE, "sentitems"), (BOB, "inbox"), (CAROL, "inbox")):
        items, _, _ = delta_round(
            graph.get, sandbox.graph_url + f"users/{owner}/mailFolders/{folder}/messages/delta"
        )
        assert [i["internetMessageId"] for i in items] == [sent.message_id]
        assert items[0]["from"]["emailAddress"]["address"] == ALICE

    quiet = graph.post(
        sandbox.graph_url + f"users/{BOB}/sendMail",
        json={
            "message": {"subject": "x", "toRecipients": [{"emailAddress": {"address": ALICE}}]},
            "saveToSentItems": False,
        },
    )
    assert (
        quiet.status_code == 202 and not sandbox.state.mailboxes[BOB].folder("sentitems").log.items
    )  # type: ignore[union-attr]
    empty = graph.post(
        sandbox.graph_url + f"users/{BOB}/sendMail", json={"message": {"subject": "x"}}
    )
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "ErrorInvalidRecipients"

    sandbox.idp.set_client_roles("syncd-demo", DEFAULT_APP_ROLES - {"Mail.Send"})
    with graph_session(sandbox, app_token(sandbox)) as no_send:
        denied = no_send.post(sandbox.graph_url + f"users/{ALICE}/sendMail", json={"message": {}})
    assert denied.status_code == 403


def test_batch_limits_dependencies_and_per_step_throttling(
    sandbox: Sandbox, graph: requests.Session
) -> None:
    url = sandbox.graph_url + "$batch"
    too_many = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(21)]
    assert graph.post(url, json={"requests": too_many}).status_code == 400
    twice = [{"id": "1", "method": "GET", "url": "/users"}] * 2
    assert graph.post(url, json={"requests": twice}).status_code == 400

    sandbox.faults.throttle_next(1, mailbox=ALICE, retry_after=2)
    steps = [
        {"id": "1", "method": "GET", "url": f"/users/{BOB}?$select=displayName"},
        {"id": "2", "method": "GET", "url": f"/users/{ALICE}/mailFolders/inbox/messages/delta"},
        {"id": "3", "method": "GET", "url": "/users/nobody@contoso.test"},
        {"id": "4", "method": "GET", "url": "/users", "dependsOn": ["3"]},
        {
            "id": "5",
            "method": "POST",
            "url": f"/users/{BOB}/sendMail",
            "headers": {"Content-Type": "application/json"},
            "body": {
                "message": {"subject": "hi", "toRecipients": [{"emailAddress": {"address": CAROL}}]}
            },
        },
    ]
    reply = graph.post(url, json={"requests": steps})
    assert reply.status_code == 200
    responses = reply.json()["responses"]
    assert sorted(r["id"] for r in responses) == ["1", "2", "3", "4", "5"]
    assert [r["id"] for r in responses] != ["1", "2", "3", "4", "5"]  # order is not guaranteed
    by_id = {r["id"]: r for r in responses}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["displayName"] == "Bob Durand"
    assert by_id["2"]["status"] == 429 and by_id["2"]["headers"]["Retry-After"] == "2"
    assert by_id["3"]["status"] == 404 and by_id["4"]["status"] == 424
    assert by_id["5"]["status"] == 202 and by_id["5"]["body"] is None
    batched = [r for r in sandbox.request_log if r.via_batch]
    assert len(batched) == 4 and {r.mailbox for r in batched} == {None, ALICE, BOB}


def test_subscription_handshake_and_notifications(
    sandbox: Sandbox, graph: requests.Session, make_raw: MakeRaw
) -> None:
    url = sandbox.graph_url + "subscriptions"
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    resource = f"users/{ALICE}/mailFolders('inbox')/messages"
    with NotificationReceiver() as rx:
        spec = {
            "changeType": "created,updated",
            "notificationUrl": rx.url,
            "resource": resource,
            "expirationDateTime": soon,
            "clientState": "s3cret",
            "lifecycleNotificationUrl": rx.url,
        }
        created = graph.post(url, json=spec)
        assert created.status_code == 201, created.text
        sub = created.json()
        assert len(rx.validations) == 2  # notification and lifecycle URLs, each validated

        new_id = sandbox.state.add_message(ALICE, "inbox", make_raw(1))
        sandbox.state.add_message(BOB, "inbox", make_raw(2, to=BOB))  # not subscribed
        sandbox.state.update_message(ALICE, new_id, isRead=True)
        received = rx.wait_for(2)
        assert [n["value"][0]["changeType"] for n in received] == ["created", "updated"]
        note = received[0]["value"][0]
        assert note["clientState"] == "s3cret" and note["subscriptionId"] == sub["id"]
        assert note["resourceData"]["id"] == new_id and note["tenantId"] == sandbox.state.tenant_id

        sandbox.subscriptions.fire_lifecycle(sub["id"], "missed")
        assert rx.wait_for(3)[2]["value"][0]["lifecycleEvent"] == "missed"

        later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        renewed = graph.patch(f"{url}/{sub['id']}", json={"expirationDateTime": later})
        assert (
            renewed.status_code == 200
            and renewed.json()["expirationDateTime"] != sub["expirationDateTime"]
        )
        assert [s["id"] for s in graph.get(url).json()["value"]] == [sub["id"]]
        too_far = (datetime.now(UTC) + timedelta(minutes=4231)).isoformat()
        assert graph.post(url, json={**spec, "expirationDateTime": too_far}).status_code == 400
        assert (
            graph.post(
                url, json={**spec, "notificationUrl": "https://example.com/hook"}
            ).status_code
            == 400
        )
        assert graph.delete(f"{url}/{sub['id']}").status_code == 204
        assert graph.get(f"{url}/{sub['id']}").status_code == 404

    with NotificationReceiver(mode="wrong") as bad:
        refused = graph.post(
            url, json={**spec, "notificationUrl": bad.url, "lifecycleNotificationUrl": None}
        )
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "ValidationError"


def test_demo_company_syncs_to_its_ground_truth() -> None:
    company = generate(7, users=3, accounts=3, messages=150, events=10, calls=6)
    with Sandbox() as box:
        report = box.seed_demo(company)
        assert report.users == 3 and report.skipped == 0
        truth = box.state.ground_truth()
        with graph_session(box, app_token(box)) as graph:
            seen_mail: set[tuple[str, str, str]] = set()
            seen_events: set[tuple[str, str, str]] = set()
            lo, hi = (d.isoformat().replace("+00:00", "Z") for d in truth.window)
            for person in company.users:
                for folder in ("inbox", "sentitems"):
                    folder_url = f"users/{person.email}/mailFolders/{folder}/messages/delta"
                    url = f"{box.graph_url}{folder_url}?$select=internetMessageId"
                    items, _, _ = delta_round(graph.get, url, page=50)
                    seen_mail |= {(person.email, folder, i["internetMessageId"]) for i in items}
                url = (
                    box.graph_url
                    + f"users/{person.email}/calendarView/delta?startDateTime={lo}&endDateTime={hi}"
                )
                items, _, _ = delta_round(graph.get, url, page=50)
                seen_events |= {
                    (person.email, i["iCalUId"], i["start"]["dateTime"][:19] + "Z") for i in items
                }
            calls = graph.get(box.graph_url + "communications/callRecords").json()["value"]
            group = graph.get(
                box.graph_url + "groups", params={"$filter": "displayName eq 'Sales'"}
            ).json()
            members = graph.get(box.graph_url + f"groups/{group['value'][0]['id']}/members").json()[
                "value"
            ]
    assert seen_mail == truth.messages and len(seen_mail) == report.messages
    assert seen_events == truth.events
    assert {(c["id"], c["version"]) for c in calls} == truth.calls
    assert {m["mail"] for m in members} == {u.email for u in company.users}
    # the sandbox's recurrence expansion agrees with the generator's own (wall-clock Paris)
    expected = {
        (owner, start.strftime("%Y-%m-%dT%H:%M:%SZ"))
        for event in company.events()
        for owner in event.calendars
        for start, _ in event.occurrences()
    }
    assert {(owner, start) for owner, _, start in seen_events} == expected


def test_seed_mailfiles_from_maildir_mbox_and_eml(tmp_path: Path, make_raw: MakeRaw) -> None:
    maildir = mailbox.Maildir(tmp_path / "md", create=True)
    for n in range(2):
        maildir.add(make_raw(n))
    mbox = mailbox.mbox(tmp_path / "box.mbox", create=True)
    for n in range(2, 4):
        mbox.add(make_raw(n))
    mbox.close()
    (tmp_path / "one.eml").write_bytes(b"From: x@fabrikam.test\r\nSubject: no id\r\n\r\nhello\r\n")
    with Sandbox() as box:
        count = box.seed_mailfiles(
            "dana@contoso.test", [tmp_path / "md", tmp_path / "box.mbox", tmp_path / "one.eml"]
        )
        assert count == 5
        messages = {
            v.internet_message_id
            for v in box.state.mailboxes["dana@contoso.test"].folder("inbox").log.items.values()
        }  # type: ignore[union-attr]
        assert {f"<m{n}@fabrikam.test>" for n in range(4)} < messages
        assert len(messages) == 5  # Exchange-style id assigned to the one without Message-ID
        enron = SHARED / "data" / "enron" / "maildir" / "badeer-r"
        if enron.is_dir():  # a real user with headers but no Message-ID
            assert box.seed_mailfiles("rbadeer@contoso.test", [enron]) == 3


def test_command_line_serves_a_seeded_tenant(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syncd.sandbox",
            "--port",
            "0",
            "--seed",
            "3",
            "--messages",
            "40",
            "--users",
            "2",
            "--fault",
            "429:next=1",
            "--state-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        info: dict[str, str] = {}
        while "CA bundle" not in info:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "no output"
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
        app = msal.ConfidentialClientApplication(
            info["client id"],
            client_credential=info["client secret"],
            authority=info["authority"],
            instance_discovery=False,
            verify=info["CA bundle"],
        )
        token = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])[
            "access_token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        users_url = info["graph URL"] + "users"
        first = requests.get(users_url, headers=headers, verify=info["CA bundle"], timeout=10)
        assert first.status_code == 429  # the --fault
        users = requests.get(
            users_url, headers=headers, verify=info["CA bundle"], timeout=10
        ).json()["value"]
        assert len(users) == 2
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        finally:
            proc.kill()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
