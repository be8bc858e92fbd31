"""Alerts are sent once per indicator and day and only while the centre is open; rollups follow a limit that
changes, a closure, and a full rebuild gives the same figures as the incremental path."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import delete, func, select

from app.auth.actor import Actor
from app.db import TenantContext
from app.sla import alerts, ingest, rollups, services
from app.sla.calendar import LIMA
from app.sla.models import Alert, DailyServiceRollup
from app.worker.models import OutgoingEmail
from tests.sla_helpers import TICKET_HEADER, build_world, ticket_line


@pytest.fixture
async def world(db, tenants):
    return await build_world(db, tenants)  # Mon–Fri 08:00–16:45, Sat 08:00–13:45


async def load(db, world, *lines: str) -> None:
    async with db.transaction(world.coordinator()) as s:
        await ingest.ingest_csv(s, centre_id=world.centre_id, kind=ingest.TICKETS,
                                data=(TICKET_HEADER + "".join(lines)).encode())


def coordinator_actor(world) -> Actor:
    user = world.admin.users["coordinador_centro"]
    return Actor(role="coordinador_centro", entity_id=world.admin.entity.id, user_id=user.id)


async def day_rollup(db, world, day: date) -> DailyServiceRollup:
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(DailyServiceRollup).where(
            DailyServiceRollup.centre_id == world.centre_id, DailyServiceRollup.entity_id == world.reniec.entity.id,
            DailyServiceRollup.day == day))


async def test_a_breach_is_alerted_once_a_day_and_only_within_opening_hours(db, world):
    ruc = world.reniec.entity.ruc
    await load(db, world, ticket_line("T1", ruc, "2025-03-03", "09:00", "09:05"),
               ticket_line("T2", ruc, "2025-03-03", "09:00", "09:45"))  # 1 of 2 on time < 80 %
    night = datetime.combine(date(2025, 3, 4), time(20, 0), LIMA)
    assert await alerts.evaluate_centre(db, world.centre_id, night) == []
    morning = datetime.combine(date(2025, 3, 4), time(10, 0), LIMA)
    created = await alerts.evaluate_centre(db, world.centre_id, morning)
    assert len(created) == 1
    assert await alerts.evaluate_centre(db, world.centre_id, morning.replace(hour=15)) == []
    async with db.transaction(TenantContext.system()) as s:
        alert = await s.get(Alert, created[0])
        subject = (f"ANS no cumple: Tiempo de espera de {world.reniec.entity.short_name} en "
                   f"{world.admin.centre.name}")
        mails = (await s.scalars(select(OutgoingEmail.to_address).where(OutgoingEmail.subject == subject))).all()
    assert (alert.indicator, alert.status, str(alert.value), alert.day) == ("espera", "no_cumple", "0.5000",
                                                                          date(2025, 3, 4))
    assert sorted(mails) == sorted([world.reniec.users["gestor_entidad"].email,
                                    world.admin.users["coordinador_centro"].email])
    # The other participant sees neither the alert nor the mail.
    async with db.transaction(world.sunat.ctx("gestor_entidad")) as s:
        assert await s.scalar(select(func.count()).select_from(Alert)) == 0


async def test_a_limit_changed_from_a_date_recomputes_the_days_after_it(db, world):
    ruc = world.reniec.entity.ruc
    await load(db, world, ticket_line("T1", ruc, "2025-03-03", "09:00", "09:15"),
               ticket_line("T2", ruc, "2025-03-17", "09:00", "09:15"))
    assert (await day_rollup(db, world, date(2025, 3, 17))).waits_ok == 1  # 15 ≤ 20
    async with db.transaction(TenantContext.system()) as s:
        from app.tenants.models import CentreService

        service_id = await s.scalar(select(CentreService.id).where(CentreService.centre_id == world.centre_id,
                                                                   CentreService.code == "DNI"))
    await services.set_service_limit(db, coordinator_actor(world), ip=None, centre_id=world.centre_id, form={
        "servicio": str(service_id), "espera": "10", "atencion": "15", "cuenta": "1", "desde": "2025-03-16"})
    assert (await day_rollup(db, world, date(2025, 3, 3))).waits_ok == 1  # before: the old limit
    assert (await day_rollup(db, world, date(2025, 3, 17))).waits_ok == 0  # after: 15 > 10


async def test_a_closure_takes_the_day_out_of_the_figures(db, world):
    ruc = world.reniec.entity.ruc
    await load(db, world, ticket_line("T1", ruc, "2025-03-05", "09:00", "09:05"))
    assert (await day_rollup(db, world, date(2025, 3, 5))).issued == 1
    await services.add_closure(db, coordinator_actor(world), ip=None, centre_id=world.centre_id,
                               form={"dia": "2025-03-05", "motivo": "Fumigación"})
    assert await day_rollup(db, world, date(2025, 3, 5)) is None


async def test_a_full_rebuild_gives_the_same_rollups_as_the_incremental_path(db, world):
    ruc = world.reniec.entity.ruc
    await load(db, world, *(ticket_line(f"T{i}", ruc, f"2025-03-{3 + i % 5:02d}", "09:00", f"09:{5 * i % 50 + 5:02d}")
                           for i in range(20)))

    async def snapshot():
        async with db.transaction(TenantContext.system()) as s:
            rows = (await s.scalars(select(DailyServiceRollup).where(DailyServiceRollup.centre_id == world.centre_id)
                                    .order_by(DailyServiceRollup.day))).all()
            return [(r.day, r.issued, r.waits, r.waits_ok, list(r.wait_histogram)) for r in rows]

    before = await snapshot()
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(delete(DailyServiceRollup).where(DailyServiceRollup.centre_id == world.centre_id))
    assert await snapshot() == []
    assert await rollups.rebuild_all(db, centre_code=world.admin.centre.code) > 0
    assert await snapshot() == before and len(before) == 5
