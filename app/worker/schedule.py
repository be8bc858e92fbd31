"""Periodic jobs: due ones are sent by whichever worker claims them first.

A job recorded with ``@job(..., every_seconds=N)`` is sent (without arguments) at most once per ``N`` seconds
across every worker process: the claim is one atomic upsert on ``worker_schedule``, so two workers ticking at
the same moment cannot both win. Jobs stay idempotent anyway (delivery is at least once), and a send that
fails after the claim simply waits for the next period.
"""

from __future__ import annotations

import logging

import dramatiq
from sqlalchemy import text

from app.db import TenantContext
from app.worker.broker import WorkerRuntime, registered_jobs

log = logging.getLogger(__name__)

CLAIM = text("""
    INSERT INTO worker_schedule (job_name, last_sent_at) VALUES (:name, now())
    ON CONFLICT (job_name) DO UPDATE SET last_sent_at = now()
      WHERE worker_schedule.last_sent_at <= now() - make_interval(secs => :every)
    RETURNING job_name
""")


def periodic_jobs() -> dict[str, float]:
    return {name: j.every_seconds for name, j in registered_jobs().items() if j.every_seconds}


def claim_due(runtime: WorkerRuntime, every_by_name: dict[str, float]) -> list[str]:
    """The periodic jobs this worker won the right to send now."""
    won = []
    with runtime.transaction(TenantContext.system()) as session:
        for name, every in sorted(every_by_name.items()):
            if session.execute(CLAIM, {"name": name, "every": every}).scalar() is not None:
                won.append(name)
    return won


def send_due(broker: dramatiq.Broker, runtime: WorkerRuntime) -> list[str]:
    sent = []
    for name in claim_due(runtime, periodic_jobs()):
        try:
            broker.actors[name].send()
            sent.append(name)
        except Exception:  # noqa: BLE001 — the next period tries again
            log.warning("No se pudo enviar el trabajo periódico %s", name, exc_info=True)
    return sent
