"""The stream loop: cursor invalidation, back-off, and refusing suspicious mass deletions.

`ScriptedStream` is a connector that replays a script of pages and errors through the real
Stream contract; the runner, capture and store under it are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from connectors.base import (
    CursorInvalidError,
    Deletion,
    Interaction,
    Kind,
    Page,
    Participant,
    Role,
    ThrottledError,
)
from syncd.app import App
from syncd.config import Settings
from syncd.runner import (
    MAX_CONSECUTIVE_RESYNCS,
    MassDeletionError,
    backoff_seconds,
    run_stream,
)
from syncd.store import models as m
from syncd.store.db import session_scope

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def mail(i: int) -> Interaction:
    return Interaction(natural_key=f"m{i}@x", kind=Kind.EMAIL, provider_id=f"id{i}",
                       occurred_at=T0 + timedelta(minutes=i),
                       participants=(Participant("a@contoso.fr", Role.FROM),
                                     Participant("b@fabrikam.com", Role.TO)))


class ScriptedStream:
    def __init__(self, script: list[Page | Exception]) -> None:
        self.script = list(script)
        self.cursors: list[str | None] = []

    @property
    def key(self) -> str:
        return "scripted"

    @property
    def mailbox(self) -> str | None:
        return "a@contoso.fr"

    def fetch_page(self, cursor: str | None) -> Page:
        self.cursors.append(cursor)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


@pytest.fixture
def app(sqlite_url: str) -> Iterator[App]:
    a = App(Settings(database_url=sqlite_url, internal_domains=("contoso.fr",)))
    yield a
    a.close()


def stream_row(app: App) -> m.Stream:
    with session_scope(app.sessions) as s:
        return s.scalars(select(m.Stream)).one()


def test_invalid_cursor_restarts_from_scratch_without_duplicates(app: App) -> None:
    first = [Page([mail(i) for i in range(5)], "d1", True)]
    run_stream(app.sessions, app.capturer, "t", ScriptedStream(first))
    again = ScriptedStream([CursorInvalidError("410 Gone"),
                            Page([mail(i) for i in range(6)], "d2", True)])
    run = run_stream(app.sessions, app.capturer, "t", again)
    assert again.cursors == ["d1", None]
    assert (run.resyncs, run.result.interactions_new, run.result.sightings_new) == (1, 1, 1)
    row = stream_row(app)
    assert (row.cursor, row.resync_count, row.phase) == ("d2", 1, "incremental")


def test_a_cursor_that_keeps_failing_stops_the_stream(app: App) -> None:
    script: list[Page | Exception] = [CursorInvalidError("410")] * (MAX_CONSECUTIVE_RESYNCS + 1)
    with pytest.raises(CursorInvalidError):
        run_stream(app.sessions, app.capturer, "t", ScriptedStream(script))
    row = stream_row(app)
    assert row.phase == "stopped" and "stream stopped" in (row.last_error or "")


def test_throttling_backs_off_this_stream_with_the_servers_delay(app: App) -> None:
    before = datetime.now(UTC)
    with pytest.raises(ThrottledError):
        run_stream(app.sessions, app.capturer, "t",
                   ScriptedStream([ThrottledError("429", retry_after=900)]))
    row = stream_row(app)
    assert row.consecutive_failures == 1
    assert row.next_due_at is not None and row.next_due_at >= before + timedelta(seconds=900)
    assert backoff_seconds(1, None) == 30 and backoff_seconds(4, None) == 240
    assert backoff_seconds(20, None) == 3600 and backoff_seconds(1, 5000) == 5000


def test_a_page_deleting_most_of_a_stream_is_refused_unless_allowed(app: App) -> None:
    run_stream(app.sessions, app.capturer, "t",
               ScriptedStream([Page([mail(i) for i in range(30)], "d1", True)]))
    purge = Page([], "d2", True, deletions=[Deletion(f"id{i}") for i in range(25)])
    with pytest.raises(MassDeletionError, match="deletes 25 of the 30"):
        run_stream(app.sessions, app.capturer, "t", ScriptedStream([purge]))
    row = stream_row(app)
    assert (row.cursor, row.phase) == ("d1", "stopped")
    with session_scope(app.sessions) as s:
        assert s.scalars(select(m.Sighting).where(m.Sighting.deleted_at.is_not(None))).all() == []
    run_stream(app.sessions, app.capturer, "t", ScriptedStream([purge]),
               allow_mass_deletion=True)
    with session_scope(app.sessions) as s:
        deleted = s.scalars(select(m.Sighting).where(m.Sighting.deleted_at.is_not(None))).all()
    assert len(deleted) == 25


def test_a_few_deletions_are_ordinary(app: App) -> None:
    run_stream(app.sessions, app.capturer, "t",
               ScriptedStream([Page([mail(i) for i in range(10)], "d1", True)]))
    run = run_stream(app.sessions, app.capturer, "t", ScriptedStream(
        [Page([], "d2", True, deletions=[Deletion(f"id{i}") for i in range(9)])]))
    assert run.result.deletions == 9


def test_a_full_resync_sweeps_what_was_deleted_while_the_cursor_was_invalid(app: App) -> None:
    run_stream(app.sessions, app.capturer, "t",
               ScriptedStream([Page([mail(i) for i in range(30)], "d1", True)]))
    # The cursor expires; meanwhile items 25-29 were deleted, so the re-read lacks them.
    resync = ScriptedStream([CursorInvalidError("410 Gone"),
                             Page([mail(i) for i in range(15)], "n1", False),
                             Page([mail(i) for i in range(15, 25)], "d2", True)])
    run = run_stream(app.sessions, app.capturer, "t", resync)
    assert (run.result.interactions_new, run.result.deletions) == (0, 5)
    with session_scope(app.sessions) as s:
        gone = set(s.scalars(select(m.Sighting.provider_id).where(
            m.Sighting.deleted_at.is_not(None))))
    assert gone == {f"id{i}" for i in range(25, 30)}
    assert stream_row(app).resync_started_at is None


def test_a_resync_that_comes_back_nearly_empty_is_refused(app: App) -> None:
    run_stream(app.sessions, app.capturer, "t",
               ScriptedStream([Page([mail(i) for i in range(40)], "d1", True)]))
    empty = ScriptedStream([CursorInvalidError("410"), Page([mail(0)], "d2", True)])
    with pytest.raises(MassDeletionError, match="no longer shows 39 of the 40"):
        run_stream(app.sessions, app.capturer, "t", empty)
    row = stream_row(app)
    assert (row.cursor, row.phase) == ("d1", "stopped")
    with session_scope(app.sessions) as s:
        assert s.scalars(select(m.Sighting).where(m.Sighting.deleted_at.is_not(None))).all() == []
