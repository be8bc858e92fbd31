"""Every Prometheus metric of the platform, in one place (``prometheus-client``); /metrics serves them.

Multi-process: each web or worker process counts in its own memory, unless ``PROMETHEUS_MULTIPROC_DIR`` names
a directory shared by the processes of one machine (or pod). Then prometheus-client's multiprocess mode keeps
every process's figures in files there and /metrics of any web process of that machine sums them all,
workers' jobs included (README, «Métricas»). The directory must be emptied when the processes start (the
Procfile's release step or the container's start does it), as prometheus-client prescribes.

Figures that are facts of the shared database (the outbox) are read from it at scrape time
(:func:`database_figures`), so any process reports the same, whichever the proxy picks.

Another module adds a metric here, next to the others (as the data sources' ``SYNC_ROWS`` and ``SYNC_RUNS``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "mac"

# Web requests: Litestar's Prometheus middleware (app.main) counts them as mac_requests_total and
# mac_request_duration_seconds, labelled by route template (path), method and status_code.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

JOBS = Counter(f"{PREFIX}_jobs_total", "Background job runs by job name and outcome (ok, error, skipped)",
               ["job", "outcome"])
JOB_DURATION = Histogram(f"{PREFIX}_job_duration_seconds", "Background job run time by job name", ["job"],
                         buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0))
BROKER_REFUSALS = Counter(f"{PREFIX}_broker_refusals_total", "Outbox messages the broker refused to enqueue")
OUTBOX_RELAYED = Counter(f"{PREFIX}_outbox_relayed_total", "Outbox messages handed to the broker")
INGEST_ROWS = Counter(f"{PREFIX}_ingest_rows_total", "Attention, clock-in and survey rows received by outcome "
                      "(stored, unchanged, rejected)", ["outcome"])
SYNC_ROWS = Counter(f"{PREFIX}_sync_rows_total", "Rows read by the centres' feeds (Novo SGA syncs, national "
                    "export imports) by feed and what became of them (importados, actualizados, sin_cambios, "
                    "abiertos, cancelados, sin_mapeo, rechazados)", ["source", "outcome"])
SYNC_RUNS = Counter(f"{PREFIX}_sync_runs_total", "Runs of the centres' feeds by feed and status (exito, error)",
                    ["source", "status"])
DB_POOL = Gauge(f"{PREFIX}_db_pool_connections", "Database connections of the pools by state (in_use, idle)",
                ["state"], multiprocess_mode="livesum")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def observe_pool(pool) -> None:  # noqa: ANN001 - a SQLAlchemy QueuePool
    """This process's pool, as of now (called after requests and jobs, and at scrape time)."""
    try:
        in_use = pool.checkedout()
        idle = pool.checkedin()
    except AttributeError:  # a pool without counters (NullPool)
        return
    DB_POOL.labels("in_use").set(in_use)
    DB_POOL.labels("idle").set(idle)


class DatabaseFigures(Collector):
    """Figures read from the database just before a scrape (outbox depth and the age of its oldest pending)."""

    def __init__(self, pending: int, failed: int, oldest_age_seconds: float) -> None:
        self.pending, self.failed, self.oldest = pending, failed, oldest_age_seconds

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(f"{PREFIX}_outbox_messages", "Outbox messages not sent, by state", labels=["state"])
        depth.add_metric(["pending"], self.pending)
        depth.add_metric(["failed"], self.failed)
        yield depth
        yield GaugeMetricFamily(f"{PREFIX}_outbox_oldest_pending_age_seconds",
                                "Age of the oldest pending outbox message (0 when none)", value=self.oldest)


async def database_figures(db) -> DatabaseFigures:  # noqa: ANN001 - app.db.Database
    from sqlalchemy import text

    from app.db import TenantContext

    async with db.transaction(TenantContext.system()) as session:
        pending, failed, oldest = (await session.execute(text(
            "SELECT count(*) FILTER (WHERE failed_at IS NULL), count(*) FILTER (WHERE failed_at IS NOT NULL),"
            " coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE failed_at IS NULL)), 0)"
            " FROM outbox WHERE sent_at IS NULL"))).one()
    return DatabaseFigures(int(pending), int(failed), float(oldest))


def exposition(extra: Collector | None = None) -> tuple[bytes, str]:
    """The text exposition of every process's metrics (multiprocess mode) or this one's, plus ``extra``."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    if extra is not None:
        registry.register(extra)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward(Collector):
    """The default registry's metrics inside a scrape's own registry (so ``extra`` is never kept)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


class JobTimer:
    """Measures one job run: ``done(outcome)`` counts it and observes its duration."""

    def __init__(self, job: str) -> None:
        self.job = job
        self.started = time.perf_counter()

    def done(self, outcome: str) -> None:
        JOBS.labels(self.job, outcome).inc()
        JOB_DURATION.labels(self.job).observe(time.perf_counter() - self.started)
