"""Month close: the first data of a new month enqueues the previous month's supervision reports (through the
outbox), and the worker's job generates them (idempotent: running it again replaces, never duplicates)."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy import func, select

from app.db import Database, TenantContext
from app.sla import reports
from app.sla.jobs import sla_monthly_reports
from app.sla.models import SupervisionReport
from app.worker.broker import WorkerRuntime
from app.worker.models import OutboxMessage
from tests.factories import TenantFactory
from tests.sla_helpers import build_world


def test_the_previous_month_is_closed_once_by_the_worker(settings):
    # The worker's job runs its own event loop, so this test is synchronous and its setup uses a database
    # pool of its own (never the test session's, which belongs to another loop).
    async def prepare():
        own = Database(settings.runtime_url(), pool_size=1)
        try:
            world = await build_world(own, TenantFactory(own))
            enqueued = await reports.ensure_month_closed(own, world.centre_id, date(2025, 2, 1))
            async with own.transaction(TenantContext.system()) as s:
                messages = (await s.scalars(select(OutboxMessage).where(
                    OutboxMessage.actor_name == "sla_monthly_reports"))).all()
            return world, enqueued, [m.message["args"] for m in messages]
        finally:
            await own.dispose()

    world, enqueued, args = asyncio.run(prepare())
    assert enqueued and [str(world.centre_id), "2025-02-01"] in args

    runtime = WorkerRuntime(settings)
    try:
        assert sla_monthly_reports(runtime, str(world.centre_id), "2025-02-01") == 3  # centre + 2 participants
        assert sla_monthly_reports(runtime, str(world.centre_id), "2025-02-01") == 3
    finally:
        runtime.dispose()

    async def check():
        check_db = Database(settings.runtime_url(), pool_size=1)
        try:
            async with check_db.transaction(TenantContext.system()) as s:
                count = await s.scalar(select(func.count()).select_from(SupervisionReport)
                                       .where(SupervisionReport.centre_id == world.centre_id))
            return count, await reports.ensure_month_closed(check_db, world.centre_id, date(2025, 2, 1))
        finally:
            await check_db.dispose()

    assert asyncio.run(check()) == (3, False)


def test_alerts_and_month_close_are_periodic_worker_jobs():
    from app.worker.schedule import periodic_jobs

    jobs = periodic_jobs()
    assert jobs["sla_evaluate_alerts"] == 900 and jobs["sla_close_previous_month"] == 3600


def test_the_hourly_month_close_generates_missing_reports_once(settings):
    from app.sla.jobs import sla_close_previous_month

    async def prepare():
        own = Database(settings.runtime_url(), pool_size=1)
        try:
            return await build_world(own, TenantFactory(own))
        finally:
            await own.dispose()

    world = asyncio.run(prepare())
    runtime = WorkerRuntime(settings)
    try:
        assert sla_close_previous_month(runtime, str(world.centre_id)) == 1
        assert sla_close_previous_month(runtime, str(world.centre_id)) == 0  # already closed
    finally:
        runtime.dispose()

    async def count():
        own = Database(settings.runtime_url(), pool_size=1)
        try:
            async with own.transaction(TenantContext.system()) as s:
                return await s.scalar(select(func.count()).select_from(SupervisionReport)
                                      .where(SupervisionReport.centre_id == world.centre_id))
        finally:
            await own.dispose()

    assert asyncio.run(count()) == 3
