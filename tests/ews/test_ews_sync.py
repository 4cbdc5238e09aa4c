"""The EWS connector through the real sync loop against the sandbox: full and incremental sync
equal the ground truth; the SyncState is committed only when a round completes; faults
(ErrorServerBusy per mailbox, ErrorInvalidSyncStateData, ErrorItemNotFound, 401, 503)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ews_helpers import BACKFILL_DAYS, HORIZON_DAYS, ews_conf, make_app
from requests import Session as requests_session
from sqlalchemy import bindparam, select, text

from connectors.base import AuthError, ThrottledError, TransientError, iter_pages
from connectors.ews.rounds import decode_cursor
from connectors.normalize import normalize_message_id
from syncd.app import App
from syncd.demo import DemoCompany, generate
from syncd.runner import run_stream
from syncd.sandbox import Sandbox
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.sync import run_pass


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return generate(8, users=4, accounts=5, messages=200, events=20, calls=0)


@pytest.fixture
def tenant(db_url: str, tmp_path: Path, company: DemoCompany) -> Iterator[tuple[Sandbox, App]]:
    with Sandbox(state_dir=tmp_path / "sandbox", seed=8) as box:
        box.seed_demo(company)
        app = make_app(db_url, tmp_path / "state", company,
                       ews_conf(box, tuple(u.email for u in company.users), page_size=20))
        try:
            yield box, app
        finally:
            app.close()


def live_mail(app: App) -> Counter[tuple[str, str]]:
    with session_scope(app.sessions) as s:
        rows = s.execute(text(
            "SELECT mb.address, i.natural_key FROM sightings s "
            "JOIN streams st ON st.id = s.stream_id JOIN mailboxes mb ON mb.id = st.mailbox_id "
            "JOIN interactions i ON i.id = s.interaction_id "
            "WHERE s.deleted_at IS NULL AND i.kind = 'email'")).all()
    return Counter((a, k) for a, k in rows)


def live_meetings(app: App) -> int:
    with session_scope(app.sessions) as s:
        return int(s.execute(text(
            "SELECT count(*) FROM sightings s JOIN interactions i ON i.id = s.interaction_id "
            "WHERE i.kind = 'meeting' AND s.deleted_at IS NULL")).scalar_one())


def expected_mail(box: Sandbox) -> Counter[tuple[str, str | None]]:
    truth = box.state.ground_truth()
    return Counter((o, normalize_message_id(mid)) for o, _f, mid in truth.messages)


def window_truth(box: Sandbox, now: datetime) -> Any:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return box.state.ground_truth(window=(midnight - timedelta(days=BACKFILL_DAYS),
                                          midnight + timedelta(days=HORIZON_DAYS + 1)))


def test_full_then_incremental_sync_matches_the_tenant(tenant: tuple[Sandbox, App]) -> None:
    box, app = tenant
    now = datetime.now(UTC)
    report = run_pass(app)
    assert report.errors == []
    assert live_mail(app) == expected_mail(box)
    truth = window_truth(box, now)
    assert live_meetings(app) == len(truth.events)
    with session_scope(app.sessions) as s:
        meetings = s.scalar(select(text("count(*)")).select_from(m.Interaction).where(
            m.Interaction.kind == "meeting"))
    assert meetings == len({(uid, start) for _o, uid, start in truth.events})

    # Changes: a new mail, a deleted one, a moved and a cancelled occurrence.
    owner = next(iter(box.state.users))
    box.state.add_message(owner, "inbox", (
        b"From: Jeanne <jeanne@fabrikam.test>\r\nTo: " + owner.encode() +
        b"\r\nSubject: Nouvelle demande\r\nMessage-ID: <new-1@fabrikam.test>\r\n"
        b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\nBonjour\r\n"))
    inbox = box.state.mailboxes[owner].folder("inbox")
    assert inbox is not None
    box.state.delete_message(owner, next(iter(inbox.log.items)))
    series = next(v for b in box.state.mailboxes.values() for v in b.calendar.items.values()
                  if v.rrule and v.organizer.email == b.owner)
    first = series.occurrences(series.start - timedelta(days=1), series.start + timedelta(
        days=400))
    box.state.move_occurrence(series.owner, series.id, first[1].original_start or first[1].start,
                              first[1].start + timedelta(hours=2),
                              first[1].end + timedelta(hours=2))
    box.state.cancel_occurrence(series.owner, series.id, first[2].original_start or first[2].start)
    report = run_pass(app)
    assert report.errors == []
    assert live_mail(app) == expected_mail(box)
    assert live_meetings(app) == len(window_truth(box, now).events)

    # A poll without changes: one SyncFolderItems per stream, nothing else.
    before = len(box.requests(path_contains="/EWS/"))
    report = run_pass(app)
    assert report.errors == [] and report.totals.interactions_new == 0
    calls = Counter(r.path.rpartition("#")[2] for r in box.requests(path_contains="/EWS/")
                    [before:])
    assert calls == {"SyncFolderItems": 3 * 4}


def test_sync_state_is_committed_only_when_a_round_completes(
    tenant: tuple[Sandbox, App], company: DemoCompany, connector_for: Any
) -> None:
    box, app = tenant
    owner = company.users[0].email
    conf = app.settings.connectors[0]
    connector = connector_for(box, mailboxes=(owner,), page_size=5)
    mailbox = connector.list_mailboxes()[0]
    assert mailbox.address == owner
    inbox = connector.mailbox_streams(mailbox)[0]
    pages = list(iter_pages(inbox, None))
    assert len(pages) > 2
    # Every page before the last carries the state the round started from (none here).
    assert all(decode_cursor(p.cursor or "", "t").get("state") is None for p in pages[:-1])
    final = decode_cursor(pages[-1].cursor or "", "t")["state"]
    assert isinstance(final, str) and final

    # A throttle in the middle of the round: committed pages stay, the stored cursor still has
    # no SyncState, and the next run replays the round without duplicating anything.
    fresh = connector.mailbox_streams(mailbox)[1]  # sent items, never synced

    class ThrottledOnThirdPage:
        """The sync loop's view of a stream whose server starts throttling mid-round."""

        def __init__(self) -> None:
            self.key, self.mailbox, self.calls = fresh.key, fresh.mailbox, 0

        def fetch_page(self, cursor: str | None) -> Any:
            self.calls += 1
            if self.calls == 3:
                box.ews.faults.server_busy_next(1, mailbox=owner, back_off_ms=90_000)
            return fresh.fetch_page(cursor)

    with pytest.raises(ThrottledError) as caught:
        run_stream(app.sessions, app.capturer, conf.name, ThrottledOnThirdPage(), mailbox=owner)
    assert caught.value.retry_after == 90.0
    with session_scope(app.sessions) as s:
        row = s.scalars(select(m.Stream).where(m.Stream.key == fresh.key)).one()
        assert row.cursor is not None and decode_cursor(row.cursor, "t")["state"] is None
        assert row.next_due_at is not None
        sightings = s.execute(text(
            "SELECT count(*) FROM sightings WHERE stream_id = :id"), {"id": row.id}).scalar_one()
    assert sightings > 0
    run_stream(app.sessions, app.capturer, conf.name, fresh, mailbox=owner)
    with session_scope(app.sessions) as s:
        row = s.scalars(select(m.Stream).where(m.Stream.key == fresh.key)).one()
        assert decode_cursor(row.cursor or "", "t")["state"]
    sent = box.state.mailboxes[owner].folder("sentitems")
    assert sent is not None
    with session_scope(app.sessions) as s:
        count = s.execute(text("SELECT count(*) FROM sightings WHERE stream_id = :id"),
                          {"id": row.id}).scalar_one()
    assert count == len(sent.log.items)


