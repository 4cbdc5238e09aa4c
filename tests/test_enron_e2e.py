"""End to end on the real Enron corpus: import twice, nothing duplicated, nothing lost.

Skipped with a reason when ../shared/data/enron is absent.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from syncd.app import App
from syncd.cli import cli
from syncd.config import load_settings
from syncd.store import models as m
from syncd.store.db import session_scope
from tests.conftest import shared_path

pytestmark = [pytest.mark.enron, pytest.mark.slow]
MSGID = re.compile(rb"^Message-ID:\s*<([^>]+)>", re.IGNORECASE | re.MULTILINE)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    corpus = shared_path("data", "enron", "maildir")
    state = tmp_path_factory.mktemp("enron")
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNCD_STATE_DIR", str(state))
    mp.setenv("SYNCD_INTERNAL_DOMAINS", "enron.com")
    for name in ("SYNCD_CONFIG", "SYNCD_DATABASE_URL"):
        mp.delenv(name, raising=False)
    try:
        runner = CliRunner()
        first = runner.invoke(cli, ["--quiet", "import", str(corpus), "--json"],
                              catch_exceptions=False)
        assert first.exit_code == 0, first.output
        counts1 = _counts(state)
        second = runner.invoke(cli, ["--quiet", "import", str(corpus), "--json"],
                               catch_exceptions=False)
        assert second.exit_code == 0, second.output
        yield {"corpus": corpus, "first": json.loads(first.output), "state": state,
               "second": json.loads(second.output), "counts1": counts1,
               "counts2": _counts(state)}
    finally:
        mp.undo()


def _app(state: Path) -> App:
    """The imported store (tests get their own SYNCD_STATE_DIR, so name it explicitly)."""
    return App(load_settings(env={"SYNCD_STATE_DIR": str(state),
                                  "SYNCD_INTERNAL_DOMAINS": "enron.com"}))


def _counts(state: Path) -> dict[str, int]:
    app = _app(state)
    try:
        with session_scope(app.sessions) as s:
            return {
                name: s.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("interactions", m.Interaction), ("persons", m.Person),
                                    ("rejected", m.RejectedItem), ("sightings", m.Sighting),
                                    ("ties", m.Tie), ("streams", m.Stream))
            }
    finally:
        app.close()


def test_second_import_adds_nothing(imported: dict[str, object]) -> None:
    second = imported["second"]
    assert isinstance(second, dict)
    assert second["interactions_new"] == 0
    assert second["sightings_new"] == 0
    assert imported["counts1"] == imported["counts2"]


def test_every_file_is_either_a_sighting_or_a_rejected_item(imported: dict[str, object]) -> None:
    corpus = imported["corpus"]
    assert isinstance(corpus, Path)
    files = [p for p in corpus.rglob("*") if p.is_file()]
    counts = imported["counts1"]
    assert isinstance(counts, dict)
    assert counts["sightings"] + counts["rejected"] == len(files) == 39991
    assert counts["rejected"] < 20  # the corpus is clean mail; rejects are the odd files


def test_interactions_match_distinct_messages(imported: dict[str, object]) -> None:
    """Independent count. The corpus gives each mailbox's copy of a mail its own Message-ID,
    so distinct Message-IDs over-count; distinct (From, Date, Subject, To, Cc) header texts
    count each mail once (capture normalises these, so it may merge a few more)."""
    corpus = imported["corpus"]
    assert isinstance(corpus, Path)
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    ids: set[bytes] = set()
    texts: set[tuple[str, ...]] = set()
    for path in corpus.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        found = MSGID.search(data.split(b"\n\n", 1)[0])
        if found:
            ids.add(found.group(1).strip())
        head = parser.parsebytes(data)
        texts.add(tuple(str(head.get(k)) for k in ("From", "Date", "Subject", "To", "Cc")))
    counts = imported["counts1"]
    assert isinstance(counts, dict)
    assert counts["interactions"] < len(ids)
    assert len(texts) * 0.99 <= counts["interactions"] <= len(texts)
    assert counts["interactions"] < counts["sightings"]  # some mail sits in several inboxes


def test_a_message_in_several_inboxes_is_one_interaction_with_several_sightings(
    imported: dict[str, object],
) -> None:
    state = imported["state"]
    assert isinstance(state, Path)
    app = _app(state)
    try:
        with session_scope(app.sessions) as s:
            multi = s.execute(
                select(m.Sighting.interaction_id, func.count(func.distinct(m.Sighting.stream_id)))
                .group_by(m.Sighting.interaction_id)
                .having(func.count(func.distinct(m.Sighting.stream_id)) > 1)
            ).all()
            assert multi, "expected mail shared between inboxes"
            iid = multi[0][0]
            streams = s.scalars(select(m.Stream.key).join(
                m.Sighting, m.Sighting.stream_id == m.Stream.id).where(
                m.Sighting.interaction_id == iid)).all()
            assert len(set(streams)) >= 2
            owners = s.scalars(select(func.count(func.distinct(m.Mailbox.id)))).one()
            assert owners >= 100  # every inbox's owner was inferred
    finally:
        app.close()
