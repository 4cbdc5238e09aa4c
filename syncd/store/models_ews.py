"""Tables for exchange web services (issue 4).

Imported by the code that uses them (and by `syncd.store.models.all_models`
for Alembic), not by every command.

The EWS connector needs no table of its own: its cursor (the SyncState, and for a calendar the
ids of the last view) is the stream's `cursor` like any connector's, and the legacy DN cache
lives in the process (ResolveNames is cheap and the answer may change). Migration 0009 is
therefore empty.
"""

from __future__ import annotations

from syncd.store.models import Base  # noqa: F401
