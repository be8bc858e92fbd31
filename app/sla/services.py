"""ANS use cases: one function per thing a user does, each owning its transaction (unit of work).

Reads go through row-level security with the actor's own context; the few things done on the platform's
behalf (alerts, which must reach people the actor cannot see) are in :mod:`app.sla.alerts`, as the system.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.actor import Actor
from app.db import (
    ROLE_ADMIN,
    ROLE_CLIENTE,
    ROLE_COORDINADOR,
    ROLE_GESTOR,
    ROLE_SUPERVISOR_SGP,
    Database,
    TenantContext,
)
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.sla import ingest, rollups
from app.sla.calendar import LIMA, Calendar, month_bounds
from app.sla.indicators import (
    COMPARISONS,
    HISTOGRAM_BUCKETS,
    INDICATORS,
    RATIO_INDICATORS,
    DailyPoint,
    EntityDay,
    Measure,
    ServiceDay,
    Target,
    evaluate,
    measure,
    project,
    sum_entity_days,
    sum_service_days,
)
from app.sla.models import (
    Alert,
    Ans,
    AnsTarget,
    CentreClosure,
    DailyEntityRollup,
    DailyServiceRollup,
    ImportBatch,
    Incumplimiento,
    IncumplimientoStep,
    InterruptionRow,
    ModuleAssignment,
    NonWorkingDay,
    ServiceLimitRow,
)
from app.tenants.models import Centre, CentreModule, CentreOpeningHours, CentreService, Entity

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


def now_lima() -> datetime:
    return datetime.now(LIMA)


def parse_month(value: str | None, today: date | None = None) -> date:
    """'AAAA-MM' → first day of the month; empty → the current month."""
    today = today or now_lima().date()
    if not value:
        return today.replace(day=1)
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except (ValueError, TypeError):
        raise ValidationFailed("El mes debe tener la forma AAAA-MM.", field="mes") from None


# ------------------------------------------------------------------------------------------ centres ---


async def administered_centre(session: AsyncSession, actor: Actor, centre_id: uuid.UUID) -> Centre:
    """The centre, if the actor is one of its coordinators (or the platform administrator)."""
    centre = await session.get(Centre, centre_id)
    if centre is None:
        raise NotFound("El centro no existe.")
    if actor.role == ROLE_ADMIN:
        return centre
    if actor.role != ROLE_COORDINADOR or centre.administering_entity_id != actor.entity_id:
        raise NotFound("El centro no existe o no lo administra su entidad.")
    return centre


async def centres_for(session: AsyncSession, actor: Actor) -> list[Centre]:
    """Centres the actor may look at in the ANS screens."""
    q = select(Centre).where(Centre.is_active).order_by(Centre.name)
    if actor.role == ROLE_COORDINADOR:
        q = q.where(Centre.administering_entity_id == actor.entity_id)
    elif actor.role not in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN):
        q = q.where(Centre.id.in_(select(CentreService.centre_id).where(CentreService.entity_id == actor.entity_id)))
    return list((await session.scalars(q)).all())


async def entities_at(session: AsyncSession, centre_id: uuid.UUID) -> list[Entity]:
    return list((await session.scalars(
        select(Entity).where(Entity.id.in_(select(CentreService.entity_id)
                                           .where(CentreService.centre_id == centre_id)))
        .order_by(Entity.short_name))).all())


# ---------------------------------------------------------------------------------------- dashboard ---


@dataclass
class IndicatorRow:
    indicator: str
    measure: Measure
    target: Target | None
    status: str
    projected: Decimal | None


@dataclass
class Dashboard:
    centre: Centre
    entity: Entity
    month: date
    today: date
    ans: Ans | None
    rows: list[IndicatorRow]
    services: list[tuple[str, dict[str, Measure]]]
    trend: dict[str, list[tuple[date, Decimal | None]]]
    histogram: list[int]
    wait_limit_minutes: int | None
    working_days: int
    elapsed_days: int
    alerts: list[Alert] = field(default_factory=list)
    updated_at: datetime | None = None


async def accepted_ans(session: AsyncSession, centre_id: uuid.UUID, entity_id: uuid.UUID,
                       on: date | None = None) -> tuple[Ans | None, list[AnsTarget]]:
    q = select(Ans).where(Ans.centre_id == centre_id, Ans.entity_id == entity_id, Ans.state == "aceptado")
    if on:
        q = q.where(Ans.valid_from <= on)
    ans = await session.scalar(q.order_by(Ans.valid_from.desc(), Ans.created_at.desc()).limit(1))
    if ans is None:
        return None, []
    targets = list((await session.scalars(select(AnsTarget).where(AnsTarget.ans_id == ans.id))).all())
    return ans, targets


async def month_series(session: AsyncSession, centre_id: uuid.UUID, entity_id: uuid.UUID, month: date
                       ) -> tuple[dict[date, dict[str, ServiceDay]], dict[date, EntityDay]]:
    """The month's rollup rows of one entity at one centre (at most ~31 per series)."""
    first, last = month_bounds(month)
    services: dict[date, dict[str, ServiceDay]] = defaultdict(dict)
    for r in (await session.scalars(select(DailyServiceRollup).where(
            DailyServiceRollup.centre_id == centre_id, DailyServiceRollup.entity_id == entity_id,
            DailyServiceRollup.day >= first, DailyServiceRollup.day <= last))).all():
        services[r.day][r.service_code] = ServiceDay(
            r.issued, r.abandoned, r.waits, r.waits_ok, r.handled, r.handled_ok, r.surveys, r.surveys_ok,
            r.excluded, list(r.wait_histogram or [0] * HISTOGRAM_BUCKETS))
    entity: dict[date, EntityDay] = {}
    for r in (await session.scalars(select(DailyEntityRollup).where(
            DailyEntityRollup.centre_id == centre_id, DailyEntityRollup.entity_id == entity_id,
            DailyEntityRollup.day >= first, DailyEntityRollup.day <= last))).all():
        entity[r.day] = EntityDay(r.module_days, r.module_days_occupied, r.module_days_checked,
                                  r.module_days_punctual, r.interruption_seconds, r.interruptions)
    return services, entity


