"""Streams over folders of one-message files: Maildir, "loose" folders (Enron), a single .eml.

Cursor (opaque JSON to the service)::

    {"v": 1, "after": "<last member done>" | null, "done": bool, "sig": [file_count, max_mtime_ns]}

Members are read in natural order (1, 2, 10). `sig` is taken when a round starts and carried
through it, so a change made during a round makes the next fetch start a new round. Once a round
is done, a fetch only re-takes the signature (one scandir) and returns an empty page when nothing
changed, so re-importing a folder is cheap. Any change restarts the round from the beginning:
the service's upserts are idempotent, and a file tree has no change log to do better with.
Files that vanish are not reported as deletions (a backfill source is not a mailbox of record;
see DESIGN.md contract 7).
"""

from __future__ import annotations

import logging
import os
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from connectors.base import Interaction, Page, RejectedItem
from connectors.files.common import (
    PAGE_SIZE,
    FileStream,
    dump_cursor,
    excerpt,
    io_error,
    load_cursor,
    mailbox_hint,
    natural_key,
)
from connectors.files.rfc822 import MAX_HEADER_BYTES, parse_message, read_header_block

log = logging.getLogger(__name__)

# Suffixes that make a file its own stream (discover.py); never members of a folder stream.
NOT_MEMBER_SUFFIXES = (".ics", ".mbox", ".mbx")


@dataclass(frozen=True, slots=True)
class Member:
    name: str  # provider id and cursor position: unique within the stream, stable across runs
    path: str


class Source(Protocol):
    """Where a folder stream's members come from: FolderStream pages what `scan` lists."""

    def scan(self, with_signature: bool) -> tuple[list[Member], list[int]]:
        """Members in natural order, and (when asked: it costs a stat per file) the signature,
        else an empty list.

        Raises OSError.
        """
        ...


def _signature(entries: Iterable[os.DirEntry[str]], dir_mtimes: Iterable[int]) -> list[int]:
    # Directory mtimes are part of the signature: a rename (a Maildir flag change, a file
    # replaced by another of the same mtime) changes the folder, not the files.
    count = 0
    newest = max(dir_mtimes, default=0)
    for entry in entries:
        count += 1
        newest = max(newest, entry.stat().st_mtime_ns)
    return [count, newest]


def _is_candidate(entry: os.DirEntry[str]) -> bool:
    return (
        not entry.name.startswith(".")
        and not entry.name.lower().endswith(NOT_MEMBER_SUFFIXES)
        and entry.is_file()
    )


class LooseFolder:
    """A plain directory of message files (the Enron layout: inbox/1, inbox/2, ...).

    `exclude` names files discovery recognised as something else (an mbox without a suffix).
    """

    def __init__(self, path: str, exclude: frozenset[str] = frozenset()) -> None:
        self.path = path
        self.exclude = exclude

    def scan(self, with_signature: bool) -> tuple[list[Member], list[int]]:
        with os.scandir(self.path) as it:
            entries = [e for e in it if _is_candidate(e) and e.name not in self.exclude]
        entries.sort(key=lambda e: natural_key(e.name))
        members = [Member(e.name, e.path) for e in entries]
        if not with_signature:
            return members, []
        return members, _signature(entries, [os.stat(self.path).st_mtime_ns])


