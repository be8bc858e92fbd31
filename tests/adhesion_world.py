"""Shared set-up for adhesion tests: a participant, a centre and its administering entity, and the SGP; each
person with a password (signing asks for it again)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from app.adhesion import services
from app.adhesion.schemas import AdhesionCreate
from app.auth.actor import Actor
from app.auth.passwords import hash_password
from tests.factories import Tenant

PASSWORD = "Firma-Segura-2026"


def actor_for(tenant: Tenant, role: str) -> Actor:
    user = tenant.users[role]
    return Actor(role=role, entity_id=tenant.entity.id, entity_name=tenant.entity.name,
                 entity_is_rector=tenant.entity.is_rector, user_id=user.id, full_name=user.full_name,
                 email=user.email, auth_method="contrasena")


def caller(tenant: Tenant, role: str) -> services.Caller:
    return services.Caller(actor_for(tenant, role), ip="203.0.113.7", user_agent="pytest-navegador/1.0")


@dataclass
class World:
    participant: Tenant
    administrator: Tenant
    sgp: Tenant
    outsider: Tenant

    @property
    def gestor(self) -> services.Caller:
        return caller(self.participant, "gestor_entidad")

    @property
    def coordinador(self) -> services.Caller:
        return caller(self.administrator, "coordinador_centro")

    @property
    def supervisor(self) -> services.Caller:
        return caller(self.sgp, "supervisor_sgp")

    def draft(self, **overrides) -> AdhesionCreate:  # noqa: ANN003
        data = {"centre_id": self.administrator.centre.id,
                "services": [{"code": "DNI-DUP", "name": "Duplicado del DNI"},
                             {"code": "ACTA", "name": "Copia certificada de acta"}],
                "ans": [{"service": "Duplicado del DNI", "max_wait": 20, "max_attention": 15,
                         "target": Decimal("90")}],
                "modules": 3, "area_m2": Decimal("18.50"), "monthly_fee": Decimal("1250.00"),
                "term_months": 24, "contact_name": "Ana Quispe", "contact_email": "ana@prueba.gob.pe"}
        data.update(overrides)
        return AdhesionCreate.model_validate(data)


@pytest.fixture
async def world(tenants) -> World:
    pw = hash_password(PASSWORD)
    participant = await tenants.create(roles=("gestor_entidad", "finanzas"), password_hash=pw)
    administrator = await tenants.create(roles=("coordinador_centro", "gestor_entidad"), with_centre=True,
                                         password_hash=pw)
    sgp = await tenants.create(roles=("supervisor_sgp", "administrador_plataforma"), password_hash=pw)
    outsider = await tenants.create(roles=("gestor_entidad", "coordinador_centro", "finanzas"), with_centre=True,
                                    password_hash=pw)
    return World(participant, administrator, sgp, outsider)


async def walk_to(world: World, target: str, *, start: date | None = None):  # noqa: ANN201
    """Create an adhesion and take it through the real services up to ``target``."""
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    path = ["presentada", "en_evaluacion", "pendiente_opinion_sgp", "opinion_favorable", "vigente"]
    if target == "borrador":
        return adhesion_id
    await services.sign_in_platform(world.gestor, adhesion_id, password=PASSWORD)
    if target == "presentada":
        return adhesion_id
    await services.transition(world.coordinador, adhesion_id, "evaluar")
    if target == "en_evaluacion":
        return adhesion_id
    if target == "observada":
        await services.transition(world.coordinador, adhesion_id, "observar", reason="Falta el área exacta")
        return adhesion_id
    await services.transition(world.coordinador, adhesion_id, "derivar_sgp",
                              checklist=[k for k, _ in services.EVALUATION_CHECKLIST])
    if target == "pendiente_opinion_sgp":
        return adhesion_id
    if target == "opinion_desfavorable":
        await services.transition(world.supervisor, adhesion_id, "opinar_desfavorable", reason="No procede")
        return adhesion_id
    await services.transition(world.supervisor, adhesion_id, "opinar_favorable", reason="Cumple los requisitos")
    if target == "opinion_favorable":
        return adhesion_id
    await services.sign_in_platform(world.coordinador, adhesion_id, password=PASSWORD,
                                    start_date=start or services.today_lima(), term_months=24)
    assert path  # vigente (or aceptada when the start date is in the future)
    return adhesion_id
