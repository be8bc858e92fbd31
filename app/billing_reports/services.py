"""Statement use cases for the web: each owns its unit of work; row-level security decides what the caller sees.

* Finance officer: list its statements, open one, download its files, a consolidated export (across centres,
  for a month or a year).
* Coordinator: the periods of its centres that can have statements, start a batch (one job per statement,
  queued through the outbox), follow it, retry what failed, e-mail the statements, issue a corrected version.
* SGP: everything read-only, the consolidated view and export across centres and entities.

Generating happens in the worker (:mod:`app.billing_reports.jobs`); nothing here renders or signs a document.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.billing_reports import exports
from app.billing_reports.batches import Participant, mark_replaced, plan
from app.billing_reports.generation import current_lines_query, source_hash, statement_number
from app.billing_reports.jobs import STALE_AFTER, email_statements_job, generate_statement_job, reconcile_statements_job
from app.billing_reports.models import FORMATS, Statement, StatementBatch, StatementBatchItem, StatementFile
from app.billing_reports.statement import StatementData, from_json, periodo_label
from app.costsharing.models import CostPeriod
from app.db import ROLE_COORDINADOR, TenantContext, get_database
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.tenants.models import Centre, Entity
from app.worker.outbox import enqueue_in_transaction

STATUS_LABELS = {"preliminar": "Preliminar", "definitivo": "Definitivo"}
STATE_LABELS = {"pendiente": "En cola", "generado": "Generado", "fallido": "Falló"}
BATCH_STATE_LABELS = {"en_curso": "En curso", "completado": "Completado", "con_fallos": "Con fallos"}


# ---------------------------------------------------------------------------------------------- reading ---


@dataclass
class StatementRow:
    statement: Statement
    centre_name: str
    entity_name: str
    entity_ruc: str

    @property
    def period_label(self) -> str:
        return periodo_label(self.statement.period_start)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.statement.status]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.statement.state]


def _filters(q, *, centre_id=None, entity_id=None, year=None, month=None, status=None,  # noqa: ANN001, ANN202
             current_only=False):
    if centre_id:
        q = q.where(Statement.centre_id == centre_id)
    if entity_id:
        q = q.where(Statement.entity_id == entity_id)
    if year:
        if month:
            q = q.where(Statement.period_start == date(year, month, 1))
        else:
            q = q.where(Statement.period_start >= date(year, 1, 1), Statement.period_start < date(year + 1, 1, 1))
    if status:
        q = q.where(Statement.status == status)
    if current_only:
        q = q.where(Statement.is_current)
    return q


async def list_statements(ctx: TenantContext, *, centre_id: uuid.UUID | None = None,
                          entity_id: uuid.UUID | None = None, year: int | None = None, month: int | None = None,
                          status: str | None = None, current_only: bool = False) -> list[StatementRow]:
    """The statements the caller may see (RLS): its own entity's for a participant, its centres' for a
    coordinator, all for the SGP."""
    q = (select(Statement, Centre.name, Entity.name, Entity.ruc).join(Centre, Centre.id == Statement.centre_id)
         .join(Entity, Entity.id == Statement.entity_id)
         .order_by(Statement.period_start.desc(), Centre.name, Entity.name, Statement.version.desc()))
    q = _filters(q, centre_id=centre_id, entity_id=entity_id, year=year, month=month, status=status,
                 current_only=current_only)
    async with get_database().transaction(ctx) as s:
        return [StatementRow(*row) for row in (await s.execute(q)).all()]


@dataclass
class StatementView:
    row: StatementRow
    files: list[StatementFile]
    replaces: Statement | None
    replaced_by: Statement | None
    data: StatementData | None

    @property
    def statement(self) -> Statement:
        return self.row.statement


async def _visible(s: AsyncSession, statement_id: uuid.UUID) -> Statement:
    st = await s.get(Statement, statement_id)
    if st is None:  # does not exist, or RLS hides it: the same answer either way
        raise NotFound("El estado de cuenta no existe o no tiene acceso a él.")
    return st


async def get_statement(ctx: TenantContext, statement_id: uuid.UUID) -> StatementView:
    async with get_database().transaction(ctx) as s:
        st = await _visible(s, statement_id)
        centre = await s.get(Centre, st.centre_id)
        entity = await s.get(Entity, st.entity_id)
        files = list((await s.scalars(select(StatementFile).where(StatementFile.statement_id == st.id)
                                      .order_by(StatementFile.format))).all())
        replaces = await s.get(Statement, st.replaces_id) if st.replaces_id else None
        replaced_by = await s.scalar(select(Statement).where(Statement.replaces_id == st.id))
    return StatementView(StatementRow(st, centre.name, entity.name, entity.ruc), files, replaces, replaced_by,
                         from_json(st.data) if st.data else None)


async def statement_file(ctx: TenantContext, statement_id: uuid.UUID, fmt: str) -> tuple[str, str, bytes]:
    if fmt not in FORMATS:
        raise NotFound("Formato no disponible: use pdf, csv o xlsx.")
    async with get_database().transaction(ctx) as s:
        f = await s.scalar(select(StatementFile).where(StatementFile.statement_id == statement_id,
                                                       StatementFile.format == fmt))
        if f is None:
            raise NotFound("El archivo no existe, aún no se generó o no tiene acceso a él.")
        await s.refresh(f, ["content"])
        return f.filename, f.media_type, f.content


# ------------------------------------------------------------------------------------------ consolidated ---


@dataclass
class Consolidated:
    statements: list[StatementData]
    rows: list[StatementRow]
    year: int
    month: int | None

    @property
    def label(self) -> str:
        return periodo_label(date(self.year, self.month, 1)) if self.month else f"Año {self.year}"

    @property
    def total(self) -> Decimal:
        return exports.grand_total(self.statements)

    def by_centre(self) -> list[tuple[str, Decimal]]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for r in self.rows:
            out[r.centre_name] += r.statement.total or Decimal(0)
        return sorted(out.items())

    def by_entity(self) -> list[tuple[str, str, Decimal]]:
        out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for r in self.rows:
            out[(r.entity_ruc, r.entity_name)] += r.statement.total or Decimal(0)
        return sorted(((ruc, name, t) for (ruc, name), t in out.items()), key=lambda x: -x[2])


async def consolidated(ctx: TenantContext, *, year: int, month: int | None = None,
                       entity_id: uuid.UUID | None = None, centre_id: uuid.UUID | None = None) -> Consolidated:
    """The current, generated statements of a month or a year that the caller may see, with exactly the figures
    stored with each statement (the same as its documents)."""
    if not 2000 <= year <= 2100 or (month is not None and not 1 <= month <= 12):
        raise ValidationFailed("Periodo no válido.", field="periodo")
    rows = [r for r in await list_statements(ctx, year=year, month=month, entity_id=entity_id, centre_id=centre_id,
                                             current_only=True) if r.statement.state == "generado"]
    rows.sort(key=lambda r: (r.entity_ruc, r.centre_name, r.statement.period_start))
    return Consolidated([from_json(r.statement.data) for r in rows], rows, year, month)


# ------------------------------------------------------------------------------------------- batches ---


@dataclass
class PeriodChoice:
    period: CostPeriod
    centre: Centre
    last_batch: StatementBatch | None

    @property
    def label(self) -> str:
        return f"{self.centre.name} · {periodo_label(self.period.starts_on)}"


async def batch_periods(ctx: TenantContext) -> list[PeriodChoice]:
    """The published or closed periods of the coordinator's centres, with their latest batch."""
    async with get_database().transaction(ctx) as s:
        rows = (await s.execute(
            select(CostPeriod, Centre).join(Centre, Centre.id == CostPeriod.centre_id)
            .where(Centre.administering_entity_id == ctx.entity_id, CostPeriod.state.in_(("publicado", "cerrado")))
            .order_by(CostPeriod.starts_on.desc(), Centre.name))).all()
        out = []
        for period, centre in rows:
            last = await s.scalar(select(StatementBatch).where(StatementBatch.period_id == period.id)
                                  .order_by(StatementBatch.created_at.desc()).limit(1))
            out.append(PeriodChoice(period, centre, last))
    return out