def compliance(targets: list[AnsTarget], services: dict[date, dict[str, ServiceDay]], entity: dict[date, EntityDay],
               calendar: Calendar, month: date, today: date) -> tuple[list[IndicatorRow], list[DailyPoint], int]:
    """Month-to-date results (pure): indicator rows, the daily points so far, remaining working days."""
    first, last = month_bounds(month)
    closed = today > last
    cutoff = last if closed else today
    days_so_far = calendar.working_days(first, cutoff) if cutoff >= first else []
    remaining = 0 if closed else len(calendar.working_days(today + timedelta(days=1), last))
    points = [DailyPoint(d, sum_service_days(services.get(d, {}).values()), entity.get(d, EntityDay()))
              for d in days_so_far]
    total_s = sum_service_days(p.services for p in points)
    total_e = sum_entity_days(p.entity for p in points)
    by_indicator = {t.indicator: t for t in targets}
    rows = []
    for indicator in INDICATORS:
        current = measure(indicator, total_s, total_e, len(points))
        db_target = by_indicator.get(indicator)
        if db_target is None:
            rows.append(IndicatorRow(indicator, current, None, "sin_meta", None))
            continue
        target = Target(indicator, db_target.comparison, Decimal(db_target.target), db_target.min_sample)
        projected = project(indicator, points, remaining) if remaining else None
        rows.append(IndicatorRow(indicator, current, target, evaluate(target, current, projected), projected))
    return rows, points, remaining


async def dashboard(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID | None,
                    entity_id: uuid.UUID | None, month: date, today: date | None = None) -> Dashboard | None:
    """The live compliance dashboard of an entity at a centre. A manager sees only its own entity; a
    coordinator the entities of its centres; the SGP and the administrator any. None when nothing to show."""
    today = today or now_lima().date()
    async with db.transaction(actor.context(ip)) as s:
        centres = await centres_for(s, actor)
        if not centres:
            return None
        if centre_id is None and actor.role not in (ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN):
            # A manager lands on a centre where its entity has an accepted ANS, if any.
            centre_id = await s.scalar(select(Ans.centre_id).join(Centre, Centre.id == Ans.centre_id)
                                       .where(Ans.entity_id == actor.entity_id, Ans.state == "aceptado")
                                       .order_by(Centre.name).limit(1))
        centre = next((c for c in centres if c.id == centre_id), None) if centre_id else centres[0]
        if centre is None:
            raise NotFound("El centro no existe o no tiene acceso a él.")
        if actor.role == ROLE_GESTOR or actor.role not in (ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN):
            entity_id = actor.entity_id
        present = await entities_at(s, centre.id)
        if entity_id is None:
            if not present:
                return None
            entity_id = present[0].id
        entity = next((e for e in present if e.id == entity_id), None)
        if entity is None:
            raise NotFound("La entidad no ofrece servicios en ese centro.")
        ans, targets = await accepted_ans(s, centre.id, entity.id)
        services, entity_days = await month_series(s, centre.id, entity.id, month)
        calendar = await rollups.load_calendar(s, centre.id)
        rows, points, _remaining = compliance(targets, services, entity_days, calendar, month, today)
        codes = sorted({code for per_day in services.values() for code in per_day})
        per_service = []
        for code in codes:
            total = sum_service_days(services[p.day][code] for p in points if code in services.get(p.day, {}))
            per_service.append((code, {i: measure(i, total, EntityDay()) for i in
                                       ("espera", "atencion", "abandono", "satisfaccion")}))
        trend = {i: [(p.day, measure(i, p.services, p.entity, 1).value) for p in points]
                 for i in ("espera", "atencion", "abandono", "satisfaccion", "puntualidad", "ocupabilidad")}
        histogram = sum_service_days(p.services for p in points).wait_histogram
        limit = await s.scalar(select(func.min(ServiceLimitRow.max_wait_minutes)).where(
            ServiceLimitRow.centre_id == centre.id, ServiceLimitRow.entity_id == entity.id,
            ServiceLimitRow.counts))
        alerts = list((await s.scalars(select(Alert).where(Alert.centre_id == centre.id,
                                                           Alert.entity_id == entity.id)
                                       .order_by(Alert.created_at.desc()).limit(10))).all())
        first, last = month_bounds(month)
    return Dashboard(centre, entity, month, today, ans, rows, per_service, trend, histogram, limit,
                     len(calendar.working_days(first, last)), len(points), alerts, now_lima())


# ------------------------------------------------------------------------------------------ ranking ---


@dataclass
class RankingRow:
    centre: Centre
    entity: Entity
    rows: list[IndicatorRow]

    @property
    def met(self) -> int:
        return sum(r.status == "cumple" for r in self.rows)

    @property
    def breached(self) -> int:
        return sum(r.status == "no_cumple" for r in self.rows)

    @property
    def at_risk(self) -> int:
        return sum(r.status == "en_riesgo" for r in self.rows)

    def row(self, indicator: str) -> IndicatorRow:
        return next(r for r in self.rows if r.indicator == indicator)


