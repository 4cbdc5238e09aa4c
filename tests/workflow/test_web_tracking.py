"""The pixel and tracked links over a real socket: the pixel always answers; only genuine
tokens are recorded; a link only ever redirects to the URL signed into it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select
from workflow_helpers import KEY, MakeApp, Served, free_port, serve

from syncd.app import App
from syncd.store import models as m
from syncd.store.db import session_scope
from syncd.store.models_workflow import TrackedMessage, TrackingHit
from syncd.tracking.tokens import TokenSigner
from syncd.web.app import PIXEL

SIGN = TokenSigner(KEY.encode())
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0 Safari/537.36")
HUMAN = {"User-Agent": CHROME}


@pytest.fixture
def site(db_url: str, make_app: MakeApp) -> Iterator[tuple[App, Served, int]]:
    app = make_app(db_url, port=free_port(), tracking_limit=30, machine_within=10)
    with session_scope(app.sessions) as s:
        msg = TrackedMessage(uid="u1", idem_key="test:1", mailbox="alice@contoso.test",
                             recipient="jane@fabrikam.test", subject="Proposition",
                             status="sent", created_at=datetime.now(UTC),
                             sent_at=datetime.now(UTC) - timedelta(hours=1))
        s.add(msg)
        s.flush()
        message_id = msg.id
    with serve(app) as served:
        yield app, served, message_id


def hits(app: App) -> list[TrackingHit]:
    with app.sessions() as s:
        return list(s.scalars(select(TrackingHit).order_by(TrackingHit.id)))


def events(app: App) -> list[tuple[str, dict[str, object]]]:
    with app.sessions() as s:
        return [(t, p) for t, p in s.execute(select(m.Event.type, m.Event.payload)
                                            .order_by(m.Event.id))]


@pytest.mark.parametrize("token", ["garbage", "a.b", "x" * 5000, "", "..%2f..%2fetc"])
def test_pixel_always_answers_and_records_nothing_for_bad_tokens(
        site: tuple[App, Served, int], token: str) -> None:
    app, served, message_id = site
    good = SIGN.open_token(message_id)
    for candidate in (token, good[:-3], SIGN.click_token(message_id, "https://x.test")):
        response = requests.get(f"{served.url}/o/{candidate}.gif", headers=HUMAN, timeout=30)
        assert response.status_code == 200 and response.content == PIXEL
        assert response.headers["content-type"] == "image/gif"
        assert "no-store" in response.headers["cache-control"]
    assert hits(app) == [] and events(app) == []


def test_genuine_open_is_recorded_with_its_class(site: tuple[App, Served, int]) -> None:
    app, served, message_id = site
    url = f"{served.url}/o/{SIGN.open_token(message_id)}.gif"
    proxy = {"User-Agent": "Mozilla/5.0 (via ggpht.com GoogleImageProxy)"}
    for headers in (proxy, HUMAN, HUMAN):
        response = requests.get(url, headers=headers, timeout=30)
        assert response.content == PIXEL
    got = hits(app)
    assert [(h.kind, h.machine, h.reason, h.ip_class) for h in got] == [
        ("open", True, "Gmail image proxy", "loopback"), ("open", False, "human", "loopback"),
        ("open", False, "human", "loopback")]
    opened = [p for t, p in events(app) if t == "email.opened"]
    assert [(p["human"], p["first_human_open"]) for p in opened] == [
        (False, False), (True, True), (True, False)]
    assert opened[1]["recipient"] == "jane@fabrikam.test" and opened[1]["subject"] == \
        "Proposition"


def test_open_right_after_delivery_is_a_machine(site: tuple[App, Served, int]) -> None:
    app, served, message_id = site
    with session_scope(app.sessions) as s:
        s.get_one(TrackedMessage, message_id).sent_at = datetime.now(UTC)
    requests.get(f"{served.url}/o/{SIGN.open_token(message_id)}.gif", headers=HUMAN, timeout=30)
    (hit,) = hits(app)
    assert hit.machine and hit.reason.endswith("s after delivery")


def test_click_redirects_only_to_the_signed_url(site: tuple[App, Served, int]) -> None:
    app, served, message_id = site
    target = "https://www.contoso.fr/tarifs?x=1"
    token = SIGN.click_token(message_id, target)
    response = requests.get(f"{served.url}/c/{token}?url=https://evil.test", headers=HUMAN,
                            allow_redirects=False, timeout=30)
    assert response.status_code == 302 and response.headers["location"] == target
    evil = SIGN.click_token(message_id, "https://evil.test/")
    forged = f"{evil.split('.')[0]}.{token.split('.')[1]}"
    for bad in (forged, token[:-1], token[:10], SIGN.open_token(message_id), "nope"):
        refused = requests.get(f"{served.url}/c/{bad}", headers=HUMAN, allow_redirects=False,
                               timeout=30)
        assert refused.status_code == 404 and "location" not in refused.headers
    (hit,) = hits(app)
    assert (hit.kind, hit.url, hit.machine) == ("click", target, False)
    ((kind, payload),) = events(app)
    assert kind == "link.clicked" and payload["url"] == target and payload["first_human_click"]


def test_flood_of_clicks_is_refused(site: tuple[App, Served, int]) -> None:
    app, served, message_id = site
    url = f"{served.url}/c/{SIGN.click_token(message_id, 'https://x.test/')}"
    statuses = [requests.get(url, headers=HUMAN, allow_redirects=False, timeout=30).status_code
                for _ in range(31)]
    assert statuses == [302] * 30 + [429]
    assert len(hits(app)) == 30


def test_healthz_and_metrics(site: tuple[App, Served, int]) -> None:
    app, served, message_id = site
    requests.get(f"{served.url}/o/{SIGN.open_token(message_id)}.gif", headers=HUMAN, timeout=30)
    health = requests.get(f"{served.url}/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["tracking"] is True
    metrics = requests.get(f"{served.url}/metrics", timeout=30).text
    assert 'syncd_tracking_opens_total{machine="false"}' in metrics
    assert "# TYPE syncd_workflow_runs gauge" in metrics
    with app.sessions() as s:
        assert s.scalar(select(func.count()).select_from(TrackingHit)) == 1