async def _coordinated_period(s: AsyncSession, ctx: TenantContext, period_id: uuid.UUID) -> tuple[CostPeriod, Centre]:
    if ctx.role != ROLE_COORDINADOR:
        raise Forbidden("Solo la coordinación del centro genera los estados de cuenta.")
    period = await s.get(CostPeriod, period_id)
    centre = await s.get(Centre, period.centre_id) if period else None
    if period is None or centre is None or centre.administering_entity_id != ctx.entity_id:
        raise NotFound("El periodo no existe o no es de un centro que usted coordina.")
    return period, centre


async def start_batch(ctx: TenantContext, period_id: uuid.UUID) -> StatementBatch:
    """Generate the statements of every entity with lines in a published or closed period: one job each,
    queued through the outbox in this transaction. Statements already generated and up to date are counted as
    done; a preliminary statement is replaced by a definitive version once the period is closed, and by a new
    version if the allocation was recomputed."""
    async with get_database().transaction(ctx) as s:
        period, centre = await _coordinated_period(s, ctx, period_id)
        await s.execute(select(CostPeriod.id).where(CostPeriod.id == period.id).with_for_update())
        if period.state not in ("publicado", "cerrado"):
            raise Conflict("Los estados de cuenta se generan cuando el periodo está publicado o cerrado.",
                           code="periodo_no_publicado")
        lines = (await s.scalars(current_lines_query(period.id))).all()
        by_entity: dict[uuid.UUID, list] = defaultdict(list)
        for ln in lines:
            by_entity[ln.entity_id].append(ln)
        if not by_entity:
            raise Conflict("El periodo no tiene líneas de reparto.", code="sin_lineas")
        rucs = dict((await s.execute(select(Entity.id, Entity.ruc).where(Entity.id.in_(by_entity)))).all())
        participants = [Participant(e, rucs[e], source_hash(ls)) for e, ls in
                        sorted(by_entity.items(), key=lambda kv: rucs[kv[0]])]
        current = {st.entity_id: st for st in (await s.scalars(select(Statement).where(
            Statement.period_id == period.id, Statement.is_current))).all()}
        p = plan(period, centre.code, centre.administering_entity_id, participants, current)
        mark_replaced(p.replaced)
        await s.flush()
        batch = StatementBatch(period_id=period.id, centre_id=centre.id, requested_by_id=ctx.user_id,
                               state="en_curso", total=len(participants))
        s.add_all([batch, *p.new])
        await s.flush()
        now = datetime.now(UTC)
        for st in p.statements:
            done = st.state == "generado"
            s.add(StatementBatchItem(batch_id=batch.id, statement_id=st.id, centre_id=centre.id,
                                     entity_id=st.entity_id, state="generado" if done else "pendiente", attempts=0,
                                     enqueued_at=None if done else now, finished_at=now if done else None))
            if not done:
                await enqueue_in_transaction(s, generate_statement_job, str(st.id), entity_id=ctx.entity_id)
        if not (p.new or p.to_generate):
            batch.state, batch.finished_at = "completado", now
        await audit.record(s, ctx, action="estados_de_cuenta_lote", record_type="lote_estados_de_cuenta",
                           record_id=batch.id, after={"periodo": str(period.id), "total": batch.total,
                                                      "nuevos": len(p.new), "reemplazados": len(p.replaced)})
    return batch