async def ranking(db: Database, actor: Actor, *, ip: str | None, month: date, centre_id: uuid.UUID | None = None,
                  entity_id: uuid.UUID | None = None, indicator: str | None = None, status: str | None = None,
                  today: date | None = None) -> list[RankingRow]:
    """Every (centre, entity) the actor may see, ranked: most breaches first, then most targets at risk;
    with ``indicator``, by that indicator's status and value."""
    today = today or now_lima().date()
    first, last = month_bounds(month)
    out = []
    async with db.transaction(actor.context(ip)) as s:
        centres = await centres_for(s, actor)
        if centre_id:
            centres = [c for c in centres if c.id == centre_id]
        for centre in centres:
            calendar = await rollups.load_calendar(s, centre.id)
            svc_rows = (await s.scalars(select(DailyServiceRollup).where(
                DailyServiceRollup.centre_id == centre.id, DailyServiceRollup.day >= first,
                DailyServiceRollup.day <= last))).all()
            ent_rows = (await s.scalars(select(DailyEntityRollup).where(
                DailyEntityRollup.centre_id == centre.id, DailyEntityRollup.day >= first,
                DailyEntityRollup.day <= last))).all()
            services: dict[uuid.UUID, dict[date, dict[str, ServiceDay]]] = defaultdict(lambda: defaultdict(dict))
            for r in svc_rows:
                services[r.entity_id][r.day][r.service_code] = ServiceDay(
                    r.issued, r.abandoned, r.waits, r.waits_ok, r.handled, r.handled_ok, r.surveys, r.surveys_ok,
                    r.excluded, list(r.wait_histogram))
            entity_days: dict[uuid.UUID, dict[date, EntityDay]] = defaultdict(dict)
            for r in ent_rows:
                entity_days[r.entity_id][r.day] = EntityDay(
                    r.module_days, r.module_days_occupied, r.module_days_checked, r.module_days_punctual,
                    r.interruption_seconds, r.interruptions)
            for entity in await entities_at(s, centre.id):
                if entity_id and entity.id != entity_id:
                    continue
                if actor.role not in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN, ROLE_COORDINADOR) and \
                        entity.id != actor.entity_id:
                    continue
                _ans, targets = await accepted_ans(s, centre.id, entity.id)
                rows, _p, _r = compliance(targets, services.get(entity.id, {}), entity_days.get(entity.id, {}),
                                          calendar, month, today)
                out.append(RankingRow(centre, entity, rows))
    if indicator in INDICATORS:
        order = {"no_cumple": 0, "en_riesgo": 1, "cumple": 2, "sin_datos": 3, "sin_meta": 4}
        if status:
            out = [r for r in out if r.row(indicator).status == status]

        def key(r: RankingRow) -> tuple:
            row = r.row(indicator)
            value = row.measure.value if row.measure.value is not None else Decimal(0)
            better_high = row.target is None or row.target.comparison in (">=", ">")
            return (order.get(row.status, 5), value if better_high else -value, r.centre.name, r.entity.short_name)
        out.sort(key=key)
    else:
        if status:
            out = [r for r in out if any(x.status == status for x in r.rows)]
        out.sort(key=lambda r: (-r.breached, -r.at_risk, r.centre.name, r.entity.short_name))
    return out


# ------------------------------------------------------------------------------------------- ingest ---


async def upload_csv(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID, kind: str, data: bytes,
                     filename: str | None) -> ingest.IngestReport:
    """The coordinator uploads a CSV file of one kind for its centre."""
    if kind not in ingest.KINDS:
        raise ValidationFailed("Elija el tipo de archivo.", field="tipo")
    if not data:
        raise ValidationFailed("Adjunte un archivo CSV.", field="archivo")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        report = await ingest.ingest_csv(s, centre_id=centre_id, kind=ingest.KINDS[kind], data=data)
        await ingest.record_batch(s, ctx, report, centre_id=centre_id, source="csv", kind=kind, filename=filename)
    await after_ingest(db, centre_id, report)
    return report


async def receive_events(db: Database, actor: Actor, *, ip: str | None, events: list,
                         centre_id: uuid.UUID | None) -> ingest.IngestReport:
    """A machine client pushes a batch of events for its centre."""
    if actor.role != ROLE_CLIENTE:
        raise Forbidden("Solo un cliente máquina puede enviar lotes de eventos.")
    centre_id = centre_id or actor.centre_id
    if centre_id is None or (actor.centre_id is not None and centre_id != actor.centre_id):
        raise Forbidden("El cliente no está autorizado para ese centro.")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        centre = await s.get(Centre, centre_id)
        if centre is None:
            raise NotFound("El centro no existe.")
        only_ruc = None
        if centre.administering_entity_id != actor.entity_id:
            only_ruc = await s.scalar(select(Entity.ruc).where(Entity.id == actor.entity_id))
        report = await ingest.ingest_events(s, centre_id=centre_id, events=events, only_ruc=only_ruc)
        await ingest.record_batch(s, ctx, report, centre_id=centre_id, source="api", kind="lote")
    await after_ingest(db, centre_id, report)
    return report


async def after_ingest(db: Database, centre_id: uuid.UUID, report: ingest.IngestReport) -> None:
    """Alerts for today, and the previous month's reports when a new month's first data arrives."""
    from app import metrics
    from app.sla import alerts, reports

    metrics.INGEST_ROWS.labels("stored").inc(report.stored)
    metrics.INGEST_ROWS.labels("unchanged").inc(report.unchanged)
    metrics.INGEST_ROWS.labels("rejected").inc(report.rejected_lines)
    if not report.stored:
        return
    await alerts.evaluate_centre(db, centre_id, now_lima())
    today = now_lima().date()
    if any(d.month == today.month and d.year == today.year for d in report.touched_days):
        await reports.ensure_month_closed(db, centre_id, (today.replace(day=1) - timedelta(days=1)).replace(day=1))