def test_invalid_sync_state_restarts_the_streams_without_duplicates(
    tenant: tuple[Sandbox, App],
) -> None:
    box, app = tenant
    assert run_pass(app).errors == []
    with session_scope(app.sessions) as s:
        before = s.execute(text("SELECT count(*) FROM interactions")).scalar_one()
    box.ews.faults.invalidate_sync_states()
    report = run_pass(app)
    assert report.errors == []
    assert box.ews.faults.injected["invalid-sync-state"] >= 1
    assert live_mail(app) == expected_mail(box)
    with session_scope(app.sessions) as s:
        after = s.execute(text("SELECT count(*) FROM interactions")).scalar_one()
        resynced = s.execute(text("SELECT count(*) FROM streams WHERE resync_count > 0")
                             ).scalar_one()
    assert after == before
    assert resynced == 3 * 4  # inbox, sent items and calendar of four mailboxes


def test_server_busy_backs_off_one_mailbox_while_the_others_sync(
    tenant: tuple[Sandbox, App], company: DemoCompany
) -> None:
    box, app = tenant
    busy = company.users[1].email
    box.ews.faults.server_busy_next(1000, mailbox=busy, back_off_ms=120_000)
    started = datetime.now(UTC)
    report = run_pass(app)
    assert [e["scope"].split("/")[0] for e in report.errors] == [busy]
    assert report.errors[0]["error"] == "ThrottledError"
    expected = expected_mail(box)
    others = Counter({k: v for k, v in expected.items() if k[0] != busy})
    assert live_mail(app) == others
    with session_scope(app.sessions) as s:
        due = s.scalars(select(m.Stream.next_due_at).where(
            m.Stream.key.like(f"{busy}/%"), m.Stream.next_due_at.is_not(None))).all()
    assert due and all(d is not None and d >= started + timedelta(seconds=120) for d in due)
    # Once the server recovers, the throttled mailbox catches up (after its back-off).
    box.ews.faults.reset()
    conf = app.settings.connectors[0]
    connector = app.ews_connector(conf)  # type: ignore[arg-type]
    mailbox = next(mb for mb in connector.list_mailboxes() if mb.address == busy)
    for stream in connector.mailbox_streams(mailbox):
        run_stream(app.sessions, app.capturer, conf.name, stream, mailbox=busy)
    assert live_mail(app) == expected


