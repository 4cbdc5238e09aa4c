"""Prometheus metrics (the default registry; `syncd serve` exposes /metrics).

Counters count what this process did. The number of runs by status is read from the store at
scrape time (`RunStatusCollector`), so it is right whichever process ran them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from syncd.store.models_workflow import WorkflowRun

OPENS = Counter("syncd_tracking_opens", "Tracked mail opens recorded", ["machine"])
CLICKS = Counter("syncd_tracking_clicks", "Tracked link clicks recorded", ["machine"])
TRACKING_REJECTED = Counter("syncd_tracking_rejected", "Tracking hits refused", ["reason"])
FORM_SUBMISSIONS = Counter("syncd_form_submissions", "Form posts by outcome",
                           ["form", "outcome"])
RUNS_CREATED = Counter("syncd_workflow_runs_created", "Workflow runs created from events")
STEPS = Counter("syncd_workflow_steps", "Workflow steps executed by outcome",
                ["action", "outcome"])
RUNS_FINISHED = Counter("syncd_workflow_runs_finished", "Workflow runs finished by outcome",
                        ["workflow", "outcome"])


class RunStatusCollector(Collector):
    """``syncd_workflow_runs{status=...}``: runs in the store by status."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("syncd_workflow_runs", "Workflow runs in the store by status",
                                  labels=["status"])
        with self.sessions() as s:
            for status, count in s.execute(
                    select(WorkflowRun.status, func.count()).group_by(WorkflowRun.status)):
                gauge.add_metric([status], count)
        yield gauge
