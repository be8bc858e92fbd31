"""The batch survives its worker being killed: a real `mac worker` process (run_worker: relay, dramatiq worker,
PostgreSQL broker) is SIGKILLed in the middle of a batch; a new one is started, the reconciler is asked (as the
progress page asks it) to queue again what was lost, and the batch completes with every statement generated
exactly once: one current statement per entity, three files each, nothing duplicated."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from sqlalchemy import func, select

from app.billing_reports import services as svc
from app.billing_reports.jobs import generate_statement_job, reconcile_statements_job
from app.billing_reports.models import Statement, StatementFile
from app.db import TenantContext
from app.worker.outbox import enqueue_in_transaction
from tests.costsharing_fixtures import make_scene
from tests.statements_fixtures import (  # noqa: F401
    all_statements,
    clean_outbox,
    published_period,
    start_worker,
    stop_worker,
)
from tests.worker_fixtures import quiet_outbox, runtime, wait_until, worker_settings  # noqa: F401

pytestmark = pytest.mark.usefixtures("quiet_outbox", "clean_outbox")
PARTICIPANTS = 14  # with A, B and the administering entity: 17 statements, several seconds of work


async def counts(db, period_id) -> tuple[int, int, int]:  # noqa: ANN001
    """(statements generated, statements in total, files in total) of the period."""
    async with db.transaction(TenantContext.system()) as s:
        generated = await s.scalar(select(func.count()).select_from(Statement).where(
            Statement.period_id == period_id, Statement.state == "generado"))
        total = await s.scalar(select(func.count()).select_from(Statement).where(Statement.period_id == period_id))
        files = await s.scalar(select(func.count()).select_from(StatementFile).join(
            Statement, Statement.id == StatementFile.statement_id).where(Statement.period_id == period_id))
    return generated, total, files


async def test_killing_the_worker_mid_batch_loses_nothing_and_duplicates_nothing(db, tenants, settings, tmp_path,
                                                                                  runtime):  # noqa: F811
    scene = await make_scene(tenants)
    extra = [await tenants.create(roles=("finanzas",)) for _ in range(PARTICIPANTS)]
    period = await published_period(scene, extra=extra)
    batch = await svc.start_batch(scene.coordinator, period.id)
    expected = PARTICIPANTS + 3
    assert batch.total == expected

    worker = start_worker(settings, tmp_path)
    try:
        latest = [0]

        async def some_done() -> bool:
            latest[0] = (await counts(db, period.id))[0]
            assert worker.poll() is None, worker.stderr.read()
            return latest[0] >= 3

        deadline = time.monotonic() + 90
        while not await some_done():
            assert time.monotonic() < deadline, "the worker generated nothing"
            await asyncio.sleep(0.05)
        worker.send_signal(signal.SIGKILL)  # no clean shutdown: whatever it was doing is cut short
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    generated, total, files = await counts(db, period.id)
    assert generated < expected, "the batch finished before the kill: make it bigger"
    assert files == 3 * generated  # a statement cut short left nothing behind
    progress = await svc.batch_progress(scene.coordinator, batch.id)
    assert progress.batch.state == "en_curso" and progress.done == generated

    # A new worker, and the reconciler asked (as the progress page asks it for overdue statements) to queue
    # again everything still pending.
    worker = start_worker(settings, tmp_path)
    try:
        async with db.transaction(scene.coordinator) as s:
            await enqueue_in_transaction(s, reconcile_statements_job, 0, entity_id=scene.admin.entity.id)

        async def complete() -> bool:
            assert worker.poll() is None, worker.stderr.read()
            return (await counts(db, period.id))[0] == expected

        deadline = time.monotonic() + 120
        while not await complete():
            assert time.monotonic() < deadline, f"only {(await counts(db, period.id))[0]} of {expected}"
            await asyncio.sleep(0.1)
    finally:
        stop_worker(worker)

    statements = await all_statements(db, period.id)
    assert len(statements) == expected  # one per entity: no second version, no duplicate
    assert len({st.entity_id for st in statements}) == expected
    assert all(st.state == "generado" and st.is_current and st.version == 1 for st in statements)
    assert await counts(db, period.id) == (expected, expected, 3 * expected)
    progress = await svc.batch_progress(scene.coordinator, batch.id)
    assert (progress.done, progress.total, progress.percent, progress.batch.state) == (expected, expected, 100,
                                                                                       "completado")
    # The message the killed worker held is redelivered later by the broker: it changes nothing.
    for st in statements[:3]:
        await asyncio.to_thread(generate_statement_job, runtime, str(st.id))
    assert await counts(db, period.id) == (expected, expected, 3 * expected)
