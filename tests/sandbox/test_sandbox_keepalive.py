"""The sandbox keeps HTTPS connections alive, as Graph does.

Before, werkzeug's development server answered every request with ``Connection: close``, so
each Graph call in tests and benchmarks paid a new TCP connection and TLS handshake: a
no-change poll then measured mostly the handshake (issue 7's benchmark). The tests speak
through one `http.client` connection, which reopens silently after a close only if asked:
its socket staying the same object is the proof that the server kept the connection."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from urllib.parse import urlsplit

from syncd.sandbox import Sandbox
from tests.sandbox.conftest import ALICE, BOB, MakeRaw


class _Connection:
    """One persistent HTTPS connection to the sandbox; `request` fails if it was closed."""

    def __init__(self, sandbox: Sandbox, token: str) -> None:
        context = ssl.create_default_context(cafile=str(sandbox.ca_path))
        self.conn = http.client.HTTPSConnection(sandbox.host, sandbox.port, context=context,
                                                timeout=30)
        self.conn.connect()
        self.sock = self.conn.sock
        self.token = token

    def request(self, method: str, url: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        """(status, Connection header, body), after checking the socket is the first one."""
        assert self.conn.sock is self.sock, "the server closed the connection"
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        self.conn.request(method, urlsplit(url)._replace(scheme="", netloc="").geturl(),
                          body=body, headers=sent)
        response = self.conn.getresponse()
        data = response.read()
        return response.status, response.getheader("Connection") or "", data

    def close(self) -> None:
        self.conn.close()


def test_requests_reuse_one_tls_connection(sandbox: Sandbox, token: str) -> None:
    conn = _Connection(sandbox, token)
    try:
        for _ in range(5):
            status, connection, _ = conn.request(
                "GET", sandbox.graph_url + f"users/{ALICE}/mailFolders")
            assert status == 200 and "close" not in connection.lower()
        assert conn.conn.sock is conn.sock
    finally:
        conn.close()


def test_errors_and_posts_keep_the_connection(sandbox: Sandbox, token: str) -> None:
    """A 404, a 401 and an identity-platform POST with a form body leave the connection
    open, and the next request on it is read correctly (no leftover body bytes)."""
    conn = _Connection(sandbox, token)
    try:
        assert conn.request("GET", sandbox.graph_url + "users/nobody@contoso.test")[0] == 404
        assert conn.request("GET", sandbox.graph_url + "users",
                            headers={"Authorization": "Bearer not-a-token"})[0] == 401
        form = (b"client_id=syncd-demo&client_secret=demo-secret&grant_type=client_credentials"
                b"&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default")
        status, _, body = conn.request(
            "POST", f"{sandbox.authority}/oauth2/v2.0/token", body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and json.loads(body)["access_token"]
        status, _, body = conn.request("GET", sandbox.graph_url + f"users/{BOB}")
        assert status == 200 and json.loads(body)["mail"] == BOB
    finally:
        conn.close()


def test_concurrency_cap_holds_on_persistent_connections(
    sandbox: Sandbox, token: str, make_raw: MakeRaw
) -> None:
    """Six clients, each on its own kept-alive connection, send two slow requests in a row
    to one mailbox: the in-flight count goes up and down per request, not per connection,
    so requests past the cap of 4 are refused and none is left counted afterwards."""
    sandbox.state.add_message(ALICE, "inbox", make_raw(1))
    sandbox.faults.slow(300, mailbox=ALICE)
    url = sandbox.graph_url + f"users/{ALICE}/mailFolders/inbox/messages/delta"
    barrier = threading.Barrier(6)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def call() -> None:
        conn = _Connection(sandbox, token)
        try:
            conn.request("GET", sandbox.graph_url + f"users/{BOB}/mailFolders")
            for _ in range(2):
                barrier.wait()
                statuses.append(conn.request("GET", url)[0])
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            conn.close()

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(set(statuses)) == [200, 429] and len(statuses) == 12
    assert statuses.count(200) <= 8
    assert sandbox.faults.max_in_flight[ALICE] >= 5
    sandbox.faults.slow(0, mailbox=ALICE)
    conn = _Connection(sandbox, token)
    try:
        assert conn.request("GET", url)[0] == 200  # nothing was left counted in flight
    finally:
        conn.close()
