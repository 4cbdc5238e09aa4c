"""What every Graph handler shares: the request context, permission checks, ``$select``,
``$top``/``$skiptoken`` paging and ``@odata`` links."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from syncd.sandbox.faults import FaultPlan
from syncd.sandbox.idp import AccessToken
from syncd.sandbox.ids import TokenCodec
from syncd.sandbox.state import SandboxState, User
from syncd.sandbox.wire import ApiRequest, ApiResponse, GraphError, json_response


@dataclass
class Services:
    """The objects handlers work with (one per sandbox)."""

    state: SandboxState
    faults: FaultPlan
    codec: TokenCodec
    base_url: str = ""  # "https://127.0.0.1:PORT", set when the server is bound

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0/"


@dataclass
class Ctx:
    """One authenticated Graph request, routed. ``user`` is the user named by
    ``users/{id|upn}`` (or ``me``); ``args`` are the other path values the route captured."""

    req: ApiRequest
    token: AccessToken
    services: Services
    user: User | None = None
    args: tuple[str, ...] = ()

    @property
    def state(self) -> SandboxState:
        return self.services.state


Handler = Callable[[Ctx], ApiResponse]
T = TypeVar("T")


def require(
    ctx: Ctx,
    *,
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    code: str = "ErrorAccessDenied",
    message: str = "Access is denied. Check credentials and try again.",
) -> None:
    """403 unless the token carries one of ``roles`` (app-only) or ``scopes`` (delegated).
    An empty ``scopes`` means the API does not support delegated access."""
    token = ctx.token
    granted = token.roles if token.app_only else token.scopes
    wanted = set(roles) if token.app_only else set(scopes)
    if not granted.intersection(wanted):
        raise GraphError(403, code, message)


def require_own_mailbox(ctx: Ctx) -> User:
    """The mailbox owner; a delegated token may only reach its own user's mailbox."""
    user = ctx.user
    if user is None:
        raise GraphError(404, "ErrorInvalidUser", "The requested user is invalid.")
    if not ctx.token.app_only and ctx.token.user != user.email:
        raise GraphError(
            403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        )
    return user


def query_value(req: ApiRequest, name: str) -> str | None:
    """A query option by case-insensitive name (Graph accepts ``startdatetime``)."""
    lowered = name.lower()
    for key, value in req.query.items():
        if key.lower() == lowered:
            return value
    return None


def parse_select(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def page_size(
    req: ApiRequest, default: int, cap: int, fallback: int | None = None
) -> tuple[int, bool]:
    """(size, from_prefer): ``Prefer: odata.maxpagesize`` wins, then ``fallback`` (a size
    carried in a paging token or ``$top``), then ``default``; capped at ``cap``."""
    preferred = req.prefer().get("odata.maxpagesize")
    if preferred and preferred.isdigit() and int(preferred) > 0:
        return min(int(preferred), cap), True
    return min(fallback or default, cap), False


def applied(size: int, from_prefer: bool) -> list[tuple[str, str]]:
    return [("Preference-Applied", f"odata.maxpagesize={size}")] if from_prefer else []


def decode_token(ctx: Ctx, kind: str, value: str) -> dict[str, Any]:
    """A paging token's payload; 400 when it is not one of ours or not of this ``kind``."""
    payload = ctx.services.codec.decode(value)
    if payload is None or payload.get("k") != kind:
        raise GraphError(
            400,
            "BadRequest",
            "The skip or delta token is malformed or not valid for this resource.",
        )
    return payload


def offset_page(
    ctx: Ctx,
    items: Sequence[T],
    *,
    link: str,
    context: str,
    kind: str,
    default_top: int,
    max_top: int,
    select: list[str] | None,
    projector: Callable[[T, list[str] | None], dict[str, Any]],
) -> ApiResponse:
    """Serve ``items`` in pages of ``$top`` with ``@odata.nextLink`` (``$skiptoken``); the
    token carries the offset, page size and ``$select`` of the first request."""
    req = ctx.req
    offset = 0
    top_text = req.query.get("$top")
    if top_text is not None and not top_text.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid $top value '{top_text}'.")
    top = int(top_text) if top_text else default_top
    skiptoken = req.query.get("$skiptoken")
    if skiptoken:
        payload = decode_token(ctx, kind, skiptoken)
        offset, top, select = int(payload["o"]), int(payload["t"]), payload.get("s")
    size, from_prefer = page_size(req, default_top, max_top, top)
    chunk = items[offset : offset + size]
    body: dict[str, Any] = {
        "@odata.context": context,
        "value": [projector(i, select) for i in chunk],
    }
    if offset + size < len(items):
        token = ctx.services.codec.encode({"k": kind, "o": offset + size, "t": size, "s": select})
        body["@odata.nextLink"] = f"{link}?$skiptoken={token}"
    return json_response(body, headers=applied(size, from_prefer))


def project_exact(item: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """Directory-style $select: exactly the named properties."""
    if select is None:
        return item
    return {key: item[key] for key in select if key in item}


def check_select(select: list[str] | None, known: Iterable[str], type_name: str) -> None:
    """400 for an unknown property, as Graph does (a typo in a connector fails loudly)."""
    if select is None:
        return
    known_set = set(known)
    for name in select:
        if name not in known_set:
            raise GraphError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type '{type_name}'.",
            )


def removed_item(odata_type: str, item_id: str) -> dict[str, Any]:
    return {"@odata.type": odata_type, "id": item_id, "@removed": {"reason": "deleted"}}


def gone_error(code: str, location: str) -> GraphError:
    """410 Gone with the initial URL in Location ("Synchronization reset",
    concepts/delta-query-overview.md)."""
    messages = {
        "syncStateNotFound": "The sync state generation is not found. Start a new round of "
        "synchronization.",
        "resyncRequired": "The delta token is no longer valid, and the app must reset the sync "
        "state.",
    }
    return GraphError(
        410,
        code,
        messages.get(code, "The delta token is no longer valid."),
        headers={"Location": location},
    )
