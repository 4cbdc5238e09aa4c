"""Helpers shared by the lifecycle tests (imported as ``lifecycle_helpers``): an app on a real
store, and real captures through the pipeline so that activities exist to move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import Interaction, Kind, Page, Participant, Role
from syncd.app import App
from syncd.config import PolicyConfig, Settings
from syncd.runner import get_or_create_stream
from syncd.store import models as m
from syncd.store.db import session_scope

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
_keys = count()


def make_app(url: str, **policy: object) -> App:
    settings = Settings(database_url=url, internal_domains=("contoso.fr",),
                        policy=PolicyConfig(**policy))  # type: ignore[arg-type]
    return App(settings)


def mail(app: App, sender: str, to: list[str], *, days: int = 0) -> str:
    """Capture one email through the real pipeline (its own transaction); returns its key."""
    key = f"<lc-{next(_keys)}-{sender}@test>"
    parts = [Participant(sender, Role.FROM, name="")] + [Participant(a, Role.TO) for a in to]
    item = Interaction(natural_key=key, kind=Kind.EMAIL, provider_id=key,
                       occurred_at=T0 + timedelta(days=days), subject=f"subject {key}",
                       participants=tuple(parts), folder="inbox")
    with session_scope(app.sessions) as s:
        stream = get_or_create_stream(s, "test", "lifecycle", None)
        app.capturer.capture_page(s, stream, Page([item], key, True, [], []))
    return key


def links(s: Session, target_type: str, target_id: int) -> set[int]:
    return set(s.scalars(select(m.ActivityLink.activity_id).where(
        m.ActivityLink.target_type == target_type, m.ActivityLink.target_id == target_id)))


def count_rows(s: Session, model: type[m.Base]) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


def events(s: Session, type_: str) -> list[dict[str, object]]:
    return [e.payload for e in s.scalars(select(m.Event).where(m.Event.type == type_)
                                         .order_by(m.Event.id))]
