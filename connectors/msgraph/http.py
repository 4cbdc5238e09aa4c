"""The one HTTP session class used for both msal and Graph calls.

Pitfall (M365-NOTES 0.1): with ``trust_env`` on, requests lets ``REQUESTS_CA_BUNDLE`` /
``CURL_CA_BUNDLE`` replace ``Session.verify`` (in ``merge_environment_settings``, whenever the
per-request verify is None, which is how msal and O365 call it). A configured ``ca_bundle``
would then be silently ignored. Our sessions therefore run with ``trust_env = False``, which
also keeps ``~/.netrc`` from replacing the bearer header. The one environment setting worth
keeping, the proxy (``HTTPS_PROXY`` / ``NO_PROXY``), is re-applied explicitly per request.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies

# (connect, read) seconds. Graph answers within seconds; a long read means a stuck socket.
DEFAULT_TIMEOUT = (10.0, 90.0)


class GraphHttpSession(requests.Session):
    """``requests.Session`` that verifies with ``ca_bundle`` (or the system store) whatever the
    environment says, honours proxy variables, and always has a timeout."""

    def __init__(
        self, ca_bundle: Path | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = str(ca_bundle) if ca_bundle is not None else True
        self.default_timeout = timeout

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        if not kwargs.get("proxies"):
            target = url.decode() if isinstance(url, bytes) else url
            parts = urlsplit(target)
            kwargs["proxies"] = dict(_environ_proxies(f"{parts.scheme}://{parts.netloc}/",
                                                      _proxy_settings()))
        return super().request(method, url, *args, **kwargs)


_PROXY_VARIABLES = tuple(f"{name}_proxy" for name in ("http", "https", "all", "no"))
_PROXY_VARIABLES += tuple(v.upper() for v in _PROXY_VARIABLES)


def _proxy_settings() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in _PROXY_VARIABLES)


@lru_cache(maxsize=64)
def _environ_proxies(origin: str, settings: tuple[str | None, ...]) -> dict[str, str]:
    """Proxies for one scheme://host, read from the environment once per process: reading
    it per request (urllib scans all of os.environ twice) was a sixth of the CPU of a
    no-change delta poll (bench/service_scale.py). The proxy depends only on scheme and host
    (NO_PROXY matches hosts) and on the proxy variables, which are part of the cache key."""
    proxies: dict[str, str] = get_environ_proxies(origin)
    return proxies
