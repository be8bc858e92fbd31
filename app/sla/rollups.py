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

from sqlalchemy import delete, func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, TenantContext
from app.sla.calendar import LIMA, Calendar, OpeningHours
from app.sla.indicators import (
    DEFAULT_TOLERANCE_MINUTES,
    HISTOGRAM_BUCKET_MINUTES,
    HISTOGRAM_BUCKETS,
    ClockIn,
    Interruption,
    tally_entity_days,
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
    await _refresh_service_days(session, centre_id, by_entity, calendar)
    done = 0
    for entity_id, days in by_entity.items():
        done += await _refresh_entity_days(session, centre_id, entity_id, sorted(days), calendar)
    return done


def _histogram_sql() -> str:
    width = HISTOGRAM_BUCKET_MINUTES * 60
    bucket = (f"least(floor(extract(epoch FROM greatest(called_at - issued_at, interval '0')) / {width}),"
              f" {HISTOGRAM_BUCKETS - 1})")
    return "ARRAY[" + ", ".join(f"count(*) FILTER (WHERE waited AND {bucket} = {b})"
                                for b in range(HISTOGRAM_BUCKETS)) + "]::int[]"


# The ticket and survey tallies of every (entity, day) asked for, in one statement: the same rules as
# app.sla.indicators.tally_service_days (which stays the definition, and the tests compare both), computed
# where the rows are instead of loading every ticket into Python. Working days come from the calendar
# (Python); the limit in force is the latest valid_from not after the day; a segment is excluded when an
# interruption attributable to the administering entity, loaded for the entity's range of days as before,
# overlaps [issued, end] (end = ended, else called, else issued; a zero-length segment when it falls inside).
SERVICE_DAYS_SQL = f"""
WITH pairs AS (
  SELECT p.entity_id, p.day FROM unnest(CAST(:entities AS uuid[]), CAST(:days AS date[])) AS p(entity_id, day)
), ranges AS (
  SELECT entity_id, (min(day)::timestamp AT TIME ZONE 'America/Lima') AS lo,
         ((max(day) + 1)::timestamp AT TIME ZONE 'America/Lima') AS hi
  FROM pairs GROUP BY entity_id
), wanted AS (
  SELECT entity_id, day, (day::timestamp AT TIME ZONE 'America/Lima') AS lo,
         ((day + 1)::timestamp AT TIME ZONE 'America/Lima') AS hi
  FROM pairs WHERE day = ANY(CAST(:working AS date[]))
), limits AS (
  SELECT DISTINCT ON (w.entity_id, w.day, l.service_code) w.entity_id, w.day, l.service_code, l.counts,
         make_interval(mins => l.max_wait_minutes) AS max_wait,
         make_interval(mins => l.max_attention_minutes) AS max_attention
  FROM wanted w JOIN sla_service_limits l
    ON l.centre_id = :centre AND l.entity_id = w.entity_id AND l.valid_from <= w.day
  ORDER BY w.entity_id, w.day, l.service_code, l.valid_from DESC
), admin AS (
  SELECT r.entity_id AS for_entity, i.started_at, i.ended_at
  FROM ranges r JOIN sla_interruptions i
    ON i.centre_id = :centre AND i.attributable_to = 'administradora'
   AND (i.entity_id IS NULL OR i.entity_id = r.entity_id) AND i.started_at < r.hi AND i.ended_at > r.lo
), segments AS (
  SELECT w.entity_id, t.service_code, w.day, t.outcome, t.issued_at, t.called_at, t.started_at, t.ended_at,
         lim.max_wait, lim.max_attention,
         EXISTS (SELECT 1 FROM admin a WHERE a.for_entity = w.entity_id AND CASE
                   WHEN coalesce(t.ended_at, t.called_at, t.issued_at) = t.issued_at
                   THEN a.started_at <= t.issued_at AND t.issued_at < a.ended_at
                   ELSE a.started_at < coalesce(t.ended_at, t.called_at, t.issued_at) AND t.issued_at < a.ended_at
                 END) AS excluded
  FROM wanted w
  JOIN sla_tickets t ON t.centre_id = :centre AND t.entity_id = w.entity_id AND t.issued_at >= w.lo
                    AND t.issued_at < w.hi
  JOIN limits lim ON lim.entity_id = w.entity_id AND lim.day = w.day AND lim.service_code = t.service_code
                 AND lim.counts
), flagged AS (
  SELECT *, NOT excluded AND outcome <> 'abandoned' AS attended,
         NOT excluded AND outcome <> 'abandoned' AND called_at IS NOT NULL AS waited
  FROM segments
), tickets AS (
  SELECT entity_id, service_code, day,
         count(*) FILTER (WHERE NOT excluded) AS issued,
         count(*) FILTER (WHERE NOT excluded AND outcome = 'abandoned') AS abandoned,
         count(*) FILTER (WHERE waited) AS waits,
         count(*) FILTER (WHERE waited AND called_at - issued_at <= max_wait) AS waits_ok,
         count(*) FILTER (WHERE attended AND started_at IS NOT NULL AND ended_at IS NOT NULL) AS handled,
         count(*) FILTER (WHERE attended AND ended_at - started_at <= max_attention) AS handled_ok,
         count(*) FILTER (WHERE excluded) AS excluded,
         {_histogram_sql()} AS wait_histogram
  FROM flagged GROUP BY entity_id, service_code, day
), surveys AS (
  SELECT w.entity_id, a.service_code, w.day, count(*) AS surveys, count(*) FILTER (WHERE a.score >= 4) AS surveys_ok
  FROM wanted w JOIN sla_survey_answers a ON a.centre_id = :centre AND a.entity_id = w.entity_id
                                          AND a.at >= w.lo AND a.at < w.hi
  GROUP BY w.entity_id, a.service_code, w.day
)
INSERT INTO sla_daily_service (centre_id, entity_id, service_code, day, issued, abandoned, waits, waits_ok,
                               handled, handled_ok, surveys, surveys_ok, excluded, wait_histogram)
SELECT :centre, entity_id, service_code, day, coalesce(t.issued, 0), coalesce(t.abandoned, 0),
       coalesce(t.waits, 0), coalesce(t.waits_ok, 0), coalesce(t.handled, 0), coalesce(t.handled_ok, 0),
       coalesce(s.surveys, 0), coalesce(s.surveys_ok, 0), coalesce(t.excluded, 0),
       coalesce(t.wait_histogram, array_fill(0, ARRAY[{HISTOGRAM_BUCKETS}]))
FROM tickets t FULL JOIN surveys s USING (entity_id, service_code, day)
"""


async def _refresh_service_days(session: AsyncSession, centre_id: uuid.UUID,
                                by_entity: dict[uuid.UUID, set[date]], calendar: Calendar) -> None:
    entities = [e for e, days in by_entity.items() for _d in days]
    days = [d for _e, ds in by_entity.items() for d in ds]
    working = sorted({d for d in days if calendar.is_working_day(d)})
    params = {"centre": centre_id, "entities": entities, "days": days, "working": working}
    await session.execute(text(
        "DELETE FROM sla_daily_service r USING unnest(CAST(:entities AS uuid[]), CAST(:days AS date[])) "
        "AS p(entity_id, day) WHERE r.centre_id = :centre AND r.entity_id = p.entity_id AND r.day = p.day"),
        params)
    await session.execute(text(SERVICE_DAYS_SQL), params)


async def _refresh_entity_days(session: AsyncSession, centre_id: uuid.UUID, entity_id: uuid.UUID,
                               days: list[date], calendar: Calendar) -> int:
    start, end = days[0], days[-1]
    lo, hi = lima_start(start), lima_start(end + timedelta(days=1))
    wanted = set(days)

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
    entity_days: dict = {}
    if module_rows or any(r.attributable_to == "entidad" for r in interruptions):
        # Only the first clock-in of a (module, local day) matters (puntualidad, ocupabilidad).
        local_day = func.date(func.timezone("America/Lima", ClockInRow.at))
        clock_rows = (await session.execute(
            select(ClockInRow.module_code, func.min(ClockInRow.at))
            .where(ClockInRow.centre_id == centre_id, ClockInRow.entity_id == entity_id, ClockInRow.at >= lo,
                   ClockInRow.at < hi)
            .group_by(ClockInRow.module_code, local_day))).all()
        clock_ins = [ClockIn(entity_id, code, at) for code, at in clock_rows]
        tolerance = await tolerance_for(session, centre_id, entity_id)
        for day in days:
            # Module assignments are effective-dated: each day with the modules assigned that day.
            assigned = [(entity_id, code) for code, valid_from, valid_to in module_rows
                        if valid_from <= day and (valid_to is None or valid_to >= day)]
            entity_days.update(tally_entity_days(assigned, clock_ins, interruptions, calendar, day, day,
                                                 tolerance))

    await session.execute(delete(DailyEntityRollup).where(
        DailyEntityRollup.centre_id == centre_id, DailyEntityRollup.entity_id == entity_id,
        DailyEntityRollup.day.in_(days)))
    entity_values = [
        {"centre_id": centre_id, "entity_id": entity_id, "day": day, "module_days": c.module_days,
         "module_days_occupied": c.module_days_occupied, "module_days_checked": c.module_days_checked,
         "module_days_punctual": c.module_days_punctual, "interruption_seconds": c.interruption_seconds,
         "interruptions": c.interruptions}
        for (_e, day), c in entity_days.items() if day in wanted]
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

