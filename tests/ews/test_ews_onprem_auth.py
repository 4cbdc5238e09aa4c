"""On-premises credentials (issue 4): a service account over NTLM or Basic, its password given as
an ``env:`` or ``file:`` reference, syncs the same mailboxes as OAuth2, against a sandbox that
accepts only that scheme (NTLM through pyspnego's acceptor, per keep-alive connection). A wrong
password is an AuthError naming the connector, the account and the mailbox, and the password
shows nowhere: not in the error, not in the stored stream state, not in any log record
(exchangelib's DEBUG records included)."""

from __future__ import annotations

import base64
import logging
import ssl
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ews_helpers import BACKFILL_DAYS, HORIZON_DAYS, ews_conf, make_app
from sqlalchemy import text

from connectors.base import AuthError, iter_pages
from connectors.normalize import normalize_message_id
from syncd.app import App
from syncd.demo import DemoCompany, generate
from syncd.sandbox import Sandbox
from syncd.store.db import session_scope
from syncd.sync import run_pass

ACCOUNT = "CONTOSO\\svc-syncd"
PASSWORD = "Pa55-wörd;on-prem"  # non-ASCII on purpose: NTLM hashes UTF-16, Basic sends Latin-1
PASSWORD_ENV = "SYNCD_TEST_EWS_ONPREM_PASSWORD"
WRONG = "Wr0ng-but-S3cret-xq"


@pytest.fixture(scope="module")
def company() -> DemoCompany:
    return generate(11, users=3, accounts=3, messages=80, events=10, calls=0)


@pytest.fixture
def box(tmp_path: Path, company: DemoCompany) -> Iterator[Sandbox]:
    with Sandbox(state_dir=tmp_path / "sandbox", seed=11) as sandbox:
        sandbox.seed_demo(company)
        sandbox.ews.add_account(ACCOUNT, PASSWORD)
        yield sandbox


