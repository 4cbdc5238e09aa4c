"""The whole pipeline on Microsoft Graph: sandbox tenant -> msgraph connector -> capture ->
store, compared with the sandbox's ground truth, then incremental changes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from connectors.normalize import normalize_message_id
from syncd.app import App
from syncd.config import MsGraphConnector, Settings
from syncd.demo import generate
from syncd.sandbox import Sandbox
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.sync import run_pass

SECRET_ENV = "SYNCD_TEST_GRAPH_SECRET"
BACKFILL_DAYS, HORIZON_DAYS = 400, 180


@pytest.fixture
def tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, App]]:
    company = generate(3, users=4, accounts=8, messages=400, events=40, calls=12)
    monkeypatch.setenv(SECRET_ENV, "demo-secret")
    with Sandbox(state_dir=tmp_path / "sandbox", seed=3) as box:
        box.seed_demo(company)
        conn = MsGraphConnector(
            kind="msgraph", name="m365", tenant_id=box.tenant, client_id="syncd-demo",
            client_secret=f"env:{SECRET_ENV}", cloud="custom", authority_host=box.base_url,
            graph_url=box.graph_url, ca_bundle=box.ca_path, group="Sales", call_records=True,
            calendar_backfill_days=BACKFILL_DAYS, calendar_horizon_days=HORIZON_DAYS)
        app = App(Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}",
                           internal_domains=(company.domain,), connectors=(conn,),
                           state_dir=tmp_path / "state"))
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


def test_full_then_incremental_sync_matches_the_tenant(tenant: tuple[Sandbox, App]) -> None:
    box, app = tenant
    now = datetime.now(UTC)
    report = run_pass(app)
    assert report.errors == []
    # The calendar window the connector asked for (fixed at its first request).
    truth = box.state.ground_truth(window=(now - timedelta(days=BACKFILL_DAYS),
                                           now + timedelta(days=HORIZON_DAYS)))
    expected = Counter((o, normalize_message_id(mid)) for o, _f, mid in truth.messages)
    assert live_mail(app) == expected

    with session_scope(app.sessions) as s:
        meetings = s.scalars(select(m.Interaction).where(m.Interaction.kind == "meeting")).all()
        calls = s.scalars(select(m.Interaction).where(m.Interaction.kind == "call")).all()
        meeting_sightings = s.execute(text(
            "SELECT count(*) FROM sightings s JOIN interactions i ON i.id = s.interaction_id "
            "WHERE i.kind = 'meeting' AND s.deleted_at IS NULL")).scalar_one()
    # One interaction per occurrence, seen once in each attendee's calendar.
    occurrences = {(uid, start) for _owner, uid, start in truth.events}
    assert len(meetings) == len(occurrences)
    assert meeting_sightings == len(truth.events)
    assert {c.natural_key.removeprefix("call:") for c in calls} == {i for i, _ in truth.calls}

    # Incremental: one new mail, one deleted, then a poll with no changes.
    owner = sorted({o for o, _ in expected})[0]
    mid = box.state.add_message(owner, "inbox", (
        "From: Zoé Martin <zoe@nouveau-client.fr>\r\nTo: " + owner + "\r\n"
        "Subject: =?utf-8?q?Demande_de_devis_=C3=A9t=C3=A9?=\r\n"
        "Date: Tue, 02 Jun 2026 10:00:00 +0200\r\nMessage-ID: <devis-ete@nouveau-client.fr>\r\n"
        "\r\nBonjour\r\n").encode())
    assert mid
    victim_folder = box.state.mailboxes[owner].folder("inbox")  # type: ignore[attr-defined]
    victim = next(iter(victim_folder.log.items))
    box.state.delete_message(owner, victim)
    second = run_pass(app)
    assert second.errors == []
    assert (second.totals.interactions_new, second.totals.deletions) == (1, 1)
    truth2 = box.state.ground_truth()
    assert live_mail(app) == Counter(
        (o, normalize_message_id(mid)) for o, _f, mid in truth2.messages)

    before = len(box.request_log)
    third = run_pass(app)
    polls = [r for r in box.request_log[before:]
             if "/delta" in r.path or "callRecords" in r.path]
    assert third.totals.items_seen == 0
    assert len(polls) == third.streams  # a poll with no changes: one request per stream


def test_a_mailbox_that_fails_does_not_stop_the_others(tenant: tuple[Sandbox, App]) -> None:
    box, app = tenant
    users = sorted(u for u in box.state.mailboxes)  # type: ignore[attr-defined]
    box.faults.throttle_next(1000, mailbox=users[0], retry_after=3600)
    report = run_pass(app)
    failed = {e["scope"] for e in report.errors}
    assert failed and all(users[0] in scope for scope in failed)
    with session_scope(app.sessions) as s:
        synced = set(s.scalars(select(m.Mailbox.address).join(
            m.Stream, m.Stream.mailbox_id == m.Mailbox.id).where(
            m.Stream.round_complete)))
    assert set(users[1:]) <= synced


def test_410_with_deletions_in_the_gap_ends_at_the_ground_truth(
    tenant: tuple[Sandbox, App],
) -> None:
    box, app = tenant
    assert run_pass(app).errors == []
    owner = sorted(box.state.mailboxes)[0]  # type: ignore[attr-defined]
    folder = box.state.mailboxes[owner].folder("inbox")  # type: ignore[attr-defined]
    for victim in list(folder.log.items)[:3]:
        box.state.delete_message(owner, victim)
    box.faults.expire_delta_tokens(mailbox=owner)
    report = run_pass(app)
    assert report.errors == []
    with session_scope(app.sessions) as s:
        resyncs = s.scalar(select(m.Stream.resync_count).where(
            m.Stream.key == f"{owner}/mail/inbox"))
    assert resyncs == 1
    truth = box.state.ground_truth()
    assert live_mail(app) == Counter(
        (o, normalize_message_id(mid)) for o, _f, mid in truth.messages)
