"""ANS background jobs (found by the worker through app.modules). Each takes ids and plain values, and is
idempotent: the monthly report replaces its stored files; alert creation is unique per indicator and day.

The jobs are synchronous (dramatiq threads) and call the same async services as the web through a
short-lived asyncio loop with a database pool of their own.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta

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


@job("sla_evaluate_alerts", max_retries=1, time_limit=300_000, every_seconds=900)
def sla_evaluate_alerts(runtime: WorkerRuntime) -> int:
    """Every 15 minutes: alerts of every centre that is open now (breaches found overnight are alerted at
    opening; each indicator at most once a day)."""
    from app.sla.alerts import evaluate_all

    return _run(runtime, lambda db: evaluate_all(db, datetime.now(LIMA)))


@job("sla_close_previous_month", max_retries=1, time_limit=1_800_000, every_seconds=3600)
def sla_close_previous_month(runtime: WorkerRuntime, centre_id: str | None = None) -> int:
    """Every hour: the previous month's supervision reports of each active centre (or of ``centre_id``) that
    has none yet, so the month is closed even for a centre whose new month brings no data. Returns the
    number of centres closed now."""
    from sqlalchemy import select

    from app.sla.models import SupervisionReport
    from app.sla.reports import generate
    from app.tenants.models import Centre

    async def work(db: Database) -> int:
        today = datetime.now(LIMA).date()
        period = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        async with db.transaction(TenantContext.system()) as s:
            done = set((await s.scalars(select(SupervisionReport.centre_id).where(
                SupervisionReport.period == period, SupervisionReport.scope == "centro"))).all())
            q = select(Centre.id).where(Centre.is_active)
            if centre_id:
                q = q.where(Centre.id == uuid.UUID(centre_id))
            centres = [c for c in (await s.scalars(q)).all() if c not in done]
        for centre in centres:
            await generate(db, TenantContext.system(), centre, period, today=today)
        return len(centres)

    return _run(runtime, work)
