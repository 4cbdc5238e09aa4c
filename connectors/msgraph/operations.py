"""Wire level: one function per Microsoft Graph operation the connector uses.

Each is named after the operation and its docstring names the Microsoft doc page
(learn.microsoft.com/graph/api/<page>). They build URLs and query options and return Graph JSON;
interpretation (normalisation, cursors) is the streams' job. All raise what
`GraphTransport.get` raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from connectors.msgraph.limits import TENANT
from connectors.msgraph.transport import GraphCall, GraphTransport

Json = dict[str, Any]
USER_SELECT = "id,displayName,mail,userPrincipalName"


def _odata_string(value: str) -> str:
    """An OData string literal: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def _segment(value: str) -> str:
    return quote(value, safe="@.-_")


def get_user(transport: GraphTransport, ref: str, *, me: bool = False) -> Json:
    """Get user (user-get): ``GET /users/{id | userPrincipalName}`` or ``GET /me``."""
    path = "me" if me else f"users/{_segment(ref)}"
    call = GraphCall(f"the directory entry of {ref}", TENANT, "User.Read.All")
    return transport.get(transport.graph_url + path, call, params={"$select": USER_SELECT})


def list_users(transport: GraphTransport, top: int = 1) -> Json:
    """List users (user-list): ``GET /users?$top=..`` (one page; used as a permission probe)."""
    call = GraphCall("the user directory", TENANT, "User.Read.All")
    return transport.get(
        transport.graph_url + "users", call, params={"$select": "id", "$top": str(top)}
    )


def list_groups(transport: GraphTransport, display_name: str) -> list[Json]:
    """List groups (group-list): ``GET /groups?$filter=displayName eq '...'``."""
    call = GraphCall(f"the group {display_name!r}", TENANT, "GroupMember.Read.All")
    body = transport.get(
        transport.graph_url + "groups",
        call,
        params={"$filter": f"displayName eq {_odata_string(display_name)}", "$select": "id"},
    )
    return [g for g in body.get("value") or [] if isinstance(g, dict)]


def list_group_members(transport: GraphTransport, group_id: str, name: str) -> Iterator[Json]:
    """List group members (group-list-members): ``GET /groups/{id}/members``, every page."""
    call = GraphCall(f"the members of group {name!r}", TENANT, "GroupMember.Read.All")
    url: str | None = transport.graph_url + f"groups/{_segment(group_id)}/members"
    params: dict[str, str] | None = {"$select": USER_SELECT, "$top": "999"}
    while url:
        body = transport.get(url, call, params=params)
        yield from (m for m in body.get("value") or [] if isinstance(m, dict))
        url, params = body.get("@odata.nextLink"), None


def get_mail_folder(transport: GraphTransport, mailbox: str, user_id: str, folder: str) -> Json:
    """Get mailFolder (mailfolder-get): ``GET /users/{id}/mailFolders/{id | well-known name}``."""
    call = GraphCall(f"folder {folder!r} of {mailbox}", mailbox, "Mail.Read")
    url = transport.graph_url + f"users/{_segment(user_id)}/mailFolders/{_segment(folder)}"
    return transport.get(url, call, params={"$select": "id,displayName,childFolderCount"})


def list_mail_folders(
    transport: GraphTransport, mailbox: str, user_id: str, parent: str | None = None
) -> Iterator[Json]:
    """List mailFolders (user-list-mailfolders) or, under ``parent``, List childFolders
    (mailfolder-list-childfolders); every page."""
    base = transport.graph_url + f"users/{_segment(user_id)}/mailFolders"
    url: str | None = base if parent is None else f"{base}/{_segment(parent)}/childFolders"
    call = GraphCall(f"the folders of {mailbox}", mailbox, "Mail.Read")
    params: dict[str, str] | None = {
        "$select": "id,displayName,parentFolderId,childFolderCount",
        "$top": "100",
    }
    while url:
        body = transport.get(url, call, params=params)
        yield from (f for f in body.get("value") or [] if isinstance(f, dict))
        url, params = body.get("@odata.nextLink"), None


def message_delta(
    transport: GraphTransport,
    call: GraphCall,
    *,
    user_id: str,
    folder: str,
    select: tuple[str, ...],
    page_size: int,
    link: str | None,
) -> Json:
    """message: delta (message-delta): ``GET /users/{id}/mailFolders/{id}/messages/delta``.

    ``link`` is the nextLink/deltaLink to follow verbatim (query options are only sent on the
    initial request: Graph encodes them in the tokens).
    """
    prefer = (f"odata.maxpagesize={page_size}",)
    if link is not None:
        return transport.get(link, call, prefer=prefer)
    url = (
        transport.graph_url
        + f"users/{_segment(user_id)}/mailFolders/{_segment(folder)}/messages/delta"
    )
    return transport.get(url, call, params={"$select": ",".join(select)}, prefer=prefer)


def calendar_view_delta(
    transport: GraphTransport,
    call: GraphCall,
    *,
    user_id: str,
    start: str,
    end: str,
    page_size: int,
    link: str | None,
) -> Json:
    """event: delta (event-delta): ``GET /users/{id}/calendarView/delta?startDateTime&endDateTime``.

    No $select/$filter here (the operation refuses them). Times come back in UTC because we ask
    for it (``Prefer: outlook.timezone="UTC"``, which is also the default).
    """
    prefer = (f"odata.maxpagesize={page_size}", 'outlook.timezone="UTC"')
    if link is not None:
        return transport.get(link, call, prefer=prefer)
    url = transport.graph_url + f"users/{_segment(user_id)}/calendarView/delta"
    return transport.get(
        url, call, params={"startDateTime": start, "endDateTime": end}, prefer=prefer
    )


def list_call_records(
    transport: GraphTransport,
    call: GraphCall,
    *,
    since: str,
    page_size: int,
    link: str | None,
) -> Json:
    """List callRecords (callrecords-cloudcommunications-list-callrecords):
    ``GET /communications/callRecords?$filter=startDateTime ge ...&$expand=participants_v2``."""
    prefer = (f"odata.maxpagesize={page_size}",)
    if link is not None:
        return transport.get(link, call, prefer=prefer)
    return transport.get(
        transport.graph_url + "communications/callRecords",
        call,
        params={"$filter": f"startDateTime ge {since}", "$expand": "participants_v2"},
        prefer=prefer,
    )