async def batches(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID) -> list[ImportBatch]:
    async with db.transaction(actor.context(ip)) as s:
        await administered_centre(s, actor, centre_id)
        return list((await s.scalars(select(ImportBatch).where(ImportBatch.centre_id == centre_id)
                                     .order_by(ImportBatch.created_at.desc()).limit(20))).all())


async def batch(db: Database, actor: Actor, *, ip: str | None, batch_id: uuid.UUID) -> ImportBatch:
    async with db.transaction(actor.context(ip)) as s:
        found = await s.get(ImportBatch, batch_id)
        if found is None:
            raise NotFound("La carga no existe.")
        return found


# ---------------------------------------------------------------------------------- calendar & limits ---


def _date(value: Any, field_name: str, label: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(f"{label}: use una fecha AAAA-MM-DD.", field=field_name) from None


def _time(value: Any, field_name: str, label: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(f"{label}: use una hora HH:MM.", field=field_name) from None


def _int(value: Any, field_name: str, label: str, lo: int, hi: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationFailed(f"{label}: escriba un número entero entre {lo} y {hi}.", field=field_name) from None
    if not lo <= number <= hi:
        raise ValidationFailed(f"{label}: debe estar entre {lo} y {hi}.", field=field_name)
    return number


@dataclass
class CalendarView:
    centre: Centre
    hours: list[CentreOpeningHours]
    closures: list[CentreClosure]
    non_working: list[NonWorkingDay]
    holidays: list[date]


async def calendar_view(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID,
                        year: int) -> CalendarView:
    from app.sla.calendar import peru_national_holidays

    async with db.transaction(actor.context(ip)) as s:
        centre = await administered_centre(s, actor, centre_id)
        hours = list((await s.scalars(select(CentreOpeningHours).where(CentreOpeningHours.centre_id == centre_id)
                                      .order_by(CentreOpeningHours.weekday, CentreOpeningHours.valid_from))).all())
        closures = list((await s.scalars(select(CentreClosure).where(CentreClosure.centre_id == centre_id)
                                         .order_by(CentreClosure.day.desc()))).all())
        non_working = list((await s.scalars(select(NonWorkingDay).order_by(NonWorkingDay.day.desc()))).all())
    return CalendarView(centre, hours, closures, non_working, sorted(peru_national_holidays(year)))


async def add_opening_hours(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID,
                            form: dict) -> None:
    weekday = _int(form.get("dia"), "dia", "Día", 0, 6)
    opens = _time(form.get("abre"), "abre", "Apertura")
    closes = _time(form.get("cierra"), "cierra", "Cierre")
    valid_from = _date(form.get("desde"), "desde", "Vigente desde")
    if closes <= opens:
        raise ValidationFailed("El cierre debe ser posterior a la apertura.", field="cierra")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        existing = await s.scalar(select(CentreOpeningHours).where(
            CentreOpeningHours.centre_id == centre_id, CentreOpeningHours.weekday == weekday,
            CentreOpeningHours.valid_from == valid_from))
        if existing:
            existing.opens_at, existing.closes_at = opens, closes
        else:
            s.add(CentreOpeningHours(centre_id=centre_id, weekday=weekday, opens_at=opens, closes_at=closes,
                                     valid_from=valid_from))
        await s.flush()
        await audit.record(s, ctx, action="ans_horario_registrado", record_type="centro", record_id=centre_id,
                           after={"dia": weekday, "abre": opens, "cierra": closes, "desde": valid_from})
        await rollups.rebuild_centre(s, centre_id, valid_from)


async def add_closure(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID, form: dict) -> None:
    day = _date(form.get("dia"), "dia", "Fecha")
    reason = str(form.get("motivo") or "").strip()
    if not reason or len(reason) > 200:
        raise ValidationFailed("Indique el motivo del cierre (hasta 200 caracteres).", field="motivo")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        if await s.scalar(select(CentreClosure.id).where(CentreClosure.centre_id == centre_id,
                                                         CentreClosure.day == day)):
            raise Conflict("Ese día ya está registrado como cierre.", field="dia")
        s.add(CentreClosure(centre_id=centre_id, day=day, reason=reason))
        await s.flush()
        await audit.record(s, ctx, action="ans_cierre_registrado", record_type="centro", record_id=centre_id,
                           after={"dia": day, "motivo": reason})
        await rollups.rebuild_centre(s, centre_id, day, day)


async def remove_closure(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID,
                         closure_id: uuid.UUID) -> None:
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        closure = await s.get(CentreClosure, closure_id)
        if closure is None or closure.centre_id != centre_id:
            raise NotFound("El cierre no existe.")
        day = closure.day
        await s.delete(closure)
        await s.flush()
        await audit.record(s, ctx, action="ans_cierre_eliminado", record_type="centro", record_id=centre_id,
                           before={"dia": day})
        await rollups.rebuild_centre(s, centre_id, day, day)


async def add_non_working_day(db: Database, actor: Actor, *, ip: str | None, form: dict) -> None:
    """The platform administrator records a *día no laborable* declared by decree; every centre's rollups
    of that day are recomputed."""
    if actor.role != ROLE_ADMIN:
        raise Forbidden("Solo el administrador de la plataforma registra días no laborables.")
    day = _date(form.get("dia"), "dia", "Fecha")
    description = str(form.get("descripcion") or "").strip()
    if not description or len(description) > 200:
        raise ValidationFailed("Indique la norma o descripción (hasta 200 caracteres).", field="descripcion")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        if await s.scalar(select(NonWorkingDay.id).where(NonWorkingDay.day == day)):
            raise Conflict("Ese día ya está registrado.", field="dia")
        s.add(NonWorkingDay(day=day, description=description))
        await s.flush()
        await audit.record(s, ctx, action="ans_dia_no_laborable", record_type="calendario", record_id=str(day),
                           after={"dia": day, "descripcion": description})
        for centre_id in (await s.scalars(select(Centre.id))).all():
            await rollups.rebuild_centre(s, centre_id, day, day)


@dataclass
class LimitsView:
    centre: Centre
    services: list[tuple[CentreService, Entity]]
    limits: list[ServiceLimitRow]
    modules: list[CentreModule]
    assignments: list[ModuleAssignment]
    entities: list[Entity]


async def limits_view(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID) -> LimitsView:
    async with db.transaction(actor.context(ip)) as s:
        centre = await administered_centre(s, actor, centre_id)
        services = list((await s.execute(select(CentreService, Entity).join(Entity, Entity.id == CentreService.entity_id)
                                         .where(CentreService.centre_id == centre_id)
                                         .order_by(Entity.short_name, CentreService.code))).all())
        limits = list((await s.scalars(select(ServiceLimitRow).where(ServiceLimitRow.centre_id == centre_id)
                                       .order_by(ServiceLimitRow.service_code, ServiceLimitRow.valid_from))).all())
        modules = list((await s.scalars(select(CentreModule).where(CentreModule.centre_id == centre_id)
                                        .order_by(CentreModule.code))).all())
        assignments = list((await s.scalars(select(ModuleAssignment).where(ModuleAssignment.centre_id == centre_id)
                                            .order_by(ModuleAssignment.module_code))).all())
        entities = await entities_at(s, centre_id)
    return LimitsView(centre, services, limits, modules, assignments, entities)


async def set_service_limit(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID,
                            form: dict) -> None:
    """A new limit for a service from a date; the rollups from that date on are recomputed."""
    service_id = _uuid(form.get("servicio"), "servicio", "Elija el servicio.")
    wait = _int(form.get("espera"), "espera", "Espera máxima (min)", 0, 120)
    attention = _int(form.get("atencion"), "atencion", "Atención máxima (min)", 0, 180)
    counts = form.get("cuenta") in ("1", "on", "si", "true")
    valid_from = _date(form.get("desde"), "desde", "Vigente desde")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        service = await s.get(CentreService, service_id)
        if service is None or service.centre_id != centre_id:
            raise ValidationFailed("El servicio no es de este centro.", field="servicio")
        row = await s.scalar(select(ServiceLimitRow).where(
            ServiceLimitRow.centre_id == centre_id, ServiceLimitRow.entity_id == service.entity_id,
            ServiceLimitRow.service_code == service.code, ServiceLimitRow.valid_from == valid_from))
        before = None
        if row:
            before = {"espera": row.max_wait_minutes, "atencion": row.max_attention_minutes, "cuenta": row.counts}
            row.max_wait_minutes, row.max_attention_minutes, row.counts = wait, attention, counts
        else:
            s.add(ServiceLimitRow(centre_id=centre_id, entity_id=service.entity_id, service_code=service.code,
                                  max_wait_minutes=wait, max_attention_minutes=attention, counts=counts,
                                  valid_from=valid_from))
        await s.flush()
        await audit.record(s, ctx, action="ans_limite_registrado", record_type="servicio", record_id=service.id,
                           before=before, after={"servicio": service.code, "espera": wait, "atencion": attention,
                                                 "cuenta": counts, "desde": valid_from})
        await rollups.rebuild_centre(s, centre_id, valid_from)


async def assign_module(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID, form: dict) -> None:
    entity_id = _uuid(form.get("entidad"), "entidad", "Elija la entidad.")
    module = str(form.get("modulo") or "").strip()
    valid_from = _date(form.get("desde"), "desde", "Vigente desde")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        if not await s.scalar(select(CentreModule.id).where(CentreModule.centre_id == centre_id,
                                                            CentreModule.code == module)):
            raise ValidationFailed("El módulo no existe en este centro.", field="modulo")
        if entity_id not in {e.id for e in await entities_at(s, centre_id)}:
            raise ValidationFailed("La entidad no ofrece servicios en este centro.", field="entidad")
        # The module's current assignment ends the day before.
        await s.execute(update(ModuleAssignment).where(
            ModuleAssignment.centre_id == centre_id, ModuleAssignment.module_code == module,
            ModuleAssignment.valid_to.is_(None), ModuleAssignment.valid_from < valid_from)
            .values(valid_to=valid_from - timedelta(days=1)))
        await s.execute(delete(ModuleAssignment).where(ModuleAssignment.centre_id == centre_id,
                                                       ModuleAssignment.module_code == module,
                                                       ModuleAssignment.valid_from == valid_from))
        s.add(ModuleAssignment(centre_id=centre_id, entity_id=entity_id, module_code=module, valid_from=valid_from))
        await s.flush()
        await audit.record(s, ctx, action="ans_modulo_asignado", record_type="centro", record_id=centre_id,
                           after={"modulo": module, "entidad": entity_id, "desde": valid_from})
        await rollups.rebuild_centre(s, centre_id, valid_from)


def _uuid(value: Any, field_name: str, message: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise ValidationFailed(message, field=field_name) from None


# ---------------------------------------------------------------------------------------------- ANS ---


@dataclass
class AnsView:
    ans: Ans
    targets: list[AnsTarget]
    centre: Centre
    entity: Entity


async def list_ans(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID | None = None
                   ) -> list[AnsView]:
    async with db.transaction(actor.context(ip)) as s:
        q = (select(Ans, Centre, Entity).join(Centre, Centre.id == Ans.centre_id).join(Entity, Entity.id == Ans.entity_id)
             .order_by(Centre.name, Entity.short_name, Ans.created_at.desc()))
        if centre_id:
            await administered_centre(s, actor, centre_id)
            q = q.where(Ans.centre_id == centre_id)
        elif actor.role not in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN):
            q = q.where(Ans.entity_id == actor.entity_id)
        rows = (await s.execute(q)).all()
        targets = defaultdict(list)
        if rows:
            for t in (await s.scalars(select(AnsTarget).where(AnsTarget.ans_id.in_([a.id for a, _c, _e in rows])))).all():
                targets[t.ans_id].append(t)
    order = {i: n for n, i in enumerate(INDICATORS)}
    return [AnsView(a, sorted(targets[a.id], key=lambda t: order[t.indicator]), c, e) for a, c, e in rows]


async def current_adhesion(session: AsyncSession, centre_id: uuid.UUID, entity_id: uuid.UUID) -> uuid.UUID | None:
    """The pair's latest adhesion that is not finished (the ANS is its annex), if any."""
    from app.adhesion.models import Adhesion
    from app.adhesion.states import FINAL

    return await session.scalar(select(Adhesion.id).where(
        Adhesion.centre_id == centre_id, Adhesion.entity_id == entity_id, Adhesion.state.not_in(FINAL))
        .order_by(Adhesion.created_at.desc()).limit(1))


def parse_targets(form: dict) -> list[tuple[str, str, Decimal, int]]:
    """Targets from the proposal form: for each indicator, meta_<i>, comparacion_<i>, muestra_<i>."""
    targets = []
    for indicator in INDICATORS:
        raw = str(form.get(f"meta_{indicator}") or "").strip().replace(",", ".")
        if not raw:
            continue
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValidationFailed(f"Meta de {indicator}: escriba un número (p. ej. 0.90).",
                                   field=f"meta_{indicator}") from None
        if indicator in RATIO_INDICATORS and not Decimal(0) <= value <= Decimal(1):
            raise ValidationFailed(f"Meta de {indicator}: una proporción entre 0 y 1 (p. ej. 0.90).",
                                   field=f"meta_{indicator}")
        if value < 0 or value.as_tuple().exponent < -4:
            raise ValidationFailed(f"Meta de {indicator}: no negativa y con hasta 4 decimales.",
                                   field=f"meta_{indicator}")
        comparison = str(form.get(f"comparacion_{indicator}") or ">=")
        if comparison not in COMPARISONS:
            raise ValidationFailed(f"Comparación de {indicator} no válida.", field=f"comparacion_{indicator}")
        sample = _int(form.get(f"muestra_{indicator}") or 0, f"muestra_{indicator}", "Muestra mínima", 0, 1_000_000)
        targets.append((indicator, comparison, value, sample))
    if not targets:
        raise ValidationFailed("Indique la meta de al menos un indicador.", field="meta_espera")
    return targets


async def propose_ans(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID, form: dict) -> uuid.UUID:
    entity_id = _uuid(form.get("entidad"), "entidad", "Elija la entidad.")
    valid_from = _date(form.get("desde"), "desde", "Vigente desde")
    tolerance = _int(form.get("tolerancia") or 15, "tolerancia", "Tolerancia de puntualidad (min)", 0, 120)
    targets = parse_targets(form)
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        if entity_id not in {e.id for e in await entities_at(s, centre_id)}:
            raise ValidationFailed("La entidad no ofrece servicios en este centro.", field="entidad")
        # A pending proposal for the same pair is withdrawn by the new one.
        await s.execute(update(Ans).where(Ans.centre_id == centre_id, Ans.entity_id == entity_id,
                                          Ans.state == "propuesto").values(state="retirado"))
        ans = Ans(centre_id=centre_id, entity_id=entity_id, state="propuesto", valid_from=valid_from,
                  adhesion_id=await current_adhesion(s, centre_id, entity_id),
                  tolerance_minutes=tolerance, proposed_by=actor.user_id,
                  notes=str(form.get("notas") or "")[:2000])
        s.add(ans)
        await s.flush()
        for indicator, comparison, value, sample in targets:
            s.add(AnsTarget(ans_id=ans.id, centre_id=centre_id, entity_id=entity_id, indicator=indicator,
                            comparison=comparison, target=value, min_sample=sample))
        await s.flush()
        await audit.record(s, ctx, action="ans_propuesto", record_type="ans", record_id=ans.id,
                           after={"entidad": entity_id, "desde": valid_from, "tolerancia": tolerance,
                                  "metas": [{"indicador": i, "comparacion": c, "meta": v, "muestra": m}
                                            for i, c, v, m in targets]})
        return ans.id


async def accept_ans(db: Database, actor: Actor, *, ip: str | None, ans_id: uuid.UUID) -> None:
    """The entity's manager accepts the proposal: it becomes binding (and supersedes the previous one)."""
    if actor.role != ROLE_GESTOR:
        raise Forbidden("Solo el gestor de la entidad acepta el ANS.")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        ans = await s.get(Ans, ans_id)
        if ans is None or ans.entity_id != actor.entity_id:
            raise NotFound("El ANS no existe.")
        if ans.state != "propuesto":
            raise Conflict("Este ANS ya no está pendiente de aceptación.")
        await s.execute(update(Ans).where(Ans.centre_id == ans.centre_id, Ans.entity_id == ans.entity_id,
                                          Ans.state == "aceptado").values(state="reemplazado"))
        ans.state, ans.accepted_by, ans.accepted_at = "aceptado", actor.user_id, datetime.now(LIMA)
        await s.flush()
        await audit.record(s, ctx, action="ans_aceptado", record_type="ans", record_id=ans.id,
                           before={"estado": "propuesto"}, after={"estado": "aceptado"})
        # The tolerance may have changed: the month's punctuality is recomputed.
        await rollups.rebuild_centre(s, ans.centre_id, min(ans.valid_from, now_lima().date().replace(day=1)))


# -------------------------------------------------------------------------------- incumplimientos ---

# (from, to) → who may move it. The loop of the domain brief: abierto → descargo → observado → corregido |
# validado; the coordinator may observe a correction again.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("abierto", "descargo"): ROLE_GESTOR,
    ("descargo", "observado"): ROLE_COORDINADOR,
    ("descargo", "validado"): ROLE_COORDINADOR,
    ("observado", "corregido"): ROLE_GESTOR,
    ("corregido", "observado"): ROLE_COORDINADOR,
    ("corregido", "validado"): ROLE_COORDINADOR,
}
STATE_LABELS = {"abierto": "Abierto", "descargo": "Descargo presentado", "observado": "Observado",
                "corregido": "Corregido", "validado": "Validado"}


def allowed_moves(state: str, role: str) -> list[str]:
    return [to for (frm, to), who in TRANSITIONS.items() if frm == state and who == role]


async def list_incumplimientos(db: Database, actor: Actor, *, ip: str | None) -> list[tuple]:
    async with db.transaction(actor.context(ip)) as s:
        q = (select(Incumplimiento, Centre, Entity).join(Centre, Centre.id == Incumplimiento.centre_id)
             .join(Entity, Entity.id == Incumplimiento.entity_id).order_by(Incumplimiento.created_at.desc()))
        if actor.role == ROLE_COORDINADOR:
            q = q.where(Centre.administering_entity_id == actor.entity_id)
        elif actor.role not in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN):
            q = q.where(Incumplimiento.entity_id == actor.entity_id)
        return list((await s.execute(q.limit(200))).all())


async def record_incumplimiento(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID,
                                form: dict) -> uuid.UUID:
    entity_id = _uuid(form.get("entidad"), "entidad", "Elija la entidad.")
    indicator = form.get("indicador") or None
    if indicator is not None and indicator not in INDICATORS:
        raise ValidationFailed("Indicador no válido.", field="indicador")
    period = parse_month(form.get("mes"))
    description = str(form.get("descripcion") or "").strip()
    if len(description) < 5:
        raise ValidationFailed("Describa el incumplimiento.", field="descripcion")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        await administered_centre(s, actor, centre_id)
        if entity_id not in {e.id for e in await entities_at(s, centre_id)}:
            raise ValidationFailed("La entidad no ofrece servicios en este centro.", field="entidad")
        item = Incumplimiento(centre_id=centre_id, entity_id=entity_id, indicator=indicator, period=period,
                              description=description[:5000], state="abierto", created_by=actor.user_id)
        s.add(item)
        await s.flush()
        s.add(IncumplimientoStep(incumplimiento_id=item.id, centre_id=centre_id, entity_id=entity_id,
                                 from_state=None, to_state="abierto", actor_user_id=actor.user_id,
                                 actor_role=actor.role, text=description[:5000]))
        await audit.record(s, ctx, action="incumplimiento_registrado", record_type="incumplimiento",
                           record_id=item.id, after={"estado": "abierto", "entidad": entity_id,
                                                     "indicador": indicator, "periodo": period})
        return item.id


async def incumplimiento(db: Database, actor: Actor, *, ip: str | None, item_id: uuid.UUID
                         ) -> tuple[Incumplimiento, list[IncumplimientoStep], Centre, Entity]:
    async with db.transaction(actor.context(ip)) as s:
        item = await s.get(Incumplimiento, item_id)
        if item is None:
            raise NotFound("El incumplimiento no existe.")
        steps = list((await s.scalars(select(IncumplimientoStep).where(IncumplimientoStep.incumplimiento_id == item_id)
                                      .order_by(IncumplimientoStep.created_at))).all())
        centre = await s.get(Centre, item.centre_id)
        entity = await s.get(Entity, item.entity_id)
        return item, steps, centre, entity


async def move_incumplimiento(db: Database, actor: Actor, *, ip: str | None, item_id: uuid.UUID, to_state: str,
                              text_value: str, attachment: tuple[str, str, bytes] | None = None) -> None:
    ctx = actor.context(ip)
    text_value = (text_value or "").strip()
    if not text_value:
        raise ValidationFailed("Escriba el sustento.", field="texto")
    if attachment and len(attachment[2]) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed("El adjunto supera 5 MB.", field="adjunto")
    async with db.transaction(ctx) as s:
        item = await s.scalar(select(Incumplimiento).where(Incumplimiento.id == item_id).with_for_update())
        if item is None:
            raise NotFound("El incumplimiento no existe.")
        who = TRANSITIONS.get((item.state, to_state))
        if who is None:
            raise Conflict(f"No se puede pasar de «{STATE_LABELS.get(item.state)}» a "
                           f"«{STATE_LABELS.get(to_state, to_state)}».")
        if who != actor.role:
            raise Forbidden("Su rol no puede realizar este paso.")
        if who == ROLE_GESTOR and item.entity_id != actor.entity_id:
            raise NotFound("El incumplimiento no existe.")
        if who == ROLE_COORDINADOR:
            await administered_centre(s, actor, item.centre_id)
        before = item.state
        item.state, item.updated_at = to_state, datetime.now(LIMA)
        s.add(IncumplimientoStep(incumplimiento_id=item.id, centre_id=item.centre_id, entity_id=item.entity_id,
                                 from_state=before, to_state=to_state, actor_user_id=actor.user_id,
                                 actor_role=actor.role, text=text_value[:5000],
                                 attachment_name=attachment[0][:200] if attachment else None,
                                 attachment_type=attachment[1][:100] if attachment else None,
                                 attachment=attachment[2] if attachment else None))
        await s.flush()
        await audit.record(s, ctx, action="incumplimiento_" + to_state, record_type="incumplimiento",
                           record_id=item.id, before={"estado": before},
                           after={"estado": to_state, "adjunto": attachment[0] if attachment else None})


async def step_attachment(db: Database, actor: Actor, *, ip: str | None, step_id: uuid.UUID
                          ) -> tuple[str, str, bytes]:
    async with db.transaction(actor.context(ip)) as s:
        step = await s.get(IncumplimientoStep, step_id)
        if step is None or step.attachment is None:
            raise NotFound("El adjunto no existe.")
        return step.attachment_name or "adjunto", step.attachment_type or "application/octet-stream", step.attachment


# ------------------------------------------------------------------------------------ interruptions ---


async def list_interruptions(db: Database, actor: Actor, *, ip: str | None) -> list[tuple]:
    async with db.transaction(actor.context(ip)) as s:
        q = (select(InterruptionRow, Centre, Entity).join(Centre, Centre.id == InterruptionRow.centre_id)
             .outerjoin(Entity, Entity.id == InterruptionRow.entity_id)
             .order_by(InterruptionRow.started_at.desc()))
        if actor.role == ROLE_COORDINADOR:
            q = q.where(Centre.administering_entity_id == actor.entity_id)
        elif actor.role not in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN):
            q = q.where(InterruptionRow.entity_id == actor.entity_id)
        return list((await s.execute(q.limit(200))).all())


