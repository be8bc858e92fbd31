"""Worker jobs of the source registry: every few minutes, each enabled source; on request, one source.

Idempotent: a sync re-reads its window and the ingest upserts, so a repeated message changes nothing more;
two workers on one source meet the source's advisory lock and the second does nothing."""

from __future__ import annotations

import uuid

from app.worker.broker import WorkerRuntime, job

SYNC_EVERY_SECONDS = 300


@job("sla_sync_sources", max_retries=0, time_limit=1_800_000, every_seconds=SYNC_EVERY_SECONDS)
def sla_sync_sources(runtime: WorkerRuntime) -> int:
    """Every 5 minutes: sync every enabled source. Returns the number of sources read without error."""
    from app.sla.sources.sync import sync_all

    outcomes = runtime.run_with_database(lambda db: sync_all(db))
    return sum(1 for o in outcomes if not o.error and not o.busy)


@job("sla_sync_source", max_retries=2, min_backoff=30_000, time_limit=1_800_000)
def sla_sync_source(runtime: WorkerRuntime, source_id: str) -> dict:
    """«Sincronizar ahora» from the source's page (queued through the outbox)."""
    from app.sla.sources.sync import sync_source

    outcome = runtime.run_with_database(lambda db: sync_source(db, uuid.UUID(source_id), trigger="manual"))
    return outcome.as_json()
