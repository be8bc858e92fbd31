"""Background work for statements: one job per statement, the reconciler and the e-mails.

Every job takes ids, never objects, and is idempotent (delivery is at least once): generating checks the
statement's state under a row lock; e-mailing checks ``emailed_at``; the reconciler only creates what is missing
and re-queues what is overdue.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from app.billing_reports.batches import Participant, enqueue_sync, mark_replaced, plan
from app.billing_reports.generation import current_lines_query, generate_statement, source_hash
from app.billing_reports.models import Statement, StatementBatch, StatementBatchItem
from app.billing_reports.reminders import account_reminder_job, payment_reminders_job  # noqa: F401 - registers
from app.costsharing.models import CostPeriod
from app.db import ROLE_FINANZAS
from app.tenants.models import Centre, Entity, Membership, User
from app.worker.broker import WorkerRuntime, job

log = logging.getLogger(__name__)

REPORTS_QUEUE = "reports"
STALE_AFTER = timedelta(minutes=2)  # a pending statement not generated this long after queueing is re-queued


@job("generate_statement", queue_name=REPORTS_QUEUE, max_retries=3, min_backoff=2_000, time_limit=300_000)
def generate_statement_job(runtime: WorkerRuntime, statement_id: str) -> None:
    with runtime.transaction() as s:
        generate_statement(s, uuid.UUID(statement_id), runtime.settings)


@job("reconcile_statements", queue_name=REPORTS_QUEUE, max_retries=0, time_limit=300_000, every_seconds=600)
def reconcile_statements_job(runtime: WorkerRuntime, stale_after_seconds: float | None = None) -> None:
    stale = STALE_AFTER if stale_after_seconds is None else timedelta(seconds=stale_after_seconds)
    with runtime.transaction() as s:
        reconcile(s, stale_after=stale)


@job("email_statements", queue_name=REPORTS_QUEUE, max_retries=5, time_limit=120_000)
def email_statements_job(runtime: WorkerRuntime, batch_id: str) -> None:
    with runtime.transaction() as s:
        email_statements(s, uuid.UUID(batch_id), runtime.settings.base_url)


# ------------------------------------------------------------------------------------------ reconciler ---


@dataclass(frozen=True)
class Reconciled:
    created: int  # statements that should have existed and did not
    requeued: int  # pending statements whose job was overdue


def participants_of(s: Session, period: CostPeriod) -> list[Participant]:
    lines = s.scalars(current_lines_query(period.id)).all()
    by_entity: dict[uuid.UUID, list] = {}
    for ln in lines:
        by_entity.setdefault(ln.entity_id, []).append(ln)
    rucs = dict(s.execute(select(Entity.id, Entity.ruc).where(Entity.id.in_(by_entity))).all())
    return [Participant(eid, rucs[eid], source_hash(ls)) for eid, ls in sorted(by_entity.items(),
                                                                                 key=lambda kv: rucs[kv[0]])]


def reconcile(s: Session, *, now: datetime | None = None, stale_after: timedelta = STALE_AFTER) -> Reconciled:
    """Find statements that should exist and do not, and statements whose generation was lost.

    Should exist: for every published or closed period for which statements were requested (it has a batch),
    a current statement for each entity with lines, definitive once the period is closed. Lost: a pending
    statement whose message was queued more than ``stale_after`` ago (the worker or the broker died with it).
    Missing ones go into a new batch of their period, so progress and failures show as for any batch.
    """
    now = now or datetime.now(UTC)
    created = 0
    periods = s.scalars(select(CostPeriod).where(
        CostPeriod.state.in_(("publicado", "cerrado")),
        CostPeriod.id.in_(select(StatementBatch.period_id)))).all()
    for period in periods:
        centre = s.get(Centre, period.centre_id)
        current = {st.entity_id: st for st in s.scalars(select(Statement).where(
            Statement.period_id == period.id, Statement.is_current)).all()}
        p = plan(period, centre.code, centre.administering_entity_id, participants_of(s, period), current,
                 only_missing=True)
        if not p.new:
            continue
        mark_replaced(p.replaced)
        s.flush()
        batch = StatementBatch(period_id=period.id, centre_id=period.centre_id, state="en_curso", total=len(p.new))
        s.add_all([batch, *p.new])
        s.flush()
        for st in p.new:
            s.add(StatementBatchItem(batch_id=batch.id, statement_id=st.id, centre_id=st.centre_id,
                                     entity_id=st.entity_id, state="pendiente", attempts=0, enqueued_at=now))
            enqueue_sync(s, generate_statement_job, str(st.id), entity_id=st.entity_id)
        created += len(p.new)
        log.info("Conciliación: %d estado(s) de cuenta faltantes en el periodo %s", len(p.new), period.id)
    overdue = s.execute(
        select(StatementBatchItem.statement_id, func.max(StatementBatchItem.enqueued_at))
        .join(Statement, Statement.id == StatementBatchItem.statement_id)
        .where(StatementBatchItem.state == "pendiente", Statement.state == "pendiente")
        .group_by(StatementBatchItem.statement_id)
        .having(func.max(StatementBatchItem.enqueued_at) < now - stale_after)).all()
    for statement_id, _ in overdue:
        entity_id = s.scalar(select(Statement.entity_id).where(Statement.id == statement_id))
        enqueue_sync(s, generate_statement_job, str(statement_id), entity_id=entity_id)
        s.execute(update(StatementBatchItem).where(StatementBatchItem.statement_id == statement_id,
                                                   StatementBatchItem.state == "pendiente")
                  .values(enqueued_at=now))
    return Reconciled(created=created, requeued=len(overdue))


# ------------------------------------------------------------------------------------------------ mail ---


def email_statements(s: Session, batch_id: uuid.UUID, base_url: str) -> int:
    """One e-mail per generated statement of the batch to each finance officer of its entity; a statement
    already e-mailed is skipped. Returns the number of mails queued."""
    from app.worker.mail import send_email
    from app.worker.models import OutgoingEmail

    rows = s.execute(
        select(Statement, Entity.name, Centre.name)
        .join(StatementBatchItem, StatementBatchItem.statement_id == Statement.id)
        .join(Entity, Entity.id == Statement.entity_id).join(Centre, Centre.id == Statement.centre_id)
        .where(StatementBatchItem.batch_id == batch_id, Statement.state == "generado",
               Statement.emailed_at.is_(None)).with_for_update(of=Statement)).all()
    queued = 0
    for st, entity_name, centre_name in rows:
        officers = s.scalars(select(User.email).join(Membership, Membership.user_id == User.id).where(
            Membership.entity_id == st.entity_id, Membership.role == ROLE_FINANZAS, User.is_active)).all()
        link = f"{base_url}/estados-de-cuenta/{st.id}"
        estado = "preliminar" if st.status == "preliminar" else "definitivo"
        for address in officers:
            email_id = uuid.uuid4()
            s.execute(insert(OutgoingEmail).values(
                id=email_id, entity_id=st.entity_id, to_address=address, attempts=0,
                subject=f"Estado de cuenta {st.number} — {centre_name}",
                body_text=(f"Estimado(a) responsable de finanzas de {entity_name}:\n\n"
                           f"Se emitió el estado de cuenta {estado} N.º {st.number} de {centre_name}, por un total "
                           f"de S/ {st.total:,.2f}.\n\nDescárguelo (PDF, CSV o XLSX) en la Plataforma MAC:\n{link}\n\n"
                           f"Código de verificación: {st.verification_code}\n"
                           f"Verificación pública: {base_url}/verificar/{st.verification_code}\n")))
            enqueue_sync(s, send_email, str(email_id), entity_id=st.entity_id)
            queued += 1
        st.emailed_at = datetime.now(UTC)
    return queued
