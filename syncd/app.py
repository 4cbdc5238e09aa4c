"""The wiring of one syncd process: settings -> engine, sessions, policy, capturer.

The capturer (and the connectors) are imported when first used: a query command such as
`syncd who-knows` never captures, and its start-up time is a product target (issue 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from syncd.config import EwsConnector, MsGraphConnector, Settings
from syncd.policy import Policy
from syncd.store.db import ensure_schema, make_engine, session_factory

if TYPE_CHECKING:
    from connectors.ews import EwsConnector as EwsConnectorImpl
    from connectors.msgraph import GraphConnector
    from syncd.capture import Capturer


@dataclass
class App:
    settings: Settings
    auto_migrate: bool = True
    _engine: Engine | None = field(default=None, init=False, repr=False)
    # One connector object per configured connector for the life of the process, so that
    # per-mailbox request budgets, token caches and HTTP connections outlive a polling pass.
    _graph: dict[str, GraphConnector] = field(default_factory=dict, init=False, repr=False)
    _ews: dict[str, EwsConnectorImpl] = field(default_factory=dict, init=False, repr=False)

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
        from graph.privacy import OptOut
        from syncd.capture import Capturer

        return Capturer(self.policy, self.settings.graph.half_life_days,
                        OptOut(self.settings.graph.opt_out))

    def graph_connector(self, conf: MsGraphConnector) -> GraphConnector:
        """Raises ConfigError when a secret reference cannot be resolved."""
        connector = self._graph.get(conf.name)
        if connector is None:
            from syncd.connector_factory import build_graph_connector

            connector = self._graph[conf.name] = build_graph_connector(conf, self.settings)
        return connector

    def graph_connectors(self) -> dict[str, GraphConnector]:
        """The Graph connectors built so far, by name (a copy: safe to read from another
        thread while the scheduler builds more)."""
        return dict(self._graph)

    def ews_connector(self, conf: EwsConnector) -> EwsConnectorImpl:
        """The EWS twin of `graph_connector` (issue 4). Raises ConfigError, ValueError."""
        connector = self._ews.get(conf.name)
        if connector is None:
            from syncd.connector_factory import build_ews_connector

            connector = self._ews[conf.name] = build_ews_connector(conf, self.settings)
        return connector

    def close(self) -> None:
        for connector in self._graph.values():
            connector.close()
        self._graph.clear()
        for ews in self._ews.values():
            ews.close()
        self._ews.clear()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
