"""Daily rollups: the events of an entity at a centre on a day, tallied by the pure functions of
:mod:`app.sla.indicators` and stored, so that a month is read from at most ~31 rows per series.

:func:`refresh` recomputes the given (entity, day) pairs of one centre in the caller's transaction (ingest
calls it for the days its rows touched; a change of limits, calendar or assignments calls it for the days
affected). :func:`rebuild_all` (``mac sla rebuild``) recomputes everything from the events.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, TenantContext
from app.sla.calendar import LIMA, Calendar, OpeningHours
from app.sla.indicators import (
    DEFAULT_TOLERANCE_MINUTES,
    ClockIn,
    Interruption,
    Segment,
    ServiceLimit,
    Survey,
    tally_entity_days,
    tally_service_days,
)
from app.sla.models import (
    Ans,
    CentreClosure,
    ClockInRow,
    DailyEntityRollup,
    DailyServiceRollup,
    InterruptionRow,
    ModuleAssignment,
    NonWorkingDay,
    ServiceLimitRow,
    SurveyAnswer,
    TicketSegment,
)
from app.tenants.models import Centre, CentreOpeningHours, CentreService

def lima_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), LIMA)


async def load_calendar(session: AsyncSession, centre_id: uuid.UUID) -> Calendar:
    hours = (await session.execute(
        select(CentreOpeningHours.weekday, CentreOpeningHours.opens_at, CentreOpeningHours.closes_at,
               CentreOpeningHours.valid_from).where(CentreOpeningHours.centre_id == centre_id))).all()
    off = set((await session.scalars(select(NonWorkingDay.day))).all())
    off |= set((await session.scalars(select(CentreClosure.day).where(CentreClosure.centre_id == centre_id))).all())
    return Calendar.build([OpeningHours(*row) for row in hours], off)


async def tolerance_for(session: AsyncSession, centre_id: uuid.UUID, entity_id: uuid.UUID) -> int:
    value = await session.scalar(
        select(Ans.tolerance_minutes).where(Ans.centre_id == centre_id, Ans.entity_id == entity_id,
                                            Ans.state == "aceptado").order_by(Ans.valid_from.desc()).limit(1))
    return value if value is not None else DEFAULT_TOLERANCE_MINUTES


async def centre_entities(session: AsyncSession, centre_id: uuid.UUID) -> set[uuid.UUID]:
    return set((await session.scalars(
        select(CentreService.entity_id).where(CentreService.centre_id == centre_id).distinct())).all())


async def refresh(session: AsyncSession, centre_id: uuid.UUID,
                  pairs: Iterable[tuple[uuid.UUID | None, date]]) -> int:
    """Recompute the rollups of these (entity, day) pairs of a centre; entity None = every entity of the
    centre. Returns the number of (entity, day) pairs recomputed."""
    by_entity: dict[uuid.UUID, set[date]] = defaultdict(set)
    everyone: set[uuid.UUID] | None = None
    for entity_id, day in pairs:
        if entity_id is None:
            everyone = everyone if everyone is not None else await centre_entities(session, centre_id)
            for e in everyone:
                by_entity[e].add(day)
        else:
            by_entity[entity_id].add(day)
    if not by_entity:
        return 0
    calendar = await load_calendar(session, centre_id)
    done = 0
    for entity_id, days in by_entity.items():
        done += await _refresh_entity(session, centre_id, entity_id, sorted(days), calendar)
    return done


async def _refresh_entity(session: AsyncSession, centre_id: uuid.UUID, entity_id: uuid.UUID, days: list[date],
                          calendar: Calendar) -> int:
    start, end = days[0], days[-1]
    lo, hi = lima_start(start), lima_start(end + timedelta(days=1))
    wanted = set(days)

    limit_rows = (await session.execute(
        select(ServiceLimitRow.service_code, ServiceLimitRow.max_wait_minutes, ServiceLimitRow.max_attention_minutes,
               ServiceLimitRow.counts, ServiceLimitRow.valid_from)
        .where(ServiceLimitRow.centre_id == centre_id, ServiceLimitRow.entity_id == entity_id))).all()
    limits: dict[str, list[ServiceLimit]] = defaultdict(list)
    for code, wait, attention, counts, valid_from in limit_rows:
        limits[code].append(ServiceLimit(code, wait, attention, counts, valid_from))

    t = TicketSegment
    segment_rows = (await session.execute(
        select(t.ticket_id, t.service_code, t.issued_at, t.outcome, t.called_at, t.started_at, t.ended_at, t.segment,
               t.module_code)
        .where(t.centre_id == centre_id, t.entity_id == entity_id, t.issued_at >= lo, t.issued_at < hi))).all()
    segments = [Segment(r[0], entity_id, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]) for r in segment_rows]

    survey_rows = (await session.execute(
        select(SurveyAnswer.service_code, SurveyAnswer.at, SurveyAnswer.score)
        .where(SurveyAnswer.centre_id == centre_id, SurveyAnswer.entity_id == entity_id, SurveyAnswer.at >= lo,
               SurveyAnswer.at < hi))).all()
    surveys = [Survey(entity_id, code, at, score) for code, at, score in survey_rows]

    i = InterruptionRow
    interruption_rows = (await session.execute(
        select(i.started_at, i.ended_at, i.attributable_to, i.entity_id, i.cause)
        .where(i.centre_id == centre_id, or_(i.entity_id == entity_id, i.entity_id.is_(None)),
               i.started_at < hi, i.ended_at > lo))).all()
    interruptions = [Interruption(*row) for row in interruption_rows]

    m = ModuleAssignment
    module_rows = (await session.execute(
        select(m.module_code, m.valid_from, m.valid_to)
        .where(m.centre_id == centre_id, m.entity_id == entity_id, m.valid_from <= end,
               or_(m.valid_to.is_(None), m.valid_to >= start)))).all()
    clock_rows = (await session.execute(
        select(ClockInRow.module_code, ClockInRow.at)
        .where(ClockInRow.centre_id == centre_id, ClockInRow.entity_id == entity_id, ClockInRow.at >= lo,
               ClockInRow.at < hi))).all()
    clock_ins = [ClockIn(entity_id, code, at) for code, at in clock_rows]
    tolerance = await tolerance_for(session, centre_id, entity_id)

    service_days = tally_service_days(segments, surveys, limits, calendar, interruptions)
    entity_days: dict = {}
    for day in days:
        # Module assignments are effective-dated: each day with the modules assigned that day.
        assigned = [(entity_id, code) for code, valid_from, valid_to in module_rows
                    if valid_from <= day and (valid_to is None or valid_to >= day)]
        entity_days.update(tally_entity_days(assigned, clock_ins, interruptions, calendar, day, day, tolerance))

    await session.execute(delete(DailyServiceRollup).where(
        DailyServiceRollup.centre_id == centre_id, DailyServiceRollup.entity_id == entity_id,
        DailyServiceRollup.day.in_(days)))
    await session.execute(delete(DailyEntityRollup).where(
        DailyEntityRollup.centre_id == centre_id, DailyEntityRollup.entity_id == entity_id,
        DailyEntityRollup.day.in_(days)))
    service_values = [
        {"centre_id": centre_id, "entity_id": entity_id, "service_code": service, "day": day,
         "issued": c.issued, "abandoned": c.abandoned, "waits": c.waits, "waits_ok": c.waits_ok,
         "handled": c.handled, "handled_ok": c.handled_ok, "surveys": c.surveys, "surveys_ok": c.surveys_ok,
         "excluded": c.excluded, "wait_histogram": c.wait_histogram}
        for (_e, service, day), c in service_days.items() if day in wanted]
    entity_values = [
        {"centre_id": centre_id, "entity_id": entity_id, "day": day, "module_days": c.module_days,
         "module_days_occupied": c.module_days_occupied, "module_days_checked": c.module_days_checked,
         "module_days_punctual": c.module_days_punctual, "interruption_seconds": c.interruption_seconds,
         "interruptions": c.interruptions}
        for (_e, day), c in entity_days.items() if day in wanted]
    if service_values:
        await session.execute(insert(DailyServiceRollup), service_values)
    if entity_values:
        await session.execute(insert(DailyEntityRollup), entity_values)
    return len(days)


def days_between(start: datetime, end: datetime) -> list[date]:
    """Local dates touched by [start, end]."""
    first, last = start.astimezone(LIMA).date(), end.astimezone(LIMA).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def event_days(session: AsyncSession, centre_id: uuid.UUID, start: date | None,
                     end: date | None) -> set[tuple[uuid.UUID | None, date]]:
    """Every (entity, day) with events at the centre (within [start, end] if given), plus every working day
    of that range for each entity with assigned modules (absence is data for ``ocupabilidad``)."""
    pairs: set[tuple[uuid.UUID | None, date]] = set()
    local_day = func.date(func.timezone("America/Lima", TicketSegment.issued_at))
    q = select(TicketSegment.entity_id, local_day).where(TicketSegment.centre_id == centre_id).distinct()
    if start:
        q = q.where(TicketSegment.issued_at >= lima_start(start))
    if end:
        q = q.where(TicketSegment.issued_at < lima_start(end + timedelta(days=1)))
    pairs |= {(e, d) for e, d in (await session.execute(q)).all()}
    for model, column in ((ClockInRow, ClockInRow.at), (SurveyAnswer, SurveyAnswer.at)):
        q = select(model.entity_id, func.date(func.timezone("America/Lima", column))).where(
            model.centre_id == centre_id).distinct()
        if start:
            q = q.where(column >= lima_start(start))
        if end:
            q = q.where(column < lima_start(end + timedelta(days=1)))
        pairs |= {(e, d) for e, d in (await session.execute(q)).all()}
    rows = (await session.execute(select(InterruptionRow.entity_id, InterruptionRow.started_at,
                                         InterruptionRow.ended_at).where(InterruptionRow.centre_id == centre_id))).all()
    for entity_id, s, e in rows:
        pairs |= {(entity_id, d) for d in days_between(s, e)
                  if (start is None or d >= start) and (end is None or d <= end)}
    assignments = (await session.execute(select(ModuleAssignment.entity_id, ModuleAssignment.valid_from,
                                                ModuleAssignment.valid_to)
                                         .where(ModuleAssignment.centre_id == centre_id))).all()
    if assignments and (start or pairs):
        first = start or min(d for _e, d in pairs)
        last = end or max([d for _e, d in pairs] + [first])
        calendar = await load_calendar(session, centre_id)
        for entity_id, valid_from, valid_to in assignments:
            lo = max(first, valid_from)
            hi = min(last, valid_to) if valid_to else last
            pairs |= {(entity_id, d) for d in calendar.working_days(lo, hi)} if lo <= hi else set()
    return pairs


async def rebuild_centre(session: AsyncSession, centre_id: uuid.UUID, start: date | None = None,
                         end: date | None = None) -> int:
    """Drop and recompute the rollups of a centre (in [start, end] if given)."""
    for model in (DailyServiceRollup, DailyEntityRollup):
        q = delete(model).where(model.centre_id == centre_id)
        if start:
            q = q.where(model.day >= start)
        if end:
            q = q.where(model.day <= end)
        await session.execute(q)
    return await refresh(session, centre_id, await event_days(session, centre_id, start, end))


async def rebuild_all(db: Database, *, centre_code: str | None = None, start: date | None = None,
                      end: date | None = None) -> int:
    """``mac sla rebuild``: every centre (or one), one transaction per centre, as the system."""
    from app.errors import NotFound

    async with db.transaction(TenantContext.system()) as s:
        q = select(Centre.id)
        if centre_code:
            q = q.where(Centre.code == centre_code)
        centre_ids = list((await s.scalars(q)).all())
    if centre_code and not centre_ids:
        raise NotFound(f"No existe un centro con código {centre_code}.")
    total = 0
    for centre_id in centre_ids:
        async with db.transaction(TenantContext.system()) as s:
            total += await rebuild_centre(s, centre_id, start, end)
    return total

