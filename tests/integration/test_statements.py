"""Statements against PostgreSQL: a batch for a published period, the documents' figures against the stored
allocation, the PAdES seal, idempotent jobs, versions, failures and retries, the reconciler, e-mail, and what
each tenant can see.

The jobs run here inline, in a thread, exactly as the worker's actors run them (same function, same
WorkerRuntime); tests/integration/test_statements_worker.py runs them in a real worker process.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update

from app.billing_reports import services as svc
from app.billing_reports.jobs import email_statements_job, generate_statement_job, reconcile
from app.billing_reports.models import Statement, StatementBatch, StatementBatchItem
from app.costsharing import services as cs
from app.db import TenantContext
from app.errors import Conflict, Forbidden, NotFound
from app.worker.models import OutboxMessage, OutgoingEmail
from tests.costsharing_fixtures import make_scene, scene  # noqa: F401
from tests.statements_fixtures import (  # noqa: F401
    clean_outbox,
    all_statements,
    close,
    csv_amounts,
    current_statements,
    files_of,
    pdf_detail_amounts,
    pdf_text,
    pdf_total,
    pdfsig,
    published_period,
    xlsx_amounts,
)
from tests.worker_fixtures import runtime, worker_settings  # noqa: F401

pytestmark = pytest.mark.usefixtures("clean_outbox")


async def run_batch(db, runtime, batch_id) -> None:  # noqa: F811
    """Run every pending job of the batch, as the worker would."""
    async with db.transaction(TenantContext.system()) as s:
        ids = (await s.scalars(select(StatementBatchItem.statement_id).where(
            StatementBatchItem.batch_id == batch_id, StatementBatchItem.state == "pendiente"))).all()
    for statement_id in ids:
        await asyncio.to_thread(generate_statement_job, runtime, str(statement_id))


async def queued_jobs(db, statement_id) -> int:
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.actor_name == "generate_statement",
            OutboxMessage.message.contains({"args": [str(statement_id)]})))


async def test_a_batch_makes_one_sealed_statement_per_entity_whose_documents_equal_the_allocation(
        db, scene, runtime, tmp_path):  # noqa: F811
    period = await published_period(scene)
    batch = await svc.start_batch(scene.coordinator, period.id)
    statements = await current_statements(db, period.id)
    # A, B and the administering entity (it bears the vacant area): one statement each, queued through the outbox.
    assert {st.entity_id for st in statements} == {scene.a.entity.id, scene.b.entity.id, scene.admin.entity.id}
    assert batch.total == 3 and all(st.state == "pendiente" for st in statements)
    assert [await queued_jobs(db, st.id) for st in statements] == [1, 1, 1]

    await run_batch(db, runtime, batch.id)

    progress = await svc.batch_progress(scene.coordinator, batch.id)
    assert (progress.done, progress.total, progress.percent, progress.batch.state) == (3, 3, 100, "completado")
    allocation = await cs.get_allocation(scene.coordinator, period.id)
    grand = Decimal(0)
    for st in await current_statements(db, period.id):
        assert (st.state, st.status, st.version) == ("generado", "preliminar", 1)
        lines = sorted(ln.amount for ln in allocation.lines if ln.entity_id == st.entity_id)
        files = await files_of(db, st.id)
        import hashlib

        for f in files.values():
            assert f.sha256 == hashlib.sha256(f.content).hexdigest() and f.size == len(f.content)
        pdf_rows, pdf_sum = pdf_detail_amounts(files["pdf"].content), pdf_total(files["pdf"].content)
        csv_rows, csv_sum = csv_amounts(files["csv"].content)
        xlsx_rows, xlsx_sum = xlsx_amounts(files["xlsx"].content)
        assert sorted(pdf_rows) == sorted(csv_rows) == sorted(xlsx_rows) == lines
        assert pdf_sum == csv_sum == xlsx_sum == sum(lines) == st.total == st.common_costs
        grand += st.total
    # Every céntimo of the pool is in exactly one statement.
    assert grand == allocation.pool_total == Decimal("12700.35")

    a = next(st for st in await current_statements(db, period.id) if st.entity_id == scene.a.entity.id)
    pdf = (await files_of(db, a.id))["pdf"].content
    text = pdf_text(pdf)
    assert scene.a.entity.ruc in text and scene.admin.entity.ruc in text and "PRELIMINAR" in text
    assert a.verification_code in text and a.number in text
    report = pdfsig(pdf, tmp_path)
    assert "Signature is Valid" in report and "SelloPlataforma" in report


async def test_running_a_job_again_gives_the_same_document_and_no_duplicate(db, scene, runtime):  # noqa: F811
    period = await published_period(scene)
    batch = await svc.start_batch(scene.coordinator, period.id)
    await run_batch(db, runtime, batch.id)
    before = {st.id: {f: v.sha256 for f, v in (await files_of(db, st.id)).items()}
              for st in await current_statements(db, period.id)}
    for statement_id in before:  # the same messages delivered again
        await asyncio.to_thread(generate_statement_job, runtime, str(statement_id))
    after = {st.id: {f: v.sha256 for f, v in (await files_of(db, st.id)).items()}
             for st in await current_statements(db, period.id)}
    assert after == before and len(await all_statements(db, period.id)) == 3

    # Asking for the batch again finds everything done: no new statement, no new job.
    again = await svc.start_batch(scene.coordinator, period.id)
    assert again.state == "completado" and len(await all_statements(db, period.id)) == 3
    assert [await queued_jobs(db, sid) for sid in before] == [1, 1, 1]


async def test_closing_the_period_gives_definitive_versions_that_replace_the_preliminary_ones(db, scene, runtime):  # noqa: F811
    period = await published_period(scene)
    await run_batch(db, runtime, (await svc.start_batch(scene.coordinator, period.id)).id)
    preliminary = {st.entity_id: st for st in await current_statements(db, period.id)}
    old_pdf = (await files_of(db, preliminary[scene.a.entity.id].id))["pdf"].sha256
    await close(scene, period)

    await run_batch(db, runtime, (await svc.start_batch(scene.coordinator, period.id)).id)

    for st in await current_statements(db, period.id):
        old = preliminary[st.entity_id]
        assert (st.status, st.version, st.replaces_id) == ("definitivo", 2, old.id)
        assert "definitiva" in st.replacement_reason and st.total == old.total
    view = await svc.get_statement(scene.a.ctx("finanzas"), preliminary[scene.a.entity.id].id)
    assert view.replaced_by is not None and view.replaced_by.version == 2 and not view.statement.is_current
    # The preliminary files are kept as they were.
    assert (await files_of(db, preliminary[scene.a.entity.id].id))["pdf"].sha256 == old_pdf
    definitive = view.replaced_by
    assert "DEFINITIVO" in pdf_text((await files_of(db, definitive.id))["pdf"].content)


async def test_a_corrected_statement_is_a_new_version_that_says_what_it_replaces_and_why(db, scene, runtime):  # noqa: F811
    period = await published_period(scene)
    await run_batch(db, runtime, (await svc.start_batch(scene.coordinator, period.id)).id)
    a = next(st for st in await current_statements(db, period.id) if st.entity_id == scene.a.entity.id)
    with pytest.raises(Forbidden):
        await svc.correct_statement(scene.a.ctx("finanzas"), a.id, "La razón social estaba desactualizada")
    new = await svc.correct_statement(scene.coordinator, a.id, "La razón social estaba desactualizada")
    await asyncio.to_thread(generate_statement_job, runtime, str(new.id))
    view = await svc.get_statement(scene.a.ctx("finanzas"), new.id)
    assert view.replaces.id == a.id and view.statement.version == 2
    text = pdf_text((await files_of(db, new.id))["pdf"].content).replace("\n", " ")
    assert f"reemplaza al N.º {a.number}" in text and "La razón social estaba desactualizada" in text
    with pytest.raises(Conflict, match="reemplazado"):
        await svc.correct_statement(scene.coordinator, a.id, "Otra corrección sobre la versión vieja")


async def test_a_failed_statement_shows_its_reason_and_a_retry_generates_it(db, scene, runtime):  # noqa: F811
    period = await published_period(scene)
    batch = await svc.start_batch(scene.coordinator, period.id)
    a = next(st for st in await current_statements(db, period.id) if st.entity_id == scene.a.entity.id)
    # Break A's statement: the methodology behind its lines cannot be found in the format the adapter reads.
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(Statement).where(Statement.id == a.id).values(entity_id=scene.outsider.entity.id))
    await run_batch(db, runtime, batch.id)
    progress = await svc.batch_progress(scene.coordinator, batch.id)
    assert (progress.done, progress.failed, progress.batch.state) == (2, 1, "con_fallos")
    failed = next(i for i in progress.items if i.item.state == "fallido")
    assert "no tiene líneas de reparto" in failed.item.error

    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(Statement).where(Statement.id == a.id).values(entity_id=scene.a.entity.id))
    assert await svc.retry_failed(scene.coordinator, batch.id) == 1
    assert await queued_jobs(db, a.id) == 2
    await run_batch(db, runtime, batch.id)
    progress = await svc.batch_progress(scene.coordinator, batch.id)
    assert (progress.done, progress.failed, progress.percent, progress.batch.state) == (3, 0, 100, "completado")


async def test_the_reconciler_creates_missing_statements_and_requeues_lost_jobs(db, scene, runtime):  # noqa: F811
    period = await published_period(scene)
    batch = await svc.start_batch(scene.coordinator, period.id)
    statements = await current_statements(db, period.id)
    b = next(st for st in statements if st.entity_id == scene.b.entity.id)
    async with db.transaction(TenantContext.system()) as s:  # B's statement is lost altogether
        await s.execute(delete(Statement).where(Statement.id == b.id))

    def run_reconcile(**kw):
        with runtime.transaction() as s:
            return reconcile(s, **kw)

    result = await asyncio.to_thread(run_reconcile)  # the others were just queued: not overdue
    assert (result.created, result.requeued) == (1, 0)
    recreated = next(st for st in await current_statements(db, period.id) if st.entity_id == scene.b.entity.id)
    assert recreated.state == "pendiente" and await queued_jobs(db, recreated.id) == 1

    # Ten minutes later nothing has run: every pending statement's job is queued again, once.
    later = await asyncio.to_thread(run_reconcile, now=recreated.created_at + timedelta(minutes=10))
    assert (later.created, later.requeued) == (0, 3)
    assert [await queued_jobs(db, st.id) for st in await current_statements(db, period.id)] == [2, 2, 2]
    for st in await current_statements(db, period.id):
        await asyncio.to_thread(generate_statement_job, runtime, str(st.id))
    assert all(st.state == "generado" for st in await current_statements(db, period.id))
    assert (await svc.batch_progress(scene.coordinator, batch.id)).batch.state == "completado"
    assert len(await all_statements(db, period.id)) == 3
    assert (await asyncio.to_thread(run_reconcile, now=recreated.created_at + timedelta(hours=1))).requeued == 0


async def test_the_statements_are_emailed_once_to_each_entitys_finance_officers(db, scene, runtime):  # noqa: F811
    period = await published_period(scene)
    batch = await svc.start_batch(scene.coordinator, period.id)
    with pytest.raises(Conflict, match="No hay estados de cuenta generados"):
        await svc.email_batch(scene.coordinator, batch.id)
    await run_batch(db, runtime, batch.id)
    assert await svc.email_batch(scene.coordinator, batch.id) == 3
    await asyncio.to_thread(email_statements_job, runtime, str(batch.id))
    await asyncio.to_thread(email_statements_job, runtime, str(batch.id))  # delivered twice: no second mail
    async with db.transaction(TenantContext.system()) as s:
        mails = (await s.scalars(select(OutgoingEmail).where(OutgoingEmail.to_address.in_(
            [scene.a.users["finanzas"].email, scene.b.users["finanzas"].email,
             scene.a.users["gestor_entidad"].email])))).all()
    assert sorted(m.to_address for m in mails) == sorted([scene.a.users["finanzas"].email,
                                                          scene.b.users["finanzas"].email])
    a_mail = next(m for m in mails if m.to_address == scene.a.users["finanzas"].email)
    a = next(st for st in await current_statements(db, period.id) if st.entity_id == scene.a.entity.id)
    assert a.number in a_mail.subject and f"/estados-de-cuenta/{a.id}" in a_mail.body_text
    assert f"S/ {a.total:,.2f}" in a_mail.body_text


async def test_each_tenant_sees_only_what_it_may(db, scene, runtime, tenants):  # noqa: F811
    period = await published_period(scene)
    await run_batch(db, runtime, (await svc.start_batch(scene.coordinator, period.id)).id)
    statements = {st.entity_id: st for st in await current_statements(db, period.id)}
    a, b = statements[scene.a.entity.id], statements[scene.b.entity.id]
    a_fin, b_fin, outsider = scene.a.ctx("finanzas"), scene.b.ctx("finanzas"), scene.outsider.ctx("finanzas")

    assert [r.statement.id for r in await svc.list_statements(a_fin)] == [a.id]
    assert (await svc.get_statement(a_fin, a.id)).statement.total == a.total
    for ctx in (b_fin, outsider, scene.b.ctx("gestor_entidad")):
        with pytest.raises(NotFound):
            await svc.get_statement(ctx, a.id)
        with pytest.raises(NotFound):
            await svc.statement_file(ctx, a.id, "pdf")
        assert a.id not in [r.statement.id for r in await svc.list_statements(ctx)]
    # Even reading the tables directly, the database returns nothing of A's to B.
    async with db.transaction(b_fin) as s:
        from app.billing_reports.models import StatementFile

        assert (await s.scalars(select(StatementFile.entity_id))).all() == [b.entity_id] * 3
    # The coordinator of another centre sees nothing; the SGP sees all three.
    other = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    assert await svc.list_statements(other.ctx("coordinador_centro")) == []
    with pytest.raises(NotFound):
        await svc.start_batch(other.ctx("coordinador_centro"), period.id)
    sgp_rows = await svc.list_statements(scene.sgp_ctx, centre_id=scene.admin.centre.id)
    assert {r.statement.id for r in sgp_rows} == set(s.id for s in statements.values())
    consolidated = await svc.consolidated(scene.sgp_ctx, year=scene.year, centre_id=scene.admin.centre.id)
    assert consolidated.total == Decimal("12700.35")
    mine = await svc.consolidated(a_fin, year=scene.year)
    assert [s.participant.ruc for s in mine.statements] == [scene.a.entity.ruc] and mine.total == a.total


async def test_a_period_that_is_not_published_has_no_statements(db, scene):  # noqa: F811
    period = await cs.open_period(scene.coordinator, scene.admin.centre.id, scene.year, 5)
    with pytest.raises(Conflict, match="publicado o cerrado"):
        await svc.start_batch(scene.coordinator, period.id)
    with pytest.raises(NotFound):
        await svc.batch_progress(scene.coordinator, uuid.uuid4())
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(func.count()).select_from(StatementBatch).where(
            StatementBatch.period_id == period.id)) == 0


async def test_watching_a_batch_asks_the_reconciler_once_when_a_statement_waits_too_long(db, scene):  # noqa: F811
    period = await published_period(scene)
    batch = await svc.start_batch(scene.coordinator, period.id)
    assert not await svc.nudge_overdue(scene.coordinator, batch.id)  # just queued: nothing overdue

    async def reconcile_requests() -> int:
        async with db.transaction(TenantContext.system()) as s:
            return await s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.actor_name == "reconcile_statements", OutboxMessage.entity_id == scene.admin.entity.id))

    async with db.transaction(TenantContext.system()) as s:  # the worker died ten minutes ago
        await s.execute(update(StatementBatchItem).where(StatementBatchItem.batch_id == batch.id)
                        .values(enqueued_at=func.now() - timedelta(minutes=10)))
    assert not await svc.nudge_overdue(scene.a.ctx("finanzas"), batch.id)  # only the coordinator's page asks
    assert await svc.nudge_overdue(scene.coordinator, batch.id)
    assert not await svc.nudge_overdue(scene.coordinator, batch.id)  # at most once per STALE_AFTER
    assert await reconcile_requests() == 1
