"""The relationship health score (pure code): 0-100, a grade, a trend and its reasons.

Formula. Five components, each a number in [0, 1]; E is `expected_contact_days`, D the period
length in days, and every weight comes from `[analytics]` in the configuration:

- recency        1 while the last contact is at most E days old, then halves every further E
                 days: 0.5 ** ((d - E) / E); 0 when there never was any contact;
- volume         weighted activity of the period (email, meeting and call weights) against one
                 unit-weight touch every E days: min(1, volume / (D / E));
- responsiveness their reply rate to our emails of the period;
- response_time  0.5 ** (h / response_time_half_hours), h their median response time;
- reciprocity    min(1, 2 * s), s the share of conversations of the period they started (a
                 relationship where they start half or more is fully reciprocal).

score = round(100 * sum(w_i * c_i) / sum(w_i)), the sums over the components that apply:
responsiveness, response time and reciprocity do not apply when the period has no basis for
them (we sent no email, they never replied, nobody started anything), so a relationship is
neither rewarded nor punished for what could not be observed. grade: good from `good_from`,
fair from `fair_from`, else poor. trend: the same score for the previous period (as it stood at
that period's end); improving when the score rose by `trend_points` or more, declining when it
fell by as much, else steady.

A component's *impact* is how many points it moves the score away from a neutral 50:
100 * w_i / sum(w) * (c_i - 0.5). The top factors raising (lowering) the score are the
components with the largest positive (negative) impact.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.analytics.kpis import PeriodKpis
from syncd.config import AnalyticsConfig

TOP_FACTORS = 3


@dataclass(frozen=True)
class Component:
    name: str
    value: float  # 0..1
    weight: float
    detail: str


@dataclass(frozen=True)
class Factor:
    name: str
    impact: float  # points away from a neutral 50; positive raises the score
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "impact": round(self.impact, 1), "detail": self.detail}


@dataclass(frozen=True)
class Health:
    score: int
    grade: str
    components: tuple[Component, ...]

    @property
    def factors(self) -> list[Factor]:
        total = sum(c.weight for c in self.components)
        if total <= 0:
            return []
        return [Factor(c.name, 100.0 * c.weight / total * (c.value - 0.5), c.detail)
                for c in self.components]

    @property
    def raising(self) -> list[Factor]:
        up = [f for f in self.factors if f.impact > 0]
        return sorted(up, key=lambda f: -f.impact)[:TOP_FACTORS]

    @property
    def lowering(self) -> list[Factor]:
        down = [f for f in self.factors if f.impact < 0]
        return sorted(down, key=lambda f: f.impact)[:TOP_FACTORS]


def recency_value(days_since: float | None, expected_days: float) -> float:
    if days_since is None:
        return 0.0
    if days_since <= expected_days:
        return 1.0
    return float(0.5 ** ((days_since - expected_days) / expected_days))


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _ago(days: float) -> str:
    if days < 1:
        return "today"
    return f"{_n(int(days), 'day')} ago"


def components(k: PeriodKpis, days_since_last: float | None, period_days: float,
               cfg: AnalyticsConfig) -> list[Component]:
    """The components that apply to this period (see the module docstring)."""
    w = cfg.health
    e = cfg.expected_contact_days
    out = [Component(
        "recency", recency_value(days_since_last, e), w.recency,
        "no contact ever" if days_since_last is None else
        f"last contact {_ago(days_since_last)} (expected every {e:g} days)")]
    expected = period_days / e
    out.append(Component(
        "volume", min(1.0, k.volume / expected) if expected > 0 else 1.0, w.volume,
        f"{_n(k.emails, 'email')}, {_n(k.meetings, 'meeting')}, {_n(k.calls, 'call')}: "
        f"weighted {k.volume:g} "
        f"against {expected:.1f} expected (one touch every {e:g} days)"))
    if k.their_reply_rate is not None:
        sent = k.emails_sent
        out.append(Component(
            "responsiveness", k.their_reply_rate, w.responsiveness,
            f"they answered {k.replied_by_them} of our {sent} emails"))
    if k.their_response_hours is not None:
        h = k.their_response_hours
        out.append(Component(
            "response_time", float(0.5 ** (h / cfg.response_time_half_hours)),
            w.response_time, f"they answer in {h:.1f} h (median)"))
    started = k.initiated_us + k.initiated_them
    if started:
        out.append(Component(
            "reciprocity", min(1.0, 2.0 * k.initiated_them / started), w.reciprocity,
            f"they started {k.initiated_them} of {started} conversations"))
    return out


def grade_of(score: float, cfg: AnalyticsConfig) -> str:
    if score >= cfg.good_from:
        return "good"
    if score >= cfg.fair_from:
        return "fair"
    return "poor"


def health(k: PeriodKpis, days_since_last: float | None, period_days: float,
           cfg: AnalyticsConfig) -> Health:
    comps = tuple(c for c in components(k, days_since_last, period_days, cfg) if c.weight > 0)
    total = sum(c.weight for c in comps)
    raw = 100.0 * sum(c.weight * c.value for c in comps) / total if total > 0 else 0.0
    score = max(0, min(100, round(raw)))
    return Health(score, grade_of(score, cfg), comps)


def trend(score: float, previous: float, cfg: AnalyticsConfig) -> str:
    delta = score - previous
    if delta > 0 and delta >= cfg.trend_points:
        return "improving"
    if delta < 0 and -delta >= cfg.trend_points:
        return "declining"
    return "steady"
