"""Microsoft Graph v1.0: authentication, routing, throttling, directory and ``$batch``.

Every request (and every ``$batch`` sub-request) goes: bearer token check (401
InvalidAuthenticationToken) -> route (path segment names are case-insensitive; ``me`` becomes
``users/{signed-in user}``; ``mailFolders('inbox')`` equals ``mailFolders/inbox``) ->
`FaultPlan.guard` for the mailbox it touches (429/503, concurrency, budget, delay) -> handler
-> `RequestRecord`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from syncd.sandbox import graph_calendar, graph_calls, graph_mail
from syncd.sandbox.graph_common import (
    Ctx,
    Handler,
    Services,
    check_select,
    offset_page,
    parse_select,
    project_exact,
    require,
)
from syncd.sandbox.idp import GRAPH_RESOURCE, AccessToken, IdentityProvider
from syncd.sandbox.state import User
from syncd.sandbox.subscriptions import SubscriptionManager
from syncd.sandbox.wire import ApiRequest, ApiResponse, GraphError, json_response, new_request_id

MAX_BATCH = 20  # concepts/json-batching.md


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One Graph or identity request as the sandbox answered it (``Sandbox.request_log``)."""

    time: float
    method: str
    path: str
    mailbox: str | None
    status: int
    client_id: str | None
    query: str = ""
    via_batch: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: tuple[str, ...]  # lower-case names; "{user}" (users/{id|upn}) and "{}" capture
    handler: Handler
    mailbox: bool  # counts against the mailbox's throttling limits


