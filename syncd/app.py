"""The wiring of one syncd process: settings -> engine, sessions, policy, capturer."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from syncd.capture import Capturer
from syncd.config import Settings
from syncd.policy import Policy
from syncd.store.db import ensure_schema, make_engine, session_factory


@dataclass
class App:
    settings: Settings
    auto_migrate: bool = True
    _engine: Engine | None = field(default=None, init=False, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.db_url)
            if self.auto_migrate:
                ensure_schema(self._engine)
        return self._engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def policy(self) -> Policy:
        return Policy.from_settings(self.settings)

    @cached_property
    def capturer(self) -> Capturer:
        return Capturer(self.policy, self.settings.graph.half_life_days)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
