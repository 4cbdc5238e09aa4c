"""Property tests of the EWS cursor logic (connectors/ews/rounds.py): cursors round-trip, foreign
cursors are rejected as invalid (a resync, never a crash), and a round handed out page by page
yields every change once, in order, with `done` only on the last page."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import CursorInvalidError
from connectors.ews.rounds import LiveRound, decode_cursor, encode_cursor

states = st.one_of(st.none(), st.text(min_size=1, max_size=300))
ids = st.lists(st.tuples(st.text(min_size=1, max_size=60), st.integers(0, 2**40)),
               max_size=400)


@given(state=states, ids=ids, part=st.integers(0, 10_000))
def test_cursors_round_trip_whatever_their_size(
    state: str | None, ids: list[tuple[str, int]], part: int
) -> None:
    payload = {"state": state, "ids": [list(pair) for pair in ids], "part": part}
    cursor = encode_cursor(payload)
    assert decode_cursor(cursor, "t") == {"v": 1, **payload}


@given(text=st.text(max_size=200))
def test_anything_else_is_an_invalid_cursor_not_a_crash(text: str) -> None:
    try:
        decoded = decode_cursor(text, "t")
    except CursorInvalidError:
        return
    assert decoded["v"] == 1  # only our own format decodes


def test_a_cursor_of_another_version_is_invalid() -> None:
    with pytest.raises(CursorInvalidError):
        decode_cursor('{"v": 2, "state": "x"}', "t")
    with pytest.raises(CursorInvalidError):
        decode_cursor('{"v": 1, "state": 5}', "t")


@given(changes=st.lists(st.tuples(st.sampled_from(["create", "update", "delete"]),
                                  st.integers()), max_size=60),
       size=st.integers(1, 17))
def test_a_round_yields_every_change_once_in_order(
    changes: list[tuple[str, int]], size: int
) -> None:
    live = LiveRound(iter(changes), {"state": None})
    seen: list[tuple[str, int]] = []
    while True:
        batch, done = live.take(size)
        assert len(batch) <= size
        seen.extend(batch)
        if done:
            break
        assert batch, "a page before the end is never empty"
    assert seen == changes
