"""The Graph HTTP session caches proxy settings per origin (a CPU saving measured by
bench/service_scale.py) and still follows the proxy variables when they change."""

from __future__ import annotations

import socket

import pytest
import requests

from connectors.msgraph.http import GraphHttpSession
from syncd.sandbox import Sandbox


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_proxy_variables_are_honoured_and_changes_are_seen(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    with Sandbox() as box:
        session = GraphHttpSession(box.ca_path, timeout=(5, 5))
        url = f"{box.base_url}/{box.tenant}/v2.0/.well-known/openid-configuration"
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert session.get(url).status_code == 200  # no proxy configured: direct
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
        with pytest.raises(requests.exceptions.ProxyError):
            session.get(url)  # the new variable is used at once, not a cached "no proxy"
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert session.get(url).status_code == 200  # and the exception list too
        session.close()