_DIRECTORY_READ = (
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "User.ReadBasic.All",
)
_GROUP_READ = (
    "GroupMember.Read.All",
    "Group.Read.All",
    "Directory.Read.All",
    "Group.ReadWrite.All",
)
_EXTENDED_USER = {
    "accountEnabled": True,
    "department": "Sales",
    "companyName": None,
    "createdDateTime": "2020-01-01T00:00:00Z",
    "usageLocation": "US",
    "userType": "Member",
    "otherMails": [],
    "postalCode": None,
    "city": None,
    "country": None,
    "assignedLicenses": [],
}
_USER_FILTER = re.compile(
    r"^\s*(mail|userPrincipalName|displayName|id)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE
)
_STARTSWITH = re.compile(
    r"^\s*startswith\(\s*(mail|userPrincipalName|displayName)\s*,\s*'([^']*)'\s*\)\s*$",
    re.IGNORECASE,
)
_GROUP_FILTER = re.compile(r"^\s*displayName\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_KEY_SEGMENT = re.compile(r"^([^()]+)\((.*)\)$")


def user_json(user: User, select: list[str] | None) -> dict[str, Any]:
    """The user resource: default properties, or exactly the ``$select``ed ones."""
    item = user.graph()
    if select is None:
        return item
    extended = {
        **_EXTENDED_USER,
        "mailNickname": user.email.partition("@")[0],
        "proxyAddresses": [f"SMTP:{user.email}"],
    }
    return {key: item.get(key, extended.get(key)) for key in select}


_USER_PROPERTIES = frozenset(
    [*User("", "", "").graph(), *_EXTENDED_USER, "mailNickname", "proxyAddresses"]
)


def _directory_denied() -> dict[str, str]:
    return {
        "code": "Authorization_RequestDenied",
        "message": "Insufficient privileges to complete the operation.",
    }


def list_users(ctx: Ctx) -> ApiResponse:
    """List users (``GET /users``): ``$select``, ``$top`` (default 100, max 999), ``$filter``
    ``prop eq '...'`` or ``startswith(prop,'...')``, nextLink paging."""
    require(
        ctx,
        roles=_DIRECTORY_READ,
        scopes=("User.ReadBasic.All", "User.Read.All", "Directory.Read.All"),
        **_directory_denied(),
    )
    select = parse_select(ctx.req.query.get("$select"))
    check_select(select, _USER_PROPERTIES, "Microsoft.DirectoryServices.User")
    with ctx.state.lock:
        users = list(ctx.state.users.values())
    text = ctx.req.query.get("$filter")
    if text:
        eq, prefix = _USER_FILTER.match(text), _STARTSWITH.match(text)
        if eq:
            key, value = eq.group(1), eq.group(2).lower()
            users = [u for u in users if str(u.graph()[_canonical(key)] or "").lower() == value]
        elif prefix:
            key, value = prefix.group(1), prefix.group(2).lower()
            users = [
                u for u in users if str(u.graph()[_canonical(key)] or "").lower().startswith(value)
            ]
        else:
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
    graph_url = ctx.services.graph_url
    context = f"{graph_url}$metadata#users" + (f"({','.join(select)})" if select else "")
    return offset_page(
        ctx,
        users,
        link=f"{graph_url}users",
        context=context,
        kind="u",
        default_top=100,
        max_top=999,
        select=select,
        projector=user_json,
    )


def _canonical(name: str) -> str:
    return {
        "mail": "mail",
        "userprincipalname": "userPrincipalName",
        "displayname": "displayName",
        "id": "id",
    }[name.lower()]


def get_user(ctx: Ctx) -> ApiResponse:
    """Get user (``GET /users/{id | userPrincipalName}`` and ``GET /me``)."""
    user = ctx.user
    assert user is not None
    if ctx.token.app_only or ctx.token.user != user.email:
        require(
            ctx,
            roles=_DIRECTORY_READ,
            scopes=("User.ReadBasic.All", "User.Read.All", "Directory.Read.All"),
            **_directory_denied(),
        )
    select = parse_select(ctx.req.query.get("$select"))
    check_select(select, _USER_PROPERTIES, "Microsoft.DirectoryServices.User")
    return json_response(
        {
            "@odata.context": f"{ctx.services.graph_url}$metadata#users/$entity",
            **user_json(user, select),
        }
    )


def list_groups(ctx: Ctx) -> ApiResponse:
    """List groups (``GET /groups``, ``$filter=displayName eq '...'``)."""
    require(
        ctx,
        roles=_GROUP_READ,
        scopes=("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
        **_directory_denied(),
    )
    with ctx.state.lock:
        groups = list(ctx.state.groups.values())
    text = ctx.req.query.get("$filter")
    if text:
        match = _GROUP_FILTER.match(text)
        if not match:
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
        groups = [g for g in groups if g.name.lower() == match.group(1).lower()]
    select = parse_select(ctx.req.query.get("$select"))
    return offset_page(
        ctx,
        [g.graph() for g in groups],
        link=f"{ctx.services.graph_url}groups",
        context=f"{ctx.services.graph_url}$metadata#groups",
        kind="g",
        default_top=100,
        max_top=999,
        select=select,
        projector=project_exact,
    )


def get_group(ctx: Ctx) -> ApiResponse:
    """Get group (``GET /groups/{id}``)."""
    require(
        ctx,
        roles=_GROUP_READ,
        scopes=("GroupMember.Read.All", "Group.Read.All"),
        **_directory_denied(),
    )
    group = ctx.state.groups.get(ctx.args[0])
    if group is None:
        raise GraphError(
            404, "Request_ResourceNotFound", f"Resource '{ctx.args[0]}' does not exist."
        )
    return json_response(
        {"@odata.context": f"{ctx.services.graph_url}$metadata#groups/$entity", **group.graph()}
    )


def list_members(ctx: Ctx) -> ApiResponse:
    """List group members (``GET /groups/{id}/members``), paged (default 100)."""
    require(
        ctx,
        roles=_GROUP_READ,
        scopes=("GroupMember.Read.All", "Group.Read.All"),
        **_directory_denied(),
    )
    state = ctx.state
    with state.lock:
        group = state.groups.get(ctx.args[0])
        if group is None:
            raise GraphError(
                404, "Request_ResourceNotFound", f"Resource '{ctx.args[0]}' does not exist."
            )
        members = [state.users[email] for email in group.members]
    select = parse_select(ctx.req.query.get("$select"))
    check_select(select, _USER_PROPERTIES, "Microsoft.DirectoryServices.User")
    graph_url = ctx.services.graph_url
    return offset_page(
        ctx,
        members,
        link=f"{graph_url}groups/{group.id}/members",
        context=f"{graph_url}$metadata#directoryObjects",
        kind="gm",
        default_top=100,
        max_top=999,
        select=select,
        projector=lambda u, sel: {"@odata.type": "#microsoft.graph.user", **user_json(u, sel)},
    )


class GraphApi:
    """The ``/v1.0`` half of the sandbox."""

    def __init__(
        self,
        services: Services,
        idp: IdentityProvider,
        subscriptions: SubscriptionManager,
        log: Callable[[RequestRecord], None],
    ) -> None:
        self.services = services
        self.idp = idp
        self.subscriptions = subscriptions
        self.log = log
        subs = subscriptions
        self.routes: list[Route] = [
            Route("GET", ("users",), list_users, False),
            Route("GET", ("users", "{user}"), get_user, False),
            Route("GET", ("groups",), list_groups, False),
            Route("GET", ("groups", "{}"), get_group, False),
            Route("GET", ("groups", "{}", "members"), list_members, False),
            Route("GET", ("users", "{user}", "mailfolders"), graph_mail.list_folders, True),
            Route("GET", ("users", "{user}", "mailfolders", "{}"), graph_mail.get_folder, True),
            Route(
                "GET",
                ("users", "{user}", "mailfolders", "{}", "childfolders"),
                graph_mail.list_folders,
                True,
            ),
            Route(
                "GET",
                ("users", "{user}", "mailfolders", "{}", "messages", "delta"),
                graph_mail.message_delta,
                True,
            ),
            Route(
                "GET",
                ("users", "{user}", "mailfolders", "{}", "messages"),
                graph_mail.list_messages,
                True,
            ),
            Route(
                "GET",
                ("users", "{user}", "mailfolders", "{}", "messages", "{}"),
                graph_mail.get_message,
                True,
            ),
            Route("GET", ("users", "{user}", "messages"), graph_mail.list_messages, True),
            Route("GET", ("users", "{user}", "messages", "{}"), graph_mail.get_message, True),
            Route("POST", ("users", "{user}", "sendmail"), graph_mail.send_mail, True),
            Route(
                "GET",
                ("users", "{user}", "calendarview", "delta"),
                graph_calendar.calendar_view_delta,
                True,
            ),
            Route("GET", ("communications", "callrecords"), graph_calls.list_call_records, False),
            Route(
                "GET", ("communications", "callrecords", "{}"), graph_calls.get_call_record, False
            ),
            Route("GET", ("subscriptions",), subs.list_all, False),
            Route("POST", ("subscriptions",), subs.create, False),
            Route("GET", ("subscriptions", "{}"), subs.get, False),
            Route("PATCH", ("subscriptions", "{}"), subs.update, False),
            Route("DELETE", ("subscriptions", "{}"), subs.delete, False),
            Route("POST", ("$batch",), self._batch, False),
        ]

    def handle(self, req: ApiRequest) -> ApiResponse:
        """Answer one Graph request (never raises)."""
        request_id = new_request_id()
        client_request_id = req.header("client-request-id") or request_id
        client_id: str | None = None
        mailbox: str | None = None
        try:
            token = self._authenticate(req)
            client_id = token.client_id
            route, ctx = self._route(req, token)
            mailbox = ctx.user.email if route.mailbox and ctx.user else None
            with self.services.faults.guard(client_id, mailbox):
                response = route.handler(ctx)
        except GraphError as exc:
            response = exc.to_response(request_id, client_request_id)
        except Exception as exc:  # a sandbox bug: answer like Graph, show it on stderr
            traceback.print_exc(file=sys.stderr)
            error = GraphError(500, "generalException", f"Sandbox internal error: {exc!r}")
            response = error.to_response(request_id, client_request_id)
        response.headers += [("request-id", request_id), ("client-request-id", client_request_id)]
        query = "&".join(f"{k}={v}" for k, v in req.query.items())
        self.log(
            RequestRecord(
                time.time(),
                req.method,
                req.path,
                mailbox,
                response.status,
                client_id,
                query,
                req.via_batch,
            )
        )
        return response

    def _authenticate(self, req: ApiRequest) -> AccessToken:
        header = req.header("authorization")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("Access token is empty.")
        token, problem = self.idp.validate(value.strip())
        if problem or token is None:
            raise _unauthorized(problem)
        if token.audience.rstrip("/") != GRAPH_RESOURCE:
            raise _unauthorized("Access token validation failure. Invalid audience.")
        return token

    def _route(self, req: ApiRequest, token: AccessToken) -> tuple[Route, Ctx]:
        parts = [p for p in req.path.split("/") if p][1:]  # drop "v1.0"
        segments: list[str] = []
        for part in parts:
            keyed = _KEY_SEGMENT.match(part)
            segments.extend((keyed.group(1), keyed.group(2).strip("'")) if keyed else (part,))
        if segments and segments[0].lower() == "me":
            if token.app_only:
                raise GraphError(
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                )
            segments = ["users", str(token.user), *segments[1:]]
        allowed: list[str] = []
        for route in self.routes:
            if len(route.pattern) != len(segments) or not all(
                p in ("{}", "{user}") or p == s.lower()
                for p, s in zip(route.pattern, segments, strict=True)
            ):
                continue
            if route.method != req.method:
                allowed.append(route.method)
                continue
            ctx = Ctx(req, token, self.services)
            args: list[str] = []
            for p, s in zip(route.pattern, segments, strict=True):
                if p == "{user}":
                    ctx.user = self._user(s, deep=len(segments) > 2)
                elif p == "{}":
                    args.append(s)
            ctx.args = tuple(args)
            return route, ctx
        if allowed:
            raise GraphError(
                405,
                "Request_BadRequest",
                f"The method {req.method} is not allowed on this resource.",
            )
        unknown = next(
            (s for s in segments if s.lower() not in _KNOWN_SEGMENTS),
            segments[-1] if segments else "",
        )
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{unknown}'.")

    def _user(self, ref: str, *, deep: bool) -> User:
        user = self.services.state.user(ref.strip("'"))
        if user is not None:
            return user
        if deep:  # a mailbox path: Exchange's error
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{ref}' does not exist or one of its queried reference-property objects "
            "are not present.",
        )

    # ---- JSON batching -------------------------------------------------------------------

    def _batch(self, ctx: Ctx) -> ApiResponse:
        """JSON batching (``POST /$batch``): at most 20 requests with unique ids; ``dependsOn``
        honoured (424 when a dependency failed); each step is authenticated and throttled on
        its own; responses come back in an order that differs from the request order."""
        body = ctx.req.json()
        steps = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(steps, list) or not steps:
            raise GraphError(
                400, "BadRequest", "Invalid batch payload format: 'requests' is required."
            )
        if len(steps) > MAX_BATCH:
            raise GraphError(
                400,
                "BadRequest",
                f"Number of batch request steps exceeds the maximum of {MAX_BATCH}.",
            )
        ids = [str(step.get("id", "")) if isinstance(step, dict) else "" for step in steps]
        if "" in ids or len(set(ids)) != len(ids):
            raise GraphError(
                400, "BadRequest", "Batch request step ids must be present and unique."
            )
        for step in steps:
            if step.get("body") is not None and not _has_content_type(step.get("headers")):
                raise GraphError(
                    400, "BadRequest", f"Step '{step['id']}': a body needs a Content-Type header."
                )
            unknown = set(step.get("dependsOn") or ()) - set(ids)
            if unknown:
                raise GraphError(
                    400,
                    "BadRequest",
                    f"Step '{step['id']}' depends on unknown ids {sorted(unknown)}.",
                )
        results: dict[str, ApiResponse] = {}
        pending = list(steps)
        while pending:
            ready = [s for s in pending if set(s.get("dependsOn") or ()) <= set(results)]
            if not ready:
                raise GraphError(400, "BadRequest", "Batch dependsOn forms a cycle.")
            for step in ready:
                pending.remove(step)
                failed = [d for d in step.get("dependsOn") or () if results[d].status >= 400]
                if failed:
                    error = GraphError(424, "FailedDependency", f"Dependency {failed[0]} failed.")
                    results[step["id"]] = error.to_response(new_request_id(), new_request_id())
                else:
                    results[step["id"]] = self._run_step(ctx.req, step)
        responses = []
        for step_id in sorted(results, key=lambda i: hashlib.sha1(i.encode()).hexdigest()):
            result = results[step_id]
            headers = {
                k: v
                for k, v in result.headers
                if k.lower() not in ("request-id", "client-request-id")
            }
            content_type = result.content_type()
            if content_type:
                headers["Content-Type"] = content_type
            body = result.payload if result.text is None else result.text
            responses.append(
                {"id": step_id, "status": result.status, "headers": headers, "body": body}
            )
        return json_response({"responses": responses})

    def _run_step(self, outer: ApiRequest, step: dict[str, Any]) -> ApiResponse:
        url = str(step.get("url") or "")
        parts = urlsplit(url)
        if parts.scheme or not parts.path or parts.path.lstrip("/").lower().startswith("$batch"):
            error = GraphError(
                400, "BadRequest", f"Invalid batch step URL '{url}': use a relative URL."
            )
            return error.to_response(new_request_id(), new_request_id())
        headers = {str(k).lower(): str(v) for k, v in (step.get("headers") or {}).items()}
        headers["authorization"] = outer.header("authorization")
        body = step.get("body")
        sub = ApiRequest(
            method=str(step.get("method") or "GET").upper(),
            path="/v1.0/" + parts.path.lstrip("/"),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            body=b"" if body is None else json.dumps(body).encode(),
            via_batch=True,
        )
        return self.handle(sub)


_KNOWN_SEGMENTS = {
    "users",
    "groups",
    "members",
    "mailfolders",
    "childfolders",
    "messages",
    "delta",
    "sendmail",
    "calendarview",
    "communications",
    "callrecords",
    "subscriptions",
    "$batch",
}


def _has_content_type(headers: Any) -> bool:
    return isinstance(headers, dict) and any(str(k).lower() == "content-type" for k in headers)


def _unauthorized(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        headers={"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
    )