async def claim_interruption(db: Database, actor: Actor, *, ip: str | None, interruption_id: uuid.UUID,
                             text_value: str, evidence: tuple[str, str, bytes] | None) -> None:
    """The entity's manager asks that an interruption charged to it be attributed to the administering
    entity, with evidence; the coordinator decides."""
    if actor.role != ROLE_GESTOR:
        raise Forbidden("Solo el gestor de la entidad presenta el reclamo.")
    text_value = (text_value or "").strip()
    if not text_value:
        raise ValidationFailed("Explique por qué la interrupción es atribuible a la entidad administradora.",
                               field="texto")
    if not evidence:
        raise ValidationFailed("Adjunte la evidencia.", field="evidencia")
    if len(evidence[2]) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed("La evidencia supera 5 MB.", field="evidencia")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        row = await s.get(InterruptionRow, interruption_id)
        if row is None or row.entity_id != actor.entity_id:
            raise NotFound("La interrupción no existe.")
        if row.attributable_to != "entidad" or row.claim_state == "pendiente":
            raise Conflict("Esta interrupción no admite un reclamo ahora.")
        row.claim_state, row.claim_text = "pendiente", text_value[:5000]
        row.claim_evidence_name, row.claim_evidence = evidence[0][:200], evidence[2]
        await s.flush()
        await audit.record(s, ctx, action="interrupcion_reclamada", record_type="interrupcion", record_id=row.id,
                           after={"evidencia": evidence[0]})


