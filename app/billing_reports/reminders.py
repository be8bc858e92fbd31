"""Payment reminders, in the worker: before the due date and once overdue, once per statement and stage.

The daily job computes every account's balance with :mod:`app.billing_reports.balances` (as the system) and,
for each live statement still outstanding, sends the stage that is due: ``por_vencer`` from
:data:`DAYS_BEFORE` days before the due date up to it, ``vencido`` the day after. A stage already recorded in
``payment_reminders`` is never sent again (the insert is the claim: two workers or a redelivered message find
it taken), so a reminder is sent at most once per statement and stage. The mails go like every other mail of
the platform: an ``outgoing_emails`` row and an outbox message in the same transaction, to the entity's
active finance officers only.

The coordinator's «Enviar recordatorio» queues :func:`account_reminder_job`: one mail per account with what is
overdue, which records no stage (it is the coordinator's own request).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.billing_reports import ledger as ledger_module
from app.billing_reports.balances import PAGADO, REEMPLAZADO, VENCIDO, Balances, balances
from app.billing_reports.payment_models import PaymentReminder
from app.billing_reports.statement import fecha_corta
from app.db import ROLE_FINANZAS
from app.localtime import today_lima
from app.tenants.models import Centre, Entity, Membership, User
from app.worker.broker import WorkerRuntime, job

log = logging.getLogger(__name__)

DAYS_BEFORE = 5  # the «por vencer» reminder goes this many days before the due date
REMINDERS_QUEUE = "reports"


@dataclass(frozen=True)
class DueReminder:
    statement_number: str
    stage: str  # por_vencer | vencido


def due_reminders(result: Balances, today: date, days_before: int = DAYS_BEFORE) -> list[DueReminder]:
    """The stage each outstanding statement is in today (pure)."""
    out = []
    for r in result.statements:
        if r.status in (PAGADO, REEMPLAZADO) or r.outstanding <= 0:
            continue
        if r.status == VENCIDO:
            out.append(DueReminder(r.id, "vencido"))
        elif 0 <= (r.statement.due_on - today).days <= days_before:
            out.append(DueReminder(r.id, "por_vencer"))
    return out


def _officers(s: Session, entity_id: uuid.UUID) -> list[str]:
    return list(s.scalars(select(User.email).join(Membership, Membership.user_id == User.id).where(
        Membership.entity_id == entity_id, Membership.role == ROLE_FINANZAS, User.is_active)).all())


def _mail(s: Session, entity_id: uuid.UUID, subject: str, body: str) -> int:
    from app.billing_reports.batches import enqueue_sync
    from app.worker.mail import send_email
    from app.worker.models import OutgoingEmail

    sent = 0
    for address in _officers(s, entity_id):
        email_id = uuid.uuid4()
        s.execute(insert(OutgoingEmail).values(id=email_id, entity_id=entity_id, to_address=address, subject=subject,
                                               body_text=body, attempts=0))
        enqueue_sync(s, send_email, str(email_id), entity_id=entity_id)
        sent += 1
    return sent


def send_due_reminders(s: Session, base_url: str, today: date | None = None) -> list[DueReminder]:
    """Send every reminder due today that was not sent before; returns those sent now."""
    today = today or today_lima()
    led = ledger_module.load_sync(s, as_of=today)
    result = balances(today, led.statements, led.payments)
    sent = []
    for due in due_reminders(result, today):
        st = led.statement_rows[due.statement_number]
        r = result.statement(due.statement_number)
        claimed = s.execute(pg_insert(PaymentReminder).values(
            id=uuid.uuid4(), statement_id=st.id, entity_id=st.entity_id, centre_id=st.centre_id, stage=due.stage,
            outstanding=r.outstanding).on_conflict_do_nothing().returning(PaymentReminder.id)).first()
        if claimed is None:
            continue
        entity, centre = s.get(Entity, st.entity_id), s.get(Centre, st.centre_id)
        link = f"{base_url}/cuentas/{centre.id}"
        if due.stage == "vencido":
            subject = f"Estado de cuenta vencido {st.number} — {centre.name}"
            lead = (f"El estado de cuenta N.º {st.number} venció el {fecha_corta(r.statement.due_on)} y tiene un saldo "
                    f"pendiente de S/ {r.outstanding:,.2f} ({r.days_overdue} día(s) de atraso).")
        else:
            subject = f"Estado de cuenta por vencer {st.number} — {centre.name}"
            lead = (f"El estado de cuenta N.º {st.number} vence el {fecha_corta(r.statement.due_on)}; su saldo "
                    f"pendiente es S/ {r.outstanding:,.2f}.")
        _mail(s, st.entity_id, subject,
              f"Estimado(a) responsable de finanzas de {entity.name}:\n\n{lead}\n\nSi ya pagó, reporte el pago con su "
              f"sustento para que la entidad administradora lo confirme:\n{link}\n\nPlataforma MAC · Mensaje "
              "automático.")
        sent.append(due)
    return sent


def send_account_reminder(s: Session, centre_id: uuid.UUID, entity_id: uuid.UUID | None, base_url: str,
                          today: date | None = None) -> int:
    """The coordinator's reminder: one mail per account of the centre with something overdue."""
    today = today or today_lima()
    led = ledger_module.load_sync(s, as_of=today, centre_id=centre_id, entity_id=entity_id)
    result = balances(today, led.statements, led.payments)
    centre = s.get(Centre, centre_id)
    mails = 0
    for account in result.accounts:
        if account.overdue <= 0:
            continue
        entity = led.entities[account.entity_ruc]
        overdue = [r for r in result.statements if r.status == VENCIDO and r.statement.entity_ruc == entity.ruc]
        lines = "\n".join(f"  · {r.id}: S/ {r.outstanding:,.2f}, vencido el {fecha_corta(r.statement.due_on)}"
                          for r in overdue)
        mails += _mail(s, entity.id, f"Recordatorio de pago — {centre.name}",
                       f"Estimado(a) responsable de finanzas de {entity.name}:\n\nLa coordinación del {centre.name} le "
                       f"recuerda que su cuenta tiene S/ {account.overdue:,.2f} vencidos:\n{lines}\n\nDetalle y reporte "
                       f"de pagos: {base_url}/cuentas/{centre.id}\n\nPlataforma MAC.")
    return mails


@job("payment_reminders", queue_name=REMINDERS_QUEUE, max_retries=3, time_limit=300_000, every_seconds=3600)
def payment_reminders_job(runtime: WorkerRuntime) -> None:
    with runtime.transaction() as s:
        sent = send_due_reminders(s, runtime.settings.base_url)
    if sent:
        log.info("Recordatorios de pago enviados: %d", len(sent))


@job("account_reminder", queue_name=REMINDERS_QUEUE, max_retries=3, time_limit=120_000)
def account_reminder_job(runtime: WorkerRuntime, centre_id: str, entity_id: str | None = None) -> None:
    with runtime.transaction() as s:
        send_account_reminder(s, uuid.UUID(centre_id), uuid.UUID(entity_id) if entity_id else None,
                              runtime.settings.base_url)
