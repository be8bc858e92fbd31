"""The auditor's export: a centre's stored ANS data over a date range, as the input document of the offline
calculator (``mac sla compliance``, :mod:`app.sla.calculator`).

The document carries everything the platform's daily rollups were computed from, so running the calculator
on it gives the figures the dashboard shows for the same range:

* the calendar: the opening hours in force on the first day plus any change within the range
  (``opening_hours_from``), and every day of the range that is not worked (national holidays, *días no
  laborables*, closures of the centre) listed one by one, so the result does not depend on a holiday package;
* the service limits (every ``valid_from``); a service with tickets or surveys but no limit is listed with
  ``counts: false`` (its tickets never count, its surveys do, as on the platform);
* the module assignments (effective-dated), the accepted ANS targets and each entity's punctuality tolerance
  (the same ANS the dashboard uses: the entity's latest accepted one);
* the events: ticket segments (one ``id`` for all segments of a ticket), clock-ins, survey answers and the
  interruptions overlapping the range, every moment with its UTC offset in Lima time.

No citizen data is in it: the platform never stores any.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.pe import ruc as pe_ruc

from app import audit
from app.auth.actor import Actor
from app.db import ROLE_ADMIN, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, Database, TenantContext
from app.errors import Forbidden, NotFound, ValidationFailed
from app.sla.calendar import LIMA, WEEKDAY_KEYS
from app.sla.indicators import DEFAULT_TOLERANCE_MINUTES
from app.sla.models import (
    AnsTarget,
    ClockInRow,
    InterruptionRow,
    ModuleAssignment,
    ServiceLimitRow,
    SurveyAnswer,
    TicketSegment,
)
from app.sla.rollups import lima_start, load_calendar, tolerance_for
from app.tenants.models import Centre, CentreOpeningHours, CentreService, Entity

MAX_EXPORT_DAYS = 366


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(LIMA).isoformat()


def check_range(start: date, end: date) -> None:
    if end < start:
        raise ValidationFailed("La fecha final es anterior a la inicial.", field="hasta")
    if (end - start).days + 1 > MAX_EXPORT_DAYS:
        raise ValidationFailed(f"El rango admite como máximo {MAX_EXPORT_DAYS} días; divídalo.", field="hasta")


async def build_case(session: AsyncSession, centre: Centre, start: date, end: date,
                     ruc: str | None = None) -> dict:
    """The calculator document of ``centre`` from ``start`` to ``end`` (local dates, both included); with
    ``ruc``, only that entity's data (and the interruptions that affect it)."""
    from app.sla.services import accepted_ans  # the dashboard's own choice of ANS

    check_range(start, end)
    entities = {e.id: e for e in (await session.scalars(
        select(Entity).where(Entity.id.in_(select(CentreService.entity_id)
                                           .where(CentreService.centre_id == centre.id))))).all()}
    only: uuid.UUID | None = None
    if ruc:
        ruc = ruc.strip()
        if not pe_ruc.is_valid(ruc):
            raise ValidationFailed(f"«{ruc}» no es un RUC válido.", field="ruc")
        only = next((e.id for e in entities.values() if e.ruc == ruc), None)
        if only is None:
            raise NotFound(f"La entidad con RUC {ruc} no ofrece servicios en {centre.name}.", field="ruc")
        entities = {only: entities[only]}
    lo, hi = lima_start(start), lima_start(end + timedelta(days=1))

    def mine(column):  # noqa: ANN001, ANN202
        return column.in_(list(entities))

    # ---- calendar
    calendar = await load_calendar(session, centre.id)
    hours = (await session.execute(
        select(CentreOpeningHours.weekday, CentreOpeningHours.opens_at, CentreOpeningHours.closes_at,
               CentreOpeningHours.valid_from).where(CentreOpeningHours.centre_id == centre.id)
        .order_by(CentreOpeningHours.valid_from))).all()
    in_force: dict[str, list[str]] = {}
    changes: dict[date, dict[str, list[str]]] = defaultdict(dict)
    for weekday, opens, closes, valid_from in hours:
        pair = [opens.strftime("%H:%M:%S"), closes.strftime("%H:%M:%S")]
        if valid_from <= start:
            in_force[WEEKDAY_KEYS[weekday]] = pair  # ordered by valid_from: the last one is in force
        elif valid_from <= end:
            changes[valid_from][WEEKDAY_KEYS[weekday]] = pair
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    cal_doc: dict = {"opening_hours": in_force,
                     "holidays": [d.isoformat() for d in days if calendar.is_holiday(d)],
                     "national_holidays": False}
    if changes:
        cal_doc["opening_hours_from"] = [{"valid_from": d.isoformat(), "opening_hours": h}
                                         for d, h in sorted(changes.items())]

    # ---- services and limits (a code shared by two entities is written RUC/código to keep it unambiguous)
    limits = (await session.execute(
        select(ServiceLimitRow).where(ServiceLimitRow.centre_id == centre.id, mine(ServiceLimitRow.entity_id))
        .order_by(ServiceLimitRow.entity_id, ServiceLimitRow.service_code, ServiceLimitRow.valid_from))).scalars()
    limits = list(limits)
    t, sv = TicketSegment, SurveyAnswer
    ticket_rows = (await session.execute(
        select(t).where(t.centre_id == centre.id, mine(t.entity_id), t.issued_at >= lo, t.issued_at < hi)
        .order_by(t.issued_at, t.ticket_id, t.segment))).scalars().all()
    survey_rows = (await session.execute(
        select(sv).where(sv.centre_id == centre.id, mine(sv.entity_id), sv.at >= lo, sv.at < hi)
        .order_by(sv.at, sv.survey_id))).scalars().all()
    pairs = {(r.entity_id, r.service_code) for r in limits} | {(r.entity_id, r.service_code) for r in ticket_rows} \
        | {(r.entity_id, r.service_code) for r in survey_rows}
    owners: dict[str, set[uuid.UUID]] = defaultdict(set)
    for entity_id, code in pairs:
        owners[code].add(entity_id)

    def service(entity_id: uuid.UUID, code: str) -> str:
        return code if len(owners[code]) == 1 else f"{entities[entity_id].ruc}/{code}"

    services_doc = [{"code": service(r.entity_id, r.service_code), "entity_ruc": entities[r.entity_id].ruc,
                     "max_wait_minutes": r.max_wait_minutes, "max_attention_minutes": r.max_attention_minutes,
                     "counts": r.counts, "valid_from": r.valid_from.isoformat()} for r in limits]
    limited = {(r.entity_id, r.service_code) for r in limits}
    services_doc += [{"code": service(e, code), "entity_ruc": entities[e].ruc, "max_wait_minutes": 0,
                      "max_attention_minutes": 0, "counts": False}
                     for e, code in sorted(pairs - limited, key=lambda p: (entities[p[0]].ruc, p[1]))]

    # ---- modules, targets, tolerances
    m = ModuleAssignment
    modules = (await session.execute(
        select(m).where(m.centre_id == centre.id, mine(m.entity_id), m.valid_from <= end,
                        or_(m.valid_to.is_(None), m.valid_to >= start))
        .order_by(m.module_code, m.valid_from))).scalars().all()
    modules_doc = []
    for a in modules:
        item = {"code": a.module_code, "entity_ruc": entities[a.entity_id].ruc, "valid_from": a.valid_from.isoformat()}
        if a.valid_to:
            item["valid_to"] = a.valid_to.isoformat()
        modules_doc.append(item)
    targets_doc, tolerances = [], {}
    for entity in sorted(entities.values(), key=lambda e: e.ruc):
        _ans, targets = await accepted_ans(session, centre.id, entity.id)
        order = {"espera": 0, "atencion": 1, "abandono": 2, "puntualidad": 3, "ocupabilidad": 4, "satisfaccion": 5,
                 "interrupcion": 6}
        for target in sorted(targets, key=lambda x: order.get(x.indicator, 9)):
            targets_doc.append(_target(entity.ruc, target))
        tolerances[entity.ruc] = await tolerance_for(session, centre.id, entity.id)

    # ---- events
    tickets_doc = [{"id": r.ticket_id, "segment": r.segment, "service": service(r.entity_id, r.service_code),
                    "module": r.module_code, "issued_at": _moment(r.issued_at), "called_at": _moment(r.called_at),
                    "started_at": _moment(r.started_at), "ended_at": _moment(r.ended_at), "outcome": r.outcome}
                   for r in ticket_rows]
    clock_rows = (await session.execute(
        select(ClockInRow.module_code, ClockInRow.entity_id, ClockInRow.at)
        .where(ClockInRow.centre_id == centre.id, mine(ClockInRow.entity_id), ClockInRow.at >= lo, ClockInRow.at < hi)
        .order_by(ClockInRow.at, ClockInRow.module_code))).all()
    clock_doc = [{"module": code, "entity_ruc": entities[e].ruc, "at": _moment(at)} for code, e, at in clock_rows]
    surveys_doc = [{"service": service(r.entity_id, r.service_code), "at": _moment(r.at), "score": r.score}
                   for r in survey_rows]
    i = InterruptionRow
    q = select(i).where(i.centre_id == centre.id, i.started_at < hi, i.ended_at > lo)
    if only:
        q = q.where(or_(i.entity_id == only, i.entity_id.is_(None)))
    interruptions = (await session.execute(q.order_by(i.started_at, i.external_id))).scalars().all()
    all_rucs = {e.id: e.ruc for e in entities.values()}
    if not only:
        missing = {r.entity_id for r in interruptions if r.entity_id and r.entity_id not in all_rucs}
        if missing:
            all_rucs |= dict((await session.execute(select(Entity.id, Entity.ruc)
                                                    .where(Entity.id.in_(missing)))).all())
    interruptions_doc = [{"id": r.external_id, "start": _moment(r.started_at), "end": _moment(r.ended_at),
                          "attributable_to": r.attributable_to,
                          "entity_ruc": all_rucs.get(r.entity_id) if r.entity_id else None, "cause": r.cause}
                         for r in interruptions]
    return {
        "centre": {"code": centre.code, "name": centre.name},
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "timezone": "America/Lima",
        "calendar": cal_doc,
        "punctuality_tolerance_minutes": DEFAULT_TOLERANCE_MINUTES,
        "punctuality_tolerance_by_entity": tolerances,
        "services": services_doc,
        "modules": modules_doc,
        "targets": targets_doc,
        "tickets": tickets_doc,
        "clock_ins": clock_doc,
        "surveys": surveys_doc,
        "interruptions": interruptions_doc,
    }