async def resolve_claim(db: Database, actor: Actor, *, ip: str | None, interruption_id: uuid.UUID,
                        accept: bool) -> None:
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        row = await s.get(InterruptionRow, interruption_id)
        if row is None:
            raise NotFound("La interrupción no existe.")
        await administered_centre(s, actor, row.centre_id)
        if row.claim_state != "pendiente":
            raise Conflict("No hay un reclamo pendiente.")
        row.claim_state = "aceptado" if accept else "rechazado"
        if accept:
            row.attributable_to = "administradora"
        await s.flush()
        await audit.record(s, ctx, action="interrupcion_reclamo_" + row.claim_state, record_type="interrupcion",
                           record_id=row.id, after={"atribuible_a": row.attributable_to})
        start = row.started_at.astimezone(LIMA).date()
        end = row.ended_at.astimezone(LIMA).date()
        await rollups.rebuild_centre(s, row.centre_id, start, end)


async def claim_evidence(db: Database, actor: Actor, *, ip: str | None, interruption_id: uuid.UUID
                         ) -> tuple[str, bytes]:
    async with db.transaction(actor.context(ip)) as s:
        row = await s.get(InterruptionRow, interruption_id)
        if row is None or row.claim_evidence is None:
            raise NotFound("La evidencia no existe.")
        return row.claim_evidence_name or "evidencia", row.claim_evidence


