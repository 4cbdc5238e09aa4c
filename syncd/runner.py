"""Drive one stream from its stored cursor to the end of its round.

The loop shape is the same for every connector: fetch a page (no database session held during
the network or disk read), then write the page and its cursor in one short transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import ConnectorError, CursorInvalidError, Page, Stream
from syncd.capture import Capturer, PageResult, ensure_persons
from syncd.policy import Policy
from syncd.store import models as m
from syncd.store.db import session_scope

MAX_CONSECUTIVE_RESYNCS = 3
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0


def backoff_seconds(failures: int, retry_after: float | None) -> float:
    """Exponential back-off for a failing stream, never shorter than the server asked."""
    wait: float = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2.0 ** max(0, failures - 1))
    return max(wait, retry_after or 0.0)


MASS_DELETION_MIN = 20  # a handful of deletions is ordinary life in a mailbox
MASS_DELETION_SHARE = 0.5


class MassDeletionError(ConnectorError):
    """A stream that had data suddenly deletes most of it (revoked permission, wrong mailbox,
    a resync gone wrong): stop it instead of erasing sightings and weakening ties (contract 7).
    An operator who knows the deletions are real re-runs with --allow-mass-deletion."""


def refuse_mass_deletion(factory: sessionmaker[Session], stream_id: int, key: str,
                         deletions: int) -> None:
    """Raises MassDeletionError (after recording it on the stream) for a suspicious page."""
    if deletions < MASS_DELETION_MIN:
        return
    with session_scope(factory) as s:
        live = s.scalar(select(func.count()).select_from(m.Sighting).where(
            m.Sighting.stream_id == stream_id, m.Sighting.deleted_at.is_(None))) or 0
    if deletions <= live * MASS_DELETION_SHARE:
        return
    exc = MassDeletionError(
        f"{key}: one page deletes {deletions} of the {live} items this stream holds; "
        "stopped instead of deleting (check the mailbox and permissions, then run "
        "`syncd run --once --allow-mass-deletion` if the deletions are real)")
    record_failure(factory, stream_id, exc)
    with session_scope(factory) as s:
        s.get_one(m.Stream, stream_id).phase = "stopped"
    raise exc


def sweep_after_resync(session: Session, row: m.Stream, allow_mass_deletion: bool) -> int:
    """After a full re-read, what the stream no longer holds are its sightings not seen since
    the re-read began: items deleted while the cursor was invalid. Returns how many.

    Raises MassDeletionError (the transaction, cursor included, is then rolled back) when
    that is most of the stream: a resync that came back nearly empty is suspicious too.
    """
    started = row.resync_started_at
    assert started is not None
    stale = select(m.Sighting.id).where(
        m.Sighting.stream_id == row.id, m.Sighting.deleted_at.is_(None),
        m.Sighting.seen_at < started)
    count = session.scalar(select(func.count()).select_from(stale.subquery())) or 0
    if count and not allow_mass_deletion:
        live = session.scalar(select(func.count()).select_from(m.Sighting).where(
            m.Sighting.stream_id == row.id, m.Sighting.deleted_at.is_(None))) or 0
        if count >= MASS_DELETION_MIN and count > live * MASS_DELETION_SHARE:
            raise MassDeletionError(
                f"{row.key}: the full resync no longer shows {count} of the {live} items this "
                "stream held; stopped instead of deleting (check the mailbox and permissions, "
                "then `syncd run --once --allow-mass-deletion`)")
    if count:
        session.execute(update(m.Sighting).where(m.Sighting.id.in_(stale)).values(
            deleted_at=datetime.now(UTC)))
    row.resync_started_at = None
    return count


def record_failure(factory: sessionmaker[Session], stream_id: int, exc: BaseException) -> None:
    """Store the error in plain words on the stream and push its next poll back."""
    now = datetime.now(UTC)
    with session_scope(factory) as s:
        row = s.get_one(m.Stream, stream_id)
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
        row.last_error = f"{type(exc).__name__}: {exc}"
        row.last_error_at = now
        wait = backoff_seconds(row.consecutive_failures, getattr(exc, "retry_after", None))
        row.next_due_at = now + timedelta(seconds=wait)


@dataclass
class StreamRun:
    stream_key: str
    mailbox: str | None
    mailbox_inferred: bool = False
    pages: int = 0
    result: PageResult = field(default_factory=PageResult)
    resyncs: int = 0


def get_or_create_mailbox(
    session: Session, connector: str, address: str, policy: Policy, display_name: str = ""
) -> m.Mailbox:
    """Mailbox owners are internal users: their address joins the directory."""
    now = datetime.now(UTC)
    mb = session.scalar(
        select(m.Mailbox).where(m.Mailbox.connector == connector, m.Mailbox.address == address)
    )
    if mb is None:
        mb = m.Mailbox(connector=connector, address=address, display_name=display_name,
                       created_at=now)
        session.add(mb)
        session.flush()
    ensure_user(session, address, display_name, policy, now)
    return mb


def ensure_user(
    session: Session, address: str, name: str, policy: Policy, now: datetime
) -> int:
    ids, _ = ensure_persons(session, {address: name}, policy, now)
    pid = ids[address]
    uid = session.scalar(select(m.User.id).where(m.User.person_id == pid))
    if uid is None:
        user = m.User(person_id=pid, display_name=name)
        session.add(user)
        session.flush()
        uid = user.id
    person = session.get_one(m.Person, pid)
    person.is_internal = True
    if name and not person.name:
        person.name = name
    return uid


def get_or_create_stream(
    session: Session, connector: str, key: str, mailbox_id: int | None
) -> m.Stream:
    row = session.scalar(
        select(m.Stream).where(m.Stream.connector == connector, m.Stream.key == key)
    )
    if row is None:
        row = m.Stream(connector=connector, key=key, mailbox_id=mailbox_id, phase="initial",
                       round_complete=False, resync_count=0, items_total=0)
        session.add(row)
        session.flush()
    elif mailbox_id is not None and row.mailbox_id is None:
        row.mailbox_id = mailbox_id
    return row


def _write_page(factory: sessionmaker[Session], capturer: Capturer, connector: str,
                stream_id: int, page: Page, owner: str | None, allow_mass_deletion: bool,
                run: StreamRun) -> PageResult:
    """One transaction: the page, its cursor, and (ending a resync) the sweep."""
    with session_scope(factory) as s:
        row = s.get_one(m.Stream, stream_id)
        if owner is None and page.mailbox_hint:
            owner = page.mailbox_hint
            row.mailbox_id = get_or_create_mailbox(s, connector, owner, capturer.policy).id
            run.mailbox, run.mailbox_inferred = owner, True
        res = capturer.capture_page(s, row, page)
        row.consecutive_failures = 0
        if page.complete and row.resync_started_at is not None:
            res.deletions += sweep_after_resync(s, row, allow_mass_deletion)
    return res


def run_stream(
    factory: sessionmaker[Session],
    capturer: Capturer,
    connector: str,
    stream: Stream,
    *,
    mailbox: str | None = None,
    display_name: str = "",
    on_page: Callable[[PageResult], None] | None = None,
    allow_mass_deletion: bool = False,
) -> StreamRun:
    """Sync `stream` to the end of its current round, one committed page at a time.

    Raises: ConnectorError subclasses other than CursorInvalidError, after recording the error
    on the stream row; CursorInvalidError is handled by restarting from scratch (bounded);
    MassDeletionError when a page would delete most of what the stream holds.
    """
    owner = mailbox or stream.mailbox
    run = StreamRun(stream_key=stream.key, mailbox=owner)
    with session_scope(factory) as s:
        mb_id = (get_or_create_mailbox(s, connector, owner, capturer.policy, display_name).id
                 if owner else None)
        row = get_or_create_stream(s, connector, stream.key, mb_id)
        stream_id, cursor = row.id, row.cursor
    while True:
        try:
            page = stream.fetch_page(cursor)
        except CursorInvalidError as exc:
            run.resyncs += 1
            give_up = run.resyncs > MAX_CONSECUTIVE_RESYNCS
            with session_scope(factory) as s:
                row = s.get_one(m.Stream, stream_id)
                row.resync_count += 1
                row.phase = "stopped" if give_up else "resync"
                row.resync_started_at = row.resync_started_at or datetime.now(UTC)
                row.last_error = (f"cursor rejected {run.resyncs} times in a row, stream "
                                  f"stopped: {exc}" if give_up
                                  else f"cursor rejected, full resync: {exc}")
                row.last_error_at = datetime.now(UTC)
            if give_up:
                raise
            cursor = None
            continue
        except Exception as exc:
            record_failure(factory, stream_id, exc)
            raise
        if page.deletions and not allow_mass_deletion:
            refuse_mass_deletion(factory, stream_id, stream.key, len(page.deletions))
        try:
            res = _write_page(factory, capturer, connector, stream_id, page, owner,
                              allow_mass_deletion, run)
        except MassDeletionError as exc:
            record_failure(factory, stream_id, exc)
            with session_scope(factory) as s:
                s.get_one(m.Stream, stream_id).phase = "stopped"
            raise
        owner = run.mailbox
        run.pages += 1
        run.result.add(res)
        if on_page is not None:
            on_page(res)
        cursor = page.cursor
        if page.complete:
            return run
