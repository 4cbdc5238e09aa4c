"""Fixtures for the Graph connector tests: a real sandbox (loopback HTTPS, real msal and O365)
and connectors bound to it. Helpers live in graph_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graph_helpers import ALICE, BOB, CAROL, Clock, MakeConnector, settings_for

from connectors.msgraph import GraphConnector
from syncd.demo import DemoCompany, generate
from syncd.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _no_ca_bundle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Also done by tests/conftest.py (pitfall 0.1); kept so this directory stands alone.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture(scope="session")
def company() -> DemoCompany:
    return generate(11, users=4, accounts=4, messages=120, events=15, calls=12)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    """A sandbox with three colleagues in group Sales."""
    with Sandbox(device_code_interval=1) as sandbox:
        for email, name in ((ALICE, "Alice Martin"), (BOB, "Bob Durand"), (CAROL, "Carol Simon")):
            sandbox.state.add_user(email, name, ["Sales"])
        yield sandbox


@pytest.fixture
def demo_box(company: DemoCompany) -> Iterator[Sandbox]:
    """A sandbox seeded with the demo company (users in group Sales, mail, meetings, calls)."""
    with Sandbox() as sandbox:
        sandbox.seed_demo(company)
        yield sandbox


@pytest.fixture
def make_connector(tmp_path: Path) -> Iterator[MakeConnector]:
    """make_connector(sandbox, clock=None, **settings overrides) -> a GraphConnector (closed
    at the end of the test)."""
    made: list[GraphConnector] = []

    def build(sandbox: Sandbox, clock: Clock | None = None, **overrides: Any) -> GraphConnector:
        settings = settings_for(sandbox, tmp_path, **overrides)
        connector = GraphConnector(settings, now=clock or Clock())
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()
