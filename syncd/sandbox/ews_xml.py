"""EWS SOAP on the wire: namespaces, the envelope, and the sandbox's items as EWS elements.

Shapes follow Microsoft's documented samples (``../shared/data/ews``: GetFolder, SyncFolderItems,
GetItem, FindItem, ResolveNames responses) and the types schema's element order. Elements are
built with lxml so every response is well-formed whatever the mail contains (accents, ``<``,
control characters from broken corpora are stripped: XML 1.0 cannot carry them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

# lxml comes with exchangelib (a declared dependency); it ships no type stubs.
from lxml import etree  # type: ignore[import-untyped]

from syncd.sandbox.calendar import Attendee, EventVersion, Occurrence
from syncd.sandbox.ids import guid, iso_z
from syncd.sandbox.state import MessageVersion

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"s": SOAP, "m": M, "t": T}

# Exchange Server 2016 CU23: what an on-premises server answers in every SOAP header.
SERVER_VERSION = {
    "MajorVersion": "15",
    "MinorVersion": "1",
    "MajorBuildNumber": "2507",
    "MinorBuildNumber": "6",
    "Version": "V2017_07_11",
}
LEGACY_DN_PREFIX = (
    "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients"
)

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Graph responseType -> EWS ResponseTypeType.
_EWS_RESPONSE = {
    "accepted": "Accept",
    "tentativelyAccepted": "Tentative",
    "declined": "Decline",
    "organizer": "Organizer",
    "notResponded": "NoResponseReceived",
    "none": "NoResponseReceived",
}
# Sensitivity header values (RFC 2156) -> EWS SensitivityChoicesType.
_SENSITIVITY = {
    "personal": "Personal",
    "private": "Private",
    "company-confidential": "Confidential",
    "confidential": "Confidential",
}


def t(name: str) -> str:
    return f"{{{T}}}{name}"


def m(name: str) -> str:
    return f"{{{M}}}{name}"


def clean(text: str) -> str:
    return _XML_BAD.sub("", text)


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> Any:
    child = etree.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = clean(text)
    return child


def legacy_dn(tenant: str, email: str) -> str:
    """An Exchange legacy DN (X500 address) for an internal user, as on-premises Exchange puts in
    ``RoutingType=EX`` mailboxes: ``/o=.../cn=Recipients/cn=<hex>-<alias>``."""
    digest = guid(tenant, "legacyDN", email).replace("-", "")
    return f"{LEGACY_DN_PREFIX}/cn={digest}-{email.partition('@')[0]}"


def envelope(body_child: etree._Element | None = None) -> tuple[etree._Element, etree._Element]:
    """(envelope, body) with the ServerVersionInfo header every EWS response carries."""
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap=NSMAP)
    header = sub(env, f"{{{SOAP}}}Header")
    info = etree.SubElement(header, t("ServerVersionInfo"))
    for key, value in SERVER_VERSION.items():
        info.set(key, value)
    body = sub(env, f"{{{SOAP}}}Body")
    if body_child is not None:
        body.append(body_child)
    return env, body


def to_bytes(env: etree._Element) -> bytes:
    data: bytes = etree.tostring(env, xml_declaration=True, encoding="utf-8")
    return data


def response_messages(body: etree._Element, operation: str) -> etree._Element:
    """``m:{Op}Response/m:ResponseMessages`` under ``body``."""
    response = sub(body, m(f"{operation}Response"))
    return sub(response, m("ResponseMessages"))


def response_message(
    parent: etree._Element, operation: str, code: str = "NoError", text: str = ""
) -> etree._Element:
    """One ``m:{Op}ResponseMessage``: Success with NoError, or Error with MessageText."""
    message = sub(
        parent,
        m(f"{operation}ResponseMessage"),
        ResponseClass="Success" if code == "NoError" else "Error",
    )
    if code != "NoError":
        sub(message, m("MessageText"), text or code)
    sub(message, m("ResponseCode"), code)
    if code != "NoError":
        sub(message, m("DescriptiveLinkKey"), "0")
        # Documented error answers keep the (empty) result container (getfolder-operation,
        # getitem-operation samples).
        container = _EMPTY_ON_ERROR.get(operation)
        if container:
            sub(message, m(container))
    return message


_EMPTY_ON_ERROR = {"GetFolder": "Folders", "GetItem": "Items"}


def soap_fault(code: str, text: str, values: Sequence[tuple[str, str]] = ()) -> bytes:
    """A ``s:Fault`` as Exchange sends for request-level errors (ErrorServerBusy...), with
    ``detail/e:ResponseCode`` and, for throttling, ``t:MessageXml/t:Value``."""
    env, body = envelope()
    fault = sub(body, f"{{{SOAP}}}Fault")
    faultcode = etree.SubElement(fault, "faultcode", nsmap={"a": T})
    faultcode.text = "a:" + code
    sub(fault, "faultstring", text)
    detail = sub(fault, "detail")
    sub(detail, f"{{{E}}}ResponseCode", code)
    sub(detail, f"{{{E}}}Message", text)
    if values:
        xml = sub(detail, t("MessageXml"))
        for name, value in values:
            sub(xml, t("Value"), value, Name=name)
    return to_bytes(env)


# ---- items -------------------------------------------------------------------------------

Fields = frozenset[str] | None  # None: every property the item has (AllProperties)
Resolver = Callable[[str], str | None]  # internal email -> legacy DN (None: send SMTP)


def _wanted(fields: Fields, uri: str) -> bool:
    return fields is None or uri in fields


def mailbox(parent: etree._Element, tag: str, name: str, email: str, dn: str | None) -> None:
    box = sub(parent, tag)
    if name:
        sub(box, t("Name"), name)
    sub(box, t("EmailAddress"), dn or email)
    sub(box, t("RoutingType"), "EX" if dn else "SMTP")
    sub(box, t("MailboxType"), "Mailbox")


def _graph_address(value: Any) -> tuple[str, str]:
    email = value.get("emailAddress") if isinstance(value, dict) else None
    if not isinstance(email, dict):
        return "", ""
    return str(email.get("name") or ""), str(email.get("address") or "")


def _headers(version: MessageVersion) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in version.content.headers:
        name = str(header.get("name") or "").lower()
        found.setdefault(name, str(header.get("value") or ""))
    return found


def message_element(
    parent: etree._Element,
    version: MessageVersion,
    fields: Fields,
    dn_of: Resolver,
    *,
    folder_id: str,
    tag: str = "Message",
) -> None:
    """A ``t:Message`` for one message copy with the requested properties (ItemId always)."""
    item = version.graph()
    headers = _headers(version)
    el = sub(parent, t(tag))
    sub(el, t("ItemId"), Id=version.id, ChangeKey=str(version.own.get("changeKey") or ""))
    if _wanted(fields, "item:ParentFolderId"):
        sub(el, t("ParentFolderId"), Id=folder_id)
    if _wanted(fields, "item:ItemClass"):
        sub(el, t("ItemClass"), "IPM.Note")
    if _wanted(fields, "item:Subject") and isinstance(item.get("subject"), str):
        sub(el, t("Subject"), item["subject"])
    if _wanted(fields, "item:Sensitivity"):
        value = headers.get("sensitivity", "").strip().lower()
        sub(el, t("Sensitivity"), _SENSITIVITY.get(value, "Normal"))
    if _wanted(fields, "item:DateTimeReceived") and item.get("receivedDateTime"):
        sub(el, t("DateTimeReceived"), str(item["receivedDateTime"]))
    if _wanted(fields, "item:InReplyTo") and headers.get("in-reply-to"):
        sub(el, t("InReplyTo"), headers["in-reply-to"])
    if _wanted(fields, "item:IsDraft"):
        sub(el, t("IsDraft"), "true" if item.get("isDraft") else "false")
    if _wanted(fields, "item:InternetMessageHeaders") and version.content.headers:
        box = sub(el, t("InternetMessageHeaders"))
        for header in version.content.headers:
            sub(
                box,
                t("InternetMessageHeader"),
                str(header.get("value") or ""),
                HeaderName=str(header.get("name") or ""),
            )
    if _wanted(fields, "item:DateTimeSent") and item.get("sentDateTime"):
        sub(el, t("DateTimeSent"), str(item["sentDateTime"]))
    if _wanted(fields, "item:DateTimeCreated") and item.get("createdDateTime"):
        sub(el, t("DateTimeCreated"), str(item["createdDateTime"]))
    if _wanted(fields, "item:LastModifiedTime") and item.get("lastModifiedDateTime"):
        sub(el, t("LastModifiedTime"), str(item["lastModifiedDateTime"]))
    if _wanted(fields, "item:ConversationId") and item.get("conversationId"):
        sub(el, t("ConversationId"), Id=str(item["conversationId"]))
    if _wanted(fields, "message:Sender") and item.get("sender"):
        _single(el, "Sender", item["sender"], dn_of)
    for uri, key in (
        ("message:ToRecipients", "toRecipients"),
        ("message:CcRecipients", "ccRecipients"),
        ("message:BccRecipients", "bccRecipients"),
    ):
        values = item.get(key)
        if _wanted(fields, uri) and values:
            box = sub(el, t(uri.partition(":")[2]))
            for value in values:
                name, email = _graph_address(value)
                mailbox(box, t("Mailbox"), name, email, None)
    if _wanted(fields, "message:From") and item.get("from"):
        _single(el, "From", item["from"], dn_of)
    if _wanted(fields, "message:InternetMessageId") and version.internet_message_id:
        sub(el, t("InternetMessageId"), version.internet_message_id)
    if _wanted(fields, "message:IsRead"):
        sub(el, t("IsRead"), "true" if version.is_read else "false")


def _single(parent: etree._Element, tag: str, value: Any, dn_of: Resolver) -> None:
    name, email = _graph_address(value)
    if not email and not name:
        return
    holder = sub(parent, t(tag))
    mailbox(holder, t("Mailbox"), name, email, dn_of(email.lower()) if email else None)


def _attendees(
    parent: etree._Element, tag: str, attendees: Iterable[Attendee], dn_of: Resolver
) -> None:
    people = list(attendees)
    if not people:
        return
    box = sub(parent, t(tag))
    for attendee in people:
        el = sub(box, t("Attendee"))
        mailbox(el, t("Mailbox"), attendee.name, attendee.email, None)
        sub(el, t("ResponseType"), _EWS_RESPONSE.get(attendee.response, "Unknown"))


def _ews_time(value: datetime) -> str:
    return iso_z(value)


def calendar_element(
    parent: etree._Element,
    version: EventVersion,
    occurrence: Occurrence | None,
    fields: Fields,
    dn_of: Resolver,
    *,
    folder_id: str,
) -> None:
    """A ``t:CalendarItem``: the master/single item (``occurrence`` None, what SyncFolderItems
    and GetItem on the stored item return) or one expanded instance (CalendarView)."""
    el = sub(parent, t("CalendarItem"))
    if occurrence is None:
        item_id, start, end = version.id, version.start, version.end
        kind = "RecurringMaster" if version.is_series else "Single"
        original = None
    else:
        item_id, start, end = occurrence.id, occurrence.start, occurrence.end
        kind = {"occurrence": "Occurrence", "exception": "Exception"}.get(
            occurrence.type, "Single"
        )
        original = occurrence.original_start
    sub(el, t("ItemId"), Id=item_id, ChangeKey=version.change_key)
    if _wanted(fields, "item:ParentFolderId"):
        sub(el, t("ParentFolderId"), Id=folder_id)
    if _wanted(fields, "item:ItemClass"):
        sub(el, t("ItemClass"), "IPM.Appointment")
    if _wanted(fields, "item:Subject"):
        sub(el, t("Subject"), version.subject)
    if _wanted(fields, "item:Sensitivity"):
        sub(el, t("Sensitivity"), "Private" if version.is_private else "Normal")
    if _wanted(fields, "item:DateTimeCreated") and version.created:
        sub(el, t("DateTimeCreated"), _ews_time(version.created))
    if _wanted(fields, "item:LastModifiedTime") and version.modified:
        sub(el, t("LastModifiedTime"), _ews_time(version.modified))
    if _wanted(fields, "calendar:UID"):
        sub(el, t("UID"), version.uid)
    if _wanted(fields, "calendar:RecurrenceId") and original is not None:
        sub(el, t("RecurrenceId"), _ews_time(original))
    if _wanted(fields, "calendar:Start"):
        sub(el, t("Start"), _ews_time(start))
    if _wanted(fields, "calendar:End"):
        sub(el, t("End"), _ews_time(end))
    if _wanted(fields, "calendar:IsAllDayEvent"):
        sub(el, t("IsAllDayEvent"), "false")
    if _wanted(fields, "calendar:Location") and version.location:
        sub(el, t("Location"), version.location)
    if _wanted(fields, "calendar:IsCancelled"):
        sub(el, t("IsCancelled"), "true" if version.is_cancelled else "false")
    if _wanted(fields, "calendar:IsRecurring"):
        recurring = occurrence is not None and version.is_series
        sub(el, t("IsRecurring"), "true" if recurring else "false")
    if _wanted(fields, "calendar:CalendarItemType"):
        sub(el, t("CalendarItemType"), kind)
    if _wanted(fields, "calendar:MyResponseType"):
        sub(el, t("MyResponseType"), _my_response(version))
    if _wanted(fields, "calendar:Organizer"):
        holder = sub(el, t("Organizer"))
        org = version.organizer
        mailbox(holder, t("Mailbox"), org.name, org.email, dn_of(org.email))
    people = [a for a in version.attendees if a.type != "resource"]
    if _wanted(fields, "calendar:RequiredAttendees"):
        _attendees(el, "RequiredAttendees", (a for a in people if a.type != "optional"), dn_of)
    if _wanted(fields, "calendar:OptionalAttendees"):
        _attendees(el, "OptionalAttendees", (a for a in people if a.type == "optional"), dn_of)
    if _wanted(fields, "calendar:Resources"):
        _attendees(el, "Resources", (a for a in version.attendees if a.type == "resource"), dn_of)
    if _wanted(fields, "calendar:IsOnlineMeeting"):
        sub(el, t("IsOnlineMeeting"), "true" if version.is_online else "false")


def _my_response(version: EventVersion) -> str:
    if version.organizer.email == version.owner:
        return "Organizer"
    mine = next((a for a in version.attendees if a.email == version.owner), None)
    return _EWS_RESPONSE.get(mine.response, "Unknown") if mine else "Unknown"
