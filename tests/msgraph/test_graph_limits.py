"""Backpressure: Retry-After honoured and bounded, the per-mailbox request budget, and at most
four requests in flight per mailbox whatever the number of threads."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from graph_helpers import ALICE, BOB, MakeConnector, drain, mailbox, raw_mail, stream_by_key

from connectors.base import Stream, ThrottledError, TransientError
from syncd.sandbox import Sandbox


def _statuses(box: Sandbox, path: str = "/messages/delta") -> list[int]:
    return [r.status for r in box.requests(path_contains=path)]


def test_a_429_storm_is_ridden_out_honouring_retry_after(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    box.state.add_message(ALICE, "inbox", raw_mail("<s@fabrikam.test>"))
    connector = make_connector(box)
    inbox = stream_by_key(connector, mailbox(connector, ALICE), "/mail/inbox")
    box.faults.throttle_next(3, mailbox=ALICE, retry_after=0.3)
    box.faults.unavailable_next(1, mailbox=ALICE, retry_after=0.2)
    started = time.monotonic()
    page = inbox.fetch_page(None)
    elapsed = time.monotonic() - started
    assert [i.natural_key for i in page.interactions] == ["s@fabrikam.test"]
    assert _statuses(box) == [429, 429, 429, 503, 200]
    assert 1.1 <= elapsed < 3.0  # 3 x 0.3 + 0.2 seconds of Retry-After, plus jitter
    # Another mailbox was never held up by Alice's throttling.
    assert not box.requests(mailbox=BOB)


def test_throttling_beyond_max_retry_wait_is_a_throttled_error(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    connector = make_connector(box, max_retry_wait=1.0)
    inbox = stream_by_key(connector, mailbox(connector, ALICE), "/mail/inbox")
    box.faults.throttle_next(10, mailbox=ALICE, retry_after=0.4)
    with pytest.raises(ThrottledError, match="keeps throttling") as caught:
        inbox.fetch_page(None)
    assert caught.value.retry_after == 0.4
    assert _statuses(box) == [429, 429, 429]  # slept ~0.8 s; one more sleep would pass 1.0 s


def test_request_budget_per_mailbox(box: Sandbox, make_connector: MakeConnector) -> None:
    connector = make_connector(box, request_budget_per_10min=3, mailboxes=(ALICE,), group=None)
    (alice,) = connector.list_mailboxes()  # a tenant (directory) request: not Alice's budget
    streams = connector.mailbox_streams(alice)
    for stream in streams:  # inbox, sentitems, calendar: three requests
        drain(stream)
    with pytest.raises(ThrottledError, match="budget of 3 per 10 minutes") as caught:
        streams[0].fetch_page(None)
    assert 590 <= caught.value.retry_after <= 600
    assert len(box.requests(mailbox=ALICE)) == 3  # the fourth never left the process
    bob = make_connector(box, request_budget_per_10min=3, mailboxes=(BOB,), group=None)
    drain(stream_by_key(bob, mailbox(bob, BOB), "/mail/inbox"))  # Bob has his own budget


def test_at_most_four_requests_in_flight_per_mailbox(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    state = box.state
    folders = [f"Account {n}" for n in range(5)]
    for name in folders:
        folder = state.add_folder(ALICE, name)
        for n in range(4):
            state.add_message(ALICE, folder, raw_mail(f"<{name[-1]}.{n}@fabrikam.test>"))
    for n in range(4):
        state.add_message(ALICE, "inbox", raw_mail(f"<i{n}@fabrikam.test>"))
    box.faults.slow(60, mailbox=ALICE)  # each request holds its slot a while, as a busy server
    connector = make_connector(box, folders=("inbox", "sentitems", *folders), page_size=2)
    streams = connector.mailbox_streams(mailbox(connector, ALICE))
    assert len(streams) == 8
    found: dict[str, int] = {}
    errors: list[BaseException] = []

    def run(stream: Stream) -> None:
        try:
            found[stream.key] = len(drain(stream).interactions)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in streams for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert box.faults.injected["concurrency"] == 0  # the sandbox never had to refuse one
    assert 2 < box.faults.max_in_flight[ALICE] <= 4
    assert sum(found.values()) == 5 * 4 + 4


def test_network_failure_is_transient(make_connector: MakeConnector, tmp_path: Path) -> None:
    with Sandbox(state_dir=tmp_path / "sandbox") as box:  # the CA file outlives the server
        box.state.add_user(ALICE, "Alice Martin", ["Sales"])
        connector = make_connector(box)
        inbox = stream_by_key(connector, mailbox(connector, ALICE), "/mail/inbox")
    with pytest.raises(TransientError, match="cannot reach Graph"):
        inbox.fetch_page(None)
