"""Properties of the pure analytics core: the score's bounds and monotony, reply pairing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncd.analytics.health import health, recency_value, trend
from syncd.analytics.kpis import (
    Period,
    PeriodKpis,
    Touch,
    initiations,
    pair_replies,
    period_kpis,
)
from syncd.config import AnalyticsConfig

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CFG = AnalyticsConfig()
rates = st.none() | st.floats(0, 1)
hours = st.none() | st.floats(0, 10_000)
since = st.none() | st.floats(0, 10_000)


@st.composite
def kpis(draw: st.DrawFn) -> PeriodKpis:
    k = PeriodKpis(
        emails_sent=draw(st.integers(0, 500)), emails_received=draw(st.integers(0, 500)),
        meetings=draw(st.integers(0, 50)), calls=draw(st.integers(0, 50)),
        initiated_us=draw(st.integers(0, 50)), initiated_them=draw(st.integers(0, 50)),
        their_reply_rate=draw(rates), their_response_hours=draw(hours))
    k.volume = k.emails + 3.0 * k.meetings + 2.0 * k.calls
    return k


weights = st.floats(0, 100)


@st.composite
def configs(draw: st.DrawFn) -> AnalyticsConfig:
    health_w = {n: draw(weights) for n in ("recency", "volume", "responsiveness",
                                           "response_time", "reciprocity")}
    if not any(health_w.values()):
        health_w["recency"] = 1.0
    return AnalyticsConfig.model_validate({
        "expected_contact_days": draw(st.floats(0.5, 365)), "health": health_w})


@given(kpis(), since, st.integers(1, 400), configs())
def test_score_is_bounded_and_graded(k: PeriodKpis, days: float | None, span: int,
                                     cfg: AnalyticsConfig) -> None:
    h = health(k, days, span, cfg)
    assert 0 <= h.score <= 100
    assert h.grade == ("good" if h.score >= cfg.good_from else
                       "fair" if h.score >= cfg.fair_from else "poor")
    assert all(0.0 <= c.value <= 1.0 for c in h.components)
    assert len(h.raising) <= 3 and len(h.lowering) <= 3


@given(kpis(), st.floats(0, 5000), st.floats(0, 5000), configs())
def test_score_never_rises_as_the_last_contact_gets_older(k: PeriodKpis, a: float, b: float,
                                                          cfg: AnalyticsConfig) -> None:
    recent, older = sorted((a, b))
    assert health(k, older, 90, cfg).score <= health(k, recent, 90, cfg).score
    assert health(k, None, 90, cfg).score <= health(k, older, 90, cfg).score


@given(kpis(), st.floats(0, 400), st.floats(0, 400), since)
def test_score_never_falls_with_more_activity(k: PeriodKpis, extra1: float, extra2: float,
                                              days: float | None) -> None:
    low, high = sorted((extra1, extra2))
    k.volume += low
    lower = health(k, days, 90, CFG).score
    k.volume += high - low
    assert health(k, days, 90, CFG).score >= lower


@given(st.floats(0, 1000), st.floats(0.1, 100))
def test_recency_is_full_within_the_expected_frequency_then_halves(d: float,
                                                                   e: float) -> None:
    value = recency_value(d, e)
    assert value == 1.0 if d <= e else 0.0 <= value <= 1.0
    assert recency_value(d + e, e) <= value


def test_trend_thresholds() -> None:
    assert trend(60, 50, CFG) == "improving"
    assert trend(54, 50, CFG) == "steady"
    assert trend(45, 50, CFG) == "declining"
    assert trend(50, 50, AnalyticsConfig(trend_points=0)) == "steady"


def test_nothing_ever_scores_zero() -> None:
    h = health(PeriodKpis(), None, 90, CFG)
    assert (h.score, h.grade) == (0, "poor")
    assert [c.name for c in h.components] == ["recency", "volume"]


emails = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(["us", "them"]), st.integers(0, 500),
              st.booleans()),
    max_size=30)


def build(spec: list[tuple[int, str, int, bool]]) -> list[Touch]:
    """(thread, side, minutes after T0, names the previous message as parent)."""
    out: list[Touch] = []
    for n, (thread, side, minutes, names_parent) in enumerate(spec):
        parent = out[-1].key if names_parent and out else None
        out.append(Touch(interaction_id=n, kind="email", at=T0 + timedelta(minutes=minutes),
                         side="us" if side == "us" else "them", key=f"k{n}",
                         thread=f"t{thread}", in_reply_to=parent))
    return out


@given(emails)
def test_a_reply_comes_later_from_the_other_side(spec: list[tuple[int, str, int, bool]]) -> None:
    touches = build(spec)
    for iid, reply in pair_replies(touches).items():
        original = touches[iid]
        assert reply.side != original.side
        assert reply.at >= original.at
        assert reply.thread == original.thread or reply.in_reply_to == original.key


@given(emails)
def test_rates_are_shares_and_initiations_never_exceed_threads(
        spec: list[tuple[int, str, int, bool]]) -> None:
    touches = build(spec)
    k = period_kpis(touches, Period(T0, T0 + timedelta(days=1)), CFG)
    for rate in (k.our_reply_rate, k.their_reply_rate):
        assert rate is None or 0.0 <= rate <= 1.0
    assert k.replied_by_us <= k.emails_received and k.replied_by_them <= k.emails_sent
    assert k.initiated_us + k.initiated_them <= len({t.thread for t in touches})
    assert len(initiations(touches)) == k.initiated_us + k.initiated_them


def test_a_thread_continued_from_before_the_data_is_not_an_initiation() -> None:
    late = Touch(1, "email", T0, "them", key="k1", thread="t", in_reply_to="older-message")
    assert initiations([late]) == []
    fresh = Touch(2, "email", T0, "them", key="k2", thread="u")
    assert initiations([late, fresh]) == [(T0, "them")]
