"""Transport-neutral request/response objects and Graph's error format.

The WSGI layer turns HTTP into `ApiRequest`; `$batch` builds the same objects from JSON, so a
batch sub-request walks exactly the code path (auth, throttling, handlers) of a real request.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# What Graph itself sends; requests/msal/O365 only look at the media type.
GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;charset=utf-8"


@dataclass
class ApiRequest:
    """One request as the handlers see it. Header names are lower-cased; the query keeps the
    first value of each option (OData system query options are single-valued)."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    via_batch: bool = False

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body as JSON. Raises: GraphError 400 when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise GraphError(
                400, "BadRequest", f"Unable to read JSON request payload: {exc}"
            ) from exc

    def prefer(self) -> dict[str, str]:
        """``Prefer`` preferences (RFC 7240): ``odata.maxpagesize=50, outlook.timezone="UTC"``."""
        prefs: dict[str, str] = {}
        for item in self.header("prefer").split(","):
            name, _, value = item.strip().partition("=")
            if name:
                prefs[name.strip().lower()] = value.strip().strip('"')
        return prefs


@dataclass
class ApiResponse:
    """A handler's answer. ``payload`` is JSON-serialisable (None: no body); ``text`` is for the
    rare plain-text body."""

    status: int
    payload: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None

    def body_bytes(self) -> bytes:
        if self.text is not None:
            return self.text.encode()
        if self.payload is None:
            return b""
        return json.dumps(self.payload, separators=(",", ":")).encode()

    def content_type(self) -> str | None:
        if self.text is not None:
            return "text/plain; charset=utf-8"
        return None if self.payload is None else GRAPH_JSON

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_response(
    payload: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> ApiResponse:
    return ApiResponse(status=status, payload=payload, headers=list(headers))


class GraphError(Exception):
    """An error answered in Graph's format (concepts/errors.md):
    ``{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}``.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        inner: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.inner = dict(inner or {})

    def to_response(self, request_id: str, client_request_id: str) -> ApiResponse:
        inner: dict[str, str] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": client_request_id,
        }
        inner.update(self.inner)
        body = {"error": {"code": self.code, "message": self.message, "innerError": inner}}
        return ApiResponse(self.status, body, list(self.headers.items()))


def new_request_id() -> str:
    return str(uuid.uuid4())
