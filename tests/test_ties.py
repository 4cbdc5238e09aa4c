"""Property tests of the tie model: the graph must be a function of the interactions,
whatever order they arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from graph.ties import decay_to, decayed_add, pairs_for, strength

T0 = datetime(2025, 1, 1, tzinfo=UTC)
contribs = st.lists(
    st.tuples(st.floats(min_value=0.01, max_value=10), st.integers(0, 3 * 365 * 86400)),
    min_size=1, max_size=30,
)


def fold(items: list[tuple[float, int]]) -> tuple[float, datetime]:
    score, at = 0.0, T0 + timedelta(seconds=items[0][1])
    for w, secs in items:
        score, at = decayed_add(score, at, w, T0 + timedelta(seconds=secs), 90.0)
    return score, at


@given(contribs, st.randoms())
def test_decayed_sum_is_independent_of_arrival_order(items: list[tuple[float, int]],
                                                     rnd: object) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    s1, at1 = fold(items)
    s2, at2 = fold(shuffled)
    assert at1 == at2 == T0 + timedelta(seconds=max(s for _, s in items))
    assert abs(s1 - s2) <= 1e-9 * max(1.0, s1)


@given(contribs)
def test_decayed_sum_equals_closed_form(items: list[tuple[float, int]]) -> None:
    score, at = fold(items)
    expected = sum(w * 0.5 ** ((at - (T0 + timedelta(seconds=s))).total_seconds()
                               / (90 * 86400)) for w, s in items)
    assert abs(score - expected) <= 1e-9 * max(1.0, expected)


@given(st.floats(min_value=0, max_value=1e6), st.floats(min_value=0, max_value=1e6))
def test_strength_is_bounded_and_monotone(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert 0.0 <= strength(lo) <= strength(hi) <= 1.0


def test_decay_halves_after_one_half_life() -> None:
    assert decay_to(8.0, T0, T0 + timedelta(days=90), 90.0) == 4.0
    assert decay_to(8.0, T0, T0 - timedelta(days=1), 90.0) == 8.0


def test_email_pairs_weigh_roles_replies_and_broadcasts() -> None:
    pairs = pairs_for("email", "a@x", [("b@x", "to"), ("c@x", "cc")])
    weights = {(p.source, p.target, p.channel): p.weight for p in pairs}
    assert weights[("a@x", "b@x", "email")] == 1.0
    assert weights[("a@x", "c@x", "email")] == 0.5
    assert weights[("b@x", "c@x", "co")] == 0.1
    reply = pairs_for("email", "a@x", [("b@x", "to")], is_reply=True)
    assert reply[0].weight == 1.5
    broadcast = pairs_for("email", "a@x", [(f"r{i}@x", "to") for i in range(100)])
    assert all(p.channel == "email" for p in broadcast)  # no O(n^2) co-recipient pairs
    assert broadcast[0].weight == 0.1


def test_meeting_pairs_scale_with_attendees() -> None:
    one_to_one = pairs_for("meeting", "o@x", [("a@x", "attendee")])
    assert [p.weight for p in one_to_one] == [2.0]
    big = pairs_for("meeting", "o@x", [(f"a{i}@x", "attendee") for i in range(40)])
    assert {round(p.weight, 3) for p in big if p.channel == "meeting"} == {round(2 / 40, 3)}


def test_only_what_every_copy_shows_shapes_ties() -> None:
    """Bcc is only in the sender's copy: counting it would make ties depend on sync order."""
    inbox_copy = pairs_for("email", "a@x", [("b@x", "to")])
    sent_copy = pairs_for("email", "a@x", [("b@x", "to"), ("secret@x", "bcc")])
    assert inbox_copy == sent_copy
