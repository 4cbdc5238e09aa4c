"""Shared fixtures: where ../shared lives, throwaway stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

# The autouse environment fixture below is function-scoped but holds no per-example state.
_SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=200, deadline=None, suppress_health_check=_SUPPRESS)
settings.register_profile("dev", max_examples=50, deadline=None, suppress_health_check=_SUPPRESS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ENRON = SHARED / "data" / "enron" / "maildir"
POSTGRES_URL_ENV = "SYNCD_TEST_POSTGRES_URL"


def shared_path(*parts: str) -> Path:
    """A path inside ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared test data sits beside the repository")
    return path


@pytest.fixture
def shared_dir() -> Path:
    return shared_path()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's config or state, and the CA-bundle variables that
    override requests' verify= (M365-NOTES pitfall 0.1) are removed."""
    for name in ("SYNCD_CONFIG", "SYNCD_DATABASE_URL", "SYNCD_INTERNAL_DOMAINS",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'syncd.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set: no PostgreSQL to test against")
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    name = f"syncd_t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server: say so instead of erroring
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL_ENV} is unreachable: {exc}")
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'syncd.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With SYNCD_REQUIRE_POSTGRES=1 (CI), a skipped PostgreSQL test fails the run."""
    if os.environ.get("SYNCD_REQUIRE_POSTGRES") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = [r for r in reporter.stats.get("skipped", []) if "postgres" in r.keywords]
    ran = [r for key in ("passed", "failed") for r in reporter.stats.get(key, [])
           if "postgres" in r.keywords and r.when == "call"]
    if skipped or not ran:
        reporter.write_line(
            f"SYNCD_REQUIRE_POSTGRES=1 but {len(skipped)} PostgreSQL test(s) skipped and "
            f"{len(ran)} ran: failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
