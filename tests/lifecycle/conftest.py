"""Fixtures for the lead lifecycle tests: an app and a session on a migrated store per test,
on SQLite and PostgreSQL (the `db_url` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lifecycle_helpers import make_app
from sqlalchemy.orm import Session

from syncd.app import App


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    a = make_app(db_url)
    yield a
    a.close()


@pytest.fixture
def session(app: App) -> Iterator[Session]:
    """One session; tests commit what they want to persist."""
    with app.sessions() as s:
        yield s