@dataclass
class ItemView:
    item: StatementBatchItem
    statement: Statement
    entity_name: str


@dataclass
class BatchProgress:
    batch: StatementBatch
    centre_name: str
    period_label: str
    items: list[ItemView] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.item.state == "generado")

    @property
    def failed(self) -> int:
        return sum(1 for i in self.items if i.item.state == "fallido")

    @property
    def percent(self) -> int:
        return 100 if not self.total else (100 * self.done) // self.total

    @property
    def finished(self) -> bool:
        return self.batch.state != "en_curso"

    @property
    def state_label(self) -> str:
        return BATCH_STATE_LABELS[self.batch.state]


async def batch_progress(ctx: TenantContext, batch_id: uuid.UUID) -> BatchProgress:
    async with get_database().transaction(ctx) as s:
        batch = await s.get(StatementBatch, batch_id)
        if batch is None:
            raise NotFound("El lote no existe o no tiene acceso a él.")
        centre = await s.get(Centre, batch.centre_id)
        period = await s.get(CostPeriod, batch.period_id)
        rows = (await s.execute(
            select(StatementBatchItem, Statement, Entity.name)
            .join(Statement, Statement.id == StatementBatchItem.statement_id)
            .join(Entity, Entity.id == StatementBatchItem.entity_id)
            .where(StatementBatchItem.batch_id == batch.id).order_by(Entity.name))).all()
    return BatchProgress(batch, centre.name, periodo_label(period.starts_on), [ItemView(*r) for r in rows])


async def nudge_overdue(ctx: TenantContext, batch_id: uuid.UUID) -> bool:
    """Called while the coordinator watches a batch: if some statement has waited for the worker longer than
    :data:`STALE_AFTER` (its message was lost with a worker or a broker), ask the worker's reconciler to queue
    it again, at most once per :data:`STALE_AFTER`. True when it asked."""
    now = datetime.now(UTC)
    async with get_database().transaction(ctx) as s:
        batch = await s.get(StatementBatch, batch_id, with_for_update=True)
        if batch is None or batch.state != "en_curso" or ctx.role != ROLE_COORDINADOR:
            return False
        if batch.reconcile_requested_at and batch.reconcile_requested_at > now - STALE_AFTER:
            return False
        overdue = await s.scalar(select(func.count()).select_from(StatementBatchItem).where(
            StatementBatchItem.batch_id == batch.id, StatementBatchItem.state == "pendiente",
            StatementBatchItem.enqueued_at < now - STALE_AFTER))
        if not overdue:
            return False
        batch.reconcile_requested_at = now
        await enqueue_in_transaction(s, reconcile_statements_job, entity_id=ctx.entity_id)
    return True


async def _coordinated_batch(s: AsyncSession, ctx: TenantContext, batch_id: uuid.UUID) -> StatementBatch:
    batch = await s.get(StatementBatch, batch_id, with_for_update=True)
    if batch is None:
        raise NotFound("El lote no existe o no tiene acceso a él.")
    await _coordinated_period(s, ctx, batch.period_id)
    return batch


