"""ANS background jobs (found by the worker through app.modules). Each takes ids and plain values, and is
idempotent: the monthly report replaces its stored files; alert creation is unique per indicator and day.

The jobs are synchronous (dramatiq threads) and call the same async services as the web through a
short-lived asyncio loop with a database pool of their own.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime

from app.db import Database, TenantContext
from app.sla.calendar import LIMA
from app.worker.broker import WorkerRuntime, job


def _run(runtime: WorkerRuntime, work):  # noqa: ANN001, ANN202
    async def main():  # noqa: ANN202
        db = Database(runtime.settings.runtime_url(), pool_size=2)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


@job("sla_monthly_reports", max_retries=3, min_backoff=5_000, time_limit=600_000)
def sla_monthly_reports(runtime: WorkerRuntime, centre_id: str, period: str) -> int:
    """Month close: the centre's supervision report and one per participant (PDF + CSV)."""
    from app.sla.reports import generate

    return len(_run(runtime, lambda db: generate(db, TenantContext.system(), uuid.UUID(centre_id),
                                                 date.fromisoformat(period))))


@job("sla_evaluate_alerts", max_retries=1, time_limit=300_000)
def sla_evaluate_alerts(runtime: WorkerRuntime) -> int:
    """Alerts of every centre that is open now (breaches found overnight are alerted at opening)."""
    from app.sla.alerts import evaluate_all

    return _run(runtime, lambda db: evaluate_all(db, datetime.now(LIMA)))
