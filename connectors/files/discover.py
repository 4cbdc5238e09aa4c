"""Find the mail sources under a path and open one stream for each.

What counts as what:

- a directory with `cur/` and `new/` is a Maildir (one stream; `tmp/` is skipped; Maildir++
  sub-folders such as `.Sent` are Maildirs of their own);
- a directory that directly holds message files (the Enron layout, or a folder of .eml files) is
  one "loose" folder stream; its other files are members too and come back as RejectedItems, so
  that junk next to mail is visible to the operator;
- a file ending in .mbox/.mbx, or starting with "From ", is an mbox stream;
- a file ending in .ics is a calendar stream;
- a directory whose files none look like mail is skipped (a tree of photos is not an error).

"Looks like mail" is decided from the first 4 KiB: an .eml suffix, or a header field on the
first line and a well-known field (From, Date, Message-ID, ...) among the first lines.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from connectors.base import Stream
from connectors.files.common import PAGE_SIZE, natural_key
from connectors.files.ics import IcsStream, Window, default_window
from connectors.files.maildir import (
    NOT_MEMBER_SUFFIXES,
    FolderStream,
    LooseFolder,
    Maildir,
    SingleFile,
)
from connectors.files.mbox import MboxStream
from connectors.normalize import normalize_address

log = logging.getLogger(__name__)

SNIFF_BYTES = 4096
_FIRST_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
_KNOWN_FIELD = re.compile(
    rb"(?im)^(?:from|date|message-id|received|subject|to|return-path|delivered-to|mime-version)"
    rb"[ \t]*:"
)
_MAILDIR_PARTS = ("cur", "new", "tmp")

FileKind = Literal["message", "mbox", "ics"]


def sniff(path: str) -> FileKind | None:
    """What a file holds, from its name and first bytes; None for not mail (or unreadable)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".ics":
        return "ics"
    if suffix in (".mbox", ".mbx"):
        return "mbox"
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES).lstrip(b"\r\n")  # see rfc822.read_header_block
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None
    if head.startswith(b"From "):
        return "mbox"
    if suffix == ".eml":
        return "message"
    if _FIRST_FIELD.match(head) and _KNOWN_FIELD.search(head):
        return "message"
    return None


def _is_maildir(path: str) -> bool:
    return os.path.isdir(os.path.join(path, "cur")) and os.path.isdir(os.path.join(path, "new"))


def _maildir_label(path: str) -> str:
    name = os.path.basename(path)
    if name.lower() == "maildir":
        return "inbox"  # the root of a Maildir++ tree is the INBOX
    return name.lstrip(".") or name  # Maildir++ sub-folders are ".Sent", ".Archive.2024"


def _mbox_label(path: str) -> str:
    name = os.path.basename(path)
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in (".mbox", ".mbx") else name


class _Discovery:
    def __init__(self, mailbox: str | None, window: Window, default: bool, page_size: int) -> None:
        self.mailbox = mailbox
        self.window = window
        self.window_is_default = default
        self.page_size = page_size
        self.streams: list[Stream] = []
        self.visited: set[str] = set()

    def file_stream(self, path: str, kind: FileKind | None) -> Stream:
        real = os.path.realpath(path)
        if kind == "ics":
            return IcsStream(
                key=f"ics:{real}",
                path=real,
                window=self.window,
                window_is_default=self.window_is_default,
                mailbox=self.mailbox,
                page_size=self.page_size,
            )
        if kind == "mbox":
            return MboxStream(
                key=f"mbox:{real}",
                path=real,
                folder=_mbox_label(real),
                mailbox=self.mailbox,
                page_size=self.page_size,
            )
        # A lone file that is not mail still gets a stream: its one item becomes a RejectedItem.
        return FolderStream(
            key=f"eml:{real}",
            source=SingleFile(real),
            folder=os.path.basename(os.path.dirname(real)),
            mailbox=self.mailbox,
            page_size=self.page_size,
        )

    def folder_stream(self, path: str, source: LooseFolder | Maildir, label: str) -> None:
        self.streams.append(
            FolderStream(
                key=f"maildir:{path}",
                source=source,
                folder=label,
                mailbox=self.mailbox,
                page_size=self.page_size,
            )
        )

    def directory(self, path: str) -> None:
        real = os.path.realpath(path)
        if real in self.visited:  # a symlink loop, or two links to one folder
            return
        self.visited.add(real)
        try:
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: natural_key(e.name))
        except OSError as exc:
            log.warning("skipping %s: %s", real, exc)
            return
        maildir = _is_maildir(real)
        if maildir:
            self.folder_stream(real, Maildir(real), _maildir_label(real))
        has_messages = False
        exclude: set[str] = set()
        own: list[Stream] = []
        subdirs: list[str] = []
        for entry in entries:
            if entry.is_dir():
                if maildir and entry.name in _MAILDIR_PARTS:
                    continue
                if not entry.name.startswith(".") or _is_maildir(entry.path):
                    subdirs.append(entry.path)
            elif entry.is_file() and not entry.name.startswith(".") and not maildir:
                kind = sniff(entry.path)
                if kind == "message":
                    has_messages = True
                elif kind is not None:
                    own.append(self.file_stream(entry.path, kind))
                    if not entry.name.lower().endswith(NOT_MEMBER_SUFFIXES):
                        exclude.add(entry.name)
        if has_messages:
            self.folder_stream(real, LooseFolder(real, frozenset(exclude)), os.path.basename(real))
        self.streams.extend(own)
        for subdir in subdirs:
            self.directory(subdir)


def open_streams(
    path: Path | str,
    mailbox: str | None = None,
    *,
    window: tuple[datetime, datetime] | None = None,
    page_size: int = PAGE_SIZE,
) -> list[Stream]:
    """Open one stream per mail source found at `path` (see the module docstring).

    `mailbox` is the owner's address when the caller knows it (normalised here); `window` bounds
    the expansion of calendar recurrences (aware datetimes; default: today -/+ 365 days).
    Streams come back in a stable order (natural order of their paths); a directory holding no
    mail gives an empty list. Nothing is parsed yet: that happens in `Stream.fetch_page`.

    Raises ValueError when `path` does not exist or is neither a file nor a directory, when
    `mailbox` is not a usable address, or when `window` is naive or empty.
    """
    given = Path(path)
    if not given.exists():
        raise ValueError(f"{given}: no such file or directory")
    owner: str | None = None
    if mailbox is not None:
        owner = normalize_address(mailbox.strip())
        if owner is None or owner.startswith("x500:"):
            raise ValueError(f"{mailbox!r} is not a usable mailbox address")
    if window is None:
        effective, is_default = default_window(), True
    else:
        start, end = window
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("window must be two timezone-aware datetimes")
        if not start < end:
            raise ValueError(f"window is empty: {start.isoformat()} .. {end.isoformat()}")
        effective, is_default = window, False
    discovery = _Discovery(owner, effective, is_default, page_size)
    real = str(given.resolve())
    if os.path.isdir(real):
        discovery.directory(real)
        return discovery.streams
    if os.path.isfile(real):
        return [discovery.file_stream(real, sniff(real))]
    raise ValueError(f"{given}: not a regular file or directory")
