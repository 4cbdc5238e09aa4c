"""Tables for relationship analytics and lead lifecycle (issue 8).

Imported by `syncd.store.models` so the tables join `Base.metadata`.
"""

from __future__ import annotations

from syncd.store.models import Base  # noqa: F401