def _target(ruc: str, target: AnsTarget) -> dict:
    return {"entity_ruc": ruc, "indicator": target.indicator, "comparison": target.comparison,
            "target": str(target.target), "min_sample": target.min_sample}


EXPORTERS = (ROLE_SUPERVISOR_SGP, ROLE_ADMIN, ROLE_COORDINADOR)


async def export_case(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID, start: date, end: date,
                      ruc: str | None = None) -> dict:
    """An SGP supervisor (auditor), the administrator or the centre's coordinator downloads the export."""
    from app.sla.services import administered_centre

    if actor.role not in EXPORTERS:
        raise Forbidden("Solo la SGP, el administrador o la coordinación del centro exportan los datos de ANS.")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        if actor.role == ROLE_COORDINADOR:
            centre = await administered_centre(s, actor, centre_id)
        else:
            centre = await s.get(Centre, centre_id)
            if centre is None:
                raise NotFound("El centro no existe.")
        case = await build_case(s, centre, start, end, ruc)
        await audit.record(s, ctx, action="ans_datos_exportados", record_type="centro", record_id=centre.id,
                           after={"desde": start.isoformat(), "hasta": end.isoformat(), "ruc": ruc or None,
                                  "tickets": len(case["tickets"])})
    return case


async def export_centre(db: Database, *, centre_code: str, start: date, end: date, ruc: str | None = None) -> dict:
    """``mac sla export``: as the system."""
    async with db.transaction(TenantContext.system()) as s:
        centre = await s.scalar(select(Centre).where(Centre.code == centre_code))
        if centre is None:
            raise NotFound(f"No existe un centro con código {centre_code}.")
        return await build_case(s, centre, start, end, ruc)
