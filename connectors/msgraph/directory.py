"""Which mailboxes and which folders: the explicit list and/or a group's members; well-known
folder names, display names (or paths like ``Inbox/Customers``), or the whole folder tree."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from connectors.base import StreamGoneError
from connectors.msgraph import operations
from connectors.msgraph.settings import WELL_KNOWN_FOLDERS, GraphSettings, MailboxInfo
from connectors.msgraph.transport import GraphTransport
from connectors.normalize import normalize_address

log = logging.getLogger(__name__)

ALL_FOLDERS = "all"
# Walked with ("all",) but never synced: no correspondence there (drafts are skipped anyway,
# deleted/junk/outbox copies would only duplicate or pollute sightings).
EXCLUDED_FROM_ALL = ("drafts", "deleteditems", "junkemail", "outbox", "conversationhistory",
                     "syncissues")  # fmt: skip
KEPT_NAMES = ("inbox", "sentitems", "archive")


@dataclass(frozen=True, slots=True)
class FolderChoice:
    ref: str  # well-known name or folder id: the stream key and URL segment
    label: str  # Interaction.folder: well-known name or display path


def mailbox_info(user: dict[str, Any]) -> MailboxInfo | None:
    """A directory user -> MailboxInfo; None when it has no usable address (no mailbox)."""
    address = None
    for field in ("mail", "userPrincipalName"):
        value = user.get(field)
        if isinstance(value, str):
            address = normalize_address(value)
            if address and not address.startswith("x500:"):
                break
            address = None
    if address is None or not user.get("id"):
        return None
    return MailboxInfo(address, str(user.get("displayName") or ""), str(user["id"]))


def resolve_mailboxes(
    transport: GraphTransport, settings: GraphSettings
) -> tuple[list[MailboxInfo], list[str]]:
    """(mailboxes, problems): the configured mailboxes that exist, deduplicated by address,
    in configuration order (explicit list first, then the group's members).

    Raises: StreamGoneError when the group does not exist; what `GraphTransport.get` raises.
    """
    found: dict[str, MailboxInfo] = {}
    problems: list[str] = []
    explicit = list(settings.mailboxes)
    if settings.delegated_username and not explicit and not settings.group:
        explicit = [settings.delegated_username]
    for ref in explicit:
        delegated_self = (
            settings.delegated_username is not None
            and ref.strip().lower() == settings.delegated_username.strip().lower()
        )
        try:
            user = operations.get_user(transport, ref, me=delegated_self)
        except StreamGoneError:
            problems.append(f"mailbox {ref!r} does not exist in tenant {settings.tenant_id!r}")
            continue
        info = mailbox_info(user)
        if info is None:
            problems.append(f"{ref!r} has no mail address (no Exchange mailbox)")
        else:
            found.setdefault(info.address, info)
    if settings.group:
        groups = operations.list_groups(transport, settings.group)
        if not groups:
            raise StreamGoneError(
                f"no group named {settings.group!r} in tenant {settings.tenant_id!r}"
            )
        if len(groups) > 1:
            problems.append(f"{len(groups)} groups are named {settings.group!r}; using all")
        for group in groups:
            for member in operations.list_group_members(
                transport, str(group["id"]), settings.group
            ):
                kind = str(member.get("@odata.type") or "#microsoft.graph.user")
                if kind != "#microsoft.graph.user":
                    continue  # nested groups, devices, service principals
                info = mailbox_info(member)
                if info is not None:
                    found.setdefault(info.address, info)
    for problem in problems:
        log.warning("%s: %s", settings.name, problem)
    return list(found.values()), problems


def _walk(transport: GraphTransport, mailbox: MailboxInfo) -> list[tuple[str, str]]:
    """Every folder as (id, display path), breadth first."""
    out: list[tuple[str, str]] = []
    queue: deque[tuple[str | None, str]] = deque([(None, "")])
    while queue:
        parent, prefix = queue.popleft()
        for folder in operations.list_mail_folders(
            transport, mailbox.address, mailbox.user_id, parent
        ):
            folder_id = str(folder.get("id") or "")
            if not folder_id:
                continue
            path = f"{prefix}{folder.get('displayName') or folder_id}"
            out.append((folder_id, path))
            if int(folder.get("childFolderCount") or 0) > 0:
                queue.append((folder_id, f"{path}/"))
    return out


def resolve_folders(
    transport: GraphTransport, mailbox: MailboxInfo, folders: tuple[str, ...]
) -> tuple[list[FolderChoice], list[str]]:
    """(folders to sync, problems). Well-known names cost no request; display names and
    ``all`` walk the folder tree once.

    Raises: what `GraphTransport.get` raises.
    """
    choices: dict[str, FolderChoice] = {}
    problems: list[str] = []
    tree: list[tuple[str, str]] | None = None
    for wanted in folders:
        name = wanted.strip()
        lowered = name.lower()
        if lowered in WELL_KNOWN_FOLDERS:
            choices.setdefault(lowered, FolderChoice(lowered, lowered))
            continue
        if tree is None:
            tree = _walk(transport, mailbox)
        if lowered == ALL_FOLDERS:
            well_known: dict[str, str] = {}
            for known in (*KEPT_NAMES, *EXCLUDED_FROM_ALL):
                try:
                    folder = operations.get_mail_folder(
                        transport, mailbox.address, mailbox.user_id, known
                    )
                except StreamGoneError:
                    continue  # not every mailbox has every well-known folder
                well_known[str(folder.get("id"))] = known
            for folder_id, path in tree:
                known_name = well_known.get(folder_id)
                if known_name in EXCLUDED_FROM_ALL:
                    continue
                choice = (
                    FolderChoice(known_name, known_name)
                    if known_name
                    else FolderChoice(folder_id, path)
                )
                choices.setdefault(choice.ref, choice)
            continue
        matches = [
            (fid, path)
            for fid, path in tree
            if path.lower() == lowered or path.rsplit("/", 1)[-1].lower() == lowered
        ]
        if not matches:
            problems.append(f"{mailbox.address} has no folder named {name!r}")
            continue
        if len(matches) > 1:
            problems.append(
                f"{mailbox.address}: {len(matches)} folders are named {name!r}; using "
                f"{matches[0][1]!r} (give the path, e.g. 'Inbox/{name}')"
            )
        folder_id, path = matches[0]
        choices.setdefault(folder_id, FolderChoice(folder_id, path))
    for problem in problems:
        log.warning("%s", problem)
    return list(choices.values()), problems
