"""Methodologies: defined and approved by the SGP, immutable once approved, effective from a period, compared."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import update

from app.costsharing import methodology as msvc
from app.costsharing.models import Methodology
from app.errors import Conflict, Forbidden, ValidationFailed
from tests.costsharing_fixtures import RULES, make_scene


async def test_the_sgp_approves_a_version_which_then_cannot_change_and_rules_from_its_period(db, tenants):
    scene = await make_scene(tenants)
    sgp = scene.sgp_ctx
    new_rules = dict(RULES, alquiler={"area_m2": "0.7", "modules": "0.3"})
    v2 = await msvc.create_methodology(sgp, version=f"{scene.year}.2-{uuid.uuid4().hex[:4]}", title="Segunda",
                                       criteria="Alquiler también por módulos.", rules=new_rules,
                                       vacancy_policy="redistribute")
    assert v2.state == "borrador"
    approved = await msvc.approve_methodology(sgp, v2.id, date(scene.year, 7, 1))
    assert approved.state == "aprobada" and len(approved.document_hash) == 64
    with pytest.raises(Conflict, match="ya fue aprobada"):
        await msvc.approve_methodology(sgp, v2.id, date(scene.year, 8, 1))
    with pytest.raises(Exception, match="no se modifica"):
        async with db.transaction(sgp) as s:
            await s.execute(update(Methodology).where(Methodology.id == v2.id).values(title="otra"))
    async with db.transaction(sgp) as s:
        assert (await msvc.effective_methodology(s, date(scene.year, 6, 1))).version.startswith(f"{scene.year}.1")
        assert (await msvc.effective_methodology(s, date(scene.year, 7, 1))).id == v2.id
    first = next(m for m in await msvc.list_methodologies(sgp) if m.version.startswith(f"{scene.year}.1"))
    comparison = await msvc.compare_methodologies(sgp, first.id, v2.id)
    assert [d.category for d in comparison.differences] == ["alquiler"]
    assert comparison.differences[0].before == "área (m²) 100 %"
    assert comparison.differences[0].after == "área (m²) 70 % + módulos 30 %"
    assert comparison.vacancy_changed


async def test_only_the_sgp_defines_methodologies_and_every_category_needs_a_valid_rule(db, tenants):
    scene = await make_scene(tenants)
    with pytest.raises(Forbidden):
        await msvc.create_methodology(scene.coordinator, version="x", title="x", criteria="", rules=RULES,
                                      vacancy_policy="redistribute")
    incomplete = {k: v for k, v in RULES.items() if k != "agua"}
    with pytest.raises(ValidationFailed, match="Falta la regla de la\\(s\\) categoría\\(s\\) agua"):
        await msvc.create_methodology(scene.sgp_ctx, version="x", title="x", criteria="", rules=incomplete,
                                      vacancy_policy="redistribute")
    with pytest.raises(ValidationFailed, match="deben sumar exactamente 1"):
        await msvc.create_methodology(scene.sgp_ctx, version="x", title="x", criteria="",
                                      rules=dict(RULES, agua={"equal": "0.5"}), vacancy_policy="redistribute")
    with pytest.raises(ValidationFailed, match="primer día"):
        m = await msvc.create_methodology(scene.sgp_ctx, version=f"x-{uuid.uuid4().hex[:6]}", title="x", criteria="",
                                          rules=RULES, vacancy_policy="redistribute")
        await msvc.approve_methodology(scene.sgp_ctx, m.id, date(scene.year, 2, 15))
    with pytest.raises(Exception, match="row-level security"):
        async with db.transaction(scene.coordinator) as s:
            s.add(Methodology(version=f"y-{uuid.uuid4().hex[:6]}", title="y", criteria="", rules=RULES,
                              vacancy_policy="redistribute", state="borrador"))
