"""The sandbox's identity platform, driven by the real msal over real TLS sockets."""

from __future__ import annotations

import threading

import msal
import requests

from syncd.sandbox import Sandbox, generate_client_certificate
from syncd.sandbox.clients import GRAPH_SCOPES, app_token, graph_session
from syncd.sandbox.idp import DEFAULT_APP_ROLES

ALICE, BOB = "alice@contoso.test", "bob@contoso.test"  # seeded by conftest.sandbox


def _app(
    sandbox: Sandbox, credential: object, client_id: str = "syncd-demo"
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=sandbox.authority,
        instance_discovery=False,
        verify=str(sandbox.ca_path),
    )


def test_discovery_document_points_at_the_sandbox(sandbox: Sandbox) -> None:
    url = f"{sandbox.authority}/v2.0/.well-known/openid-configuration"
    doc = requests.get(url, verify=str(sandbox.ca_path), timeout=10).json()
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "device_authorization_endpoint",
        "jwks_uri",
    ):
        assert doc[key].startswith(f"{sandbox.authority}/"), key
    assert doc["issuer"] == f"{sandbox.base_url}/{sandbox.state.tenant_id}/v2.0"
    # the tenant id works as well as the tenant name
    by_id = requests.get(
        f"{sandbox.base_url}/{sandbox.state.tenant_id}/v2.0/.well-known/openid-configuration",
        verify=str(sandbox.ca_path),
        timeout=10,
    )
    assert by_id.status_code == 200
    unknown = requests.get(
        f"{sandbox.base_url}/nope/v2.0/.well-known/openid-configuration",
        verify=str(sandbox.ca_path),
        timeout=10,
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_tenant"


def test_client_secret_token_then_cache(sandbox: Sandbox) -> None:
    app = _app(sandbox, "demo-secret")
    first = app.acquire_token_for_client(scopes=GRAPH_SCOPES)
    assert first["token_type"] == "Bearer" and first["expires_in"] == 3599
    assert first["token_source"] == "identity_provider"
    second = app.acquire_token_for_client(scopes=GRAPH_SCOPES)
    assert second["token_source"] == "cache" and second["access_token"] == first["access_token"]
    token_posts = [r for r in sandbox.request_log if r.path.endswith("/oauth2/v2.0/token")]
    assert [(r.status, r.client_id) for r in token_posts] == [(200, "syncd-demo")]


def test_token_lifetime_is_configurable() -> None:
    with Sandbox(token_lifetime=600) as box:
        result = _app(box, "demo-secret").acquire_token_for_client(scopes=GRAPH_SCOPES)
        assert result["expires_in"] == 600


def test_bad_credentials_give_aad_errors(sandbox: Sandbox) -> None:
    wrong = _app(sandbox, "not-the-secret").acquire_token_for_client(scopes=GRAPH_SCOPES)
    assert wrong["error"] == "invalid_client"
    assert wrong["error_codes"] == [7000215]
    assert {"timestamp", "trace_id", "correlation_id", "error_description"} <= set(wrong)
    assert sandbox.request_log[-1].status == 401

    stranger = _app(sandbox, "x", client_id="who-is-this").acquire_token_for_client(
        scopes=GRAPH_SCOPES
    )
    assert stranger["error"] == "unauthorized_client" and stranger["error_codes"] == [700016]

    # client credentials need "<resource>/.default"
    scoped = _app(sandbox, "demo-secret").acquire_token_for_client(
        scopes=["https://graph.microsoft.com/Mail.Read"]
    )
    assert scoped["error"] == "invalid_scope"


def test_certificate_credentials_rs256_and_ps256() -> None:
    cert = generate_client_certificate()
    other = generate_client_certificate("someone-else")
    with Sandbox(clients={}, client_certs={"cert-app": cert.certificate_pem}) as box:
        # {"thumbprint": sha1}: msal signs RS256 with an x5t header
        rs256 = _app(
            box,
            {"private_key": cert.private_key_pem, "thumbprint": cert.sha1_thumbprint},
            "cert-app",
        )
        assert "access_token" in rs256.acquire_token_for_client(scopes=GRAPH_SCOPES)
        # {"public_certificate": pem}: msal signs PS256 with x5t#S256 (and x5c)
        ps256 = _app(
            box,
            {"private_key": cert.private_key_pem, "public_certificate": cert.certificate_pem},
            "cert-app",
        )
        token = ps256.acquire_token_for_client(scopes=GRAPH_SCOPES)
        assert "access_token" in token
        with graph_session(box, token["access_token"]) as graph:
            assert graph.get(box.graph_url + "users").status_code == 200

        forged = _app(
            box,
            {"private_key": other.private_key_pem, "thumbprint": cert.sha1_thumbprint},
            "cert-app",
        )
        result = forged.acquire_token_for_client(scopes=GRAPH_SCOPES)
        assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
        unknown = _app(
            box,
            {"private_key": other.private_key_pem, "thumbprint": other.sha1_thumbprint},
            "cert-app",
        )
        assert unknown.acquire_token_for_client(scopes=GRAPH_SCOPES)["error"] == "invalid_client"
        # the app has no secret at all
        assert (
            _app(box, "guess", "cert-app").acquire_token_for_client(scopes=GRAPH_SCOPES)["error"]
            == "invalid_client"
        )


def test_device_code_flow_then_refresh(sandbox: Sandbox) -> None:
    scopes = ["https://graph.microsoft.com/Mail.Read"]
    pca = msal.PublicClientApplication(
        "syncd-demo",
        authority=sandbox.authority,
        instance_discovery=False,
        verify=str(sandbox.ca_path),
    )
    flow = pca.initiate_device_flow(scopes=scopes)
    assert (
        flow["user_code"] in flow["message"]
        and flow["verification_uri"] == f"{sandbox.base_url}/devicelogin"
    )
    approver = threading.Timer(0.3, sandbox.approve_device, args=(flow["user_code"], ALICE))
    approver.start()
    result = pca.acquire_token_by_device_flow(flow)
    approver.join()
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == ALICE
    assert "Mail.Read" in result["scope"]
    token_statuses = [r.status for r in sandbox.request_log if r.path.endswith("/token")]
    assert (
        token_statuses[0] == 400 and token_statuses[-1] == 200
    )  # authorization_pending, then done

    (account,) = pca.get_accounts(username=ALICE)
    cached = pca.acquire_token_silent(scopes, account=account)
    assert cached["access_token"] == result["access_token"]  # msal found it: "scope" was echoed
    refreshed = pca.acquire_token_silent(scopes, account=account, force_refresh=True)
    assert refreshed["token_source"] == "identity_provider"
    assert refreshed["access_token"] != result["access_token"]

    with graph_session(sandbox, refreshed["access_token"]) as graph:
        me = graph.get(sandbox.graph_url + "me").json()
        assert me["mail"] == ALICE
        assert (
            graph.get(sandbox.graph_url + "me/mailFolders/inbox").json()["displayName"] == "Inbox"
        )
        # a delegated token reaches only its own mailbox
        other = graph.get(sandbox.graph_url + f"users/{BOB}/mailFolders/inbox")
        assert other.status_code == 403 and other.json()["error"]["code"] == "ErrorAccessDenied"


def test_device_code_declined(sandbox: Sandbox) -> None:
    pca = msal.PublicClientApplication(
        "syncd-demo",
        authority=sandbox.authority,
        instance_discovery=False,
        verify=str(sandbox.ca_path),
    )
    flow = pca.initiate_device_flow(scopes=["https://graph.microsoft.com/Mail.Read"])
    sandbox.idp.decline_device(flow["user_code"])
    assert pca.acquire_token_by_device_flow(flow)["error"] == "authorization_declined"


def test_graph_rejects_missing_unknown_and_expired_tokens(sandbox: Sandbox, token: str) -> None:
    url = sandbox.graph_url + "users"
    bare = requests.get(url, verify=str(sandbox.ca_path), timeout=10)
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "InvalidAuthenticationToken"
    with graph_session(sandbox, "garbage") as graph:
        assert graph.get(url).status_code == 401
    with graph_session(sandbox, token) as graph:
        assert graph.get(url).status_code == 200
        sandbox.faults.expire_access_tokens()
        expired = graph.get(url)
        assert expired.status_code == 401
        assert (
            expired.json()["error"]["message"]
            == "Lifetime validation failed, the token is expired."
        )
    with graph_session(sandbox, app_token(sandbox)) as graph:  # a token issued afterwards works
        assert graph.get(url).status_code == 200


def test_token_for_another_resource_is_refused(sandbox: Sandbox) -> None:
    app = _app(sandbox, "demo-secret")
    ews = app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])
    with graph_session(sandbox, ews["access_token"]) as graph:
        refused = graph.get(sandbox.graph_url + "users")
    assert refused.status_code == 401 and "audience" in refused.json()["error"]["message"]


def test_removed_permission_gives_403(sandbox: Sandbox) -> None:
    before = app_token(sandbox)
    sandbox.idp.set_client_roles("syncd-demo", DEFAULT_APP_ROLES - {"Mail.Read", "User.Read.All"})
    after = app_token(sandbox)
    delta = f"users/{ALICE}/mailFolders/inbox/messages/delta"
    with graph_session(sandbox, after) as graph:
        denied = graph.get(sandbox.graph_url + delta)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "ErrorAccessDenied"
        users = graph.get(sandbox.graph_url + "users")
        assert (
            users.status_code == 403
            and users.json()["error"]["code"] == "Authorization_RequestDenied"
        )
    with graph_session(sandbox, before) as graph:  # roles are fixed in a token when it is issued
        assert graph.get(sandbox.graph_url + delta).status_code == 200
