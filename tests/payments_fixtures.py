"""Issued statements for payment tests, written as the worker writes a generated statement's row (the
documents themselves are tested with the statements), and a small PDF to attach as a payment's support."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from app.billing_reports.models import Statement
from app.costsharing import services as cs
from app.db import TenantContext
from tests.costsharing_fixtures import Scene

# Periods here only label statements (no allocation, no methodology): one fixed year is enough, since every
# scene has a centre of its own. (tests.costsharing_fixtures.make_scene takes a new year per scene, from a
# range that the whole suite must share.)
YEAR = 2030


async def payment_scene(tenants, *, password_hash: str | None = None) -> Scene:  # noqa: ANN001
    """The administering entity with its centre and coordinator, participants A and B, an outsider, the SGP."""
    admin = await tenants.create(roles=("coordinador_centro", "finanzas"), with_centre=True,
                                 password_hash=password_hash)
    a = await tenants.create(roles=("gestor_entidad", "finanzas"), password_hash=password_hash)
    b = await tenants.create(roles=("gestor_entidad", "finanzas"), password_hash=password_hash)
    outsider = await tenants.create(roles=("gestor_entidad", "finanzas"), password_hash=password_hash)
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=password_hash)
    return Scene(YEAR, admin, a, b, outsider, sgp)


@pytest.fixture
async def pay_scene(tenants) -> Scene:
    return await payment_scene(tenants)

SUPPORT_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
               b"trailer<</Root 1 0 R>>\n%%EOF\n")


async def period_of(scene: Scene, month: int):  # noqa: ANN201
    return await cs.open_period(scene.coordinator, scene.admin.centre.id, scene.year, month)


async def issued(db, scene: Scene, tenant, period, total: str, issued_on: date, due_on: date, *,  # noqa: ANN001
                 replaces: Statement | None = None) -> Statement:
    version = replaces.version + 1 if replaces else 1
    number = f"EC-{period.starts_on:%Y-%m}-{scene.admin.centre.code}-{tenant.entity.ruc}-v{version}"
    async with db.transaction(TenantContext.system()) as s:
        if replaces is not None:
            old = await s.get(Statement, replaces.id)
            old.is_current = False
            await s.flush()
        st = Statement(period_id=period.id, centre_id=scene.admin.centre.id, entity_id=tenant.entity.id,
                       administering_entity_id=scene.admin.entity.id, period_start=period.starts_on, version=version,
                       status="preliminar", number=number, verification_code=f"EC-{uuid.uuid4().hex[:12].upper()}",
                       state="generado", is_current=True, replaces_id=replaces.id if replaces else None,
                       replacement_reason="Corrección de prueba del reparto" if replaces else None,
                       issued_on=issued_on, due_on=due_on, total=Decimal(total), source_hash="0" * 64, attempts=1)
        s.add(st)
    return st
