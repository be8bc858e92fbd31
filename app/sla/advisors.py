"""Advisors (asesores) of a centre and their module assignments, kept by the centre's coordinators.

An advisor is an entity's person at the centre, known by the employee code of the attendance clock (ZKTeco
``emp_code``), so that a punch becomes a clock-in of the module the advisor is assigned to that day
(:mod:`app.sla.sources.zkteco`). Assignments are effective-dated: a *fijo* one holds from its date until a
later fixed one replaces it (or its end date); an *itinerante* one covers a module for the days from
``valid_from`` to ``valid_to`` and wins over the fixed ones on those days.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.actor import Actor
from app.db import Database
from app.errors import Conflict, ValidationFailed
from app.sla.models import Advisor, AdvisorAssignment, ModuleAssignment
from app.tenants.models import Centre, CentreModule, Entity

KINDS = {"fijo": "Fijo", "itinerante": "Itinerante"}


@dataclass
class AdvisorsView:
    centre: Centre
    advisors: list[tuple[Advisor, Entity]]
    assignments: list[tuple[AdvisorAssignment, Advisor]]
    entities: list[Entity]
    modules: list[CentreModule]


def _text(form: dict, key: str, label: str, limit: int) -> str:
    value = str(form.get(key) or "").strip()
    if not value:
        raise ValidationFailed(f"Indique {label}.", field=key)
    if len(value) > limit:
        raise ValidationFailed(f"{label[0].upper()}{label[1:]}: como máximo {limit} caracteres.", field=key)
    if "\x00" in value:
        raise ValidationFailed(f"{label[0].upper()}{label[1:]} contiene caracteres no válidos.", field=key)
    return value


def _day(form: dict, key: str, label: str, required: bool = True) -> date | None:
    value = str(form.get(key) or "").strip()
    if not value and not required:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{label}: use una fecha AAAA-MM-DD (se recibió «{value}»).", field=key) from None


def _uuid(value: Any, key: str, message: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise ValidationFailed(message, field=key) from None


async def advisors_view(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID) -> AdvisorsView:
    from app.sla.services import administered_centre, entities_at

    async with db.transaction(actor.context(ip)) as s:
        centre = await administered_centre(s, actor, centre_id)
        advisors = list((await s.execute(
            select(Advisor, Entity).join(Entity, Entity.id == Advisor.entity_id).where(Advisor.centre_id == centre_id)
            .order_by(Entity.short_name, Advisor.code))).all())
        assignments = list((await s.execute(
            select(AdvisorAssignment, Advisor).join(Advisor, Advisor.id == AdvisorAssignment.advisor_id)
            .where(AdvisorAssignment.centre_id == centre_id)
            .order_by(AdvisorAssignment.module_code, AdvisorAssignment.valid_from))).all())
        entities = await entities_at(s, centre_id)
        modules = list((await s.scalars(select(CentreModule).where(CentreModule.centre_id == centre_id)
                                        .order_by(CentreModule.code))).all())
    return AdvisorsView(centre, advisors, assignments, entities, modules)


async def add_advisor(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID, form: dict) -> uuid.UUID:
    """Register an advisor (or correct the name and entity of an existing code)."""
    from app.sla.services import administered_centre, entities_at

    code = _text(form, "codigo", "el código del empleado (el del reloj)", 40)
    name = _text(form, "nombre", "el nombre del asesor", 200)
    entity_id = _uuid(form.get("entidad"), "entidad", "Elija la entidad.")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        if entity_id not in {e.id for e in await entities_at(s, centre_id)}:
            raise ValidationFailed("La entidad no ofrece servicios en este centro.", field="entidad")
        advisor = await s.scalar(select(Advisor).where(Advisor.centre_id == centre_id, Advisor.code == code))
        before = None
        if advisor is None:
            advisor = Advisor(centre_id=centre_id, entity_id=entity_id, code=code, name=name)
            s.add(advisor)
        else:
            if advisor.entity_id != entity_id and await s.scalar(
                    select(AdvisorAssignment.id).where(AdvisorAssignment.advisor_id == advisor.id).limit(1)):
                raise Conflict(f"El asesor {code} ya tiene módulos asignados con otra entidad; registre otro código.",
                               field="codigo")
            before = {"nombre": advisor.name, "entidad": advisor.entity_id}
            advisor.name, advisor.entity_id, advisor.is_active = name, entity_id, True
        await s.flush()
        await audit.record(s, ctx, action="ans_asesor_registrado", record_type="asesor", record_id=advisor.id,
                           before=before, after={"codigo": code, "nombre": name, "entidad": entity_id})
        return advisor.id


async def _module_owner(s: AsyncSession, centre_id: uuid.UUID, module: str, day: date) -> uuid.UUID | None:
    return await s.scalar(select(ModuleAssignment.entity_id).where(
        ModuleAssignment.centre_id == centre_id, ModuleAssignment.module_code == module,
        ModuleAssignment.valid_from <= day, or_(ModuleAssignment.valid_to.is_(None), ModuleAssignment.valid_to >= day))
        .order_by(ModuleAssignment.valid_from.desc()).limit(1))


async def assign_advisor(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID,
                         form: dict) -> uuid.UUID:
    """Assign an advisor to a module, fijo or itinerante, from a date (an itinerant one also to a date)."""
    from app.sla.services import administered_centre

    advisor_id = _uuid(form.get("asesor"), "asesor", "Elija el asesor.")
    module = _text(form, "modulo", "el módulo", 20)
    kind = str(form.get("tipo") or "").strip()
    if kind not in KINDS:
        raise ValidationFailed("El tipo de asignación es fijo o itinerante.", field="tipo")
    valid_from = _day(form, "desde", "Desde")
    valid_to = _day(form, "hasta", "Hasta", required=False)
    if kind == "itinerante" and valid_to is None:
        raise ValidationFailed("Una asignación itinerante indica hasta qué día cubre el módulo.", field="hasta")
    if valid_to is not None and valid_to < valid_from:
        raise ValidationFailed("«Hasta» es anterior a «Desde».", field="hasta")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        advisor = await s.get(Advisor, advisor_id)
        if advisor is None or advisor.centre_id != centre_id:
            raise ValidationFailed("El asesor no es de este centro.", field="asesor")
        if not await s.scalar(select(CentreModule.id).where(CentreModule.centre_id == centre_id,
                                                            CentreModule.code == module)):
            raise ValidationFailed(f"El módulo «{module}» no existe en este centro.", field="modulo")
        owner = await _module_owner(s, centre_id, module, valid_from)
        if owner is not None and owner != advisor.entity_id:
            raise ValidationFailed(f"El {valid_from:%d/%m/%Y} el módulo {module} está asignado a otra entidad; "
                                   "asigne al asesor un módulo de su entidad.", field="modulo")
        if await s.scalar(select(AdvisorAssignment.id).where(
                AdvisorAssignment.advisor_id == advisor.id, AdvisorAssignment.kind == kind,
                AdvisorAssignment.valid_from == valid_from)):
            raise Conflict(f"El asesor {advisor.code} ya tiene una asignación {kind} desde el "
                           f"{valid_from:%d/%m/%Y}.", field="desde")
        assignment = AdvisorAssignment(centre_id=centre_id, entity_id=advisor.entity_id, advisor_id=advisor.id,
                                       module_code=module, kind=kind, valid_from=valid_from, valid_to=valid_to)
        s.add(assignment)
        await s.flush()
        await audit.record(s, ctx, action="ans_asesor_asignado", record_type="asesor", record_id=advisor.id,
                           after={"modulo": module, "tipo": kind, "desde": valid_from, "hasta": valid_to})
        return assignment.id