def test_a_short_server_busy_is_waited_out_in_the_mailbox_thread(
    tenant: tuple[Sandbox, App], company: DemoCompany
) -> None:
    box, app = tenant
    box.ews.faults.server_busy_next(2, mailbox=company.users[2].email, back_off_ms=300)
    report = run_pass(app)
    assert report.errors == []
    assert box.ews.faults.injected["busy"] == 2
    assert live_mail(app) == expected_mail(box)


def test_a_mailbox_waiting_out_server_busy_does_not_stall_the_others(
    tenant: tuple[Sandbox, App], company: DemoCompany, db_url: str, tmp_path: Path
) -> None:
    """One mailbox answered ErrorServerBusy on every request, with back-offs short enough to
    be waited out in its own thread, for as long as it takes the other mailboxes to finish:
    they finish (every stream's round complete) while it is still backing off, and then it
    catches up in the same pass. No clock in the assertions: a watcher lifts the throttle
    when it sees the others done; if they were stalled behind the busy mailbox it would only
    lift it at its deadline and `done_while_busy` would be False."""
    box, _app = tenant
    busy = company.users[1].email
    others = [u.email for u in company.users if u.email != busy]
    app = make_app(db_url, tmp_path / "state-wait", company,
                   ews_conf(box, tuple(u.email for u in company.users), page_size=20,
                            max_retry_wait=3600.0))
    box.ews.faults.server_busy_next(1_000_000, mailbox=busy, back_off_ms=200)
    seen: dict[str, Any] = {}

    def complete(addresses: list[str]) -> int:
        with session_scope(app.sessions) as s:
            return int(s.execute(text(
                "SELECT count(*) FROM streams st JOIN mailboxes mb ON mb.id = st.mailbox_id "
                "WHERE st.round_complete AND mb.address IN :a").bindparams(
                    bindparam("a", expanding=True)), {"a": addresses}).scalar_one())

    def watch() -> None:
        deadline = time.monotonic() + 300  # a guard against a hang, not an assertion
        while time.monotonic() < deadline and complete(others) < 3 * len(others):
            time.sleep(0.05)
        seen["done_while_busy"] = complete(others) == 3 * len(others)
        seen["busy_complete"] = complete([busy])
        seen["busy_refused"] = box.ews.faults.injected["busy"]
        box.ews.faults.reset()

    watcher = threading.Thread(target=watch, name="watch-others")
    watcher.start()
    try:
        report = run_pass(app)
        watcher.join()
        assert seen["done_while_busy"] is True
        assert seen["busy_complete"] == 0 and seen["busy_refused"] >= 2
        assert report.errors == []
        assert live_mail(app) == expected_mail(box)
    finally:
        watcher.join()
        app.close()


def test_unauthorized_unavailable_and_vanishing_items_are_reported_not_deleted(
    tenant: tuple[Sandbox, App], company: DemoCompany, connector_for: Any
) -> None:
    box, app = tenant
    assert run_pass(app).errors == []
    meetings = live_meetings(app)
    assert meetings > 0
    owner = company.users[0].email
    connector = connector_for(box, mailboxes=(owner,))
    mailbox = connector.list_mailboxes()[0]
    inbox, _sent, calendar = connector.mailbox_streams(mailbox)

    # One 401 is a token to refresh (refreshed once, then retried); a lasting one is reported.
    box.ews.faults.unauthorized_next(1, mailbox=owner)
    assert inbox.fetch_page(None).interactions
    box.ews.faults.unauthorized_next(100, mailbox=owner)
    with pytest.raises(AuthError, match="credentials"):
        connector.mailbox_streams(mailbox)[1].fetch_page(None)
    box.ews.faults.reset()
    box.ews.faults.unavailable_next(1, mailbox=owner)
    with pytest.raises(TransientError):
        connector_for(box, mailboxes=(owner,), max_retry_wait=0).mailbox_streams(mailbox)[0] \
            .fetch_page(None)

    # GetItem answering ErrorItemNotFound during the calendar view fails the round: the
    # occurrences it could not read must not look deleted.
    with session_scope(app.sessions) as s:
        row = s.scalars(select(m.Stream).where(m.Stream.key == calendar.key)).one()
        cursor = row.cursor
    box.state.update_event(owner, next(iter(box.state.mailboxes[owner].calendar.items)),
                           subject="Changé")
    box.ews.faults.item_not_found_next(1, mailbox=owner)
    with pytest.raises(TransientError, match="could not be read"):
        calendar.fetch_page(cursor)
    assert box.ews.faults.injected["item-not-found"] == 1
    assert live_meetings(app) == meetings


