"""Prometheus metrics of one `syncd run` process (prometheus-client), served on
``--metrics-port`` (or ``[service] metrics_port``) at ``/metrics``.

Counters are this process's; per-stream gauges (last success, lag, items, failures) are read
from the database at scrape time, so every worker of a scale-out group reports the whole
picture and a restarted worker does not start from zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from syncd.capture import PageResult
from syncd.store import models as m
from syncd.store.db import session_scope


class StreamCollector(Collector):
    """Per-stream gauges from the `streams` table, one query per scrape."""

    def __init__(self, sessions: Callable[[], sessionmaker[Session]]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["connector", "stream"]
        success = GaugeMetricFamily("syncd_stream_last_success_timestamp_seconds",
                                    "When the stream last completed a poll (Unix time).",
                                    labels=labels)
        lag = GaugeMetricFamily("syncd_stream_lag_seconds",
                                "Seconds since the stream last completed a poll.", labels=labels)
        items = GaugeMetricFamily("syncd_stream_items", "Items the stream holds.", labels=labels)
        failing = GaugeMetricFamily("syncd_stream_consecutive_failures",
                                    "Failed polls in a row (0: healthy).", labels=labels)
        stopped = GaugeMetricFamily("syncd_stream_stopped",
                                    "1 when the stream waits for an operator.", labels=labels)
        now = datetime.now(UTC)
        try:
            with session_scope(self._sessions()) as s:
                rows = s.execute(select(m.Stream.connector, m.Stream.key,
                                        m.Stream.last_success_at, m.Stream.items_total,
                                        m.Stream.consecutive_failures, m.Stream.phase)).all()
        except Exception:  # a scrape must not fail because the database blinked
            rows = []
        for connector, key, last, total, failures, phase in rows:
            lv = [connector, key]
            if last is not None:
                success.add_metric(lv, last.timestamp())
                lag.add_metric(lv, (now - last).total_seconds())
            items.add_metric(lv, float(total or 0))
            failing.add_metric(lv, float(failures or 0))
            stopped.add_metric(lv, 1.0 if phase == "stopped" else 0.0)
        yield from (success, lag, items, failing, stopped)


class TokenCollector(Collector):
    """Access-token expiry per connector, from a callback (connector name -> Unix time)."""

    def __init__(self, source: Callable[[], dict[str, float]]) -> None:
        self._source = source

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("syncd_token_expiry_timestamp_seconds",
                                  "When the connector's cached access token expires.",
                                  labels=["connector"])
        try:
            expiries = self._source()
        except Exception:
            expiries = {}
        for name, when in expiries.items():
            gauge.add_metric([name], when)
        yield gauge


class _Both(Collector):
    """Our registry plus prometheus_client's global one: the endpoint also shows process
    metrics (CPU, RSS, open files) and what other modules register globally (the workflow
    engine's counters), while ours stay private to one `Metrics` (several per test process)."""

    def __init__(self, ours: CollectorRegistry) -> None:
        self._ours = ours

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from self._ours.collect()


class Metrics:
    """The metrics of one scheduler, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("syncd_polls", "Stream polls by outcome.",
                             ["connector", "outcome"], registry=r)
        self.items = Counter("syncd_items", "Items by fate: seen, new, captured, rejected, "
                             "deleted.", ["connector", "fate"], registry=r)
        self.errors = Counter("syncd_errors", "Errors by class.", ["connector", "error"],
                              registry=r)
        self.throttled = Counter("syncd_throttled", "Polls stopped by throttling (429/503 "
                                 "or our own budgets).", ["connector"], registry=r)
        self.unit_seconds = Histogram("syncd_unit_seconds", "Time to poll one unit "
                                      "(a mailbox's due streams).", ["connector"], registry=r)
        self.db_seconds = Histogram("syncd_db_statement_seconds", "Database statement time.",
                                    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
                                    registry=r)
        self.workflow = Counter("syncd_workflow_events", "Workflow worker results.",
                                ["outcome"], registry=r)
        self.leases = Gauge("syncd_leases_held", "Units this worker holds.", registry=r)
        self.running = Gauge("syncd_units_running", "Units being polled now.", registry=r)
        self.last_tick = Gauge("syncd_scheduler_last_tick_timestamp_seconds",
                               "When the scheduler loop last ran.", registry=r)

    def page_result(self, connector: str, res: PageResult) -> None:
        for fate, value in (("seen", res.items_seen), ("new", res.interactions_new),
                            ("captured", res.captured), ("rejected", res.rejected),
                            ("deleted", res.deletions)):
            if value:
                self.items.labels(connector, fate).inc(value)

    def watch_engine(self, engine: Engine) -> None:
        """Time every statement (SQLAlchemy cursor events)."""

        def before(conn: Any, cursor: Any, statement: Any, params: Any, context: Any,
                   many: bool) -> None:
            conn.info.setdefault("syncd_t0", []).append(time.perf_counter())

        def after(conn: Any, cursor: Any, statement: Any, params: Any, context: Any,
                  many: bool) -> None:
            starts = conn.info.get("syncd_t0")
            if starts:
                self.db_seconds.observe(time.perf_counter() - starts.pop())

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)

    def add_collectors(self, sessions: Callable[[], sessionmaker[Session]],
                       tokens: Callable[[], dict[str, float]]) -> None:
        self.registry.register(StreamCollector(sessions))
        self.registry.register(TokenCollector(tokens))

    def serve(self, port: int, address: str) -> int:
        """Start the HTTP endpoint in a daemon thread; returns the bound port (0 picks one)."""
        server, _thread = start_http_server(port, address, registry=_Both(self.registry))
        return int(server.server_address[1])
