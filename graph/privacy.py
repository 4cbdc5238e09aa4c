"""Who must not appear in the graph: people who opted out (config list or `syncd forget`).

Blocklisted addresses never reach the graph at all (capture drops them as participants); an
opt-out is narrower: the person may still be part of captured activities, but forms no tie and
is left out of every graph answer.
"""

from __future__ import annotations

from collections.abc import Iterable


class OptOut:
    """Addresses and `@domain` entries (a domain covers its subdomains), normalised lowercase."""

    def __init__(self, entries: Iterable[str]) -> None:
        addresses: set[str] = set()
        domains: set[str] = set()
        for raw in entries:
            entry = raw.strip().lower()
            if entry.startswith("@"):
                domains.add(entry[1:])
            elif entry:
                addresses.add(entry)
        self.addresses = frozenset(addresses)
        self.domains = frozenset(domains)

    def __bool__(self) -> bool:
        return bool(self.addresses or self.domains)

    def matches(self, address: str) -> bool:
        if address in self.addresses:
            return True
        if not self.domains:
            return False
        domain = address.rpartition("@")[2]
        while domain:
            if domain in self.domains:
                return True
            domain = domain.partition(".")[2]
        return False

    def filter(self, addresses: Iterable[str]) -> frozenset[str]:
        return frozenset(a for a in addresses if self.matches(a))
