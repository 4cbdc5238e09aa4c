"""Mail endpoints: mail folders, messages, message delta and sendMail."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from syncd.sandbox.graph_common import (
    Ctx,
    applied,
    check_select,
    decode_token,
    gone_error,
    offset_page,
    page_size,
    parse_select,
    removed_item,
    require,
    require_own_mailbox,
)
from syncd.sandbox.ids import iso_z, outlook_id
from syncd.sandbox.mime import ParsedMessage, compose_raw
from syncd.sandbox.state import ROOT_FOLDER, Folder, Mailbox, MessageVersion, SentMail, User
from syncd.sandbox.wire import ApiResponse, GraphError, json_response

READ_ROLES = ("Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic.All", "Mail.ReadBasic")
READ_SCOPES = ("Mail.Read", "Mail.ReadWrite", "Mail.ReadBasic")
DEFAULT_DELTA_PAGE = 10  # about 10 per page without a Prefer (concepts/delta-query-messages)
MAX_PAGE = 1000
# Properties $select may name on a message (what we serve, plus internetMessageHeaders).
MESSAGE_PROPERTIES = frozenset(
    {
        "id",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "categories",
        "receivedDateTime",
        "sentDateTime",
        "hasAttachments",
        "internetMessageId",
        "subject",
        "bodyPreview",
        "importance",
        "parentFolderId",
        "conversationId",
        "conversationIndex",
        "isDeliveryReceiptRequested",
        "isReadReceiptRequested",
        "isRead",
        "isDraft",
        "webLink",
        "inferenceClassification",
        "body",
        "sender",
        "from",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "flag",
        "internetMessageHeaders",
    }
)
_ALWAYS = ("@odata.type", "@odata.etag", "id")
# Real Graph takes $filter=receivedDateTime ge, $orderby=receivedDateTime desc and
# changeType=; the sandbox refuses them rather than silently ignoring a filter.
_UNSUPPORTED_DELTA_OPTIONS = ("$filter", "$orderby", "$search", "$expand", "$count", "changeType")


def message_json(version: MessageVersion, select: list[str] | None) -> dict[str, Any]:
    """The message as Graph returns it: every default property, or the ``$select``ed ones
    plus ``id``/``@odata.*``. internetMessageHeaders comes only when selected, as in Graph."""
    full = version.graph()
    if select is None:
        return full
    item = {key: full[key] for key in _ALWAYS}
    for key in select:
        if key == "internetMessageHeaders":
            item[key] = [dict(h) for h in version.content.headers]
        elif key in full:
            item[key] = full[key]
    return item


def _mailbox(ctx: Ctx) -> tuple[User, Mailbox]:
    user = require_own_mailbox(ctx)
    box = ctx.state.mailboxes[user.email]
    return user, box


def _folder(box: Mailbox, ref: str) -> Folder:
    folder = box.folder(ref)
    if folder is None:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    return folder


# ---- mail folders ------------------------------------------------------------------------


def list_folders(ctx: Ctx) -> ApiResponse:
    """List mailFolders / List childFolders (``.../mailFolders[/{id}/childFolders]``)."""
    require(ctx, roles=READ_ROLES, scopes=READ_SCOPES)
    user, box = _mailbox(ctx)
    with ctx.state.lock:
        parent = _folder(box, ctx.args[0] if ctx.args else ROOT_FOLDER)
        folders = [box.folders[child].graph() for child in parent.children]
    link = f"{ctx.services.graph_url}users/{user.id}/mailFolders"
    if ctx.args:
        link += f"/{parent.id}/childFolders"
    select = parse_select(ctx.req.query.get("$select"))
    return offset_page(
        ctx,
        folders,
        link=link,
        kind="mf",
        default_top=10,
        max_top=MAX_PAGE,
        select=select,
        context=f"{ctx.services.graph_url}$metadata#users('{user.id}')/mailFolders",
        projector=lambda item, sel: (
            item if sel is None else {k: item[k] for k in ("id", *sel) if k in item}
        ),
    )


def get_folder(ctx: Ctx) -> ApiResponse:
    """Get mailFolder (``GET /users/{id}/mailFolders/{id}``)."""
    require(ctx, roles=READ_ROLES, scopes=READ_SCOPES)
    user, box = _mailbox(ctx)
    with ctx.state.lock:
        body = _folder(box, ctx.args[0]).graph()
    body["@odata.context"] = (
        f"{ctx.services.graph_url}$metadata#users('{user.id}')/mailFolders/$entity"
    )
    return json_response(body)


# ---- messages ----------------------------------------------------------------------------


def list_messages(ctx: Ctx) -> ApiResponse:
    """List messages (``/users/{id}/messages`` or ``/mailFolders/{id}/messages``), newest first."""
    require(ctx, roles=READ_ROLES, scopes=READ_SCOPES)
    user, box = _mailbox(ctx)
    select = parse_select(ctx.req.query.get("$select"))
    check_select(select, MESSAGE_PROPERTIES, "Microsoft.OutlookServices.Message")
    with ctx.state.lock:
        if ctx.args:
            versions = list(_folder(box, ctx.args[0]).log.items.values())
        else:
            versions = [v for f in box.folders.values() for v in f.log.items.values()]
    # Newest first, as Graph lists messages; only the page served is turned into JSON.
    versions.sort(key=lambda v: str(v.own["receivedDateTime"]), reverse=True)
    link = f"{ctx.services.graph_url}users/{user.id}/" + (
        f"mailFolders('{ctx.args[0]}')/messages" if ctx.args else "messages"
    )
    return offset_page(
        ctx,
        versions,
        link=link,
        kind="ml",
        default_top=10,
        max_top=MAX_PAGE,
        select=select,
        context=f"{ctx.services.graph_url}$metadata#users('{user.id}')/messages",
        projector=message_json,
    )


def get_message(ctx: Ctx) -> ApiResponse:
    """Get message (``GET /users/{id}/messages/{id}``, ``$select`` honoured)."""
    require(ctx, roles=READ_ROLES, scopes=READ_SCOPES)
    user, box = _mailbox(ctx)
    select = parse_select(ctx.req.query.get("$select"))
    check_select(select, MESSAGE_PROPERTIES, "Microsoft.OutlookServices.Message")
    message_id = ctx.args[-1]
    with ctx.state.lock:
        folder_id = box.where.get(message_id)
        if folder_id is None or (
            len(ctx.args) == 2 and box.folder(ctx.args[0]) is not box.folders[folder_id]
        ):
            raise GraphError(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        body = message_json(box.folders[folder_id].log.items[message_id], select)
    body["@odata.context"] = (
        f"{ctx.services.graph_url}$metadata#users('{user.id}')/messages/$entity"
    )
    return json_response(body)


def _malformed(kind: str, serial: int) -> dict[str, Any]:
    """A deliberately broken delta item (fault ``malformed``); it exists in no folder."""
    item_id = outlook_id("AAMkAD", "malformed", str(serial), kind)
    base: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.message",
        "@odata.etag": 'W/"CQAAABYAAAAmalformed"',
        "id": item_id,
    }
    if kind == "missing_fields":
        base.update({"subject": None, "isRead": False})  # no dates, sender or internetMessageId
        return base
    legacy_dn = (  # an Exchange X.500 address, as unresolved senders/recipients appear
        "/O=EXCHANGELABS/OU=EXCHANGE ADMINISTRATIVE GROUP (FYDIBOHF23SPDLT)"
        "/CN=RECIPIENTS/CN=4B1C2-JDOE"
    )
    base.update(
        {
            "internetMessageId": f"<malformed-{serial}@sandbox.invalid>",
            "subject": "Malformed sender",
            "receivedDateTime": iso_z(datetime.now(UTC)),
            "sentDateTime": "not-a-date",
            "sender": {"emailAddress": {"name": "???", "address": "not an address@@"}},
            "from": {"emailAddress": {"name": "", "address": ""}},
            "toRecipients": [{"emailAddress": {"name": "J Doe", "address": legacy_dn}}],
            "ccRecipients": [{"emailAddress": {"name": None}}],
            "bccRecipients": [],
            "isRead": False,
        }
    )
    return base


def message_delta(ctx: Ctx) -> ApiResponse:
    """message: delta (``GET /users/{id}/mailFolders/{id}/messages/delta``).

    Tokens carry the folder, the change-log position, the round's start, ``$select`` and the
    page size; query options are taken from the initial request only (as documented). A
    round that scans many superseded entries may return an empty page with a nextLink, which
    real Graph also does.
    """
    require(ctx, roles=READ_ROLES, scopes=READ_SCOPES)
    user, box = _mailbox(ctx)
    services, req = ctx.services, ctx.req
    skip, delta = req.query.get("$skiptoken"), req.query.get("$deltatoken")
    link = f"{services.graph_url}users/{user.id}/mailFolders('{{folder}}')/messages/delta"
    with ctx.state.lock:
        folder = _folder(box, ctx.args[0])
    link = link.format(folder=folder.id)
    if skip or delta:
        token = skip or delta or ""
        tok = decode_token(ctx, "m", token)
        if tok["u"] != user.email or tok["f"] != folder.id:
            raise GraphError(400, "BadRequest", "The delta token belongs to another folder.")
        expired = services.faults.delta_token_error(token, user.email, int(tok["z"]))
        select = tok.get("sel")
        if expired:
            location = link + (f"?$select={','.join(select)}" if select else "")
            raise gone_error(expired, location)
        cursor, base, snap, initial = int(tok["p"]), int(tok["b"]), int(tok["s"]), bool(tok["i"])
        if cursor > len(folder.log.entries):  # from another sandbox run: its state is gone
            raise gone_error("syncStateNotFound", link)
        if delta:  # a new round: changes since the position the last round ended at
            base, initial = cursor, False
        size, from_prefer = page_size(req, DEFAULT_DELTA_PAGE, MAX_PAGE, int(tok["ps"]))
        cursor = max(0, cursor - services.faults.take_replay(user.email))
    else:
        bad = [opt for opt in _UNSUPPORTED_DELTA_OPTIONS if opt in req.query]
        if bad:
            raise GraphError(
                400,
                "ErrorInvalidUrlQuery",
                f"The sandbox does not support {', '.join(bad)} on message delta.",
            )
        select = parse_select(req.query.get("$select"))
        check_select(select, MESSAGE_PROPERTIES, "Microsoft.OutlookServices.Message")
        top = req.query.get("$top")
        size, from_prefer = page_size(
            req, DEFAULT_DELTA_PAGE, MAX_PAGE, int(top) if top and top.isdigit() else None
        )
        cursor, base, initial = 0, 0, True
        with ctx.state.lock:
            snap = len(folder.log.entries)
    values: list[dict[str, Any]] = []
    with ctx.state.lock:
        log = folder.log
        end = len(log.entries)
        budget = max(1000, 20 * size)  # bound the scan of superseded entries per request
        while cursor < end and len(values) < size and budget > 0:
            budget -= 1
            change = log.entries[cursor]
            if log.is_live(cursor):
                if change.version is not None:
                    values.append(message_json(change.version, select))
                elif not (initial and cursor < snap):  # never seen by this client: skip
                    values.append(removed_item("#microsoft.graph.message", change.item_id))
            cursor += 1
        done = cursor >= end
    serial = services.faults.next_token_serial()
    values.extend(_malformed(kind, serial) for kind in services.faults.take_malformed(user.email))
    payload = {"k": "m", "u": user.email, "f": folder.id, "sel": select, "ps": size, "z": serial}
    body: dict[str, Any] = {"@odata.context": f"{services.graph_url}$metadata#Collection(message)"}
    if done:
        payload.update(p=cursor, b=cursor, s=cursor, i=False)
        body["@odata.deltaLink"] = f"{link}?$deltatoken={services.codec.encode(payload)}"
    else:
        payload.update(p=cursor, b=base, s=snap, i=initial)
        body["@odata.nextLink"] = f"{link}?$skiptoken={services.codec.encode(payload)}"
    body["value"] = values
    return json_response(body, headers=applied(size, from_prefer))


# ---- sendMail ----------------------------------------------------------------------------


def _emails(items: Any) -> list[str]:
    out = []
    for item in items or ():
        address = str(((item or {}).get("emailAddress") or {}).get("address") or "").strip()
        if address:
            out.append(address.lower())
    return out


def send_mail(ctx: Ctx) -> ApiResponse:
    """user: sendMail (``POST /users/{id}/sendMail``): 202, no body.

    The sent copy goes to the sender's Sent Items (unless ``saveToSentItems`` is false), a
    copy to the Inbox of every recipient in the tenant, and the whole send to
    ``state.outbox`` (with the external recipients, which go nowhere).
    """
    require(ctx, roles=("Mail.Send",), scopes=("Mail.Send",))
    user, _box = _mailbox(ctx)
    body = ctx.req.json()
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, dict):
        raise GraphError(400, "ErrorInvalidRequest", "The request body must contain a 'message'.")
    to, cc, bcc = (
        _emails(message.get(k)) for k in ("toRecipients", "ccRecipients", "bccRecipients")
    )
    if not (to or cc or bcc):
        raise GraphError(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient is required, but none were found.",
        )
    save = body.get("saveToSentItems", True)
    save = save if isinstance(save, bool) else str(save).lower() != "false"
    now = datetime.now(UTC).replace(microsecond=0)
    state = ctx.state
    message_id = f"<{uuid.uuid4().hex.upper()}@{state.mail_host}>"
    raw = compose_raw(message, sender=(user.name, user.email), message_id=message_id, sent_at=now)
    content = state.parse(raw)
    delivered: list[str] = []
    with state.lock:
        if save:
            bcc_list = [{"emailAddress": {"name": a, "address": a}} for a in bcc]
            sent_copy = ParsedMessage(
                {**content.fields, "bccRecipients": bcc_list}, content.headers, content.sent_at
            )
            state.add_message(user.email, "sentitems", sent_copy, received_at=now, is_read=True)
        for address in dict.fromkeys(to + cc + bcc):
            if state.user(address) is not None:
                state.add_message(address, "inbox", content, received_at=now)
                delivered.append(address)
        state.record_sent(
            SentMail(
                sender=user.email,
                message_id=message_id,
                subject=str(message.get("subject") or ""),
                to=tuple(to),
                cc=tuple(cc),
                bcc=tuple(bcc),
                external=tuple(a for a in dict.fromkeys(to + cc + bcc) if a not in delivered),
                content_type=str((message.get("body") or {}).get("contentType", "text")).lower(),
                body=str((message.get("body") or {}).get("content", "")),
                raw=raw,
                sent_at=now,
                saved_to_sent_items=save,
                headers=tuple(
                    (str(h.get("name")), str(h.get("value")))
                    for h in message.get("internetMessageHeaders") or ()
                ),
            )
        )
    return ApiResponse(202)
