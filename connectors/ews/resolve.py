"""Exchange legacy DNs -> SMTP addresses, through EWS ResolveNames, cached for the process.

On-premises Exchange hands out ``RoutingType=EX`` mailboxes (``/o=ExchangeLabs/ou=.../cn=...``)
for senders inside the organisation. Graph shows the same people by SMTP address, and a person
is keyed by address (DESIGN "person"), so an unresolved DN would split one colleague into two
persons across the connectors. ResolveNames
(https://learn.microsoft.com/exchange/client-developer/web-service-reference/resolvenames)
takes the DN as the unresolved entry and answers the mailbox with its SMTP address.

A DN that does not resolve (a departed employee, a foreign organisation) is remembered as
unresolvable and keeps the ``x500:`` key that normalisation gives it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from exchangelib import Mailbox

from connectors.ews.session import translate
from connectors.normalize import normalize_address

Resolve = Callable[[list[str]], list[object]]  # exchangelib protocol.resolve_names


class LegacyDnResolver:
    """Thread-safe cache in front of ResolveNames (one request per unknown DN)."""

    def __init__(self) -> None:
        self._cache: dict[str, str | None] = {}  # lower-cased DN -> SMTP (None: unresolvable)
        self._lock = threading.Lock()
        self.requests = 0

    def known(self, dn: str) -> str | None:
        with self._lock:
            return self._cache.get(dn.lower())

    def resolve_all(self, dns: Iterable[str], resolve: Resolve) -> dict[str, str | None]:
        """SMTP address (or None) for each DN, asking the server only about new ones.

        Raises: ConnectorError (throttling, transport) for the caller's retry logic.
        """
        wanted = {dn.lower(): dn for dn in dns}
        with self._lock:
            missing = [dn for key, dn in wanted.items() if key not in self._cache]
        for dn in missing:
            # One name per request: a batch answers in order but a failed entry has no name
            # to match it back, and DNs per page are few once the cache is warm.
            with translate(f"resolving {dn[:80]}"):
                answers = resolve([dn])
            self.requests += 1
            smtp = None
            for answer in answers:
                if isinstance(answer, Mailbox) and answer.email_address:
                    smtp = normalize_address(str(answer.email_address))
                    if smtp is not None and not smtp.startswith("x500:"):
                        break
                    smtp = None
            with self._lock:
                self._cache[dn.lower()] = smtp
        with self._lock:
            return {dn: self._cache.get(key) for key, dn in wanted.items()}
