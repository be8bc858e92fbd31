"""Row-level security of the attention records, straight at the database: who reads and who writes a centre's
events, whatever the application code asks (queries below have no WHERE on purpose). Migration 0010 wrote
these policies so that they are decided once per statement; these tests hold them to the same rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from app.db import TenantContext
from app.sla.calendar import LIMA
from app.sla.models import DailyServiceRollup, InterruptionRow, TicketSegment
from tests.sla_helpers import SlaWorld, build_world

ISSUED = datetime(2025, 3, 3, 9, 0, tzinfo=LIMA)


@pytest.fixture
async def world(db, tenants):
    world = await build_world(db, tenants)
    async with db.transaction(TenantContext.system()) as s:
        for n, (tenant, service) in enumerate(((world.reniec, "DNI"), (world.sunat, "RUC"))):
            s.add(TicketSegment(centre_id=world.centre_id, ticket_id=f"T{n}", segment=1, entity_id=tenant.entity.id,
                                service_code=service, issued_at=ISSUED, called_at=ISSUED + timedelta(minutes=5),
                                started_at=ISSUED + timedelta(minutes=5), ended_at=ISSUED + timedelta(minutes=15),
                                outcome="attended"))
        s.add(InterruptionRow(centre_id=world.centre_id, external_id="CORTE-1", entity_id=None, started_at=ISSUED,
                              ended_at=ISSUED + timedelta(hours=1), cause="Corte de luz",
                              attributable_to="administradora"))
    return world


def machine(tenant) -> TenantContext:  # noqa: ANN001
    return TenantContext(role="cliente_maquina", entity_id=tenant.entity.id, client_id=f"cola-{tenant.entity.ruc}")


async def tickets_seen(db, ctx: TenantContext) -> set[str]:  # noqa: ANN001
    async with db.transaction(ctx) as s:
        return set((await s.scalars(select(TicketSegment.ticket_id))).all())


async def test_each_entity_reads_only_its_own_attentions(db, world: SlaWorld):
    assert await tickets_seen(db, world.reniec.ctx("gestor_entidad")) == {"T0"}
    assert await tickets_seen(db, world.sunat.ctx("gestor_entidad")) == {"T1"}
    assert await tickets_seen(db, machine(world.reniec)) == {"T0"}


async def test_the_centres_coordinator_its_queue_system_and_the_sgp_read_every_entitys(db, world: SlaWorld, tenants):
    assert await tickets_seen(db, world.coordinator()) >= {"T0", "T1"}
    assert await tickets_seen(db, machine(world.admin)) >= {"T0", "T1"}
    sgp = await tenants.create(roles=("supervisor_sgp",))
    assert await tickets_seen(db, sgp.ctx("supervisor_sgp")) >= {"T0", "T1"}


async def test_another_centres_coordinator_and_queue_system_read_nothing_of_this_centre(db, world: SlaWorld, tenants):
    other = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    assert not await tickets_seen(db, other.ctx("coordinador_centro")) & {"T0", "T1"}
    assert not await tickets_seen(db, machine(other)) & {"T0", "T1"}
    async with db.transaction(other.ctx("coordinador_centro")) as s:
        cuts = set((await s.scalars(select(InterruptionRow.external_id)
                                    .where(InterruptionRow.centre_id == world.centre_id))).all())
    assert cuts == {"CORTE-1"}  # a centre-wide interruption is public to every signed-in user
    async with db.transaction(TenantContext.anonymous()) as s:
        assert (await s.scalars(select(InterruptionRow.external_id))).all() == []


async def test_a_participants_queue_system_writes_only_its_own_rows(db, world: SlaWorld):
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.transaction(machine(world.reniec)) as s:
            s.add(TicketSegment(centre_id=world.centre_id, ticket_id="X1", segment=1, entity_id=world.sunat.entity.id,
                                service_code="RUC", issued_at=ISSUED, outcome="abandoned"))
    async with db.transaction(machine(world.reniec)) as s:
        s.add(TicketSegment(centre_id=world.centre_id, ticket_id="X2", segment=1, entity_id=world.reniec.entity.id,
                            service_code="DNI", issued_at=ISSUED, outcome="abandoned"))
        changed = (await s.execute(update(TicketSegment).values(advisor="sobrescrito"))).rowcount
    assert changed == 2  # its own two rows (T0 and X2), not SUNAT's


@pytest.mark.parametrize("who", ["manager", "sgp", "other_coordinator", "other_queue_system"])
async def test_nobody_else_writes_a_centres_records(db, world: SlaWorld, tenants, who):
    if who == "manager":
        ctx = world.reniec.ctx("gestor_entidad")
    elif who == "sgp":
        ctx = (await tenants.create(roles=("supervisor_sgp",))).ctx("supervisor_sgp")
    else:
        other = await tenants.create(roles=("coordinador_centro",), with_centre=True)
        ctx = other.ctx("coordinador_centro") if who == "other_coordinator" else machine(other)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.transaction(ctx) as s:
            s.add(TicketSegment(centre_id=world.centre_id, ticket_id="X3", segment=1, entity_id=world.reniec.entity.id,
                                service_code="DNI", issued_at=ISSUED, outcome="abandoned"))
    async with db.transaction(ctx) as s:  # and an UPDATE without WHERE touches nothing
        assert (await s.execute(update(TicketSegment).values(advisor="sobrescrito"))).rowcount == 0
        assert (await s.execute(update(DailyServiceRollup).values(issued=0))).rowcount == 0
