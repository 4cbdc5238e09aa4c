"""`kill -9` of a real `syncd run` process at random moments, then a restart, ends with exactly
the sandbox's ground truth: nothing lost, nothing duplicated (DESIGN.md contract 2)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connectors.normalize import normalize_message_id
from syncd.demo import generate
from syncd.demo_job import sandbox_config_toml
from syncd.sandbox import Sandbox

pytestmark = pytest.mark.slow
SECRET_ENV = "SYNCD_TEST_M365_SECRET"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    company = generate(7, users=5, accounts=10, messages=1500, events=60, calls=20)
    with Sandbox(state_dir=tmp_path_factory.mktemp("sandbox"), seed=7) as box:
        box.seed_demo(company)
        yield box


def write_config(path: Path, box: Sandbox, db: Path) -> Path:
    path.write_text(sandbox_config_toml(box, f"sqlite:///{db}", "contoso-demo.fr", SECRET_ENV),
                    encoding="utf-8")
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
            ties = conn.execute(text(
                "SELECT pa.email, pb.email, a_to_b, b_to_a, meetings, calls, co_recipient "
                "FROM ties JOIN persons pa ON pa.id = person_a "
                "JOIN persons pb ON pb.id = person_b")).all()
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                      for t in ("interactions", "activities", "participants")}
    finally:
        engine.dispose()
    # Person ids (and so which end of a tie is `a`) depend on arrival order: compare by address.
    canonical = sorted(
        (a, b, ab, ba, *rest) if a < b else (b, a, ba, ab, *rest)
        for a, b, ab, ba, *rest in ties
    )
    return {"sightings": sorted(sightings), "ties": canonical, "counts": counts}


def test_kill_nine_at_random_moments_then_restart_matches_ground_truth(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rnd = random.Random(20261125)
    db = tmp_path / "killed.db"
    config = write_config(tmp_path / "killed.toml", sandbox, db)
    kills = 0
    for _ in range(4):
        proc = syncd(config, "run", "--once", capture=False)
        time.sleep(rnd.uniform(0.3, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    final = syncd(config, "run", "--once")
    _out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    assert kills >= 1, "the sync finished before any kill: make the data set larger"

    truth = sandbox.state.ground_truth()
    expected = sorted((owner, normalize_message_id(mid)) for owner, _folder, mid in truth.messages)
    seen = store_view(db)
    assert seen["sightings"] == expected  # no loss, no duplicate sighting

    # The graph is a function of the interactions: an uninterrupted sync gives the same ties.
    clean_db = tmp_path / "clean.db"
    clean = syncd(write_config(tmp_path / "clean.toml", sandbox, clean_db), "run", "--once")
    clean.communicate(timeout=300)
    assert clean.returncode == 0
    reference = store_view(clean_db)
    assert seen["ties"] == reference["ties"]
    assert seen["counts"] == reference["counts"]
