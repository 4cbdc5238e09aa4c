"""Tokens against the sandbox's identity platform: secret, certificate, cache file, refresh,
bad credentials, device login, and the CA bundle that the environment must not override."""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

import certifi
import pytest
from graph_helpers import (
    ALICE,
    MakeConnector,
    drain,
    graph_requests,
    mailbox,
    settings_for,
    stream_by_key,
    token_requests,
)

from connectors.base import AuthError, TransientError
from connectors.msgraph import GraphConnector, MailboxInfo
from syncd.sandbox import Sandbox, generate_client_certificate


def test_app_only_token_with_a_secret_is_cached_in_a_0600_file(
    box: Sandbox, make_connector: MakeConnector, tmp_path: Path
) -> None:
    connector = make_connector(box)
    assert [m.address for m in connector.list_mailboxes()] == [
        ALICE,
        "bob@contoso.test",
        "carol@contoso.test",
    ]
    assert token_requests(box) == 1
    cache = tmp_path / "state" / "msal-m365.json"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    assert "AccessToken" in cache.read_text()
    assert not list(cache.parent.glob("*.tmp"))  # written atomically, nothing left behind

    # A second connector (a new process, say) reuses the persisted token: no IdP round trip.
    again = make_connector(box)
    assert len(again.list_mailboxes()) == 3
    assert token_requests(box) == 1


def test_app_only_token_with_a_certificate() -> None:
    cert = generate_client_certificate("syncd-test")
    with Sandbox(clients={}, client_certs={"cert-app": cert.certificate_pem}) as sandbox:
        sandbox.state.add_user(ALICE, "Alice Martin", ["Sales"])
        pem = cert.private_key_pem + cert.certificate_pem
        settings = settings_for(
            sandbox, client_id="cert-app", client_secret=None, client_certificate_pem=pem
        )
        connector = GraphConnector(settings)
        try:
            assert [m.address for m in connector.list_mailboxes()] == [ALICE]
            assert connector.auth.thumbprint == cert.sha1_thumbprint
        finally:
            connector.close()
        # A key that is not the certificate's fails before any request, in plain words.
        other = generate_client_certificate("someone-else")
        wrong = GraphConnector(
            settings_for(
                sandbox,
                client_id="cert-app",
                client_secret=None,
                client_certificate_pem=other.private_key_pem + cert.certificate_pem,
            )
        )
        with pytest.raises(AuthError, match="does not match the certificate"):
            wrong.list_mailboxes()


def test_invalid_secret_and_unknown_client_are_auth_errors_naming_the_setting(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    with pytest.raises(AuthError, match=r"client_secret of app syncd-demo.*AADSTS7000215"):
        make_connector(box, client_secret="not-the-secret").list_mailboxes()
    with pytest.raises(AuthError, match=r"not registered in tenant 'contoso'.*client_id"):
        make_connector(box, client_id="nobody").list_mailboxes()
    with pytest.raises(AuthError, match="tenant_id"):
        make_connector(box, tenant_id="fabrikam").list_mailboxes()
    with pytest.raises(AuthError, match="no client_secret or client_certificate_pem"):
        make_connector(box, client_secret=None).list_mailboxes()


def test_expired_tokens_are_refreshed_once_transparently(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    box.state.add_message(
        ALICE,
        "inbox",
        b"From: jane@fabrikam.test\r\nTo: alice@contoso.test"
        b"\r\nMessage-ID: <a@fabrikam.test>\r\nSubject: hi\r\n\r\nbody\r\n",
    )
    connector = make_connector(box)
    inbox = stream_by_key(connector, mailbox(connector, ALICE), "/mail/inbox")
    assert token_requests(box) == 1
    box.faults.expire_access_tokens()  # e.g. a key roll or a revoked session
    before = graph_requests(box)
    page = inbox.fetch_page(None)
    assert len(page.interactions) == 1
    assert token_requests(box) == 2  # exactly one new token
    assert graph_requests(box) - before == 2  # the 401, then the retried request
    statuses = [r.status for r in box.requests(path_contains="/messages/delta")]
    assert statuses == [401, 200]


def test_a_token_refused_twice_is_an_auth_error(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    # A US Government cloud preset with the endpoints overridden: the IdP issues tokens for
    # https://graph.microsoft.us, which this Graph refuses (wrong audience) every time.
    connector = make_connector(box, cloud="usgov-l4", mailboxes=(ALICE,), group=None)
    with pytest.raises(AuthError, match=r"refused a freshly issued token.*graph_url"):
        connector.list_mailboxes()
    assert [r.status for r in box.requests(path_contains="/v1.0/users")] == [401, 401]
    assert token_requests(box) == 2  # the second token was fetched, not replayed


def test_configured_ca_bundle_wins_over_requests_ca_bundle(
    box: Sandbox, make_connector: MakeConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pitfall 0.1: with trust_env, this variable would replace verify= and the sandbox's CA
    # would be distrusted (CERTIFICATE_VERIFY_FAILED).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    assert len(make_connector(box).list_mailboxes()) == 3
    # And without the right bundle, TLS fails as a transient, explained error.
    with pytest.raises(TransientError, match=r"TLS verification.*ca_bundle"):
        make_connector(box, ca_bundle=Path(certifi.where())).list_mailboxes()


def test_device_login_then_delegated_sync_of_the_own_mailbox(
    box: Sandbox, make_connector: MakeConnector, tmp_path: Path
) -> None:
    box.state.add_message(
        ALICE,
        "inbox",
        b"From: jane@fabrikam.test\r\nTo: alice@contoso.test"
        b"\r\nMessage-ID: <d@fabrikam.test>\r\nSubject: hi\r\n\r\nbody\r\n",
    )
    login = make_connector(box, client_secret=None, delegated_username=ALICE, group=None)
    shown: list[str] = []

    def show(message: str) -> None:
        shown.append(message)
        code = re.search(r"code ([A-Z0-9]+)", message)
        assert code is not None
        # The user opens the page and signs in (here: a little later, from another thread).
        threading.Timer(0.2, box.approve_device, (code.group(1), ALICE)).start()

    assert login.device_login(show) == ALICE
    assert "devicelogin" in shown[0]
    cache = tmp_path / "state" / "msal-m365.json"
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    assert "RefreshToken" in cache.read_text()

    # A later run (new connector, same cache file) works silently with the delegated token.
    daemon = make_connector(box, client_secret=None, delegated_username=ALICE, group=None)
    (own,) = daemon.list_mailboxes()
    assert own.address == ALICE
    inbox = stream_by_key(daemon, own, "/mail/inbox")
    assert [i.natural_key for i in drain(inbox).interactions] == ["d@fabrikam.test"]
    # A delegated token reads only its own mailbox: another one is an AuthError in plain words.
    user = box.state.user("bob@contoso.test")
    assert user is not None
    bob = MailboxInfo("bob@contoso.test", "Bob Durand", user.id)
    with pytest.raises(AuthError, match=r"Mail\.Read \(Delegated\).*own mailbox"):
        stream_by_key(daemon, bob, "/mail/inbox").fetch_page(None)


def test_delegated_without_login_says_what_to_run(
    box: Sandbox, make_connector: MakeConnector
) -> None:
    connector = make_connector(box, client_secret=None, delegated_username=ALICE, group=None)
    with pytest.raises(AuthError, match="syncd connector login m365"):
        connector.list_mailboxes()
