"""The coordinator's metrics, read from its job store when Prometheus scrapes (nothing on the job path).

- `xyd_jobs{state}`: jobs by state;
- `xyd_stages{stage, state}`: stages by name and state;
- `xyd_stage_duration_seconds{stage}`: a histogram of finished stages' durations (started to finished).
Reading the store at scrape time keeps the figures right across restarts and costs the runner nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from coordinator.jobs.store import JobState, JobStore, jobs, stages

# Stages last from a second (PSI of a small table) to hours (SecureBoost at city scale).
STAGE_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)


class JobStoreCollector(Collector):
    """Counts jobs and stages by state and bins stage durations, with three queries per scrape."""

    def __init__(self, store: JobStore) -> None:
        self._engine = store.engine

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        with self._engine.connect() as conn:
            job_counts = dict(conn.execute(sa.select(jobs.c.state, sa.func.count()).group_by(jobs.c.state)).all())
            stage_counts = conn.execute(sa.select(stages.c.stage, stages.c.state, sa.func.count())
                                        .group_by(stages.c.stage, stages.c.state)).all()
            took = stages.c.finished_at - stages.c.started_at
            finished = sa.and_(stages.c.started_at.is_not(None), stages.c.finished_at.is_not(None))
            columns = [sa.func.sum(sa.case((took <= bound, 1), else_=0)) for bound in STAGE_BUCKETS]
            durations = conn.execute(sa.select(stages.c.stage, sa.func.count(), sa.func.sum(took), *columns)
                                     .where(finished).group_by(stages.c.stage)).all()
        by_job = GaugeMetricFamily("xyd_jobs", "Jobs by state", labels=["state"])
        for state in JobState:
            by_job.add_metric([state.value], job_counts.get(state.value, 0))
        yield by_job
        by_stage = GaugeMetricFamily("xyd_stages", "Job stages by stage and state", labels=["stage", "state"])
        for stage, state, count in stage_counts:
            by_stage.add_metric([stage, state], count)
        yield by_stage
        histogram = HistogramMetricFamily("xyd_stage_duration_seconds", "Durations of finished stages",
                                          labels=["stage"])
        for stage, count, total, *cumulative in durations:
            buckets = [(repr(bound), int(c or 0)) for bound, c in zip(STAGE_BUCKETS, cumulative, strict=True)]
            histogram.add_metric([stage], [*buckets, ("+Inf", int(count))], float(total or 0.0))
        yield histogram