# ------------------------------------------------------------------------------------------- alerts ---


async def list_alerts(db: Database, actor: Actor, *, ip: str | None) -> list[tuple]:
    async with db.transaction(actor.context(ip)) as s:
        q = (select(Alert, Centre, Entity).join(Centre, Centre.id == Alert.centre_id)
             .join(Entity, Entity.id == Alert.entity_id).order_by(Alert.created_at.desc()))
        if actor.role == ROLE_COORDINADOR:
            q = q.where(Centre.administering_entity_id == actor.entity_id)
        elif actor.role not in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN):
            q = q.where(Alert.entity_id == actor.entity_id)
        return list((await s.execute(q.limit(200))).all())


async def unread_alerts(db: Database, actor: Actor, *, ip: str | None) -> int:
    async with db.transaction(actor.context(ip)) as s:
        q = select(func.count()).select_from(Alert).where(Alert.read_at.is_(None))
        if actor.role not in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN, ROLE_COORDINADOR):
            q = q.where(Alert.entity_id == actor.entity_id)
        return int(await s.scalar(q) or 0)


async def mark_alerts_read(db: Database, actor: Actor, *, ip: str | None) -> None:
    async with db.transaction(actor.context(ip)) as s:
        q = update(Alert).where(Alert.read_at.is_(None))
        if actor.role not in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN, ROLE_COORDINADOR):
            q = q.where(Alert.entity_id == actor.entity_id)
        await s.execute(q.values(read_at=datetime.now(LIMA)))


def system_context() -> TenantContext:
    return TenantContext.system()
