"""Helpers shared by the file streams: cursors, natural sort, excerpts, the owner hint."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from connectors.base import (
    AuthError,
    ConnectorError,
    CursorInvalidError,
    Interaction,
    NamedStream,
    Role,
    StreamGoneError,
    TransientError,
)

PAGE_SIZE = 500
CURSOR_VERSION = 1
EXCERPT_BYTES = 300

_DIGITS = re.compile(r"(\d+)")
# C0 controls except TAB/LF/CR, and DEL: they only make an operator's terminal unreadable.
_CONTROLS = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 127], "?")

NaturalKey = tuple[tuple[tuple[int, int, str], ...], str]


def natural_key(name: str) -> NaturalKey:
    """Sort key putting `2` before `10` (maildir-style numbered files); ties broken by the name."""
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in _DIGITS.split(name)
        if part
    )
    return parts, name


def dump_cursor(state: dict[str, Any]) -> str:
    return json.dumps({"v": CURSOR_VERSION, **state}, separators=(",", ":"), sort_keys=True)


def load_cursor(cursor: str, kind: str, required: Iterable[str]) -> dict[str, Any]:
    """Decode one of our JSON cursors; raise CursorInvalidError for anything else.

    `kind` only names the stream family in the message.
    """
    try:
        state = json.loads(cursor)
    except ValueError as exc:
        raise CursorInvalidError(f"{kind} cursor is not JSON: {cursor[:80]!r}") from exc
    if not isinstance(state, dict) or state.get("v") != CURSOR_VERSION:
        raise CursorInvalidError(f"{kind} cursor has an unknown version: {cursor[:80]!r}")
    missing = [name for name in required if name not in state]
    if missing:
        raise CursorInvalidError(f"{kind} cursor lacks {', '.join(missing)}: {cursor[:80]!r}")
    return state


def excerpt(data: bytes) -> str:
    """A few hundred printable characters of a raw item, for RejectedItem.excerpt."""
    return data[:EXCERPT_BYTES].decode("utf-8", "replace").translate(_CONTROLS)


def mailbox_hint(interactions: Iterable[Interaction]) -> str | None:
    """The most frequent To/Cc recipient of a page: in a dump of one person's inbox, its owner.

    Ties go to the recipient met first, so the hint is deterministic for a given page.
    """
    counts: Counter[str] = Counter()
    for interaction in interactions:
        for participant in interaction.participants:
            if participant.role is Role.TO or participant.role is Role.CC:
                counts[participant.email] += 1
    best = counts.most_common(1)
    return best[0][0] if best else None


def io_error(key: str, exc: OSError) -> ConnectorError:
    """Translate an OSError on a stream's file or folder into the connector error tree."""
    if isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return StreamGoneError(f"{key}: {exc}")
    if isinstance(exc, PermissionError):
        return AuthError(f"{key}: {exc}")
    return TransientError(f"{key}: {exc}")


class FileStream(NamedStream):
    """What every file stream shares: key, owner and page size (subclasses read)."""

    def __init__(self, *, key: str, mailbox: str | None = None,
                 page_size: int = PAGE_SIZE) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be positive, not {page_size}")
        super().__init__(key, mailbox)
        self._page_size = page_size
