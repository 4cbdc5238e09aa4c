"""Fixtures for workflows, tracking and forms: secrets in the environment, the local
Microsoft 365 sandbox with a sales team and a prospect, Apps built from a configuration file
per test, and a headless Chromium. Helpers live in workflow_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workflow_helpers import (
    ALICE,
    BOB,
    CHROMEDRIVER,
    CHROMIUM,
    JANE,
    KEY,
    SALES,
    MakeApp,
    write_config,
)

from syncd.app import App
from syncd.config import load_settings
from syncd.sandbox import Sandbox
from syncd.web.app import unregister


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_TEST_TRACKING_KEY", KEY)
    monkeypatch.setenv("SYNCD_TEST_M365_SECRET", "demo-secret")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        for email, name in ((ALICE, "Alice Martin"), (BOB, "Bob Durand"),
                            (SALES, "Ventes Contoso")):
            box.state.add_user(email, name, ["Sales"])
        # The prospect gets a mailbox too, so that what she receives can be read back.
        box.state.add_user(JANE, "Jane Dupont", [])
        yield box


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    made: list[App] = []

    def build(db_url: str, **kwargs: Any) -> App:
        app = App(load_settings(write_config(tmp_path, db_url, **kwargs)))
        made.append(app)
        return app

    yield build
    for app in made:
        unregister(app)
        app.close()




@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Debian's headless Chromium driven by selenium through Debian's chromedriver (given
    explicitly, so selenium-manager never looks for or downloads a driver)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium or chromedriver is absent (Debian packages chromium and "
                    "chromium-driver; scripts/test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


