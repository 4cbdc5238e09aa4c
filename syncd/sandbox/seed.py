"""Filling the sandbox: from a demo company (``syncd.demo``) or from mail files.

The demo generator is only duck-typed here (Protocols below), so the sandbox does not import
``syncd.demo`` and either side can change without breaking the other's import.
"""

from __future__ import annotations

import mailbox as mailboxes
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from syncd.sandbox.state import SALES_GROUP, SandboxState

DELIVERY_DELAY = timedelta(seconds=2)  # inbox copies arrive a little after the Date: header


class PersonLike(Protocol):
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str: ...


class MessageLike(Protocol):
    @property
    def raw(self) -> bytes: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def copies(self) -> Sequence[tuple[str, str]]: ...  # (owner, "inbox" | "sentitems")


class EventLike(Protocol):
    @property
    def uid(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def organizer(self) -> Any: ...
    @property
    def attendees(self) -> Sequence[Any]: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def rrule(self) -> str | None: ...
    @property
    def exdates(self) -> Sequence[datetime]: ...
    @property
    def overrides(self) -> Sequence[tuple[datetime, datetime, datetime]]: ...
    @property
    def is_private(self) -> bool: ...
    @property
    def is_online(self) -> bool: ...
    @property
    def calendars(self) -> Sequence[str]: ...


class CallLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def organizer(self) -> Any: ...
    @property
    def participants(self) -> Sequence[Any]: ...
    @property
    def modalities(self) -> Sequence[str]: ...


class CompanyLike(Protocol):
    """What `seed_demo` reads from a ``syncd.demo.DemoCompany`` (optional extras, read with
    getattr: person ``title``, message ``raw_for()``, event ``tz``/``location``, call ``kind``)."""

    @property
    def domain(self) -> str: ...
    @property
    def users(self) -> Sequence[PersonLike]: ...
    def messages(self) -> Iterator[MessageLike]: ...
    def events(self) -> Iterator[EventLike]: ...
    def calls(self) -> Iterator[CallLike]: ...


@dataclass
class SeedReport:
    users: int = 0
    messages: int = 0  # message copies stored
    events: int = 0  # calendar entries (one per owner)
    calls: int = 0
    skipped: int = 0  # copies/calendars whose owner is not a tenant user


def seed_demo(state: SandboxState, company: CompanyLike) -> SeedReport:
    """Load a demo company: every user (group "Sales"), every message copy, every event in
    every listed calendar, every call record. Each raw message is parsed once; its copies
    share the parsed content."""
    report = SeedReport()
    for person in company.users:
        state.add_user(
            person.email, person.name, (SALES_GROUP,), title=getattr(person, "title", None)
        )
        report.users += 1
    for message in company.messages():
        parsed = state.parse(message.raw)
        raw_for = getattr(message, "raw_for", None)  # DemoMessage: the sent copy keeps Bcc
        for owner, folder in message.copies:
            if state.user(owner) is None:
                report.skipped += 1
                continue
            content = parsed
            if raw_for is not None:
                raw = raw_for(owner, folder)
                if raw != message.raw:
                    content = state.parse(raw)
            received = message.sent_at
            if received is not None and folder != "sentitems":
                received += DELIVERY_DELAY
            state.add_message(owner, folder, content, received_at=received)
            report.messages += 1
    for event in company.events():
        for owner in event.calendars:
            if state.user(owner) is None:
                report.skipped += 1
                continue
            state.add_event(
                owner,
                uid=event.uid,
                subject=event.subject,
                organizer=event.organizer,
                attendees=event.attendees,
                start=event.start,
                end=event.end,
                rrule=event.rrule,
                exdates=event.exdates,
                overrides=event.overrides,
                is_private=event.is_private,
                is_online=event.is_online,
                location=getattr(event, "location", ""),
                tz=getattr(event, "tz", "UTC"),
            )
            report.events += 1
    for call in company.calls():
        state.add_call_record(
            {
                "id": call.id,
                "version": call.version,
                "start": call.start,
                "end": call.end,
                "organizer": call.organizer,
                "participants": call.participants,
                "modalities": call.modalities,
                "type": getattr(call, "kind", None),
            }
        )
        report.calls += 1
    return report


def _mail_files(path: Path) -> Iterator[bytes]:
    """Raw messages under ``path``: a Maildir (cur/new), an mbox file, a single .eml file, or
    a directory tree of one-message files (the Enron layout)."""
    if path.is_dir():
        if (path / "cur").is_dir() or (path / "new").is_dir():
            box = mailboxes.Maildir(path, factory=None, create=False)
            for key in sorted(box.keys()):
                yield box.get_bytes(key)
            return
        for child in sorted(path.rglob("*")):
            if child.is_file() and not child.name.startswith("."):
                yield child.read_bytes()
        return
    with path.open("rb") as handle:
        is_mbox = handle.read(5) == b"From "
    if is_mbox:
        mbox = mailboxes.mbox(path, factory=None, create=False)
        try:
            for key in mbox.iterkeys():
                yield mbox.get_bytes(key)
        finally:
            mbox.close()
    else:
        yield path.read_bytes()


def seed_mailfiles(
    state: SandboxState, owner: str, paths: Iterable[Path], folder: str = "inbox"
) -> int:
    """Deliver every message found under ``paths`` into ``owner``'s ``folder`` (the user is
    created when missing); returns how many were stored."""
    if state.user(owner) is None:
        state.add_user(owner, owner.partition("@")[0].replace(".", " ").title(), (SALES_GROUP,))
    count = 0
    for path in paths:
        for raw in _mail_files(Path(path)):
            state.add_message(owner, folder, raw)
            count += 1
    return count
