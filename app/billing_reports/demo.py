"""Demo statements: the closed period of the cost-sharing demo (Centro MAC Callao) gets its definitive
statements, generated and sealed, so the finance officers of the demo (finanzas.reniec@demo.mac.pe) find them at
once. The published period is left for the coordinator (coordinador.callao@demo.mac.pe) to try a batch.

Idempotent: a period that already has statements is left alone. Runs after the cost-sharing demo (which runs
after the tenants' demo); if that demo is not there, it says so and does nothing.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from app.db import ROLE_COORDINADOR, Database, TenantContext
from app.tenants.models import Centre, Membership, User

CENTRE_CODE = "MAC-CALLAO"
COORDINATOR_EMAIL = "coordinador.callao@demo.mac.pe"


async def load_demo(db: Database) -> list[str]:
    import app.db as dbmodule

    previous = dbmodule._database
    dbmodule.set_database(db)
    try:
        return await _load(db)
    finally:
        dbmodule.set_database(previous)


async def _load(db: Database) -> list[str]:
    from app.billing_reports import services
    from app.billing_reports.models import Statement
    from app.costsharing.models import CostPeriod

    async with db.transaction(TenantContext.system()) as s:
        centre = await s.scalar(select(Centre).where(Centre.code == CENTRE_CODE))
        period = await s.scalar(select(CostPeriod).where(CostPeriod.centre_id == centre.id,
                                                          CostPeriod.state == "cerrado")
                                .order_by(CostPeriod.starts_on.desc()).limit(1)) if centre else None
        coordinator = (await s.execute(
            select(User.id, Membership.entity_id).join(Membership, Membership.user_id == User.id)
            .where(User.email == COORDINATOR_EMAIL, Membership.role == ROLE_COORDINADOR))).first()
        existing = await s.scalar(select(Statement.id).where(Statement.period_id == period.id).limit(1)) \
            if period else None
    if period is None or coordinator is None:
        return ["Estados de cuenta: no se generaron (falta la demostración de costos compartidos del Centro MAC "
                "Callao con un periodo cerrado)."]
    label = f"{centre.name}, {period.starts_on:%m/%Y}"
    if existing is not None:
        return [f"Estados de cuenta: ya estaban generados ({label}). Finanzas: finanzas.reniec@demo.mac.pe → "
                "/estados-de-cuenta"]
    ctx = TenantContext(role=ROLE_COORDINADOR, entity_id=coordinator[1], user_id=coordinator[0])
    batch = await services.start_batch(ctx, period.id)
    runtime_url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    generated = await asyncio.to_thread(_generate_now, batch.id, runtime_url)
    return [f"Estados de cuenta: {generated} definitivos generados y sellados para {label}. Finanzas RENIEC: "
            "finanzas.reniec@demo.mac.pe → /estados-de-cuenta; la coordinación genera los del periodo publicado en "
            "/estados-de-cuenta/lotes.", await _demo_payment(db, ctx, centre, period.id)]


async def _demo_payment(db: Database, ctx: TenantContext, centre: Centre, period_id) -> str:  # noqa: ANN001
    """A partial transfer received and confirmed for the first participant, so accounts and receivables show
    a payment, what it paid and what is still owed."""
    from decimal import Decimal

    from app.billing_reports import payments
    from app.billing_reports.models import Statement
    from app.localtime import today_lima

    async with db.transaction(TenantContext.system()) as s:
        st = await s.scalar(select(Statement).where(Statement.period_id == period_id, Statement.state == "generado",
                                                    Statement.entity_id != centre.administering_entity_id)
                            .order_by(Statement.number).limit(1))
    if st is None or not st.total or st.total <= 0:
        return "Pagos: ningún estado de cuenta de demostración con importe por pagar."
    amount = (st.total / 2).quantize(Decimal("0.01"))
    today = today_lima()
    payment = await payments.register_payment(ctx, st.entity_id, payments.PaymentInput(
        centre_id=str(centre.id), received_on=today.isoformat(), amount=format(amount, "f"), method="transferencia",
        resolution=f"RES-DEMO-{today.year}", siaf_expediente="1", fiscal_year=str(today.year),
        statements=[str(st.id)]))
    return (f"Pagos: transferencia {payment.number} de S/ {amount:,.2f} confirmada para {st.number} (la mitad); "
            "cuentas por cobrar en /cobranza, la cuenta de cada entidad en /cuentas.")



def _generate_now(batch_id, runtime_url: str) -> int:  # noqa: ANN001
    """Generate the batch here, with the worker's own function (the queued messages then find them done)."""
    from app.billing_reports.generation import generate_statement
    from app.billing_reports.models import StatementBatchItem
    from app.config import get_settings
    from app.worker.broker import WorkerRuntime

    runtime = WorkerRuntime(get_settings().model_copy(update={"app_database_url": runtime_url}), pool_size=1)
    try:
        with runtime.transaction() as s:
            ids = s.scalars(select(StatementBatchItem.statement_id).where(
                StatementBatchItem.batch_id == batch_id, StatementBatchItem.state == "pendiente")).all()
        done = 0
        for statement_id in ids:
            with runtime.transaction() as s:
                done += generate_statement(s, statement_id, runtime.settings)
        return done
    finally:
        runtime.dispose()
