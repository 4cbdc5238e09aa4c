"""Fixtures for the service tests: a small demo tenant in the sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncd.demo import DemoCompany, generate
from syncd.sandbox import Sandbox


@pytest.fixture(scope="session")
def small_company() -> DemoCompany:
    return generate(5, users=4, accounts=3, messages=80, events=6, calls=3)


@pytest.fixture
def box(small_company: DemoCompany) -> Iterator[Sandbox]:
    with Sandbox(seed=5) as sandbox:
        sandbox.seed_demo(small_company)
        yield sandbox
