"""Scheduled adhesion work, run once a day (idempotent, so running it more often or twice is harmless):

- ``aceptada`` → ``vigente`` when the start date arrives (and the adhesion it renews becomes ``renovada``);
- ``vigente``/``suspendida`` → ``vencida`` after the last day of the term;
- reminders 60, 30 and 7 days before the end of the term to the entity's managers and the centre's
  coordinators (each sent once per adhesion, threshold and end date: ``adhesion_reminders``).

Call :func:`run_due_transitions` from the worker's scheduler (or ``mac adhesiones-programadas``); the job
:data:`adhesion_due_transitions` wraps it for dramatiq.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from app.adhesion import services, states
from app.adhesion.models import Adhesion, AdhesionReminder
from app.db import Database, TenantContext, set_database
from app.errors import DomainError
from app.worker.broker import job

REMINDER_DAYS = (60, 30, 7)


@dataclass
class DueReport:
    started: list[uuid.UUID] = field(default_factory=list)
    expired: list[uuid.UUID] = field(default_factory=list)
    reminders: list[tuple[uuid.UUID, int]] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"Adhesiones que iniciaron su vigencia: {len(self.started)}",
                f"Adhesiones vencidas: {len(self.expired)}",
                f"Recordatorios de vencimiento enviados: {len(self.reminders)}"]


async def _step(db: Database, adhesion_id: uuid.UUID, action: str, today: date) -> bool:
    """One transition in its own transaction; re-checked under lock, so a second run finds nothing to do."""
    async with db.transaction(TenantContext.system()) as s:
        row = await services._load(s, adhesion_id, lock=True)  # noqa: SLF001 - same domain
        adhesion = row[0]
        step = states.find(action, adhesion.state)
        if step is None:
            return False
        if action == "iniciar_vigencia" and (adhesion.start_date is None or adhesion.start_date > today):
            return False
        if action == "vencer" and (adhesion.end_date is None or adhesion.end_date >= today):
            return False
        await services._set_state(s, services.SYSTEM, row, states.check(action, adhesion.state, states.SISTEMA),  # noqa: SLF001
                                  details={"fecha": today.isoformat()})
        if step.target == states.VIGENTE:
            await services._continue_predecessor(s, services.SYSTEM, adhesion)  # noqa: SLF001
        return True


async def _remind(db: Database, adhesion_id: uuid.UUID, days: int, end_date: date) -> bool:
    async with db.transaction(TenantContext.system()) as s:
        row = await services._load(s, adhesion_id, lock=True)  # noqa: SLF001
        adhesion, centre, participant = row[0], row[1], row[2]
        inserted = (await s.execute(
            insert(AdhesionReminder).values(id=uuid.uuid4(), adhesion_id=adhesion.id, entity_id=adhesion.entity_id,
                                            days_before=days, end_date=end_date)
            .on_conflict_do_nothing().returning(AdhesionReminder.id))).first()
        if inserted is None:
            return False
        from app.worker.mail import queue_email

        for party in (states.ENTIDAD, states.ADMINISTRADORA):
            for email, name in (await s.execute(text("SELECT * FROM adhesion_recipients(:a, :p)"),
                                                {"a": adhesion.id, "p": party})).all():
                await queue_email(
                    s, to=email, subject=f"La adhesión de {participant.short_name} al {centre.name} vence en {days} días",
                    body=(f"Estimado(a) {name}:\n\nLa adhesión de {participant.name} al {centre.name} vence el "
                          f"{end_date.strftime('%d/%m/%Y')} ({days} días). Si corresponde, solicite su renovación "
                          "desde la página de la adhesión.\n\nPlataforma MAC · Mensaje automático."),
                    entity_id=None)
        return True


async def run_due_transitions(db: Database, today: date | None = None) -> DueReport:
    """Everything due on ``today`` (Lima date by default). Safe to run repeatedly and concurrently."""
    today = today or services.today_lima()
    from app import db as db_module

    previous = db_module._database  # noqa: SLF001
    set_database(db)  # the services reach the database through get_database()
    report = DueReport()
    try:
        async with db.transaction(TenantContext.system()) as s:
            to_start = (await s.scalars(select(Adhesion.id).where(Adhesion.state == states.ACEPTADA,
                                                                  Adhesion.start_date <= today))).all()
            to_expire = (await s.scalars(select(Adhesion.id).where(
                Adhesion.state.in_((states.VIGENTE, states.SUSPENDIDA)), Adhesion.end_date < today))).all()
            in_force = (await s.execute(select(Adhesion.id, Adhesion.end_date).where(
                Adhesion.state.in_((states.VIGENTE, states.SUSPENDIDA)), Adhesion.end_date >= today))).all()
        for adhesion_id in to_start:
            if await _safe(_step(db, adhesion_id, "iniciar_vigencia", today)):
                report.started.append(adhesion_id)
        for adhesion_id in to_expire:
            if await _safe(_step(db, adhesion_id, "vencer", today)):
                report.expired.append(adhesion_id)
        for adhesion_id, end_date in in_force:
            remaining = (end_date - today).days
            due = [d for d in REMINDER_DAYS if remaining <= d]
            if due and await _safe(_remind(db, adhesion_id, min(due), end_date)):
                report.reminders.append((adhesion_id, min(due)))
    finally:
        set_database(previous)
    return report


async def _safe(coro) -> bool:  # noqa: ANN001
    try:
        return await coro
    except DomainError:
        return False


def _job(runtime, today: str | None = None) -> None:  # noqa: ANN001
    """dramatiq entry point: a daily message (with or without a date) runs everything that is due."""
    runtime.run_with_database(lambda db: run_due_transitions(db, date.fromisoformat(today) if today else None))


# Recorded in the worker's job registry when app.adhesion.jobs is imported; hourly, so a start date or an
# expiry is acted on within the hour (the work is idempotent, so more often would be harmless).
adhesion_due_transitions = job("adhesion_due_transitions", max_retries=3, time_limit=600_000,
                               every_seconds=3600)(_job)
