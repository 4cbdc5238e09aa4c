"""`kill -9` of a real `syncd run` on an EWS connector at random moments, then a restart, ends
with exactly the sandbox's ground truth: nothing lost, nothing duplicated (DESIGN contract 2,
with the SyncState committed only at the end of a round)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connectors.normalize import normalize_message_id
from syncd.demo import generate
from syncd.sandbox import Sandbox

pytestmark = pytest.mark.slow
SECRET_ENV = "SYNCD_TEST_EWS_KILL_SECRET"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    company = generate(7, users=5, accounts=10, messages=1500, events=60, calls=0)
    with Sandbox(state_dir=tmp_path_factory.mktemp("sandbox"), seed=7) as box:
        box.seed_demo(company)
        yield box


def write_config(path: Path, box: Sandbox, db: Path) -> Path:
    mailboxes = ", ".join(f'"{u}"' for u in box.state.users)
    path.write_text(f"""database_url = "sqlite:///{db}"
state_dir = "{db.parent / 'state'}"
internal_domains = ["contoso-demo.fr"]

[[connectors]]
kind = "ews"
name = "exchange"
service_endpoint = "{box.ews_url}"
auth = "oauth2"
tenant_id = "{box.tenant}"
client_id = "syncd-demo"
client_secret = "env:{SECRET_ENV}"
authority_host = "{box.base_url}"
ca_bundle = "{box.ca_path}"
mailboxes = [{mailboxes}]
page_size = 25
""", encoding="utf-8")
    return path


def syncd(config: Path, *args: str, capture: bool = True) -> subprocess.Popen[bytes]:
    env = dict(os.environ, **{SECRET_ENV: "demo-secret"})
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        env.pop(name, None)
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "syncd", "--quiet", "--config", str(config),
                             *args], env=env, stdout=out, stderr=out)


def store_view(db: Path) -> dict[str, object]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            sightings = conn.execute(text(
                "SELECT mb.address, i.natural_key FROM sightings s "
                "JOIN streams st ON st.id = s.stream_id JOIN mailboxes mb ON mb.id = st.mailbox_id "
                "JOIN interactions i ON i.id = s.interaction_id "
                "WHERE s.deleted_at IS NULL AND i.kind = 'email'")).all()
            meetings = conn.execute(text(
                "SELECT mb.address, i.natural_key FROM sightings s "
                "JOIN streams st ON st.id = s.stream_id JOIN mailboxes mb ON mb.id = st.mailbox_id "
                "JOIN interactions i ON i.id = s.interaction_id "
                "WHERE s.deleted_at IS NULL AND i.kind = 'meeting'")).all()
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                      for t in ("interactions", "activities", "participants")}
            ties = conn.execute(text(
                "SELECT pa.email, pb.email, a_to_b, b_to_a, meetings, co_recipient "
                "FROM ties JOIN persons pa ON pa.id = person_a "
                "JOIN persons pb ON pb.id = person_b")).all()
    finally:
        engine.dispose()
    canonical = sorted((a, b, ab, ba, *rest) if a < b else (b, a, ba, ab, *rest)
                       for a, b, ab, ba, *rest in ties)
    return {"sightings": sorted(sightings), "meetings": sorted(meetings), "counts": counts,
            "ties": canonical}


def test_kill_nine_during_an_ews_sync_then_restart_matches_ground_truth(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rnd = random.Random(20261125)
    db = tmp_path / "killed.db"
    config = write_config(tmp_path / "killed.toml", sandbox, db)
    kills = 0
    for _ in range(4):
        proc = syncd(config, "run", "--once", capture=False)
        time.sleep(rnd.uniform(0.5, 3.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=120)
    final = syncd(config, "run", "--once")
    _out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err.decode()
    assert kills >= 1, "the sync finished before any kill: make the data set larger"

    truth = sandbox.state.ground_truth()
    expected = sorted((owner, normalize_message_id(mid)) for owner, _folder, mid in truth.messages)
    seen = store_view(db)
    assert seen["sightings"] == expected  # no loss, no duplicate sighting
    # Meetings too: one sighting per occurrence in each attendee's calendar window (the
    # connector's defaults: 90 days back, 180 ahead, whole UTC days).
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    window = sandbox.state.ground_truth(window=(midnight - timedelta(days=90),
                                                midnight + timedelta(days=181)))
    assert Counter(owner for owner, _key in seen["meetings"]) == Counter(
        owner for owner, _uid, _start in window.events)

    clean_db = tmp_path / "clean.db"
    clean = syncd(write_config(tmp_path / "clean.toml", sandbox, clean_db), "run", "--once")
    clean.communicate(timeout=600)
    assert clean.returncode == 0
    reference = store_view(clean_db)
    assert seen["meetings"] == reference["meetings"]
    assert seen["counts"] == reference["counts"]
    assert seen["ties"] == reference["ties"]
