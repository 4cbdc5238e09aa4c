"""The connector contract: what every connector (files, msgraph, ews) hands to the service.

A connector answers one question per stream: given an opaque cursor (or None), return the next
page of normalised changes and the cursor that follows it (DESIGN.md, contract 1). Connectors know
nothing of the store; the service commits a page's changes together with its cursor.

Error tree (sorted by what the caller should do)::

    ConnectorError
    ├── TransientError          retry later (network, 5xx)
    │   └── ThrottledError      retry after .retry_after seconds (429, ErrorServerBusy)
    ├── CursorInvalidError      the provider rejected the cursor: restart the stream from None
    ├── AuthError               stop this mailbox and report (bad secret, consent missing)
    └── StreamGoneError         the folder/mailbox/file no longer exists
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


class Kind(enum.StrEnum):
    EMAIL = "email"
    MEETING = "meeting"
    CALL = "call"


class Role(enum.StrEnum):
    FROM = "from"
    TO = "to"
    CC = "cc"
    BCC = "bcc"
    ORGANIZER = "organizer"
    ATTENDEE = "attendee"
    CALLER = "caller"
    CALLEE = "callee"


@dataclass(frozen=True, slots=True)
class Participant:
    """One party of an interaction.

    `email` is the normalised address (see `syncd.normalize.normalize_address`), or, for an
    Exchange legacy DN that could not be resolved yet, the key `x500:<lowercased dn>`.
    """

    email: str
    role: Role
    name: str = ""
    response: str | None = None  # meetings: accepted / declined / tentative / none

    def __reduce__(self) -> tuple[type[Participant], tuple[str, Role, str, str | None]]:
        # Pages cross process boundaries (connectors.prefetch); the default unpickling of a
        # slotted frozen dataclass goes through dataclasses.fields() per object and cost more
        # than parsing the mail.
        return (Participant, (self.email, self.role, self.name, self.response))


@dataclass(frozen=True, slots=True)
class Interaction:
    """The connector-neutral record of one email, meeting occurrence or call.

    `natural_key` is the same whichever mailbox saw the item (contract 3): for email the
    normalised Message-ID (or a stable digest when it is missing), for a meeting occurrence the
    iCalUId plus the occurrence start, for a call the call record id.
    """

    natural_key: str
    kind: Kind
    provider_id: str  # the id of this copy in this stream (Graph id, EWS ItemId, file path)
    occurred_at: datetime  # timezone-aware UTC: sent time, meeting start, call start
    subject: str = ""
    ended_at: datetime | None = None
    thread_key: str | None = None  # conversation id / root Message-ID / References root
    in_reply_to: str | None = None  # normalised Message-ID of the parent, when known
    participants: tuple[Participant, ...] = ()
    is_private: bool = False  # Sensitivity private/confidential, or CLASS:PRIVATE
    is_automated: bool = False  # Auto-Submitted, Precedence bulk/list, no-reply sender, ...
    is_cancelled: bool = False
    version: int = 0  # call records: a later version replaces an earlier one
    folder: str = ""  # the folder label in which this copy was seen (inbox, sentitems, ...)
    extra: dict[str, str] = field(default_factory=dict)  # small provider facts worth keeping
    # Email only: connectors.normalize.email_fingerprint, a second key for copies whose
    # Message-ID was rewritten per mailbox. None: match on natural_key alone.
    fingerprint: str | None = None

    def __reduce__(self) -> tuple[type[Interaction], tuple[object, ...]]:
        # See Participant.__reduce__: rebuild through the constructor, positionally.
        return (Interaction, tuple(getattr(self, name) for name in _INTERACTION_FIELDS))


_INTERACTION_FIELDS = tuple(Interaction.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Deletion:
    """This stream no longer holds the copy with this provider id."""

    provider_id: str


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """An item that could not be normalised: bad input is data, not a crash (contract 5)."""

    provider_id: str
    reason: str
    excerpt: str = ""  # at most a few hundred characters of the raw item, for the operator


@dataclass(frozen=True, slots=True)
class Page:
    """One unit of work: commit all of it with `cursor`, or none of it.

    `complete` is True when this page ends a round (Graph deltaLink, EWS IncludesLastItemInRange,
    end of file): the next poll with `cursor` asks only for changes.
    `items_seen` counts raw items read, including those that became rejects.
    """

    interactions: list[Interaction]
    cursor: str | None
    complete: bool
    deletions: list[Deletion] = field(default_factory=list)
    rejected: list[RejectedItem] = field(default_factory=list)
    items_seen: int = 0
    mailbox_hint: str | None = None  # an owner address the connector inferred, if any


@runtime_checkable
class Stream(Protocol):
    """One incremental feed inside a mailbox (a folder, a calendar view, a file)."""

    @property
    def key(self) -> str:
        """Stable identifier of the stream within its connector, e.g. `maildir:/path` or `inbox`."""
        ...

    @property
    def mailbox(self) -> str | None:
        """The owner's normalised address, or None when unknown (file imports)."""
        ...

    def fetch_page(self, cursor: str | None) -> Page:
        """Return the page that follows `cursor` (None: start from scratch).

        Raises: a `ConnectorError` subclass; never a third-party exception.
        """
        ...


class NamedStream:
    """What every stream implementation shares: its key and owner, and a readable repr.
    Subclasses add `fetch_page`."""

    def __init__(self, key: str, mailbox: str | None) -> None:
        self._key = key
        self._owner = mailbox

    @property
    def key(self) -> str:
        return self._key

    @property
    def mailbox(self) -> str | None:
        return self._owner

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._key!r})"


class ConnectorError(Exception):
    """Base of every error a connector raises."""


class TransientError(ConnectorError):
    pass


class ThrottledError(TransientError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CursorInvalidError(ConnectorError):
    pass


class AuthError(ConnectorError):
    pass


class StreamGoneError(ConnectorError):
    pass


def meeting_key(uid: str, original_start: datetime) -> str:
    """Natural key of one meeting occurrence, the same from every connector.

    `original_start` is the occurrence's slot in the series (RECURRENCE-ID; Graph's
    `originalStart` for an exception, `start` otherwise), so a moved occurrence keeps its key
    even in a calendar that has not seen the move yet.
    """
    return f"{uid}|{original_start.astimezone(UTC).isoformat()}"


def iter_pages(stream: Stream, cursor: str | None) -> Iterator[Page]:
    """Follow a stream from `cursor` to the end of its current round (a helper for imports)."""
    while True:
        page = stream.fetch_page(cursor)
        yield page
        cursor = page.cursor
        if page.complete:
            return
