"""The no-change fast path of a poll: most polls of a quiet mailbox find nothing new.

Through `runner.run_stream` such a poll costs two transactions (mailbox, owner and stream
looked up or created; then the empty page "captured" with its cursor), about two thirds of a
no-change poll's CPU (issue 7's benchmark: target under 2 ms per stream). Here the scheduler
(and `syncd run --once`, `syncd.sync`) reads every stream row of a unit (a mailbox) in one
query, *probes* each due stream with one fetch from its stored cursor, and:

- when the page is empty and ends the round, keeps its cursor for the unit's last
  transaction, which stores it (`empty_page_values`, `store_rows`) with the stream's next
  poll and, in the scheduler, gives the lease back;
- otherwise hands the page already fetched to `run_stream` through `Prefetched`, so the
  changes are captured exactly as before, without fetching the page twice (and an error of
  the probe is recorded by `run_stream` as if it had fetched).

Why storing the cursor later is safe (DESIGN.md contract 2): an empty page writes no data, so
its cursor and its data still commit together; until that commit the stored cursor is the
previous one, which stays valid, and polling from it again reads the same nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session

from connectors.base import Page, Stream
from syncd.store import models as m


@dataclass(frozen=True, slots=True)
class StoredStream:
    """The parts of a `streams` row the fast path needs."""

    id: int
    cursor: str | None
    has_mailbox: bool
    resyncing: bool  # a full re-read is running: its last page sweeps stale sightings

    @property
    def probe(self) -> bool:
        """Whether a poll may start with a probe: the stream has a cursor to poll from and
        its row was set up by an earlier `run_stream` (a first poll goes the full way)."""
        return self.cursor is not None and not self.resyncing


def is_empty_round_end(page: Page, stored: StoredStream) -> bool:
    """A page that needs no capture: nothing in it, and it ends the round (a deltaLink). A
    page naming a mailbox for a stream without one still goes through `run_stream`."""
    return (page.complete and not page.interactions and not page.deletions
            and not page.rejected
            and (page.mailbox_hint is None or stored.has_mailbox))


def probe(stream: Stream, cursor: str | None) -> Page | Exception:
    """The page that follows ``cursor``, or the exception fetching it raised (`Prefetched`
    hands it to `run_stream`, which records it as if its own fetch had raised it)."""
    try:
        return stream.fetch_page(cursor)
    except Exception as exc:
        return exc


def empty_page_values(stream_id: int, page: Page, now: datetime,
                      poll_due_at: datetime | None = None) -> dict[str, Any]:
    """Column values (an UPDATE by primary key, `store_rows`) for a stream whose poll read
    an empty page that ends the round: what `Capturer.capture_page` and `runner._write_page`
    write to the stream row for such a page, plus the next planned poll when there is one.
    tests/service/test_nochange.py checks that both ways leave the same row."""
    values: dict[str, Any] = {"id": stream_id, "cursor": page.cursor, "round_complete": True,
                              "phase": "incremental", "last_success_at": now,
                              "last_error": None, "consecutive_failures": 0}
    if poll_due_at is not None:
        values["poll_due_at"] = poll_due_at
    return values


def store_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """UPDATE `streams` rows by primary key (``id``) with each dict's other columns: one Core
    executemany per set of columns (the ORM's bulk UPDATE costs several times more per row:
    it maps keys and synchronises the session)."""
    table = cast(Table, m.Stream.__table__)
    for columns in {tuple(values) for values in rows}:
        params = [{f"p_{k}": v for k, v in values.items()} for values in rows
                  if tuple(values) == columns]
        session.execute(update(table).where(table.c.id == bindparam("p_id")).values(
            {c: bindparam(f"p_{c}") for c in columns if c != "id"}), params)


class Prefetched:
    """A stream whose first page, from ``cursor``, was already fetched (or failed): `run_stream`
    gets it without a second request; later pages come from the stream itself."""

    def __init__(self, stream: Stream, cursor: str | None,
                 outcome: Page | Exception) -> None:
        self.stream = stream
        self._cursor = cursor
        self._outcome: Page | Exception | None = outcome

    @property
    def key(self) -> str:
        return self.stream.key

    @property
    def mailbox(self) -> str | None:
        return self.stream.mailbox

    def fetch_page(self, cursor: str | None) -> Page:
        """The probed outcome once, if asked for the probed cursor; else a real fetch.

        Raises: the probe's exception, or what the stream's own fetch raises."""
        outcome, self._outcome = self._outcome, None
        if outcome is None or cursor != self._cursor:
            return self.stream.fetch_page(cursor)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def __repr__(self) -> str:
        return f"Prefetched({self.stream!r})"
