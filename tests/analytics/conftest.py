"""Fixtures for the relationship analytics tests: a store holding Jeanne Dupré's history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from analytics_helpers import capture, jeanne_history, make_app, seed_crm

from syncd.app import App


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    a = make_app(db_url)
    yield a
    a.close()


@pytest.fixture
def ids(app: App) -> dict[str, int]:
    """The CRM seeded and Jeanne's history captured; the records' ids."""
    ids = seed_crm(app)
    capture(app, *jeanne_history())
    return ids