class Maildir:
    """A Maildir: messages in cur/ and new/ (tmp/ is work in progress and is skipped).

    The member name is the file's unique part, before the `:2,FLAGS` info, so that a message
    keeps its provider id when the client moves it from new/ to cur/ or changes its flags.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def scan(self, with_signature: bool) -> tuple[list[Member], list[int]]:
        entries: list[os.DirEntry[str]] = []
        dir_mtimes: list[int] = []
        for sub in ("new", "cur"):  # cur last: its copy wins if a move is caught half-way
            subdir = os.path.join(self.path, sub)
            try:
                with os.scandir(subdir) as it:
                    entries.extend(e for e in it if _is_candidate(e))
                if with_signature:
                    dir_mtimes.append(os.stat(subdir).st_mtime_ns)
            except FileNotFoundError:
                if not os.path.isdir(self.path):
                    raise
        by_name = {e.name.split(":", 1)[0]: e for e in entries}
        members = [Member(name, by_name[name].path) for name in by_name]
        members.sort(key=lambda m: natural_key(m.name))
        if not with_signature:
            return members, []
        return members, _signature(by_name.values(), dir_mtimes)


class SingleFile:
    """One .eml (or unrecognised) file given on its own."""

    def __init__(self, path: str) -> None:
        self.path = path

    def scan(self, with_signature: bool) -> tuple[list[Member], list[int]]:
        stat = os.stat(self.path)  # raises FileNotFoundError when it is gone
        return [Member(os.path.basename(self.path), self.path)], [1, stat.st_mtime_ns]


def read_member(member: Member, folder: str) -> Interaction | RejectedItem | None:
    """Parse one file; None when it vanished between listing and reading."""
    try:
        block, terminated = read_header_block(member.path)
    except (FileNotFoundError, IsADirectoryError):
        return None
    except OSError as exc:
        return RejectedItem(member.name, f"unreadable file: {exc.strerror or exc}")
    if not terminated and len(block) >= MAX_HEADER_BYTES:
        return RejectedItem(member.name, "header block larger than 8 MiB", excerpt(block))
    try:
        return parse_message(block, provider_id=member.name, folder=folder)
    except Exception as exc:  # bad input is data, not a crash (DESIGN.md contract 5)
        log.warning("cannot parse %s", member.path, exc_info=True)
        reason = f"parser error: {type(exc).__name__}: {exc}"
        return RejectedItem(member.name, reason, excerpt(block))


class FolderStream(FileStream):
    """A stream over a `Source` of one-message files. See the module docstring for the cursor."""

    def __init__(
        self,
        *,
        key: str,
        source: Source,
        folder: str,
        mailbox: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        super().__init__(key=key, mailbox=mailbox, page_size=page_size)
        self._source = source
        self._folder = folder

    def _scan(self, with_signature: bool) -> tuple[list[Member], list[int]]:
        try:
            return self._source.scan(with_signature)
        except OSError as exc:
            raise io_error(self._key, exc) from exc

    def fetch_page(self, cursor: str | None) -> Page:
        """The next page of up to `page_size` files after `cursor`.

        Raises: StreamGoneError (the folder is gone), AuthError (permission denied),
        TransientError (other I/O errors), CursorInvalidError (not one of our cursors).
        """
        after: str | None = None
        if cursor is None:
            members, sig = self._scan(True)
        else:
            state = load_cursor(cursor, self._key, ("sig",))
            if state.get("done"):
                members, sig = self._scan(True)
                if sig == state["sig"]:
                    return Page(interactions=[], cursor=cursor, complete=True)
            else:
                members, _ = self._scan(False)
                sig, after = state["sig"], state.get("after")
        start = 0
        if isinstance(after, str):
            keys = [natural_key(m.name) for m in members]
            start = bisect_right(keys, natural_key(after))
        batch = members[start : start + self._page_size]
        complete = start + len(batch) >= len(members)

        interactions: list[Interaction] = []
        rejected: list[RejectedItem] = []
        for member in batch:
            item = read_member(member, self._folder)
            if isinstance(item, Interaction):
                interactions.append(item)
            elif item is not None:
                rejected.append(item)
        next_cursor = dump_cursor(
            {"after": None if complete else batch[-1].name, "done": complete, "sig": sig}
        )
        return Page(
            interactions=interactions,
            cursor=next_cursor,
            complete=complete,
            rejected=rejected,
            items_seen=len(interactions) + len(rejected),
            mailbox_hint=None if self.mailbox else mailbox_hint(interactions),
        )
