"""Participants prefilled from the adhesions in force during the month (and, without that domain, entered by
hand)."""

from __future__ import annotations

import random
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app.costsharing import services as svc
from app.costsharing.models import CostParticipant
from app.db import TenantContext
from app.modules import optional_module
from tests.costsharing_fixtures import scene  # noqa: F401

adhesion_models = optional_module("app.adhesion.models")


@pytest.mark.skipif(adhesion_models is None, reason="el dominio de adhesiones no está instalado")
async def test_prefill_takes_dates_modules_and_area_from_the_adhesions_in_force(db, scene):  # noqa: F811
    year = scene.year
    walks = []
    async with db.transaction(TenantContext.system()) as s:
        template = adhesion_models.ClauseTemplate(version=random.randint(10**6, 10**9), title="Plantilla",
                                                  body="Texto", status="retirada")  # out of the way of the current template
        s.add(template)
        await s.flush()
        for tenant, state, start, end, modules, area in (
            (scene.a, "vigente", date(year - 1, 1, 1), date(year + 1, 12, 31), 4, Decimal("36.50")),
            (scene.b, "vigente", date(year, 2, 10), date(year + 2, 2, 9), 2, Decimal("18.00")),
            (scene.outsider, "en_evaluacion", None, None, 3, Decimal("20.00")),  # not in force: left out
        ):
            adhesion = adhesion_models.Adhesion(entity_id=tenant.entity.id, centre_id=scene.admin.centre.id,
                                                template_id=template.id, state="borrador", modules=modules,
                                                area_m2=area, start_date=start, end_date=end,
                                                draft_code=uuid.uuid4().hex[:20])
            s.add(adhesion)
            await s.flush()
            walks.append((adhesion.id, state))
    # The adhesion domain's gate lets only its own path reach "vigente": walk it (the SGP gives its opinion).
    A = adhesion_models.Adhesion  # noqa: N806
    for adhesion_id, state in walks:
        path = [("sistema", "pendiente_opinion_sgp"), ("sgp", "opinion_favorable"), ("sistema", "aceptada"),
                ("sistema", "vigente")] if state == "vigente" else [("sistema", state)]
        for who, step in path:
            async with db.transaction(scene.sgp_ctx if who == "sgp" else TenantContext.system()) as s:
                await s.execute(update(A).where(A.id == adhesion_id).values(state=step))
    period = await svc.open_period(scene.coordinator, scene.admin.centre.id, year, 2)
    notes = await svc.prefill_participants(scene.coordinator, period.id)
    assert "2 adhesión(es) vigente(s) en el periodo." in notes
    async with db.transaction(scene.coordinator) as s:
        rows = {r.entity_id: r for r in (await s.scalars(select(CostParticipant)
                                                         .where(CostParticipant.period_id == period.id))).all()}
    assert set(rows) == {scene.a.entity.id, scene.b.entity.id}
    a, b = rows[scene.a.entity.id], rows[scene.b.entity.id]
    assert (a.active_from, a.active_to, a.modules, a.area_m2, a.source) == (date(year, 2, 1), None, 4, Decimal("36.50"),
                                                                            "adhesiones")
    assert (b.active_from, b.active_to, b.modules) == (date(year, 2, 10), None, 2)


async def test_without_the_adhesion_domain_the_coordinator_is_told_to_enter_participants(db, scene, monkeypatch):  # noqa: F811
    monkeypatch.setattr(svc, "optional_module", lambda name: None)
    period = await svc.open_period(scene.coordinator, scene.admin.centre.id, scene.year, 2)
    notes = await svc.prefill_participants(scene.coordinator, period.id)
    assert notes == ["El módulo de adhesiones no está instalado: registre los participantes a mano.",
                     "El módulo de ANS no está instalado: ingrese las atenciones a mano."]
