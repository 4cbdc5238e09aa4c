"""The sandbox's Exchange Web Services endpoint, ``POST /EWS/Exchange.asmx``, over the same tenant
state as Graph (the same mailboxes, messages and calendars).

Operations served (what exchangelib 5.6 sends for our connector, M365-NOTES 3.6): GetFolder,
SyncFolderHierarchy, SyncFolderItems (paged, Create/Update/Delete/ReadFlagChange), GetItem,
FindItem (CalendarView with recurring series expanded, or an indexed page), ResolveNames (legacy
DNs and SMTP addresses) and ConvertId (exchangelib's version probe). Anything else gets the
``ErrorInvalidRequest`` response a real server gives for an operation it does not support.

Auth (ews_auth.py): a Bearer token issued by the sandbox IdP for ``https://outlook.office365.com``
(app-only tokens must impersonate, as Exchange Online requires), or an on-premises account
(`EwsApi.add_account`) over HTTP Basic or NTLM (pyspnego's acceptor, per keep-alive connection);
`EwsApi.auth.require("NTLM")` turns the others off, as a server with only Windows
authentication enabled.

Autodiscover is not served: exchangelib finds it through DNS names of the mail domain
(``autodiscover.<domain>``, SRV records), which a loopback sandbox cannot own. The connector
takes an explicit ``service_endpoint`` against the sandbox; autodiscover is for real servers.

Internal senders and organizers are sent as ``RoutingType=EX`` legacy DNs (as on-premises
Exchange does for mail that never left the organisation) when `legacy_dn_senders` is on, so
clients must resolve them (ResolveNames) to find the SMTP address Graph would have shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# lxml comes with exchangelib (a declared dependency); it ships no type stubs.
from lxml import etree  # type: ignore[import-untyped]

from syncd.sandbox import ews_xml as x
from syncd.sandbox.calendar import EventVersion, Occurrence
from syncd.sandbox.ews_auth import EwsAuth, Unauthorized
from syncd.sandbox.ews_faults import EwsFaults
from syncd.sandbox.graph_api import RequestRecord
from syncd.sandbox.idp import IdentityProvider
from syncd.sandbox.ids import TokenCodec, outlook_id, parse_iso
from syncd.sandbox.state import (
    ROOT_FOLDER,
    ChangeLog,
    Folder,
    Mailbox,
    MessageVersion,
    SandboxState,
)
from syncd.sandbox.wire import ApiRequest, ApiResponse

EWS_RESOURCE = "https://outlook.office365.com"
PATH = "/ews/exchange.asmx"
DEFAULT_MAX_CHANGES = 100
MAX_CHANGES = 512  # SyncFolderItems MaxChangesReturned upper bound (schema: 1..512)
XML = [("Content-Type", "text/xml; charset=utf-8")]


class _SoapFault(Exception):
    def __init__(self, status: int, code: str, text: str, values: tuple[tuple[str, str], ...] = (),
                 challenge: str | None = None):
        super().__init__(text)
        self.status, self.code, self.text, self.values = status, code, text, values
        self.challenge = challenge  # an NTLM Challenge for the WWW-Authenticate header


@dataclass(slots=True)
class _Ctx:
    request: etree._Element  # the operation element (first child of s:Body)
    mailbox: Mailbox
    operation: str


class _LogIndex:
    """First and earlier positions per item in an append-only ChangeLog, built incrementally
    (the log itself only keeps the latest position of mail items)."""

    __slots__ = ("positions", "scanned")

    def __init__(self) -> None:
        self.scanned = 0
        self.positions: dict[str, list[int]] = {}

    def update(self, log: ChangeLog) -> None:
        for pos in range(self.scanned, len(log.entries)):
            self.positions.setdefault(log.entries[pos].item_id, []).append(pos)
        self.scanned = len(log.entries)


class EwsApi:
    """Handles ``/EWS/Exchange.asmx``. Thread-safe through the state lock."""

    def __init__(
        self,
        state: SandboxState,
        idp: IdentityProvider,
        log: Callable[[RequestRecord], None],
        *,
        key: bytes,
    ) -> None:
        self.state = state
        self.idp = idp
        self.faults = EwsFaults()
        self.legacy_dn_senders = True
        self._log = log
        self._codec = TokenCodec(key + b"|ews")
        self.auth = EwsAuth(idp, EWS_RESOURCE)
        self._indexes: dict[str, _LogIndex] = {}
        self._occurrences: dict[str, tuple[str, str, datetime, datetime, datetime]] = {}
        self._dns: dict[str, str] = {}  # lower-cased legacy DN -> email

    def add_account(self, username: str, password: str) -> None:
        """An on-premises account (``DOMAIN\\user`` or a UPN) accepted over Basic and NTLM,
        who may open their own mailbox and impersonate others (ApplicationImpersonation).

        Raises: ValueError (see `EwsAuth.add_account`).
        """
        self.auth.add_account(username, password)

    def legacy_dn(self, email: str) -> str:
        return x.legacy_dn(self.state.tenant, email.lower())

    # ---- request path --------------------------------------------------------------------

    def handle(self, req: ApiRequest, connection: Hashable | None = None) -> ApiResponse:
        """One POST to /EWS/Exchange.asmx. ``connection``: what names the client's connection
        while it lives, e.g. its address and port (NTLM authenticates connections,
        ews_auth.py); without it only Bearer and Basic can succeed."""
        operation, mailbox, client_id, status = "?", None, None, 500
        try:
            if req.method != "POST":
                raise _SoapFault(405, "ErrorInvalidRequest", "EWS takes SOAP over POST.")
            principal, client_id, app_only = self._authenticate(req, connection)
            root = self._parse(req.body)
            header = root.find(f"{{{x.SOAP}}}Header")
            body = root.find(f"{{{x.SOAP}}}Body")
            if body is None or len(body) == 0:
                raise _SoapFault(500, "ErrorInvalidRequest", "The request has no SOAP body.")
            request = body[0]
            operation = etree.QName(request).localname
            mailbox = self._mailbox_address(req, header, principal, app_only, request)
            fault = self.faults.take(mailbox, operation=operation)
            if fault is not None and fault.kind != "item-not-found":
                raise self._injected(fault.kind, fault.back_off_ms)
            response = self._dispatch(
                operation, request, mailbox, item_not_found=fault is not None
            )
            status = response.status
            return response
        except _SoapFault as exc:
            status = exc.status
            if exc.status in (401, 503, 405):
                headers: list[tuple[str, str]] = []
                if exc.challenge is not None:
                    headers.append(("WWW-Authenticate", exc.challenge))
                elif exc.status == 401:
                    headers.extend(self.auth.www_authenticate())
                # exchangelib reads "Connection: close" before the status code: a 401 or 503
                # on a closing connection would reach it as "closed connection". IIS keeps
                # the connection open on these (the NTLM handshake needs it); saying so
                # explicitly keeps that true whatever the HTTP server's default (a server
                # that closes anyway makes it "keep-alive, close", and the client still
                # judges the status).
                headers.append(("Connection", "keep-alive"))
                return ApiResponse(exc.status, text=exc.text, headers=headers)
            return ApiResponse(
                exc.status, text=x.soap_fault(exc.code, exc.text, exc.values).decode(), headers=XML
            )
        finally:
            self._log(
                RequestRecord(time.time(), req.method, f"{req.path}#{operation}", mailbox, status,
                              client_id)
            )

    @staticmethod
    def _injected(kind: str, back_off_ms: int) -> _SoapFault:
        if kind == "busy":
            return _SoapFault(
                500,
                "ErrorServerBusy",
                "The server cannot service this request right now. Try again later.",
                (("BackOffMilliseconds", str(back_off_ms)),),
            )
        if kind == "401":
            return _SoapFault(401, "", "401 - Unauthorized: Access is denied due to invalid "
                              "credentials.")
        return _SoapFault(503, "", "Service Unavailable")

    def _authenticate(
        self, req: ApiRequest, connection: Hashable | None
    ) -> tuple[str | None, str | None, bool]:
        """(user or None for app-only, client id, app_only). Raises _SoapFault 401."""
        try:
            who = self.auth.authenticate(req.header("authorization"), connection)
        except Unauthorized as exc:
            raise _SoapFault(401, "", exc.text, challenge=exc.challenge) from exc
        return who.user, who.client_id, who.app_only

    @staticmethod
    def _parse(body: bytes) -> etree._Element:
        try:
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            root: etree._Element = etree.fromstring(body, parser)
        except etree.XMLSyntaxError as exc:
            raise _SoapFault(500, "ErrorSchemaValidation", f"The request failed schema "
                             f"validation: {exc}") from exc
        return root

    def _mailbox_address(
        self,
        req: ApiRequest,
        header: etree._Element | None,
        principal: str | None,
        app_only: bool,
        request: etree._Element,
    ) -> str | None:
        """The mailbox a request acts on: ExchangeImpersonation, else the mailbox named in a
        DistinguishedFolderId, else the signed-in user (X-AnchorMailbox only routes)."""
        if header is not None:
            sid = header.find(f"{x.t('ExchangeImpersonation')}/{x.t('ConnectingSID')}")
            if sid is not None and len(sid):
                return str(sid[0].text or "").strip().lower() or None
        named = request.find(f".//{x.t('DistinguishedFolderId')}/{x.t('Mailbox')}/"
                             f"{x.t('EmailAddress')}")
        if named is not None and named.text:
            return str(named.text).strip().lower()
        if principal:
            return principal
        anchor = req.header("x-anchormailbox").strip().lower()
        if app_only and not anchor:
            return None
        return anchor or None

    def _dispatch(
        self, operation: str, request: etree._Element, mailbox: str | None, *, item_not_found: bool
    ) -> ApiResponse:
        if operation == "ResolveNames":
            return self._resolve_names(request)
        if operation == "ConvertId":
            return self._convert_id(request)
        handlers: dict[str, Callable[[_Ctx], etree._Element]] = {
            "GetFolder": self._get_folder,
            "SyncFolderHierarchy": self._sync_folder_hierarchy,
            "SyncFolderItems": self._sync_folder_items,
            "GetItem": self._get_item_faulty if item_not_found else self._get_item,
            "FindItem": self._find_item,
        }
        handler = handlers.get(operation)
        if handler is None:
            raise _SoapFault(500, "ErrorInvalidRequest",
                             f"The sandbox does not implement the {operation} operation.")
        if mailbox is None:
            raise _SoapFault(500, "ErrorImpersonateUserDenied",
                             "An app-only token must impersonate a mailbox "
                             "(ExchangeImpersonation header).")
        box = self.state.mailbox(mailbox)
        if box is None:
            raise _SoapFault(500, "ErrorNonExistentMailbox",
                             f"The SMTP address has no mailbox associated with it: {mailbox}")
        with self.state.lock:
            env = handler(_Ctx(request, box, operation))
        return ApiResponse(200, text=x.to_bytes(env).decode(), headers=XML)

    # ---- folders -------------------------------------------------------------------------

    def _root_id(self, box: Mailbox) -> str:
        return outlook_id("AQMkA", self.state.tenant, box.owner, "root")

    def _calendar_id(self, box: Mailbox) -> str:
        return outlook_id("AQMkA", self.state.tenant, box.owner, "calendar")

    def _folder_ref(self, box: Mailbox, holder: etree._Element) -> tuple[str, Folder | None]:
        """(folder id, mail Folder or None for root/calendar) of a FolderId or
        DistinguishedFolderId element. Raises KeyError when unknown, ValueError when the id
        is not an id this server could have issued (ErrorInvalidIdMalformed)."""
        ref = holder.get("Id") or ""
        if etree.QName(holder).localname == "FolderId" and not _well_formed(ref, "AQMkA"):
            raise ValueError(ref)
        if etree.QName(holder).localname == "DistinguishedFolderId":
            ref = ref.lower()
            if ref == "root":
                return self._root_id(box), None
            if ref == "calendar":
                return self._calendar_id(box), None
        if ref in (self._root_id(box), self._calendar_id(box)):
            return ref, None
        folder = box.folder(ref)
        if folder is None:
            raise KeyError(ref)
        return folder.id, folder

    def _folder_element(self, parent: etree._Element, box: Mailbox, folder_id: str,
                        folder: Folder | None) -> None:
        if folder is None and folder_id == self._calendar_id(box):
            el = x.sub(parent, x.t("CalendarFolder"))
            x.sub(el, x.t("FolderId"), Id=folder_id, ChangeKey="AgAAAA==")
            x.sub(el, x.t("ParentFolderId"), Id=box.well_known[ROOT_FOLDER])
            x.sub(el, x.t("FolderClass"), "IPF.Appointment")
            x.sub(el, x.t("DisplayName"), "Calendar")
            x.sub(el, x.t("TotalCount"), str(len(box.calendar.items)))
            x.sub(el, x.t("ChildFolderCount"), "0")
            return
        el = x.sub(parent, x.t("Folder"))
        x.sub(el, x.t("FolderId"), Id=folder_id, ChangeKey="AQAAAA==")
        if folder is None:  # root
            x.sub(el, x.t("FolderClass"), "IPF.Note")
            x.sub(el, x.t("DisplayName"), "Root")
            x.sub(el, x.t("TotalCount"), "0")
            x.sub(el, x.t("ChildFolderCount"), "1")
            x.sub(el, x.t("UnreadCount"), "0")
            return
        parent_id = folder.parent_id or self._root_id(box)
        x.sub(el, x.t("ParentFolderId"), Id=parent_id)
        x.sub(el, x.t("FolderClass"), "IPF.Note")
        x.sub(el, x.t("DisplayName"), folder.name)
        x.sub(el, x.t("TotalCount"), str(len(folder.log.items)))
        children = len(folder.children) + (1 if folder.well_known == ROOT_FOLDER else 0)
        x.sub(el, x.t("ChildFolderCount"), str(children))
        x.sub(el, x.t("UnreadCount"), str(folder.unread))

    def _get_folder(self, ctx: _Ctx) -> etree._Element:
        env, body = x.envelope()
        messages = x.response_messages(body, "GetFolder")
        ids = ctx.request.find(x.m("FolderIds"))
        for holder in ids if ids is not None else ():
            try:
                folder_id, folder = self._folder_ref(ctx.mailbox, holder)
            except ValueError:
                x.response_message(messages, "GetFolder", "ErrorInvalidIdMalformed",
                                   "Id is malformed.")
                continue
            except KeyError:
                x.response_message(messages, "GetFolder", "ErrorFolderNotFound",
                                   "The specified folder could not be found in the store.")
                continue
            message = x.response_message(messages, "GetFolder")
            folders = x.sub(message, x.m("Folders"))
            self._folder_element(folders, ctx.mailbox, folder_id, folder)
        return env

    def _sync_folder_hierarchy(self, ctx: _Ctx) -> etree._Element:
        """Folders never change in the sandbox after creation: a first sync lists them all."""
        box = ctx.mailbox
        env, body = x.envelope()
        messages = x.response_messages(body, "SyncFolderHierarchy")
        state = (ctx.request.findtext(x.m("SyncState")) or "").strip()
        known = self._codec.decode(state) if state else None
        if state and (known is None or known.get("o") != box.owner or known.get("h") != 1):
            error = x.response_message(
                messages, "SyncFolderHierarchy", "ErrorInvalidSyncStateData",
                "Synchronization state data is corrupt or otherwise invalid.")
            x.sub(error, x.m("SyncState"))
            x.sub(error, x.m("IncludesLastFolderInRange"), "true")
            return env
        message = x.response_message(messages, "SyncFolderHierarchy")
        x.sub(message, x.m("SyncState"), self._codec.encode({"o": box.owner, "h": 1}))
        x.sub(message, x.m("IncludesLastFolderInRange"), "true")
        changes = x.sub(message, x.m("Changes"))
        if not state:
            for folder in box.folders.values():
                self._folder_element(x.sub(changes, x.t("Create")), box, folder.id, folder)
            self._folder_element(x.sub(changes, x.t("Create")), box, self._calendar_id(box), None)
        return env

    # ---- SyncFolderItems -----------------------------------------------------------------

    @staticmethod
    def _fields(request: etree._Element) -> x.Fields:
        shape = request.find(x.m("ItemShape"))
        if shape is None:
            return frozenset()
        base = shape.findtext(x.t("BaseShape")) or "IdOnly"
        extra = shape.find(x.t("AdditionalProperties"))
        uris = frozenset(
            str(el.get("FieldURI")) for el in (extra if extra is not None else ())
            if el.get("FieldURI")
        )
        return uris if base == "IdOnly" else None

    def _index(self, key: str, log: ChangeLog) -> _LogIndex:
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = _LogIndex()
        index.update(log)
        return index

    def _sync_folder_items(self, ctx: _Ctx) -> etree._Element:
        """Changes after the position in the SyncState, at most MaxChangesReturned of them.
        Superseded log entries are skipped (only an item's latest state is reported)."""
        box, request = ctx.mailbox, ctx.request
        env, body = x.envelope()
        messages = x.response_messages(body, "SyncFolderItems")
        holder = request.find(f"{x.m('SyncFolderId')}/*")
        try:
            folder_id, folder = self._folder_ref(box, holder) if holder is not None else ("", None)
        except (KeyError, ValueError):
            folder_id, folder = "", None
        if not folder_id or (folder is None and folder_id != self._calendar_id(box)):
            x.response_message(messages, "SyncFolderItems", "ErrorFolderNotFound",
                               "The specified folder could not be found in the store.")
            return env
        log = folder.log if folder is not None else box.calendar
        position = 0
        token = (request.findtext(x.m("SyncState")) or "").strip()
        if token:
            state = self._codec.decode(token)
            if (
                state is None
                or state.get("o") != box.owner
                or state.get("f") != folder_id
                or not isinstance(state.get("p"), int)
                or self.faults.sync_state_invalid(box.owner, int(state.get("n", 0)))
            ):
                error = x.response_message(
                    messages, "SyncFolderItems", "ErrorInvalidSyncStateData",
                    "Synchronization state data is corrupt or otherwise invalid.")
                # As documented (syncfolderitems-operation, second response example): an
                # empty SyncState and IncludesLastItemInRange follow the error code.
                x.sub(error, x.m("SyncState"))
                x.sub(error, x.m("IncludesLastItemInRange"), "true")
                return env
            position = min(int(state["p"]), len(log.entries))
        try:
            limit = int(request.findtext(x.m("MaxChangesReturned")) or DEFAULT_MAX_CHANGES)
        except ValueError:
            limit = DEFAULT_MAX_CHANGES
        limit = max(1, min(MAX_CHANGES, limit))
        fields = self._fields(request)
        index = self._index(f"{box.owner}|{folder_id}", log)
        message = x.response_message(messages, "SyncFolderItems")
        state_el = x.sub(message, x.m("SyncState"))
        last_el = x.sub(message, x.m("IncludesLastItemInRange"))
        changes = x.sub(message, x.m("Changes"))
        count, pos, end = 0, position, len(log.entries)
        dn_of = self._dn_resolver()
        while pos < end and count < limit:
            entry = log.entries[pos]
            pos += 1
            if not log.is_live(pos - 1):
                continue
            earlier = [p for p in index.positions.get(entry.item_id, ()) if p < position]
            if entry.version is None:
                if earlier:  # the client may know this item: tell it
                    x.sub(x.sub(changes, x.t("Delete")), x.t("ItemId"), Id=entry.item_id)
                    count += 1
                continue
            if earlier and isinstance(entry.version, MessageVersion):
                before = log.entries[earlier[-1]].version
                if isinstance(before, MessageVersion) and _read_flag_only(before, entry.version):
                    change = x.sub(changes, x.t("ReadFlagChange"))
                    x.sub(change, x.t("ItemId"), Id=entry.item_id,
                          ChangeKey=str(entry.version.own.get("changeKey") or ""))
                    x.sub(change, x.t("IsRead"), "true" if entry.version.is_read else "false")
                    count += 1
                    continue
            change = x.sub(changes, x.t("Update" if earlier else "Create"))
            if isinstance(entry.version, MessageVersion):
                x.message_element(change, entry.version, fields, dn_of, folder_id=folder_id)
            else:
                x.calendar_element(change, entry.version, None, fields, dn_of, folder_id=folder_id)
            count += 1
        state_el.text = self._codec.encode(
            {"o": box.owner, "f": folder_id, "p": pos, "n": self.faults.next_sync_serial()}
        )
        last_el.text = "true" if pos >= end else "false"
        return env

    def _dn_resolver(self) -> Callable[[str], str | None]:
        if not self.legacy_dn_senders:
            return lambda _email: None
        users = self.state.users

        def dn_of(email: str) -> str | None:
            return self.legacy_dn(email) if email.lower() in users else None

        return dn_of

    # ---- GetItem / FindItem --------------------------------------------------------------

    def _find_any(self, box: Mailbox, item_id: str) -> tuple[Any, Occurrence | None, str] | None:
        folder_id = box.where.get(item_id)
        if folder_id is not None:
            return box.folders[folder_id].log.items[item_id], None, folder_id
        version = box.calendar.items.get(item_id)
        if version is not None:
            return version, None, self._calendar_id(box)
        known = self._occurrences.get(item_id)
        if known is None or known[0] != box.owner:
            return None
        _owner, master_id, _original, lo, hi = known
        master: EventVersion | None = box.calendar.items.get(master_id)
        if master is None:
            return None
        for occ in master.occurrences(lo, hi):
            if occ.id == item_id:
                return master, occ, self._calendar_id(box)
        return None

    def _get_item(self, ctx: _Ctx) -> etree._Element:
        box = ctx.mailbox
        env, body = x.envelope()
        messages = x.response_messages(body, "GetItem")
        fields = self._fields(ctx.request)
        dn_of = self._dn_resolver()
        ids = ctx.request.find(x.m("ItemIds"))
        for holder in ids if ids is not None else ():
            if not _well_formed(holder.get("Id") or "", "AAMk"):
                x.response_message(messages, "GetItem", "ErrorInvalidIdMalformed",
                                   "Id is malformed.")
                continue
            found = self._find_any(box, holder.get("Id") or "")
            if found is None:
                x.response_message(messages, "GetItem", "ErrorItemNotFound",
                                   "The specified object was not found in the store.")
                continue
            version, occurrence, folder_id = found
            items = x.sub(x.response_message(messages, "GetItem"), x.m("Items"))
            if isinstance(version, MessageVersion):
                x.message_element(items, version, fields, dn_of, folder_id=folder_id)
            else:
                x.calendar_element(items, version, occurrence, fields, dn_of, folder_id=folder_id)
        return env

    def _get_item_faulty(self, ctx: _Ctx) -> etree._Element:
        env, body = x.envelope()
        messages = x.response_messages(body, "GetItem")
        ids = ctx.request.find(x.m("ItemIds"))
        for _holder in ids if ids is not None else ():
            x.response_message(messages, "GetItem", "ErrorItemNotFound",
                               "The specified object was not found in the store.")
        return env

    def _find_item(self, ctx: _Ctx) -> etree._Element:
        box, request = ctx.mailbox, ctx.request
        env, body = x.envelope()
        messages = x.response_messages(body, "FindItem")
        holder = request.find(f"{x.m('ParentFolderIds')}/*")
        try:
            folder_id, folder = self._folder_ref(box, holder) if holder is not None else ("", None)
        except ValueError:
            x.response_message(messages, "FindItem", "ErrorInvalidIdMalformed", "Id is malformed.")
            return env
        except KeyError:
            folder_id, folder = "", None
        if not folder_id:
            x.response_message(messages, "FindItem", "ErrorFolderNotFound",
                               "The specified folder could not be found in the store.")
            return env
        fields = self._fields(request)
        dn_of = self._dn_resolver()
        view = request.find(x.m("CalendarView"))
        if view is not None:
            return self._calendar_view(env, messages, box, view, fields, dn_of)
        items_all: list[MessageVersion] = (
            sorted(folder.log.items.values(),
                   key=lambda v: str(v.own.get("receivedDateTime") or ""), reverse=True)
            if folder is not None else []
        )
        paging = request.find(x.m("IndexedPageItemView"))
        offset, limit = 0, len(items_all) or 1
        if paging is not None:
            offset = int(paging.get("Offset") or 0)
            limit = int(paging.get("MaxEntriesReturned") or limit)
        page = items_all[offset : offset + limit]
        message = x.response_message(messages, "FindItem")
        last = offset + len(page) >= len(items_all)
        root = x.sub(message, x.m("RootFolder"), TotalItemsInView=str(len(items_all)),
                     IncludesLastItemInRange="true" if last else "false")
        if paging is not None:
            root.set("IndexedPagingOffset", str(offset + len(page)))
        items = x.sub(root, x.t("Items"))
        for version in page:
            x.message_element(items, version, fields, dn_of, folder_id=folder_id)
        return env

    def _calendar_view(self, env: etree._Element, messages: etree._Element, box: Mailbox,
                       view: etree._Element, fields: x.Fields,
                       dn_of: Callable[[str], str | None]) -> etree._Element:
        """CalendarView: single items and every instance of a series in [StartDate, EndDate),
        exceptions at their new time, cancelled instances left out; no series masters."""
        try:
            lo, hi = parse_iso(view.get("StartDate") or ""), parse_iso(view.get("EndDate") or "")
        except ValueError:
            x.response_message(messages, "FindItem", "ErrorInvalidRequest",
                               "CalendarView needs StartDate and EndDate.")
            return env
        found: list[tuple[EventVersion, Occurrence]] = []
        for version in box.calendar.items.values():
            if version.is_cancelled:
                continue
            for occ in version.occurrences(lo, hi):
                found.append((version, occ))
        found.sort(key=lambda pair: (pair[1].start, pair[1].id))
        limit = int(view.get("MaxEntriesReturned") or len(found) or 1)
        page = found[:limit]
        message = x.response_message(messages, "FindItem")
        root = x.sub(message, x.m("RootFolder"), TotalItemsInView=str(len(found)),
                     IncludesLastItemInRange="true" if len(page) == len(found) else "false")
        items = x.sub(root, x.t("Items"))
        calendar_id = self._calendar_id(box)
        for version, occ in page:
            if version.is_series:
                self._occurrences[occ.id] = (box.owner, version.id, occ.original_start or occ.start,
                                             lo, hi)
            x.calendar_element(items, version, occ if version.is_series else None, fields,
                               dn_of, folder_id=calendar_id)
        return env

    # ---- ResolveNames / ConvertId --------------------------------------------------------

    def _resolve_names(self, request: etree._Element) -> ApiResponse:
        entry = (request.findtext(x.m("UnresolvedEntry")) or "").strip()
        full = (request.get("ReturnFullContactData") or "").lower() == "true"
        matches = self._lookup(entry)
        env, body = x.envelope()
        messages = x.response_messages(body, "ResolveNames")
        if not matches:
            x.response_message(messages, "ResolveNames", "ErrorNameResolutionNoResults",
                               "No results were found.")
        else:
            message = x.response_message(messages, "ResolveNames")
            result = x.sub(message, x.m("ResolutionSet"), TotalItemsInView=str(len(matches)),
                           IncludesLastItemInRange="true")
            for email, name in matches:
                resolution = x.sub(result, x.t("Resolution"))
                x.mailbox(resolution, x.t("Mailbox"), name, email, None)
                if full:
                    contact = x.sub(resolution, x.t("Contact"))
                    x.sub(contact, x.t("DisplayName"), name)
                    addresses = x.sub(contact, x.t("EmailAddresses"))
                    x.sub(addresses, x.t("Entry"), f"SMTP:{email}", Key="EmailAddress1")
                    x.sub(contact, x.t("ContactSource"), "ActiveDirectory")
        return ApiResponse(200, text=x.to_bytes(env).decode(), headers=XML)

    def _lookup(self, entry: str) -> list[tuple[str, str]]:
        text = entry.strip()
        lowered = text.lower()
        with self.state.lock:
            users = list(self.state.users.values())
        if lowered.startswith(("ex:", "x500:")):
            lowered = lowered.partition(":")[2]
        if lowered.startswith("/o="):
            if len(self._dns) != len(users):
                self._dns = {self.legacy_dn(u.email).lower(): u.email for u in users}
            email = self._dns.get(lowered)
            user = self.state.user(email) if email else None
            return [(user.email, user.name)] if user else []
        lowered = lowered.removeprefix("smtp:")
        exact = [(u.email, u.name) for u in users if u.email == lowered]
        if exact:
            return exact
        return [(u.email, u.name) for u in users
                if u.name.lower().startswith(lowered) or u.email.startswith(lowered)]

    def _convert_id(self, request: etree._Element) -> ApiResponse:
        """exchangelib's version probe converts a dummy id: the answer that matters is the
        ServerVersionInfo header; the id itself is malformed, as on a real server."""
        env, body = x.envelope()
        messages = x.response_messages(body, "ConvertId")
        ids = request.find(x.m("SourceIds"))
        for _holder in ids if ids is not None else [None]:
            x.response_message(messages, "ConvertId", "ErrorInvalidIdMalformed",
                               "Id is malformed.")
        return ApiResponse(200, text=x.to_bytes(env).decode(), headers=XML)


def _read_flag_only(before: MessageVersion, after: MessageVersion) -> bool:
    if before.content is not after.content:
        return False
    ignore = {"isRead", "changeKey", "lastModifiedDateTime"}
    keys = (set(before.own) | set(after.own)) - ignore
    return before.is_read != after.is_read and all(
        before.own.get(k) == after.own.get(k) for k in keys
    )


_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def _well_formed(item_id: str, prefix: str) -> bool:
    """Ids this sandbox issues are a short prefix plus 44 URL-safe base64 characters
    (ids.outlook_id); anything else could not have come from it."""
    return (item_id.startswith(prefix) and 48 <= len(item_id) <= 52
            and set(item_id) <= _ID_CHARS)
