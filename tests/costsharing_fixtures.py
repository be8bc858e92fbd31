"""A centre with its coordinator, two participating entities and the SGP, plus an approved methodology in force
from a year of its own (so tests sharing the database never pick each other's methodology)."""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass
from datetime import date

import pytest

from app.costsharing import methodology as msvc
from app.costsharing.models import CATEGORIES
from app.db import TenantContext
from tests.factories import Tenant

_years = itertools.count(2040 + os.getpid() % 7)

RULES = {c: {"equal": "1"} for c in CATEGORIES} | {
    "alquiler": {"area_m2": "1"},
    "limpieza": {"area_m2": "0.5", "attentions": "0.5"},
    "orientacion": {"attentions": "1"},
    "mantenimiento": {"modules": "1"},
}


@dataclass
class Scene:
    year: int
    admin: Tenant  # administering entity: its coordinator
    a: Tenant  # participants (gestor + finanzas)
    b: Tenant
    outsider: Tenant  # an entity that takes no part
    sgp: Tenant

    @property
    def coordinator(self) -> TenantContext:
        return self.admin.ctx("coordinador_centro")

    @property
    def sgp_ctx(self) -> TenantContext:
        return self.sgp.ctx("supervisor_sgp")

    def start(self, month: int = 3) -> date:
        return date(self.year, month, 1)


async def make_scene(tenants, *, rules=None, vacancy_policy="administering", password_hash=None) -> Scene:
    year = next(_years)
    admin = await tenants.create(roles=("coordinador_centro", "finanzas"), with_centre=True,
                                 password_hash=password_hash)
    a = await tenants.create(roles=("gestor_entidad", "finanzas"), password_hash=password_hash)
    b = await tenants.create(roles=("gestor_entidad", "finanzas"), password_hash=password_hash)
    outsider = await tenants.create(roles=("gestor_entidad", "finanzas"), password_hash=password_hash)
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=password_hash)
    scene = Scene(year, admin, a, b, outsider, sgp)
    m = await msvc.create_methodology(scene.sgp_ctx, version=f"{year}.1-{uuid.uuid4().hex[:6]}",
                                      title=f"Metodología {year}", criteria="Criterios de prueba.",
                                      rules=rules or RULES, vacancy_policy=vacancy_policy)
    await msvc.approve_methodology(scene.sgp_ctx, m.id, date(year, 1, 1))
    return scene


@pytest.fixture
async def scene(tenants) -> Scene:
    return await make_scene(tenants)
