"""Two PostgreSQL workers capturing copies of the same mail at once fold its ties once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from tie_world import ALICE, BOB, JEANNE, T0, email, tie_rows

from connectors.base import Page
from syncd.app import App
from syncd.config import Settings
from syncd.runner import get_or_create_stream
from syncd.store.db import session_scope


@pytest.mark.postgres
def test_concurrent_copies_of_one_mail_count_once(postgres_url: str) -> None:
    app = App(Settings(database_url=postgres_url, internal_domains=("contoso.fr",)))
    try:
        warm = email("warm@x", JEANNE, [ALICE, BOB], T0)
        mail = [email(f"m{i}@x", JEANNE, [ALICE], T0 + timedelta(hours=i), cc=[BOB])
                for i in range(1, 4)]
        with session_scope(app.sessions) as s:  # persons exist: the race is on interactions
            app.capturer.capture_page(s, get_or_create_stream(s, "t", "warm", None),
                                      Page([warm], "w", True))
        with session_scope(app.sessions) as s:
            for key in ("a", "b"):
                get_or_create_stream(s, "t", key, None)
        errors: list[BaseException] = []

        def second_worker() -> None:
            try:
                with session_scope(app.sessions) as s2:
                    row = get_or_create_stream(s2, "t", "b", None)
                    app.capturer.capture_page(s2, row, Page(mail, "b1", True))
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        with session_scope(app.sessions) as s1:
            app.capturer.capture_page(s1, get_or_create_stream(s1, "t", "a", None),
                                      Page(mail, "a1", True))
            worker = threading.Thread(target=second_worker)
            worker.start()
            time.sleep(1.0)  # let it look the mail up (absent) and wait on our insert
        worker.join(timeout=60)
        assert not errors
        ties = tie_rows(app)
    finally:
        app.close()
    assert ties[(BOB, JEANNE)][:2] == (0, 4)  # warm-up + three mails, each counted once
    assert ties[(ALICE, JEANNE)][:2] == (0, 4)
