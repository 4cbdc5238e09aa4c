"""The EWS cursor: a SyncState committed only when a sync round is complete.

exchangelib's ``folder.sync_items()`` pages through SyncFolderItems internally and hands out
the new SyncState only once its generator is exhausted (``folder.item_sync_state``, set from
its ``SyncCompleted`` exception; M365-NOTES 3.3). Our pages therefore carry, until the round
ends, the state the round *started* from, plus a part counter (so each page's cursor is
distinct). A stream keeps the live generator in memory and continues it when asked for the
page after its own last cursor; any other cursor (a restart after a crash, another process)
replays the round from its start state. Page writes are idempotent upserts, so a replay
duplicates nothing (DESIGN contract 2), and the SyncState in the store is always one the
server completed.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from connectors.base import CursorInvalidError

CURSOR_VERSION = 1
_COMPRESS_OVER = 2048  # bytes of JSON; calendar cursors carry the ids of the last view


def encode_cursor(payload: dict[str, Any]) -> str:
    """JSON, or ``z:`` + base64(zlib(JSON)) when large."""
    text = json.dumps({"v": CURSOR_VERSION, **payload}, separators=(",", ":"), sort_keys=True)
    if len(text) <= _COMPRESS_OVER:
        return text
    return "z:" + base64.b64encode(zlib.compress(text.encode(), 6)).decode()


def decode_cursor(cursor: str, what: str) -> dict[str, Any]:
    """Raises: CursorInvalidError for a cursor this connector did not write."""
    try:
        text = (zlib.decompress(base64.b64decode(cursor[2:])).decode()
                if cursor.startswith("z:") else cursor)
        payload = json.loads(text)
    except (ValueError, zlib.error) as exc:
        raise CursorInvalidError(f"{what}: not an EWS cursor: {cursor[:60]!r}") from exc
    if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION:
        raise CursorInvalidError(f"{what}: not an EWS cursor: {cursor[:60]!r}")
    state = payload.get("state")
    if state is not None and not isinstance(state, str):
        raise CursorInvalidError(f"{what}: malformed SyncState in the cursor")
    return payload


@dataclass
class LiveRound:
    """A sync round in progress: the generator, and the cursor of the last page handed out."""

    changes: Iterator[tuple[str, Any]]
    start: dict[str, Any]  # the committed cursor payload the round started from
    source: Any = None  # the exchangelib folder whose item_sync_state ends the round
    cursor: str = ""
    part: int = 0
    pending: list[tuple[str, Any]] = field(default_factory=list)  # look-ahead

    def take(self, n: int) -> tuple[list[tuple[str, Any]], bool]:
        """Up to ``n`` changes, and whether the round is exhausted. A look-ahead of one tells
        the end from an exactly full page. Raises whatever the generator raises."""
        out = self.pending[:n]
        del self.pending[:n]
        for change in self.changes:
            if len(out) < n:
                out.append(change)
                continue
            self.pending.append(change)
            return out, False
        return out, not self.pending