def test_legacy_dns_are_resolved_once_each(
    tenant: tuple[Sandbox, App], company: DemoCompany, connector_for: Any
) -> None:
    box, _app = tenant
    connector = connector_for(box)
    interactions = []
    for mailbox in connector.list_mailboxes():
        for stream in connector.mailbox_streams(mailbox):
            for page in iter_pages(stream, None):
                interactions.extend(page.interactions)
    senders = {p.email for i in interactions for p in i.participants if p.role in ("from",
                                                                                  "organizer")}
    internal = {u.email for u in company.users}
    assert internal & senders  # internal senders came as legacy DNs and were resolved
    assert not {s for s in senders if s.startswith("x500:")}
    # One ResolveNames per distinct DN, whatever the number of messages.
    assert connector.resolver.requests == len(internal & senders)


def test_basic_auth_service_account_with_impersonation(
    company: DemoCompany, connector_for: Any, tmp_path: Path
) -> None:
    with Sandbox(state_dir=tmp_path / "sb") as box:
        box.seed_demo(company)
        box.ews.add_account("svc-syncd@contoso-demo.fr", "Pa55-wörd")
        good = connector_for(box, auth="basic", username="svc-syncd@contoso-demo.fr",
                             password="Pa55-wörd", version="Exchange2016")
        report = good.check()
        assert report.ok, report.problems
        mailbox = good.list_mailboxes()[0]
        pages = list(iter_pages(good.mailbox_streams(mailbox)[0], None))
        assert sum(len(p.interactions) for p in pages) == len(
            box.state.mailboxes[mailbox.address].folder("inbox").log.items)  # type: ignore[union-attr]
        # The configured version skips exchangelib's ConvertId probe.
        assert not box.requests(path_contains="#ConvertId")
        bad = connector_for(box, auth="basic", username="svc-syncd@contoso-demo.fr",
                            password="wrong")
        report = bad.check()
        assert not report.ok
        assert any("credentials" in p or "Unauthorized" in p for p in report.problems)


def test_exchangelib_reads_answers_in_large_chunks(tmp_path: Path) -> None:
    """exchangelib parses `response.iter_content()` (default chunk: one byte); our adapter
    makes the default 64 KiB. One-byte chunks made an EWS sync 4x slower (bench/ews_sync.py)."""
    from exchangelib.protocol import BaseProtocol

    from connectors.ews.session import READ_CHUNK, install_adapter

    install_adapter()
    with Sandbox(state_dir=tmp_path / "sb") as box, requests_session() as session:
        session.mount("https://", BaseProtocol.HTTP_ADAPTER_CLS())
        answer = session.post(box.ews_url, data=b"<not-soap/>" * 2000,
                              verify=str(box.ca_path), headers={"Authorization": "Basic eDp5"})
        chunks = list(answer.iter_content())
    assert answer.status_code == 401
    assert len(chunks) == 1 and 1 < len(chunks[0]) <= READ_CHUNK


def test_a_refused_cached_token_is_refreshed_once(
    company: DemoCompany, connector_for: Any, tmp_path: Path
) -> None:
    """A token in the msal cache that the server refuses (revoked, or from another run of
    the server) costs one refresh, not the mailbox list (found by bench/ews_sync.py)."""
    cache = tmp_path / "shared-cache.json"
    with Sandbox(state_dir=tmp_path / "sb") as box:
        box.seed_demo(company)
        first = connector_for(box, token_cache_path=cache)
        assert first.list_mailboxes()
        first.close()
        box.faults.expire_access_tokens()  # every token issued so far is now refused
        again = connector_for(box, token_cache_path=cache)
        mailboxes = again.list_mailboxes()
        assert [m.address for m in mailboxes] == [u.email for u in company.users]
        assert [r for r in box.requests(path_contains="/EWS/") if r.status == 401]
        pages = list(iter_pages(again.mailbox_streams(mailboxes[0])[0], None))
        assert pages[-1].complete
