"""ANS background jobs (found by the worker through app.modules). Each takes ids and plain values, and is
idempotent: the monthly report replaces its stored files; alert creation is unique per indicator and day; a
rollup rebuild recomputes the same figures from the stored events.

The jobs are synchronous (dramatiq threads) and call the same async services as the web through a
short-lived asyncio loop with a database pool of their own.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from app.db import Database, TenantContext
from app.sla.calendar import LIMA
from app.tenants.services import OPENING_HOURS_CHANGED
from app.worker.broker import WorkerRuntime, job


@job("sla_monthly_reports", max_retries=3, min_backoff=5_000, time_limit=600_000)
def sla_monthly_reports(runtime: WorkerRuntime, centre_id: str, period: str) -> int:
    """Month close: the centre's supervision report and one per participant (PDF + CSV)."""
    from app.sla.reports import generate

    return len(runtime.run_with_database(lambda db: generate(db, TenantContext.system(), uuid.UUID(centre_id),
                                                 date.fromisoformat(period))))


@job("sla_evaluate_alerts", max_retries=1, time_limit=300_000, every_seconds=900)
def sla_evaluate_alerts(runtime: WorkerRuntime) -> int:
    """Every 15 minutes: alerts of every centre that is open now (breaches found overnight are alerted at
    opening; each indicator at most once a day)."""
    from app.sla.alerts import evaluate_all

    return runtime.run_with_database(lambda db: evaluate_all(db, datetime.now(LIMA)))


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

    return runtime.run_with_database(work)


@job(OPENING_HOURS_CHANGED, max_retries=5, min_backoff=5_000, time_limit=1_800_000)
def rebuild_after_opening_hours(runtime: WorkerRuntime, centre_id: str, valid_from: str) -> int:
    """The platform administrator set a centre's opening hours from ``valid_from`` (queued by
    ``app.tenants.services.set_opening_hours``): its daily rollups from that day on are recomputed against
    the new calendar, as the system, and the rebuild is audited. A repeated message recomputes the same
    figures. Returns the number of (entity, day) pairs recomputed."""
    from sqlalchemy import text

    from app import audit
    from app.sla.rollups import rebuild_centre
    from app.tenants.models import Centre

    centre, start = uuid.UUID(centre_id), date.fromisoformat(valid_from)

    async def work(db: Database) -> int:
        ctx = TenantContext.system()
        async with db.transaction(ctx) as s:
            row = await s.get(Centre, centre)
            if row is None:
                return 0
            # One rebuild of a centre at a time: two changes in a row (weekdays, then Saturday) are two
            # messages that worker threads may run together on the same rollup rows.
            await s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"sla-rollups:{centre}"})
            done = await rebuild_centre(s, centre, start)
            await audit.record(s, ctx, action="ans_indicadores_recalculados", record_type="centro",
                               record_id=centre, after={"desde": start, "motivo": "horario_definido",
                                                        "dias_recalculados": done},
                               entity_id=row.administering_entity_id)
            return done

    return runtime.run_with_database(work)


# The data-source registry's jobs (Novo SGA syncs) live with the connectors.
from app.sla.sources import jobs as _sources_jobs  # noqa: E402, F401
