"""Fixtures for the Microsoft 365 sandbox tests: a running sandbox with three colleagues, an
app token and a requests session for raw Graph calls, and a raw RFC 5322 mail builder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
import requests

from syncd.sandbox import Sandbox
from syncd.sandbox.clients import app_token, graph_session

ALICE, BOB, CAROL = "alice@contoso.test", "bob@contoso.test", "carol@contoso.test"
MakeRaw = Callable[..., bytes]


@pytest.fixture(autouse=True)
def _no_ca_bundle_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these override verify= (M365-NOTES pitfall 0.1); msal would then distrust
    # the sandbox's CA.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(device_code_interval=1) as box:
        for email, name in ((ALICE, "Alice Martin"), (BOB, "Bob Durand"), (CAROL, "Carol Simon")):
            box.state.add_user(email, name, ["Sales"], title="Account Executive")
        yield box


@pytest.fixture
def token(sandbox: Sandbox) -> str:
    return app_token(sandbox)


@pytest.fixture
def graph(sandbox: Sandbox, token: str) -> Iterator[requests.Session]:
    with graph_session(sandbox, token) as session:
        yield session


@pytest.fixture
def make_raw() -> MakeRaw:
    """Build raw mail: make_raw(n, sender=..., to=..., **extra_headers)."""

    def build(
        n: int,
        sender: str = "jane@fabrikam.test",
        to: str = ALICE,
        subject: str | None = None,
        date: datetime | None = None,
        **headers: str,
    ) -> bytes:
        msg = EmailMessage()
        msg["From"] = f"Sender {n} <{sender}>"
        msg["To"] = to
        msg["Subject"] = subject or f"Message {n}"
        msg["Date"] = format_datetime(date or datetime(2024, 5, 1, 9, n % 60, tzinfo=UTC))
        msg["Message-ID"] = f"<m{n}@fabrikam.test>"
        for name, value in headers.items():
            msg[name.replace("_", "-")] = value
        msg.set_content(f"Body of message {n}.\n")
        return msg.as_bytes()

    return build
