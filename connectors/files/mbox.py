"""A stream over one mbox file (mboxo/mboxrd/mboxcl as written by Thunderbird, mutt, Gmail Takeout).

Not `mailbox.mbox`: it reads every line of the file in Python to build its table of contents,
parses whole messages, and cannot start from a byte offset. We need only message boundaries and
header blocks; `mmap.find` locates both at C speed, and the cursor is a plain byte offset.

Cursor::

    {"v": 1, "offset": <start of the next message>, "tail": "<digest of the 1 KiB before it>",
     "done": bool, "sig": [size, mtime_ns]}

At the end of a round `offset` points at the start of the *last* message, not at the end of file,
so that a message still being appended when we read it is read again, whole, next time. When the
file changed, reading resumes at `offset` if the bytes before it are unchanged and a message
starts there (mbox files grow by appending); otherwise (compaction, rewrite) from the start.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import re

from connectors.base import Interaction, Page, RejectedItem
from connectors.files.common import (
    PAGE_SIZE,
    FileStream,
    dump_cursor,
    excerpt,
    io_error,
    load_cursor,
    mailbox_hint,
)
from connectors.files.rfc822 import MAX_HEADER_BYTES, header_end, parse_message

log = logging.getLogger(__name__)

_SEPARATOR = b"\nFrom "
# An unescaped "From " at the start of a body line is common in mboxo files. A real separator
# is followed by a header line; prose almost never is.
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_TAIL_BYTES = 1024
_EMPTY_TAIL = hashlib.sha1(b"").hexdigest()[:16]


def _next_message(mm: mmap.mmap, pos: int) -> int:
    """Start of the first valid "From " separator line after `pos`, or the file size."""
    size = len(mm)
    while True:
        found = mm.find(_SEPARATOR, pos)
        if found < 0:
            return size
        start = found + 1
        line_end = mm.find(b"\n", start)
        if line_end < 0:
            return size  # a lone "From " line at the end: the tail of a truncated file
        if _HEADER_LINE.match(mm, line_end + 1):
            return start
        pos = start


def _tail(mm: mmap.mmap, offset: int) -> str:
    return hashlib.sha1(mm[max(0, offset - _TAIL_BYTES) : offset]).hexdigest()[:16]


class MboxStream(FileStream):
    """One mbox file. See the module docstring for the cursor."""

    def __init__(
        self,
        *,
        key: str,
        path: str,
        folder: str,
        mailbox: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        super().__init__(key=key, mailbox=mailbox, page_size=page_size)
        self._path = path
        self._folder = folder

    def fetch_page(self, cursor: str | None) -> Page:
        """The next page of up to `page_size` messages after `cursor`.

        Raises: StreamGoneError (the file is gone), AuthError (permission denied),
        TransientError (other I/O errors), CursorInvalidError (not one of our cursors).
        """
        try:
            with open(self._path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                sig = [stat.st_size, stat.st_mtime_ns]
                if stat.st_size == 0:
                    return self._empty(cursor, sig)
                with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    offset = self._resume_at(cursor, sig, mm)
                    if offset is None:
                        return Page(interactions=[], cursor=cursor, complete=True)
                    return self._read(mm, offset, sig)
        except OSError as exc:
            raise io_error(self._key, exc) from exc

    def _empty(self, cursor: str | None, sig: list[int]) -> Page:
        if cursor is not None:
            state = load_cursor(cursor, self._key, ("sig",))
            if state.get("done") and state["sig"] == sig:
                return Page(interactions=[], cursor=cursor, complete=True)
        state_out = {"offset": 0, "tail": _EMPTY_TAIL, "done": True, "sig": sig}
        return Page(interactions=[], cursor=dump_cursor(state_out), complete=True)

    def _resume_at(self, cursor: str | None, sig: list[int], mm: mmap.mmap) -> int | None:
        """Where to read from; None when the round is done and the file unchanged."""
        if cursor is None:
            return 0
        state = load_cursor(cursor, self._key, ("offset", "tail", "sig"))
        offset = state["offset"]
        if not isinstance(offset, int) or offset < 0:
            return 0
        if state["sig"] == sig:
            return None if state.get("done") else offset
        if (
            0 < offset <= len(mm)
            and _tail(mm, offset) == state["tail"]
            and mm[offset : offset + 5] == b"From "
        ):
            return offset  # appended to: carry on
        return 0  # rewritten: start again, the service's upserts are idempotent

    def _read(self, mm: mmap.mmap, pos: int, sig: list[int]) -> Page:
        size = len(mm)
        interactions: list[Interaction] = []
        rejected: list[RejectedItem] = []
        if pos == 0 and mm[:5] != b"From ":
            first = _next_message(mm, 0)
            if mm[:first].strip():  # blank lines before the first message are harmless
                reason = "not mbox data: no 'From ' line"
                rejected.append(RejectedItem("offset:0", reason, excerpt(mm[:300])))
            pos = first
        last_start = pos
        count = 0
        while pos < size and count < self._page_size:
            following = _next_message(mm, pos)
            item = self._parse(mm, pos, following)
            if isinstance(item, Interaction):
                interactions.append(item)
            else:
                rejected.append(item)
            last_start, pos = pos, following
            count += 1
        complete = pos >= size
        offset = last_start if complete else pos
        state = {"offset": offset, "tail": _tail(mm, offset), "done": complete, "sig": sig}
        return Page(
            interactions=interactions,
            cursor=dump_cursor(state),
            complete=complete,
            rejected=rejected,
            items_seen=len(interactions) + len(rejected),
            mailbox_hint=None if self.mailbox else mailbox_hint(interactions),
        )

    def _parse(self, mm: mmap.mmap, start: int, stop: int) -> Interaction | RejectedItem:
        provider_id = f"offset:{start}"
        end = header_end(mm, start, stop)
        if end < 0:
            if stop >= len(mm):
                # The last message has no blank line after its header: the file was cut (or is
                # being written) inside the header block, so the fields we see may be cut too.
                reason = "truncated message: the file ends inside the header block"
                return RejectedItem(provider_id, reason, excerpt(mm[start : start + 300]))
            end = stop  # a header-only message followed by the next one
        if end - start > MAX_HEADER_BYTES:
            reason = "header block larger than 8 MiB"
            return RejectedItem(provider_id, reason, excerpt(mm[start : start + 300]))
        block = mm[start:end]
        try:
            return parse_message(block, provider_id=provider_id, folder=self._folder)
        except Exception as exc:  # bad input is data, not a crash (DESIGN.md contract 5)
            log.warning("cannot parse %s at %s", self._path, provider_id, exc_info=True)
            reason = f"parser error: {type(exc).__name__}: {exc}"
            return RejectedItem(provider_id, reason, excerpt(block))
