"""The sandbox tenant in memory: users, groups, mailboxes, calendars, call records, outbox.

Change tracking is what makes delta queries cheap and exact. Every mail folder and every
calendar keeps an append-only change log (a list; a position is an int). An item's latest entry
is the only live one (`last_pos`), so a delta round "since position p" is a scan of log[p:]
that skips superseded entries: O(changes), never O(folder size). Item versions are immutable,
so a log entry keeps describing what was true when it was written.

All public methods take `SandboxState.lock` (re-entrant); handlers that read the structures
directly take it too.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from syncd.sandbox.calendar import (
    Attendee,
    EventVersion,
    check_rrule,
    graph_response,
    series_span,
)
from syncd.sandbox.ids import change_key, guid, ical_uid, iso_z, outlook_id, parse_iso, utc
from syncd.sandbox.mime import ParsedMessage, parse_graph_message, parse_message

# Well-known folder names (mailFolder resource docs) -> display names.
WELL_KNOWN_FOLDERS = {
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "drafts": "Drafts",
    "archive": "Archive",
}
ROOT_FOLDER = "msgfolderroot"
SALES_GROUP = "Sales"

# Graph message fields that an update may not touch (use move_message for the folder).
_IMMUTABLE_FIELDS = {"id", "parentFolderId", "@odata.type", "@odata.etag", "changeKey"}


@dataclass(slots=True)
class User:
    id: str
    email: str  # lower-cased primary SMTP address; also the UPN
    name: str
    job_title: str | None = None
    groups: list[str] = field(default_factory=list)  # group display names

    def graph(self) -> dict[str, Any]:
        """The ``user`` resource's default property set (user-get docs sample)."""
        given, _, surname = self.name.partition(" ")
        return {
            "businessPhones": [],
            "displayName": self.name,
            "givenName": given or None,
            "jobTitle": self.job_title,
            "mail": self.email,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "surname": surname or None,
            "userPrincipalName": self.email,
            "id": self.id,
        }


@dataclass(slots=True)
class Group:
    id: str
    name: str
    members: list[str] = field(default_factory=list)  # user emails, insertion order

    def graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.name,
            "description": f"{self.name} team",
            "mail": None,
            "mailEnabled": False,
            "securityEnabled": True,
            "groupTypes": [],
            "visibility": None,
        }


@dataclass(frozen=True, slots=True)
class MessageVersion:
    """One version of one message copy. ``content`` is shared by every copy of the message;
    ``own`` holds the copy's fields (dates, folder, read state) and any updated field."""

    id: str
    folder_id: str
    content: ParsedMessage
    own: Mapping[str, Any]

    def graph(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.message",
            "@odata.etag": f'W/"{self.own["changeKey"]}"',
            "id": self.id,
        }
        item.update(self.content.fields)
        item.update(self.own)
        return item

    @property
    def internet_message_id(self) -> str:
        value = self.own.get("internetMessageId", self.content.fields.get("internetMessageId"))
        return str(value or "")

    @property
    def is_read(self) -> bool:
        return bool(self.own.get("isRead"))


@dataclass(frozen=True, slots=True)
class Change:
    item_id: str
    version: Any  # MessageVersion / EventVersion; None when the item left the container


class ChangeLog:
    """Append-only log of a container (mail folder or calendar) plus its live items.

    ``history`` (every position of every item) is kept only when asked for: calendars need it
    to tell a client which instances of an earlier series version disappeared; mail folders
    do not, and skipping it saves memory at benchmark scale."""

    __slots__ = ("entries", "history", "items", "last_pos")

    def __init__(self, *, keep_history: bool = False) -> None:
        self.entries: list[Change] = []
        self.last_pos: dict[str, int] = {}  # item id -> position of its latest entry
        self.history: dict[str, list[int]] | None = {} if keep_history else None
        self.items: dict[str, Any] = {}  # live items: id -> latest version

    def record(self, item_id: str, version: Any) -> Any:
        """Append a change and return the version it replaces (None if new)."""
        pos = len(self.entries)
        self.entries.append(Change(item_id, version))
        self.last_pos[item_id] = pos
        if self.history is not None:
            self.history.setdefault(item_id, []).append(pos)
        if version is None:
            return self.items.pop(item_id, None)
        previous = self.items.get(item_id)
        self.items[item_id] = version
        return previous

    def is_live(self, pos: int) -> bool:
        return self.last_pos.get(self.entries[pos].item_id) == pos