def reference(kind: str, secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The password as an admin writes it in syncd.toml: a reference, never the value."""
    if kind == "env":
        monkeypatch.setenv(PASSWORD_ENV, secret)
        return f"env:{PASSWORD_ENV}"
    path = tmp_path / "ews-password"
    path.write_text(secret + "\n", encoding="utf-8")  # systemd credential files end so
    path.chmod(0o600)
    return f"file:{path}"


def onprem_app(db_url: str, tmp_path: Path, box: Sandbox, company: DemoCompany, auth: str,
               password_ref: str) -> App:
    conf = ews_conf(box, tuple(u.email for u in company.users), name="onprem", auth=auth,
                    username=ACCOUNT, password=password_ref, tenant_id=None, client_id=None,
                    client_secret=None, page_size=25)
    return make_app(db_url, tmp_path / "state", company, conf)


def live(app: App, kind: str) -> Counter[tuple[str, str]]:
    with session_scope(app.sessions) as s:
        rows = s.execute(text(
            "SELECT mb.address, i.natural_key FROM sightings s "
            "JOIN streams st ON st.id = s.stream_id JOIN mailboxes mb ON mb.id = st.mailbox_id "
            "JOIN interactions i ON i.id = s.interaction_id "
            "WHERE s.deleted_at IS NULL AND i.kind = :kind"), {"kind": kind}).all()
    return Counter((a, k) for a, k in rows)


@pytest.mark.parametrize("ref", ["env", "file"])
@pytest.mark.parametrize("scheme", ["NTLM", "Basic"])
def test_a_service_account_syncs_the_mailboxes_over_the_only_scheme_the_server_takes(
    db_url: str, tmp_path: Path, box: Sandbox, company: DemoCompany,
    monkeypatch: pytest.MonkeyPatch, scheme: str, ref: str,
) -> None:
    box.ews.auth.require(scheme)
    now = datetime.now(UTC)
    app = onprem_app(db_url, tmp_path, box, company, scheme.lower(),
                     reference(ref, PASSWORD, tmp_path, monkeypatch))
    try:
        report = run_pass(app)
        assert report.errors == []
        truth = box.state.ground_truth()
        assert live(app, "email") == Counter(
            (owner, normalize_message_id(mid)) for owner, _f, mid in truth.messages)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        window = box.state.ground_truth(window=(midnight - timedelta(days=BACKFILL_DAYS),
                                                midnight + timedelta(days=HORIZON_DAYS + 1)))
        assert sum(live(app, "meeting").values()) == len(window.events)
    finally:
        app.close()
    # Every request got in through that scheme, none through another.
    assert set(box.ews.auth.accepted) == {scheme}
    if scheme == "NTLM":
        # NTLM authenticates connections: a handshake per connection, not per request.
        assert 1 <= box.ews.auth.ntlm_handshakes < box.ews.auth.accepted["NTLM"]


@pytest.mark.parametrize("scheme", ["NTLM", "Basic"])
def test_a_wrong_password_is_an_auth_error_naming_connector_account_and_mailbox(
    db_url: str, tmp_path: Path, box: Sandbox, company: DemoCompany,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, scheme: str,
) -> None:
    box.ews.auth.require(scheme)
    caplog.set_level(logging.DEBUG)  # exchangelib logs request headers at DEBUG
    app = onprem_app(db_url, tmp_path, box, company, scheme.lower(),
                     reference("env", WRONG, tmp_path, monkeypatch))
    try:
        report = run_pass(app)
        with session_scope(app.sessions) as s:
            stored = [str(v) for row in s.execute(text(
                "SELECT cursor, last_error FROM streams")).all() for v in row]
    finally:
        app.close()
    assert [e["error"] for e in report.errors] == ["AuthError"]
    message = report.errors[0]["message"]
    assert "connector 'onprem'" in message and ACCOUNT in message
    assert scheme.upper() in message and "refused the credentials" in message
    assert any(u.email in message for u in company.users)
    assert box.ews.auth.accepted == Counter()
    leaks = {WRONG, base64.b64encode(f"{ACCOUNT}:{WRONG}".encode("latin-1")).decode(),
             base64.b64encode(f"{ACCOUNT}:{WRONG}".encode()).decode()}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged  # exchangelib did log the requests (at DEBUG)
    for leak in leaks:
        assert leak not in message and leak not in logged
        assert not [v for v in stored if leak in v]


def test_every_stream_reports_a_refused_login_with_its_mailbox(
    box: Sandbox, company: DemoCompany, connector_for: Any
) -> None:
    """A login refused after the mailbox list (password changed mid-run) reaches the sync loop
    from the stream, and names the stream's mailbox too."""
    box.ews.auth.require("NTLM")
    owner = company.users[0].email
    connector = connector_for(box, name="onprem", auth="ntlm", username=ACCOUNT,
                              password=PASSWORD, mailboxes=(owner,), version="Exchange2016")
    mailbox = connector.list_mailboxes()[0]
    box.ews.add_account(ACCOUNT, WRONG)  # the server's password changes
    box.ews.auth.reset()  # and it forgets the authenticated connections
    box.ews.auth.require("NTLM")
    for stream in connector.mailbox_streams(mailbox):
        with pytest.raises(AuthError) as caught:
            list(iter_pages(stream, None))
        message = str(caught.value)
        assert message.startswith(f"connector 'onprem' (NTLM as {ACCOUNT}): ")
        assert message.count("connector 'onprem'") == 1, message
        assert owner in message and "refused the credentials" in message
        assert PASSWORD not in message and WRONG not in message


def test_the_sandbox_refuses_what_it_does_not_offer(box: Sandbox, connector_for: Any) -> None:
    """Switching schemes per test is real: an NTLM client meets a Basic-only server with a
    401 that offers Basic only, and the other way round."""
    for server, client in (("Basic", "ntlm"), ("NTLM", "basic"), ("NTLM", "oauth2")):
        box.ews.auth.require(server)
        extra = {} if client == "oauth2" else {"username": ACCOUNT, "password": PASSWORD}
        connector = connector_for(box, name="onprem", auth=client, version="Exchange2016",
                                  **extra)
        report = connector.check()
        assert not report.ok or report.problems
        assert any("refused the credentials" in p for p in report.problems), report.problems
    assert box.ews.auth.accepted == Counter()


def test_an_oauth2_token_stays_out_of_the_logs_too(
    box: Sandbox, company: DemoCompany, connector_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """requests-oauthlib logs the token it adds to each request at DEBUG, exchangelib the
    Authorization header: both redacted (failed before connectors/ews/session.py's filter)."""
    caplog.set_level(logging.DEBUG)
    connector = connector_for(box, mailboxes=(company.users[0].email,))
    mailbox = connector.list_mailboxes()[0]
    assert list(iter_pages(connector.mailbox_streams(mailbox)[0], None))
    assert connector.auth is not None
    token = connector.auth.token()  # msal's cached token: the one the requests carried
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "[redacted]" in logged
    assert token not in logged


def test_ntlm_under_extended_protection_is_bound_to_the_tls_channel(
    box: Sandbox, company: DemoCompany, connector_for: Any
) -> None:
    """requests_ntlm binds the login to the server certificate it saw (through the
    connector's own HTTP adapter); a server expecting another certificate refuses it."""
    box.ews.auth.require("NTLM")
    seen = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((box.host, box.port)))
    box.ews.auth.extended_protection(seen)
    owner = company.users[0].email
    bound = connector_for(box, name="onprem", auth="ntlm", username=ACCOUNT,
                          password=PASSWORD, mailboxes=(owner,), version="Exchange2016")
    assert [m.address for m in bound.list_mailboxes()] == [owner]
    accepted = box.ews.auth.accepted["NTLM"]
    assert accepted >= 1

    another = ssl.PEM_cert_to_DER_cert(box.ca_path.read_text(encoding="ascii"))
    box.ews.auth.extended_protection(another)  # as if a TLS proxy sat in between
    elsewhere = connector_for(box, name="onprem-2", auth="ntlm", username=ACCOUNT,
                              password=PASSWORD, mailboxes=(owner,), version="Exchange2016")
    with pytest.raises(AuthError, match="refused the credentials"):
        elsewhere.list_mailboxes()
    assert box.ews.auth.accepted["NTLM"] == accepted
    box.ews.auth.extended_protection(seen)  # the right certificate again: the same client is in
    assert [m.address for m in elsewhere.list_mailboxes()] == [owner]