async def retry_failed(ctx: TenantContext, batch_id: uuid.UUID) -> int:
    """Queue the failed statements of the batch again; returns how many."""
    async with get_database().transaction(ctx) as s:
        batch = await _coordinated_batch(s, ctx, batch_id)
        failed = (await s.execute(
            select(StatementBatchItem, Statement).join(Statement, Statement.id == StatementBatchItem.statement_id)
            .where(StatementBatchItem.batch_id == batch.id, StatementBatchItem.state == "fallido"))).all()
        now = datetime.now(UTC)
        for item, st in failed:
            item.state, item.error, item.enqueued_at, item.finished_at = "pendiente", None, now, None
            if st.state == "fallido":
                st.state = "pendiente"
            await enqueue_in_transaction(s, generate_statement_job, str(st.id), entity_id=ctx.entity_id)
        if failed:
            batch.state, batch.finished_at = "en_curso", None
            await audit.record(s, ctx, action="estados_de_cuenta_reintento", record_type="lote_estados_de_cuenta",
                               record_id=batch.id, after={"reintentados": len(failed)})
    return len(failed)


async def email_batch(ctx: TenantContext, batch_id: uuid.UUID) -> int:
    """Queue the e-mails of the batch's generated statements to each entity's finance officers (the worker
    writes them: the coordinator cannot read other entities' people). Returns the statements to be e-mailed."""
    async with get_database().transaction(ctx) as s:
        batch = await _coordinated_batch(s, ctx, batch_id)
        pending = await s.scalar(
            select(func.count()).select_from(StatementBatchItem).join(
                Statement, Statement.id == StatementBatchItem.statement_id)
            .where(StatementBatchItem.batch_id == batch.id, Statement.state == "generado",
                   Statement.emailed_at.is_(None)))
        if not pending:
            raise Conflict("No hay estados de cuenta generados pendientes de envío en este lote.", code="nada_que_enviar")
        await enqueue_in_transaction(s, email_statements_job, str(batch.id), entity_id=ctx.entity_id)
        await audit.record(s, ctx, action="estados_de_cuenta_envio", record_type="lote_estados_de_cuenta",
                           record_id=batch.id, after={"estados": pending})
    return pending


async def correct_statement(ctx: TenantContext, statement_id: uuid.UUID, reason: str) -> Statement:
    """Issue a corrected statement: a new version that references the one it replaces, with the reason. The
    replaced statement and its files stay as they were (never regenerated in place)."""
    reason = (reason or "").strip()
    if len(reason) < 10:
        raise ValidationFailed("Explique el motivo de la corrección (al menos 10 caracteres).", field="motivo")
    async with get_database().transaction(ctx) as s:
        st = await _visible(s, statement_id)
        period, centre = await _coordinated_period(s, ctx, st.period_id)
        if not st.is_current:
            raise Conflict("Este estado de cuenta ya fue reemplazado; corrija la versión vigente.")
        if st.state != "generado":
            raise Conflict("El estado de cuenta aún no se generó.")
        lines = (await s.scalars(current_lines_query(period.id, st.entity_id))).all()
        entity = await s.get(Entity, st.entity_id)
        p = plan(period, centre.code, centre.administering_entity_id,
                 [Participant(st.entity_id, entity.ruc, source_hash(lines))], {})
        new = p.new[0]
        new.version, new.replaces_id, new.replacement_reason = st.version + 1, st.id, reason
        new.number = statement_number(period.starts_on, centre.code, entity.ruc, new.version)
        mark_replaced([st])
        await s.flush()
        batch = StatementBatch(period_id=period.id, centre_id=centre.id, requested_by_id=ctx.user_id,
                               state="en_curso", total=1)
        s.add_all([batch, new])
        await s.flush()
        s.add(StatementBatchItem(batch_id=batch.id, statement_id=new.id, centre_id=centre.id, entity_id=new.entity_id,
                                 state="pendiente", attempts=0, enqueued_at=datetime.now(UTC)))
        await enqueue_in_transaction(s, generate_statement_job, str(new.id), entity_id=ctx.entity_id)
        await audit.record(s, ctx, action="estado_de_cuenta_corregido", record_type="estado_de_cuenta",
                           record_id=new.id, before={"reemplaza": st.number}, after={"numero": new.number,
                                                                                  "motivo": reason})
    return new


async def latest_batches(ctx: TenantContext, limit: int = 20) -> list[BatchProgress]:
    async with get_database().transaction(ctx) as s:
        ids = (await s.scalars(select(StatementBatch.id).order_by(StatementBatch.created_at.desc())
                               .limit(limit))).all()
    return [await batch_progress(ctx, i) for i in ids]