class Folder:
    __slots__ = ("children", "id", "log", "name", "owner", "parent_id", "unread", "well_known")

    def __init__(
        self, folder_id: str, owner: str, name: str, well_known: str | None, parent_id: str
    ) -> None:
        self.id = folder_id
        self.owner = owner
        self.name = name
        self.well_known = well_known
        self.parent_id = parent_id
        self.children: list[str] = []
        self.log = ChangeLog()
        self.unread = 0  # kept incrementally: mailFolder.unreadItemCount without a scan

    @property
    def key(self) -> str:
        return self.well_known or self.name

    def graph(self) -> dict[str, Any]:
        """The ``mailFolder`` resource (user-list-mailfolders docs sample)."""
        return {
            "id": self.id,
            "displayName": self.name,
            "parentFolderId": self.parent_id,
            "childFolderCount": len(self.children),
            "unreadItemCount": self.unread,
            "totalItemCount": len(self.log.items),
            "isHidden": False,
        }


class Mailbox:
    __slots__ = ("calendar", "event_uids", "folders", "owner", "seq", "well_known", "where")

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.folders: dict[str, Folder] = {}
        self.well_known: dict[str, str] = {}  # well-known name -> folder id
        self.where: dict[str, str] = {}  # live message id -> folder id
        self.calendar = ChangeLog(keep_history=True)
        self.event_uids: dict[str, str] = {}  # iCalendar UID -> event id
        self.seq = 0

    def folder(self, ref: str) -> Folder | None:
        """A folder by id or (case-insensitive) well-known name."""
        found = self.folders.get(ref)
        if found is None:
            folder_id = self.well_known.get(ref.lower())
            found = self.folders.get(folder_id) if folder_id else None
        return found

    def next_seq(self) -> str:
        self.seq += 1
        return str(self.seq)


