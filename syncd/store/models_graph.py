"""Tables for who-knows graph (issue 5).

Imported by `syncd.store.models` so the tables join `Base.metadata`.
"""

from __future__ import annotations

from syncd.store.models import Base  # noqa: F401
