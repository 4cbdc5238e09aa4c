"""Fixtures for the EWS connector tests: the sandbox (HTTPS, real msal tokens, real exchangelib
over real sockets). Helpers live in ews_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ews_helpers import BACKFILL_DAYS, HORIZON_DAYS, SECRET_ENV

from connectors.ews import EwsConnector, EwsSettings
from syncd.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _no_ca_bundle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # M365-NOTES pitfall 0.1; also set for the env: secret references below.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(SECRET_ENV, "demo-secret")


@pytest.fixture
def connector_for(tmp_path: Path) -> Iterator[Any]:
    """connector_for(sandbox, **EwsSettings overrides) -> an EwsConnector, closed at the end."""
    made: list[EwsConnector] = []

    def build(box: Sandbox, **overrides: Any) -> EwsConnector:
        values: dict[str, Any] = dict(
            name="exchange", service_endpoint=box.ews_url, tenant_id=box.tenant,
            client_id="syncd-demo", client_secret="demo-secret", authority_host=box.base_url,
            ca_bundle=box.ca_path, mailboxes=tuple(box.state.users),
            calendar_backfill_days=BACKFILL_DAYS, calendar_horizon_days=HORIZON_DAYS,
            token_cache_path=tmp_path / f"tokens-{len(made)}.json")
        values.update(overrides)
        connector = EwsConnector(EwsSettings(**values))
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()
