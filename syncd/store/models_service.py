"""Tables for service leases and observability (issue 7).

Imported by `syncd.store.models` so the tables join `Base.metadata`.
"""

from __future__ import annotations

from syncd.store.models import Base  # noqa: F401
