"""Is an open (or a click) a person, or a machine? Pure rules, each with its reason.

Machines load pixels and follow links without anyone reading: mail privacy proxies (Apple
Mail Privacy Protection prefetches every image through Apple's network; Gmail and Yahoo fetch
through image proxies), security scanners and link checkers (Microsoft Defender, Mimecast,
Proofpoint, Barracuda...). They show as known user agents, known networks, a hit within seconds
of delivery (nobody reads that fast; scanners do), or a burst of hits on one message.
The rules are ordered; the first that matches gives the reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

# (substring of the lower-cased User-Agent, reason)
MACHINE_AGENTS: tuple[tuple[str, str], ...] = (
    ("googleimageproxy", "Gmail image proxy"),
    ("ggpht.com", "Gmail image proxy"),
    ("yahoomailproxy", "Yahoo Mail image proxy"),
    ("bingpreview", "link preview"),
    ("microsoft office existence discovery", "Office link check"),
    ("mimecast", "Mimecast scanner"),
    ("proofpoint", "Proofpoint scanner"),
    ("barracuda", "Barracuda scanner"),
    ("symantec", "Symantec scanner"),
    ("trendmicro", "Trend Micro scanner"),
    ("forcepoint", "Forcepoint scanner"),
    ("zscaler", "Zscaler scanner"),
    ("python-requests", "script"),
    ("curl/", "script"),
    ("wget/", "script"),
    ("go-http-client", "script"),
    ("okhttp", "script"),
    ("java/", "script"),
    ("libwww-perl", "script"),
    ("bot", "robot"),
    ("spider", "robot"),
    ("crawler", "robot"),
)
# Networks whose hits are proxies or scanners, never a reader's own device.
# Apple: 17.0.0.0/8 is Apple's own network (Mail Privacy Protection fetches from it).
# Google: 66.249.80.0/20 and 66.102.0.0/20 serve googleusercontent image proxying.
# Microsoft: Exchange Online Protection / Defender (40.92.0.0/15, 40.107.0.0/16,
# 52.100.0.0/14, 104.47.0.0/17), as published in "URLs and IP address ranges" for EOP.
PROXY_NETWORKS: tuple[tuple[str, str], ...] = (
    ("17.0.0.0/8", "apple-proxy"),
    ("66.249.80.0/20", "google-proxy"),
    ("66.102.0.0/20", "google-proxy"),
    ("40.92.0.0/15", "microsoft-eop"),
    ("40.107.0.0/16", "microsoft-eop"),
    ("52.100.0.0/14", "microsoft-eop"),
    ("104.47.0.0/17", "microsoft-eop"),
)
_NETWORKS = tuple((ipaddress.ip_network(n), label) for n, label in PROXY_NETWORKS)
_PROXY_CLASSES = {label: label for _, label in PROXY_NETWORKS}
_CLASS_REASON = {
    "apple-proxy": "Apple Mail Privacy Protection",
    "google-proxy": "Gmail image proxy",
    "microsoft-eop": "Microsoft Defender / EOP scanner",
}


@dataclass(frozen=True, slots=True)
class Rules:
    machine_within_seconds: float = 10.0
    burst_count: int = 3
    burst_window_seconds: float = 10.0
    extra_agents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    machine: bool
    reason: str


def ip_class(address: str | None) -> str:
    """The class of a client address: a proxy label, loopback, private, public or unknown.
    Only the class is stored, never the address (privacy)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network, label in _NETWORKS:
        if ip.version == network.version and ip in network:
            return label
    if ip.is_loopback:
        return "loopback"
    if ip.is_private:
        return "private"
    return "public"


def classify(
    user_agent: str,
    client_class: str,
    at: datetime,
    delivered_at: datetime | None,
    earlier: Sequence[datetime],
    rules: Rules,
) -> Verdict:
    """Class one hit. ``earlier`` holds the times of earlier hits of the same kind on the same
    message (any order)."""
    agent = user_agent.strip().lower()
    if not agent:
        return Verdict(True, "no user agent")
    for pattern in rules.extra_agents:
        if pattern and pattern.lower() in agent:
            return Verdict(True, f"user agent matches {pattern!r}")
    for pattern, reason in MACHINE_AGENTS:
        if pattern in agent:
            return Verdict(True, reason)
    if client_class in _PROXY_CLASSES:
        return Verdict(True, _CLASS_REASON[client_class])
    # Apple's MPP fetches with a bare "Mozilla/5.0", whatever network it comes through.
    if agent == "mozilla/5.0":
        return Verdict(True, "Apple Mail Privacy Protection (bare user agent)")
    if delivered_at is not None:
        elapsed = (at - delivered_at).total_seconds()
        if elapsed < rules.machine_within_seconds:
            return Verdict(True, f"{max(elapsed, 0):.0f} s after delivery")
    window = rules.burst_window_seconds
    recent = sum(1 for t in earlier if 0 <= (at - t).total_seconds() <= window)
    if recent + 1 > rules.burst_count:
        return Verdict(True, f"burst: {recent + 1} hits within {window:g} s")
    return Verdict(False, "human")
