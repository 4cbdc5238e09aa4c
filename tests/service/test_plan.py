"""Property tests of the pure scheduling rules (syncd/service/plan.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncd.config import ServiceConfig
from syncd.runner import BACKOFF_CAP_SECONDS, backoff_seconds
from syncd.service.plan import (
    PollBudget,
    StreamKind,
    StreamState,
    interval_for,
    jittered,
    next_poll,
    stream_kind,
    unit_due_at,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
offsets = st.one_of(st.none(), st.integers(-3600, 3600).map(lambda s: NOW + timedelta(seconds=s)))
states = st.builds(StreamState, key=st.text(min_size=1, max_size=5), poll_due_at=offsets,
                   backoff_until=offsets, stopped=st.booleans())


@given(states)
def test_a_backing_off_stream_is_never_due_before_its_back_off_ends(state: StreamState) -> None:
    if state.backoff_until is not None and state.backoff_until > NOW:
        assert not state.is_due(NOW)
    if state.poll_due_at is not None and state.poll_due_at > NOW:
        assert not state.is_due(NOW)
    if state.stopped:
        assert not state.is_due(NOW)


@given(st.lists(states, max_size=8), st.floats(1, 1000))
def test_a_unit_is_due_when_its_first_live_stream_is(streams: list[StreamState],
                                                     idle: float) -> None:
    due = unit_due_at(streams, NOW, idle)
    live = [s for s in streams if not s.stopped]
    if not live:
        assert due == NOW + timedelta(seconds=idle)
        return
    assert all((s.due_at() or NOW) >= due for s in live)
    assert any((s.due_at() or NOW) == due for s in live)
    # Claiming the unit at `due` finds at least one stream to poll.
    assert any(s.is_due(max(due, NOW)) for s in live)


@given(st.floats(1, 10_000), st.floats(0, 0.5), st.integers())
def test_jitter_stays_within_its_share(interval: float, jitter: float, seed: int) -> None:
    value = jittered(interval, jitter, random.Random(seed))
    assert interval * (1 - jitter) - 1e-9 <= value <= interval * (1 + jitter) + 1e-9


def test_stream_kinds_and_default_intervals() -> None:
    conf = ServiceConfig()
    assert stream_kind("a@x.fr/mail/inbox") is StreamKind.MAIL
    assert stream_kind("a@x.fr/calendar") is StreamKind.CALENDAR
    assert stream_kind("tenant/callRecords") is StreamKind.CALLS
    assert interval_for(StreamKind.MAIL, conf) == 60.0  # new mail within a minute
    later = next_poll(StreamKind.MAIL, conf, NOW, random.Random(1))
    assert NOW + timedelta(seconds=54) <= later <= NOW + timedelta(seconds=66)


@given(st.integers(1, 40), st.one_of(st.none(), st.floats(0, 10_000)))
def test_back_off_grows_is_capped_and_honours_retry_after(failures: int,
                                                         retry_after: float | None) -> None:
    wait = backoff_seconds(failures, retry_after)
    assert wait >= (retry_after or 0)
    assert wait <= max(BACKOFF_CAP_SECONDS, retry_after or 0)
    assert backoff_seconds(failures + 1, None) >= backoff_seconds(failures, None)


@given(st.integers(1, 600), st.lists(st.floats(0, 5), max_size=60))
def test_poll_budget_never_exceeds_its_rate(per_minute: int, gaps: list[float]) -> None:
    clock = [0.0]
    budget = PollBudget(per_minute, clock=lambda: clock[0])
    granted = 0
    for gap in gaps:
        clock[0] += gap
        wait = budget.take()
        if wait == 0:
            granted += 1
        else:
            assert wait > 0
    # A full bucket plus what refilled over the elapsed time.
    assert granted <= per_minute + clock[0] * per_minute / 60 + 1e-6