@dataclass(frozen=True, slots=True)
class Identity:
    """A call participant: an internal user, an external (federated) user or a phone number."""

    id: str
    name: str
    email: str | None
    tenant_id: str | None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class CallRecordVersion:
    id: str
    version: int
    type: str  # groupCall / peerToPeer / unknown
    modalities: tuple[str, ...]
    start: datetime
    end: datetime
    organizer: Identity
    participants: tuple[Identity, ...]
    join_url: str | None
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class SentMail:
    """One sendMail call, as the sandbox's "outside world" saw it."""

    sender: str
    message_id: str
    subject: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    external: tuple[str, ...]  # recipients outside the tenant (not delivered anywhere)
    content_type: str
    body: str
    raw: bytes
    sent_at: datetime
    saved_to_sent_items: bool
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """Emitted to listeners (change notifications) after each mutation."""

    resource: str  # "message" / "event" / "callRecord"
    change_type: str  # created / updated / deleted
    owner: str | None
    container_id: str | None  # folder id for messages
    item_id: str
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What a perfect sync of the tenant holds right now.

    ``messages``: (owner, folder, internetMessageId) with the folder's well-known name
    (``inbox``, ``sentitems``...) or display name, and internetMessageId as Graph returns it
    (with angle brackets). ``events``: (owner, iCalUId, start) for each instance inside
    ``window``, start as ``YYYY-MM-DDTHH:MM:SSZ``. ``calls``: (call record id, version).
    """

    messages: frozenset[tuple[str, str, str]]
    events: frozenset[tuple[str, str, str]]
    calls: frozenset[tuple[str, int]]
    window: tuple[datetime, datetime]


Listener = Callable[[ChangeNotice], None]


def _coerce_attendee(value: Any, default_response: str = "none") -> Attendee:
    """Accept an Attendee, an email, (email, name[, response]) or a DemoAttendee-like object."""
    if isinstance(value, Attendee):
        return value
    if isinstance(value, str):
        return Attendee(value.lower(), "", graph_response(default_response))
    if isinstance(value, tuple):
        email = str(value[0]).lower()
        name = str(value[1]) if len(value) > 1 else ""
        response = str(value[2]) if len(value) > 2 else default_response
        return Attendee(email, name, graph_response(response))
    email = str(value.email).lower()
    response = getattr(value, "response", None) or default_response
    kind = getattr(value, "type", None) or "required"
    return Attendee(email, str(getattr(value, "name", "") or ""), graph_response(response), kind)


def _as_datetime(value: Any) -> datetime:
    return utc(value) if isinstance(value, datetime) else parse_iso(str(value))


class SandboxState:
    """The tenant. Thread-safe; every public method takes `lock`."""

    def __init__(self, tenant: str = "contoso") -> None:
        self.tenant = tenant
        self.tenant_id = guid("tenant", tenant)
        self.mail_host = f"{tenant}.mail.sandbox.test"  # right-hand side of generated ids
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}  # email -> user (insertion order = listing order)
        self.user_ids: dict[str, str] = {}  # id -> email
        self.groups: dict[str, Group] = {}  # id -> group
        self.mailboxes: dict[str, Mailbox] = {}  # email -> mailbox
        self.calls: dict[str, CallRecordVersion] = {}
        self.call_index: list[tuple[datetime, str]] = []  # sorted (start, id): $filter by bisect
        self.outbox: list[SentMail] = []
        self.default_window: tuple[datetime, datetime] | None = None
        self._listeners: list[Listener] = []
        self._serial = 0

    # ---- plumbing ------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.append(listener)

    def _emit(self, notice: ChangeNotice) -> None:
        for listener in self._listeners:
            listener(notice)

    def _next_key(self, *parts: str) -> str:
        self._serial += 1
        return change_key(*parts, str(self._serial))

    # ---- directory -----------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        name: str,
        groups: Iterable[str] = (),
        *,
        title: str | None = None,
    ) -> str:
        """Add a user with a mailbox (standard folders) and a calendar; returns the user id.
        Adding an existing address updates its name/title and adds the groups."""
        email = email.strip().lower()
        with self.lock:
            user = self.users.get(email)
            if user is None:
                user = User(guid(self.tenant, "user", email), email, name, title)
                self.users[email] = user
                self.user_ids[user.id] = email
                self._create_mailbox(email)
            else:
                user.name = name or user.name
                user.job_title = title or user.job_title
            for group_name in groups:
                group = self._group(group_name)
                if email not in group.members:
                    group.members.append(email)
                    user.groups.append(group_name)
            return user.id

    def _group(self, name: str) -> Group:
        group_id = guid(self.tenant, "group", name.lower())
        group = self.groups.get(group_id)
        if group is None:
            group = self.groups[group_id] = Group(group_id, name)
        return group

    def user(self, ref: str) -> User | None:
        """A user by id or UPN/mail (case-insensitive)."""
        with self.lock:
            email = self.user_ids.get(ref) or ref.strip().lower()
            return self.users.get(email)

    def mailbox(self, ref: str) -> Mailbox | None:
        user = self.user(ref)
        return self.mailboxes.get(user.email) if user else None

    def _create_mailbox(self, email: str) -> None:
        box = Mailbox(email)
        root_id = outlook_id("AQMkA", self.tenant, email, ROOT_FOLDER)
        box.folders[root_id] = Folder(root_id, email, "Top of Information Store", ROOT_FOLDER, "")
        box.well_known[ROOT_FOLDER] = root_id
        for well_known, display in WELL_KNOWN_FOLDERS.items():
            self._new_folder(box, display, well_known, root_id)
        self.mailboxes[email] = box

    def _new_folder(
        self, box: Mailbox, name: str, well_known: str | None, parent_id: str
    ) -> Folder:
        folder_id = outlook_id(
            "AQMkA", self.tenant, box.owner, well_known or f"custom:{name}:{parent_id}"
        )
        folder = Folder(folder_id, box.owner, name, well_known, parent_id)
        box.folders[folder_id] = folder
        box.folders[parent_id].children.append(folder_id)
        if well_known:
            box.well_known[well_known] = folder_id
        return folder

    def add_folder(self, owner: str, name: str, parent: str = ROOT_FOLDER) -> str:
        """Create a custom folder under ``parent`` (id or well-known name); returns its id."""
        with self.lock:
            box = self._box(owner)
            parent_folder = self._folder(box, parent)
            return self._new_folder(box, name, None, parent_folder.id).id

    def _box(self, owner: str) -> Mailbox:
        box = self.mailbox(owner)
        if box is None:
            raise KeyError(f"no mailbox for {owner!r}")
        return box

    def _folder(self, box: Mailbox, ref: str) -> Folder:
        folder = box.folder(ref)
        if folder is None:
            raise KeyError(f"no folder {ref!r} in {box.owner}")
        return folder

    # ---- messages ------------------------------------------------------------------------

    def parse(self, message: bytes | Mapping[str, Any] | ParsedMessage) -> ParsedMessage:
        """Parse once, then add the result to several mailboxes (copies share the content)."""
        if isinstance(message, ParsedMessage):
            return message
        if isinstance(message, bytes | bytearray):
            return parse_message(bytes(message), mail_host=self.mail_host)
        return parse_graph_message(message, mail_host=self.mail_host)

    def add_message(
        self,
        owner: str,
        folder: str,
        message: bytes | Mapping[str, Any] | ParsedMessage,
        *,
        received_at: datetime | None = None,
        is_read: bool | None = None,
    ) -> str:
        """Deliver a message (raw RFC 5322 bytes, a Graph-shaped dict or a parsed message)
        into ``folder`` (id or well-known name) of ``owner``; returns the new message id."""
        content = self.parse(message)
        with self.lock:
            box = self._box(owner)
            target = self._folder(box, folder)
            received = utc(received_at) if received_at else content.sent_at or datetime.now(UTC)
            sent_items = target.well_known in ("sentitems", "drafts")
            own: dict[str, Any] = {
                "createdDateTime": iso_z(received),
                "lastModifiedDateTime": iso_z(received),
                "receivedDateTime": iso_z(received),
                "parentFolderId": target.id,
                "isRead": sent_items if is_read is None else is_read,
                "isDraft": target.well_known == "drafts",
                "inferenceClassification": "focused",
            }
            if "sentDateTime" not in content.fields:
                own["sentDateTime"] = own["receivedDateTime"]  # Exchange stamps a missing Date
            return self._store_new(box, target, content, own)

    def _store_new(
        self, box: Mailbox, folder: Folder, content: ParsedMessage, own: dict[str, Any]
    ) -> str:
        message_id = outlook_id("AAMkAD", self.tenant, box.owner, "msg", box.next_seq())
        own["changeKey"] = self._next_key(message_id)
        own["webLink"] = (
            "https://outlook.office365.com/owa/?ItemID="
            + message_id.replace("=", "%3D")
            + "&exvsurl=1&viewmodel=ReadMessageItem"
        )
        version = MessageVersion(message_id, folder.id, content, own)
        folder.log.record(message_id, version)
        if not version.is_read:
            folder.unread += 1
        box.where[message_id] = folder.id
        self._emit(
            ChangeNotice("message", "created", box.owner, folder.id, message_id, own["changeKey"])
        )
        return message_id

    def _locate(self, owner: str, message_id: str) -> tuple[Mailbox, Folder, MessageVersion]:
        box = self._box(owner)
        folder_id = box.where.get(message_id)
        if folder_id is None:
            raise KeyError(f"no message {message_id!r} in {owner}")
        folder = box.folders[folder_id]
        version: MessageVersion = folder.log.items[message_id]
        return box, folder, version

    def message(self, owner: str, message_id: str) -> MessageVersion | None:
        with self.lock:
            try:
                return self._locate(owner, message_id)[2]
            except KeyError:
                return None

    def update_message(self, owner: str, message_id: str, **fields: Any) -> None:
        """Change Graph fields of a message (``isRead=True``, ``subject="..."``,
        ``flag={"flagStatus": "flagged"}``...): a new version with a new changeKey."""
        bad = _IMMUTABLE_FIELDS.intersection(fields)
        if bad:
            raise ValueError(f"fields {sorted(bad)} cannot be updated")
        with self.lock:
            _box, folder, old = self._locate(owner, message_id)
            now = datetime.now(UTC)
            own = {**old.own, **fields, "lastModifiedDateTime": iso_z(now)}
            own["changeKey"] = self._next_key(message_id)
            new = MessageVersion(message_id, folder.id, old.content, own)
            folder.log.record(message_id, new)
            folder.unread += int(not new.is_read) - int(not old.is_read)
            self._emit(
                ChangeNotice("message", "updated", owner, folder.id, message_id, own["changeKey"])
            )

    def delete_message(self, owner: str, message_id: str) -> None:
        """Remove a message for good (use move_message(..., "deleteditems") for a soft delete)."""
        with self.lock:
            box, folder, old = self._locate(owner, message_id)
            folder.log.record(message_id, None)
            folder.unread -= int(not old.is_read)
            del box.where[message_id]
            self._emit(ChangeNotice("message", "deleted", owner, folder.id, message_id))

    def move_message(self, owner: str, message_id: str, destination: str) -> str:
        """Move to another folder; returns the new id (without ImmutableId, Graph ids change on
        a move). The source folder's delta reports the old id as ``@removed``."""
        with self.lock:
            box, folder, old = self._locate(owner, message_id)
            target = self._folder(box, destination)
            if target.id == folder.id:
                return message_id
            self.delete_message(owner, message_id)
            own = {k: v for k, v in old.own.items() if k not in ("changeKey", "webLink")}
            own["parentFolderId"] = target.id
            own["lastModifiedDateTime"] = iso_z(datetime.now(UTC))
            return self._store_new(box, target, old.content, own)

    # ---- events --------------------------------------------------------------------------

    def add_event(
        self,
        owner: str,
        *,
        uid: str,
        subject: str,
        organizer: Any,
        start: datetime,
        end: datetime,
        attendees: Iterable[Any] = (),
        rrule: str | None = None,
        exdates: Iterable[datetime] = (),
        overrides: Iterable[tuple[datetime, datetime, datetime]] = (),
        is_private: bool = False,
        is_online: bool = False,
        body: str = "",
        location: str = "",
        tz: str = "UTC",
    ) -> str:
        """Put a single event or a series (``rrule``: an RRULE value) in ``owner``'s calendar;
        returns the event (series master) id. ``organizer``/``attendees`` take Attendee,
        an email, (email, name[, response]) or any object with .email/.name/.response.
        ``tz`` is the IANA zone the series repeats in; exdates/overrides are UTC instants of
        occurrence starts from that expansion."""
        start, end = _as_datetime(start), _as_datetime(end)
        if end < start:
            raise ValueError("event ends before it starts")
        if rrule:
            check_rrule(rrule, start, tz)  # fail now on an invalid rule, not in a request handler
        with self.lock:
            box = self._box(owner)
            event_id = outlook_id("AAMkAGI", self.tenant, box.owner, "event", box.next_seq())
            now = datetime.now(UTC)
            version = EventVersion(
                id=event_id,
                owner=box.owner,
                uid=uid,
                subject=subject,
                organizer=_coerce_attendee(organizer, "organizer"),
                attendees=tuple(_coerce_attendee(a) for a in attendees),
                start=start,
                end=end,
                rrule=rrule or None,
                exdates=frozenset(_as_datetime(d) for d in exdates),
                overrides=tuple(
                    (_as_datetime(o), _as_datetime(s), _as_datetime(e)) for o, s, e in overrides
                ),
                is_private=is_private,
                is_online=is_online,
                tz=tz,
                body=body,
                location=location,
                created=now,
                modified=now,
                change_key=self._next_key(event_id),
            )
            box.calendar.record(event_id, version)
            box.event_uids[uid] = event_id
            self._emit(
                ChangeNotice("event", "created", box.owner, None, event_id, version.change_key)
            )
            return event_id

    def event(self, owner: str, event_id: str) -> EventVersion | None:
        with self.lock:
            box = self.mailbox(owner)
            found: EventVersion | None = box.calendar.items.get(event_id) if box else None
            return found

    def event_id(self, owner: str, uid: str) -> str | None:
        """The id of the event with iCalendar UID ``uid`` in ``owner``'s calendar."""
        with self.lock:
            box = self.mailbox(owner)
            return box.event_uids.get(uid) if box else None

    def update_event(self, owner: str, event_id: str, **fields: Any) -> None:
        """Change an event or a whole series. Fields are EventVersion names: subject, start,
        end, rrule, exdates, overrides, attendees, organizer, is_private, is_online,
        is_cancelled (a cancelled event leaves calendarView: delta reports @removed), body,
        location."""
        allowed = {
            "subject",
            "start",
            "end",
            "rrule",
            "exdates",
            "overrides",
            "attendees",
            "organizer",
            "is_private",
            "is_online",
            "is_cancelled",
            "body",
            "location",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown event fields {sorted(unknown)}")
        with self.lock:
            box = self._box(owner)
            old: EventVersion | None = box.calendar.items.get(event_id)
            if old is None:
                raise KeyError(f"no event {event_id!r} in {owner}")
            values = dict(fields)
            for key in ("start", "end"):
                if key in values:
                    values[key] = _as_datetime(values[key])
            if "exdates" in values:
                values["exdates"] = frozenset(_as_datetime(d) for d in values["exdates"])
            if "overrides" in values:
                values["overrides"] = tuple(
                    (_as_datetime(o), _as_datetime(s), _as_datetime(e))
                    for o, s, e in values["overrides"]
                )
            if "attendees" in values:
                values["attendees"] = tuple(_coerce_attendee(a) for a in values["attendees"])
            if "organizer" in values:
                values["organizer"] = _coerce_attendee(values["organizer"], "organizer")
            new = replace(
                old, **values, modified=datetime.now(UTC), change_key=self._next_key(event_id)
            )
            if new.rrule:
                check_rrule(new.rrule, new.start, new.tz)
            box.calendar.record(event_id, new)
            self._emit(ChangeNotice("event", "updated", owner, None, event_id, new.change_key))

    def cancel_occurrence(self, owner: str, event_id: str, original_start: datetime) -> None:
        """Cancel one instance of a series (an EXDATE): it disappears from calendarView."""
        with self.lock:
            old = self.event(owner, event_id)
            if old is None:
                raise KeyError(f"no event {event_id!r} in {owner}")
            self.update_event(owner, event_id, exdates=old.exdates | {_as_datetime(original_start)})

    def move_occurrence(
        self, owner: str, event_id: str, original_start: datetime, start: datetime, end: datetime
    ) -> None:
        """Reschedule one instance of a series (it becomes an ``exception``)."""
        with self.lock:
            old = self.event(owner, event_id)
            if old is None:
                raise KeyError(f"no event {event_id!r} in {owner}")
            original = _as_datetime(original_start)
            kept = tuple(o for o in old.overrides if o[0] != original)
            self.update_event(owner, event_id, overrides=(*kept, (original, start, end)))

    def delete_event(self, owner: str, event_id: str) -> None:
        """Delete an event, or a series with all its instances."""
        with self.lock:
            box = self._box(owner)
            old: EventVersion | None = box.calendar.items.get(event_id)
            if old is None:
                raise KeyError(f"no event {event_id!r} in {owner}")
            box.calendar.record(event_id, None)
            box.event_uids.pop(old.uid, None)
            self._emit(ChangeNotice("event", "deleted", owner, None, event_id))

    # ---- call records --------------------------------------------------------------------

    def _identity(self, value: Any) -> Identity:
        if isinstance(value, Identity):
            return value
        if isinstance(value, str):
            email, name = value, ""
        elif isinstance(value, tuple):
            email, name = str(value[0]), str(value[1]) if len(value) > 1 else ""
        else:
            email, name = str(value.email), str(getattr(value, "name", "") or "")
        email = email.strip().lower()
        if email.startswith("+"):  # PSTN participant
            return Identity(email, name, None, None, phone=email)
        user = self.users.get(email)
        if user is not None:
            return Identity(user.id, user.name, user.email, self.tenant_id)
        domain = email.rpartition("@")[2]
        return Identity(guid("external", email), name or email, email, guid("tenant", domain))

    def add_call_record(self, record: Mapping[str, Any]) -> str:
        """Add a Teams call record. Keys: ``start``/``startDateTime``, ``end``/``endDateTime``,
        ``organizer`` and ``participants`` (emails, (email, name), objects with .email, or
        "+phone"), optional ``id``, ``version`` (1), ``type`` (peerToPeer for two parties,
        else groupCall), ``modalities`` (["audio"]), ``joinWebUrl``, ``lastModifiedDateTime``
        (default: end + 10 min, since a record appears after the call ends). Returns the id."""
        with self.lock:
            start = _as_datetime(record.get("start", record.get("startDateTime")))
            end = _as_datetime(record.get("end", record.get("endDateTime")))
            organizer = self._identity(record["organizer"])
            participants = tuple(self._identity(p) for p in record.get("participants", ()))
            if organizer.id not in {p.id for p in participants}:
                participants = (organizer, *participants)
            call_id = str(
                record.get("id")
                or guid(self.tenant, "call", str(len(self.calls)), start.isoformat())
            )
            if call_id in self.calls:
                raise ValueError(f"call record {call_id} exists; use update_call_record")
            modified = record.get("last_modified", record.get("lastModifiedDateTime"))
            version = CallRecordVersion(
                id=call_id,
                version=int(record.get("version", 1)),
                type=str(
                    record.get("type") or ("peerToPeer" if len(participants) <= 2 else "groupCall")
                ),
                modalities=tuple(record.get("modalities") or ("audio",)),
                start=start,
                end=end,
                organizer=organizer,
                participants=participants,
                join_url=record.get("joinWebUrl", record.get("join_url")),
                last_modified=_as_datetime(modified) if modified else end + timedelta(minutes=10),
            )
            self.calls[call_id] = version
            bisect.insort(self.call_index, (start, call_id))
            self._emit(ChangeNotice("callRecord", "created", None, None, call_id))
            return call_id

    def update_call_record(self, call_id: str, **fields: Any) -> int:
        """Change a call record (``end``, ``participants``, ``modalities``, ``type``...); its
        ``version`` goes up by one. Returns the new version."""
        with self.lock:
            old = self.calls[call_id]
            values: dict[str, Any] = {}
            for key, value in fields.items():
                if key in ("end", "endDateTime"):
                    values["end"] = _as_datetime(value)
                elif key == "participants":
                    values["participants"] = tuple(self._identity(p) for p in value)
                elif key == "modalities":
                    values["modalities"] = tuple(value)
                elif key in ("type", "join_url"):
                    values[key] = value
                else:
                    raise ValueError(f"cannot update call record field {key!r}")
            new = replace(old, **values, version=old.version + 1, last_modified=datetime.now(UTC))
            self.calls[call_id] = new
            self._emit(ChangeNotice("callRecord", "updated", None, None, call_id))
            return new.version

    # ---- outbox and ground truth ---------------------------------------------------------

    def record_sent(self, mail: SentMail) -> None:
        with self.lock:
            self.outbox.append(mail)

    def ground_truth(self, window: tuple[datetime, datetime] | None = None) -> GroundTruth:
        """What a perfect sync should hold (see GroundTruth). ``window`` bounds event
        instances; default: `default_window` if seeding set one, else the span of all events
        (open-ended series capped one year after their start)."""
        with self.lock:
            messages = frozenset(
                (box.owner, folder.key, version.internet_message_id)
                for box in self.mailboxes.values()
                for folder in box.folders.values()
                for version in folder.log.items.values()
            )
            versions: list[EventVersion] = [
                v for box in self.mailboxes.values() for v in box.calendar.items.values()
            ]
            lo, hi = window or self.default_window or self._events_span(versions)
            lo, hi = utc(lo), utc(hi)
            events = frozenset(
                (v.owner, ical_uid(v.uid, occ.original_start), iso_z(occ.start))
                for v in versions
                if not v.is_cancelled
                for occ in v.occurrences(lo, hi)
            )
            calls = frozenset((c.id, c.version) for c in self.calls.values())
            return GroundTruth(messages, events, calls, (lo, hi))

    @staticmethod
    def _events_span(versions: list[EventVersion]) -> tuple[datetime, datetime]:
        if not versions:
            now = datetime.now(UTC)
            return now, now
        spans = [series_span(v, timedelta(days=366)) for v in versions]
        return min(s[0] for s in spans), max(s[1] for s in spans) + timedelta(seconds=1)
