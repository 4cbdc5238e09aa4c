"""Machine or human opens, with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncd.tracking.classify import Rules, classify, ip_class

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
RULES = Rules(machine_within_seconds=10, burst_count=3, burst_window_seconds=10)
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0 Safari/537.36")


@pytest.mark.parametrize(("address", "expected"), [
    ("17.58.101.4", "apple-proxy"), ("66.249.84.10", "google-proxy"),
    ("40.107.20.5", "microsoft-eop"), ("127.0.0.1", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("192.168.1.9", "private"), ("81.250.1.1", "public"),
    ("::ffff:17.1.1.1", "apple-proxy"), ("not-an-ip", "unknown"), ("", "unknown"),
])
def test_ip_class(address: str, expected: str) -> None:
    assert ip_class(address) == expected


@pytest.mark.parametrize(("agent", "client", "reason"), [
    ("", "public", "no user agent"),
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
     "public", "Gmail image proxy"),
    ("Mozilla/5.0", "public", "Apple Mail Privacy Protection (bare user agent)"),
    (CHROME, "apple-proxy", "Apple Mail Privacy Protection"),
    (CHROME, "microsoft-eop", "Microsoft Defender / EOP scanner"),
    ("Barracuda Sentinel (EE)", "public", "Barracuda scanner"),
    ("python-requests/2.32", "public", "script"),
    ("Mozilla/5.0 (Windows NT 6.1) BingPreview/1.0b", "public", "link preview"),
    ("Mozilla/5.0 (compatible; bingbot/2.0)", "public", "robot"),
])
def test_machine_by_agent_or_network(agent: str, client: str, reason: str) -> None:
    verdict = classify(agent, client, T0 + timedelta(hours=1), T0, [], RULES)
    assert verdict.machine and verdict.reason == reason


def test_open_within_seconds_of_delivery_is_a_machine() -> None:
    verdict = classify(CHROME, "public", T0 + timedelta(seconds=3), T0, [], RULES)
    assert verdict.machine and verdict.reason == "3 s after delivery"
    later = classify(CHROME, "public", T0 + timedelta(minutes=5), T0, [], RULES)
    assert not later.machine and later.reason == "human"


def test_threshold_is_configurable() -> None:
    rules = Rules(machine_within_seconds=0)
    assert not classify(CHROME, "public", T0 + timedelta(seconds=1), T0, [], rules).machine


def test_burst() -> None:
    at = T0 + timedelta(hours=2)
    earlier = [at - timedelta(seconds=s) for s in (1, 2, 3)]
    verdict = classify(CHROME, "public", at, T0, earlier, RULES)
    assert verdict.machine and verdict.reason.startswith("burst: 4 hits")
    spread = [at - timedelta(minutes=m) for m in (5, 10, 15)]
    assert not classify(CHROME, "public", at, T0, spread, RULES).machine


def test_extra_agents_from_configuration() -> None:
    rules = Rules(extra_agents=("AcmeScanner",))
    verdict = classify("Mozilla/5.0 acmescanner/1.0", "public", T0 + timedelta(hours=1), T0, [],
                       rules)
    assert verdict.machine and "AcmeScanner" in verdict.reason
