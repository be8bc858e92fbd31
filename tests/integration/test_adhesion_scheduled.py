"""Scheduled adhesion work: start of term, expiry and reminders, each exactly once however often it runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.adhesion import services
from app.adhesion.models import Adhesion, AdhesionReminder
from app.adhesion.scheduled import run_due_transitions
from app.db import TenantContext
from tests.adhesion_world import walk_to, world  # noqa: F401


async def state_of(world, adhesion_id):  # noqa: ANN001, ANN201
    return (await services.get_adhesion(world.gestor, adhesion_id)).adhesion.state


async def test_an_accepted_adhesion_comes_into_force_on_its_start_date_once(world, db):
    start = services.today_lima() + timedelta(days=10)
    adhesion_id = await walk_to(world, "vigente", start=start)
    assert await state_of(world, adhesion_id) == "aceptada"
    assert adhesion_id not in (await run_due_transitions(db, start - timedelta(days=1))).started
    assert adhesion_id in (await run_due_transitions(db, start)).started
    assert adhesion_id not in (await run_due_transitions(db, start)).started
    assert await state_of(world, adhesion_id) == "vigente"
    view = await services.get_adhesion(world.gestor, adhesion_id)
    assert [e.actor_role for e in view.events if e.to_state == "vigente"] == ["sistema"]


async def test_a_vigente_adhesion_expires_the_day_after_its_last_day(world, db):
    adhesion_id = await walk_to(world, "vigente")
    end = (await services.get_adhesion(world.gestor, adhesion_id)).adhesion.end_date
    assert adhesion_id not in (await run_due_transitions(db, end)).expired
    assert adhesion_id in (await run_due_transitions(db, end + timedelta(days=1))).expired
    assert adhesion_id not in (await run_due_transitions(db, end + timedelta(days=2))).expired
    assert await state_of(world, adhesion_id) == "vencida"


async def test_reminders_go_out_at_60_30_and_7_days_each_only_once(world, db):
    adhesion_id = await walk_to(world, "vigente")
    end = (await services.get_adhesion(world.gestor, adhesion_id)).adhesion.end_date
    sent = []
    for days_left in (61, 60, 59, 45, 30, 30, 8, 7, 6, 1):
        report = await run_due_transitions(db, end - timedelta(days=days_left))
        sent += [d for a, d in report.reminders if a == adhesion_id]
    assert sent == [60, 30, 7]
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(func.count()).select_from(AdhesionReminder)
                              .where(AdhesionReminder.adhesion_id == adhesion_id)) == 3


async def test_a_renewal_in_force_marks_the_adhesion_it_continues_as_renovada(world, db):
    first = await walk_to(world, "vigente")
    renewal = await services.request_renewal(world.gestor, first)
    # Walk the renewal with a start date in the future, then let the scheduler start it.
    await services.sign_in_platform(world.gestor, renewal, password="Firma-Segura-2026")
    await services.transition(world.coordinador, renewal, "evaluar")
    await services.transition(world.coordinador, renewal, "derivar_sgp",
                              checklist=[k for k, _ in services.EVALUATION_CHECKLIST])
    await services.transition(world.supervisor, renewal, "opinar_favorable", reason="Renovación conforme")
    start = services.today_lima() + timedelta(days=30)
    await services.sign_in_platform(world.coordinador, renewal, password="Firma-Segura-2026", start_date=start)
    await run_due_transitions(db, start)
    assert (await state_of(world, renewal), await state_of(world, first)) == ("vigente", "renovada")
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(Adhesion.previous_id).where(Adhesion.id == renewal)) == first
