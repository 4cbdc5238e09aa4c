"""The `[analytics]` configuration: documented with its defaults, validated with clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from syncd.config import AnalyticsConfig, ConfigError, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "syncd.example.toml"


def test_the_example_file_documents_every_key_with_its_default() -> None:
    documented = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))["analytics"]
    assert AnalyticsConfig.model_validate(documented) == AnalyticsConfig()
    assert set(documented) == set(AnalyticsConfig.model_fields)
    for nested in ("weights", "health"):
        assert set(documented[nested]) == set(type(getattr(AnalyticsConfig(), nested)).model_fields)


@pytest.mark.parametrize(("text", "problem"), [
    ("[analytics]\nfair_from = 80\n", "analytics: fair_from must not exceed good_from"),
    ("[analytics]\nexpected_contact_days = 0\n",
     "analytics.expected_contact_days: Input should be greater than 0"),
    ("[analytics.health]\nrecency = 0\nvolume = 0\nresponsiveness = 0\nresponse_time = 0\n"
     "reciprocity = 0\n", "at least one [analytics.health] weight must be positive"),
    ("[analytics.weights]\nemail = -1\n", "analytics.weights.email: Input should be greater"),
    ("[analytics]\nperiod = 30\n", "analytics.period: unknown key"),
])
def test_bad_values_are_reported_with_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "syncd.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert any(problem in p for p in err.value.problems), err.value.problems
