"""Opening hours set by the platform administrator (the tenants admin screens and API) reach the ANS figures:
the change queues, in its own transaction, the recomputation of the centre's rollups from its first day; the
worker does it as the system and audits it. Days before that date keep the hours they were measured against,
and a repeated message (delivery is at least once) leaves the same figures."""

from __future__ import annotations

import asyncio
from datetime import date, time

import pytest
from sqlalchemy import select

from app.audit_models import AuditEntry
from app.db import TenantContext
from app.sla import ingest
from app.sla.jobs import rebuild_after_opening_hours
from app.sla.models import DailyEntityRollup, DailyServiceRollup
from app.tenants import services as admin_services
from app.tenants.schemas import OpeningHoursSet
from app.worker.broker import WorkerRuntime
from app.worker.models import OutboxMessage
from tests.sla_helpers import TICKET_HEADER, build_world, ticket_line
from tests.worker_fixtures import flush_outbox, quiet_outbox, worker_settings  # noqa: F401

pytestmark = pytest.mark.usefixtures("quiet_outbox")

CLOCK_IN_HEADER = "ruc_entidad,modulo,asesor,hora\n"


@pytest.fixture
async def world(db, tenants):
    return await build_world(db, tenants)  # Mon–Fri 08:00–16:45, Sat 08:00–13:45, closed on Sundays; tolerance 15'


@pytest.fixture
async def platform_admin(tenants) -> TenantContext:
    return (await tenants.create(roles=("administrador_plataforma",))).ctx("administrador_plataforma")


async def load(db, world, kind, data: str) -> None:
    async with db.transaction(world.coordinator()) as s:
        await ingest.ingest_csv(s, centre_id=world.centre_id, kind=kind, data=data.encode())


async def service_day(db, world, day: date) -> DailyServiceRollup | None:
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(DailyServiceRollup).where(
            DailyServiceRollup.centre_id == world.centre_id, DailyServiceRollup.entity_id == world.reniec.entity.id,
            DailyServiceRollup.day == day))


async def entity_day(db, world, day: date) -> DailyEntityRollup | None:
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(DailyEntityRollup).where(
            DailyEntityRollup.centre_id == world.centre_id, DailyEntityRollup.entity_id == world.reniec.entity.id,
            DailyEntityRollup.day == day))


async def rollups_of(db, world) -> list[tuple]:
    async with db.transaction(TenantContext.system()) as s:
        services = (await s.scalars(select(DailyServiceRollup).where(DailyServiceRollup.centre_id == world.centre_id)
                                    .order_by(DailyServiceRollup.entity_id, DailyServiceRollup.day))).all()
        entities = (await s.scalars(select(DailyEntityRollup).where(DailyEntityRollup.centre_id == world.centre_id)
                                    .order_by(DailyEntityRollup.entity_id, DailyEntityRollup.day))).all()
        return ([(r.entity_id, r.service_code, r.day, r.issued, r.waits_ok) for r in services]
                + [(r.entity_id, r.day, r.module_days, r.module_days_punctual) for r in entities])


async def rebuild_audits(db, world) -> list[dict]:
    async with db.transaction(TenantContext.system()) as s:
        return list((await s.scalars(select(AuditEntry.after).where(
            AuditEntry.action == "ans_indicadores_recalculados", AuditEntry.record_id == str(world.centre_id))
            .order_by(AuditEntry.seq))).all())


async def queued_rebuilds(db, world) -> list[list]:
    async with db.transaction(TenantContext.system()) as s:
        return [m.message["args"] for m in (await s.scalars(select(OutboxMessage).where(
            OutboxMessage.actor_name == admin_services.OPENING_HOURS_CHANGED,
            OutboxMessage.message["args"][0].astext == str(world.centre_id)))).all()]


async def test_opening_on_sundays_from_a_date_brings_those_sundays_into_the_figures(db, world, platform_admin,
                                                                                     worker_settings):  # noqa: F811
    ruc = world.reniec.entity.ruc
    await load(db, world, ingest.TICKETS, TICKET_HEADER
               + ticket_line("T1", ruc, "2025-03-02", "10:00", "10:05")     # a Sunday before the new hours
               + ticket_line("T2", ruc, "2025-03-09", "10:00", "10:05")     # the first Sunday with hours
               + ticket_line("T3", ruc, "2025-03-16", "10:00", "10:40")     # a later Sunday, waited too long
               + ticket_line("T4", ruc, "2025-03-10", "10:00", "10:05"))    # a Monday: always counted
    assert [await service_day(db, world, date(2025, 3, d)) for d in (2, 9, 16)] == [None, None, None]
    assert (await service_day(db, world, date(2025, 3, 10))).issued == 1

    await admin_services.set_opening_hours(platform_admin, world.centre_id, OpeningHoursSet(
        weekdays=[6], opens_at=time(9, 0), closes_at=time(13, 0), valid_from=date(2025, 3, 9)))
    assert await queued_rebuilds(db, world) == [[str(world.centre_id), "2025-03-09"]]
    assert await service_day(db, world, date(2025, 3, 9)) is None  # queued, not done in the admin's request

    assert await flush_outbox(db, worker_settings) == 1

    assert await service_day(db, world, date(2025, 3, 2)) is None  # before the date: still closed
    sunday, later = await service_day(db, world, date(2025, 3, 9)), await service_day(db, world, date(2025, 3, 16))
    assert (sunday.issued, sunday.waits, sunday.waits_ok) == (1, 1, 1)
    assert (later.issued, later.waits, later.waits_ok) == (1, 1, 0)  # 40' > the 20' limit
    assert (await service_day(db, world, date(2025, 3, 10))).issued == 1
    [entry] = await rebuild_audits(db, world)
    assert entry["desde"] == "2025-03-09" and entry["motivo"] == "horario_definido"


async def test_a_later_opening_time_makes_a_clock_in_punctual_from_its_date_only(db, world, platform_admin,
                                                                                 worker_settings):  # noqa: F811
    ruc = world.reniec.entity.ruc
    await load(db, world, ingest.CLOCK_INS, CLOCK_IN_HEADER
               + f"{ruc},M01,A1,2025-03-03T08:40:00-05:00\n"   # Monday before the change
               + f"{ruc},M01,A1,2025-03-10T08:40:00-05:00\n")  # Monday after it
    # Opening at 08:00 with 15' of tolerance: 08:40 is late on both Mondays.
    for d in (3, 10):
        day = await entity_day(db, world, date(2025, 3, d))
        assert (day.module_days, day.module_days_checked, day.module_days_punctual) == (1, 1, 0)

    await admin_services.set_opening_hours(platform_admin, world.centre_id, OpeningHoursSet(
        weekdays=[0, 1, 2, 3, 4], opens_at=time(8, 30), closes_at=time(17, 0), valid_from=date(2025, 3, 10)))
    assert await flush_outbox(db, worker_settings) == 1

    assert (await entity_day(db, world, date(2025, 3, 3))).module_days_punctual == 0  # old hours
    assert (await entity_day(db, world, date(2025, 3, 10))).module_days_punctual == 1  # 08:40 ≤ 08:30 + 15'

    # At least once: the same message delivered again recomputes the same figures (and says so in the log).
    before = await rollups_of(db, world)
    runtime = WorkerRuntime(worker_settings)
    try:
        await asyncio.to_thread(rebuild_after_opening_hours, runtime, str(world.centre_id), "2025-03-10")
    finally:
        runtime.dispose()
    assert await rollups_of(db, world) == before
    assert len(await rebuild_audits(db, world)) == 2

