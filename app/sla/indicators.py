"""The seven ANS indicators, computed from events (pure: no I/O, no database, no web).

Everything a dashboard, a report, the worker or the offline calculator shows comes from these functions, in
two steps:

1. **Daily tallies** (:func:`tally_service_days`, :func:`tally_entity_days`): the events of a centre are
   turned into counts per entity × service × day (:class:`ServiceDay`) and per entity × day
   (:class:`EntityDay`). These are exactly the rows the database keeps as rollups, so a month's figure is a
   sum of at most ~31 rows per series.
2. **Measures and statuses** (:func:`measure`, :func:`evaluate`, :func:`project`): the tallies of a period are
   added up and turned into a value, compared with the ANS target, and projected to the end of the month.

Rules common to every indicator
-------------------------------
* **Working days only.** An event counts only if the local (America/Lima) date on which it happened is a
  working day of the centre (:mod:`app.sla.calendar`: opening hours in force, not a national holiday, not a
  *día no laborable*, not a closure of the centre).
* **Which tickets count.** A ticket segment counts for ``espera``, ``atencion`` and ``abandono`` only if its
  service has a limit in force on the segment's date (:func:`limit_in_force`: the one with the latest
  ``valid_from`` not after that date) whose ``counts`` flag is set. Abandoned segments count only for
  ``abandono``.
* **Transfers are measured per segment.** A ticket transferred from one service to another is several
  segments; each is measured against its own service's limit and attributed to that service's entity. A
  later segment's waiting time runs from the moment of the transfer (its ``issued_at``).
* **Recalls.** ``called_at`` is the *last* call: a citizen called, absent, and called again waited until the
  last call.
* **Interruptions attributable to the administering entity are excluded** from the participant's figures:
  a ticket segment whose interval [issued, end] (end = ended, else called, else issued) overlaps such an
  interruption is left out of every ticket indicator; a (module, day) pair is left out of ``puntualidad``
  when such an interruption overlaps the interval [opening time, opening time + tolerance], and out of
  ``ocupabilidad`` when such an interruption covers the whole opening interval of that day. An interruption
  with no entity affects every entity of the centre.

The indicators (value; numerator / denominator)
-----------------------------------------------
``espera``
    Share of attended segments (outcome ``attended`` or ``transferred``) whose wait, ``called_at −
    issued_at``, is at most the service's maximum wait in force on that day.
``atencion``
    Share of attended segments whose handling time, ``ended_at − started_at``, is at most the service's
    maximum attention time in force on that day.
``abandono``
    Abandoned segments / issued segments (all outcomes). Usually compared with ``<=``.
``puntualidad``
    Share of occupied (module, working day) pairs of the modules assigned to the entity whose first
    clock-in of the day, in Lima time truncated to the minute, is at most opening time + tolerance (15
    minutes by default: with an 08:00 opening, 08:15:59 is on time and 08:16 is late). Pairs without any
    clock-in are not in the denominator: absence is what ``ocupabilidad`` measures.
``ocupabilidad``
    Share of (module, working day) pairs of the modules assigned to the entity with at least one clock-in.
``satisfaccion``
    Share of survey answers (scale 1–5) of the entity's services with a score of 4 or 5.
``interrupcion``
    Minutes of service interruption attributable to the entity, counted only within the opening hours of
    working days. Numerator: the number of interruption periods counted (one per day touched); denominator:
    the number of working days of the period. Never ``sin_datos``: a month without interruptions is 0
    minutes. Usually compared with ``<=``.

Statuses (:func:`evaluate`)
---------------------------
``sin_datos`` when the denominator is below the target's minimum sample (or zero); otherwise ``no_cumple``
when the value misses the target; ``en_riesgo`` when, during the month, the value meets the target but the
projection to month end (:func:`project`) misses it; else ``cumple``. Values are :class:`~decimal.Decimal`
rounded half-up to 4 places; no float is ever involved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from app.sla.calendar import LIMA, Calendar, local_date

INDICATORS = ("espera", "atencion", "abandono", "puntualidad", "ocupabilidad", "satisfaccion", "interrupcion")
INDICATOR_LABELS = {
    "espera": "Tiempo de espera",
    "atencion": "Tiempo de atención",
    "abandono": "Abandono",
    "puntualidad": "Puntualidad de asesores",
    "ocupabilidad": "Ocupabilidad de módulos",
    "satisfaccion": "Satisfacción",
    "interrupcion": "Interrupciones (minutos)",
}
INDICATOR_HELP = {
    "espera": "Porcentaje de tickets atendidos cuya espera (llamado − emisión; último llamado si hubo "
              "rellamado) no supera el máximo de espera del servicio vigente ese día.",
    "atencion": "Porcentaje de tickets atendidos cuya atención (fin − inicio) no supera el máximo de "
                "atención del servicio vigente ese día.",
    "abandono": "Tickets abandonados entre tickets emitidos de los servicios que cuentan.",
    "puntualidad": "Porcentaje de pares (módulo, día hábil) ocupados cuya primera marcación fue a más tardar "
                   "a la hora de apertura más la tolerancia.",
    "ocupabilidad": "Porcentaje de pares (módulo asignado, día hábil) con al menos una marcación.",
    "satisfaccion": "Porcentaje de respuestas de encuesta con puntaje 4 o 5 (escala 1 a 5).",
    "interrupcion": "Minutos de interrupción del servicio atribuibles a la entidad, dentro del horario de "
                    "atención de días hábiles.",
}
RATIO_INDICATORS = frozenset(INDICATORS) - {"interrupcion"}
COMPARISONS = (">=", "<=", ">", "<")
STATUSES = ("cumple", "no_cumple", "en_riesgo", "sin_datos")
OUTCOMES = ("attended", "abandoned", "transferred")
ATTRIBUTIONS = ("entidad", "administradora")

# Waiting-time histogram: 5-minute buckets [0,5), [5,10), ... [55,60) and 60 minutes or more.
HISTOGRAM_BUCKET_MINUTES = 5
HISTOGRAM_BUCKETS = 13
DEFAULT_TOLERANCE_MINUTES = 15
PROJECTION_WINDOW_DAYS = 5
FOUR_PLACES = Decimal("0.0001")


def round4(value: Decimal) -> Decimal:
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------------------------- events ---


@dataclass(frozen=True)
class ServiceLimit:
    """A service's limits from ``valid_from`` on (minutes; ``counts`` = the service counts for the ANS)."""

    service: Hashable
    max_wait_minutes: int
    max_attention_minutes: int
    counts: bool = True
    valid_from: date = date(1900, 1, 1)


@dataclass(frozen=True)
class Segment:
    """One segment of a ticket: the whole ticket, or the part served by one service when it was transferred."""

    ticket_id: str
    entity: Hashable
    service: Hashable
    issued_at: datetime
    outcome: str  # attended | abandoned | transferred
    called_at: datetime | None = None  # the last call
    started_at: datetime | None = None
    ended_at: datetime | None = None
    segment: int = 1
    module: str | None = None

    @property
    def end(self) -> datetime:
        return self.ended_at or self.called_at or self.issued_at


@dataclass(frozen=True)
class ClockIn:
    entity: Hashable
    module: str
    at: datetime


@dataclass(frozen=True)
class Survey:
    entity: Hashable
    service: Hashable
    at: datetime
    score: int


@dataclass(frozen=True)
class Interruption:
    """A period without service. ``entity`` None: it affects every entity of the centre."""

    start: datetime
    end: datetime
    attributable_to: str  # entidad | administradora
    entity: Hashable | None = None
    cause: str = ""

    def affects(self, entity: Hashable) -> bool:
        return self.entity is None or self.entity == entity

    def overlaps(self, start: datetime, end: datetime) -> bool:
        if start == end:
            return self.start <= start < self.end
        return self.start < end and start < self.end


# ------------------------------------------------------------------------------------- daily tallies ---


@dataclass
class ServiceDay:
    """Counts of one entity × service × working day (one rollup row)."""

    issued: int = 0
    abandoned: int = 0
    waits: int = 0
    waits_ok: int = 0
    handled: int = 0
    handled_ok: int = 0
    surveys: int = 0
    surveys_ok: int = 0
    excluded: int = 0  # segments left out because of an interruption attributable to the administrator
    wait_histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BUCKETS)

    def add(self, other: ServiceDay) -> ServiceDay:
        for f in fields(self):
            if f.name == "wait_histogram":
                self.wait_histogram = [a + b for a, b in zip(self.wait_histogram, other.wait_histogram, strict=True)]
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


@dataclass
class EntityDay:
    """Counts of one entity × working day for the module and interruption indicators (one rollup row)."""

    module_days: int = 0  # assigned (module, day) pairs not excluded for ocupabilidad
    module_days_occupied: int = 0
    module_days_checked: int = 0  # occupied pairs not excluded for puntualidad
    module_days_punctual: int = 0
    interruption_seconds: int = 0
    interruptions: int = 0

    def add(self, other: EntityDay) -> EntityDay:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


def limit_in_force(limits: Sequence[ServiceLimit], day: date) -> ServiceLimit | None:
    """The limit with the latest ``valid_from`` not after ``day`` (``limits`` of one service)."""
    best = None
    for limit in limits:
        if limit.valid_from <= day and (best is None or limit.valid_from > best.valid_from):
            best = limit
    return best


def _admin_interruptions(interruptions: Iterable[Interruption]) -> list[Interruption]:
    return [i for i in interruptions if i.attributable_to == "administradora"]


def wait_bucket(seconds: float) -> int:
    return min(int(seconds // (HISTOGRAM_BUCKET_MINUTES * 60)), HISTOGRAM_BUCKETS - 1)


def tally_service_days(
    segments: Iterable[Segment],
    surveys: Iterable[Survey],
    limits: Mapping[Hashable, Sequence[ServiceLimit]],
    calendar: Calendar,
    interruptions: Iterable[Interruption] = (),
) -> dict[tuple[Hashable, Hashable, date], ServiceDay]:
    """Counts per (entity, service, day) for the ticket and survey indicators (see the module's rules)."""
    admin = _admin_interruptions(interruptions)
    out: dict[tuple[Hashable, Hashable, date], ServiceDay] = defaultdict(ServiceDay)
    for seg in segments:
        day = local_date(seg.issued_at)
        if not calendar.is_working_day(day):
            continue
        limit = limit_in_force(limits.get(seg.service, ()), day)
        if limit is None or not limit.counts:
            continue
        tally = out[(seg.entity, seg.service, day)]
        if any(i.affects(seg.entity) and i.overlaps(seg.issued_at, seg.end) for i in admin):
            tally.excluded += 1
            continue
        tally.issued += 1
        if seg.outcome == "abandoned":
            tally.abandoned += 1
            continue
        if seg.called_at is not None:
            wait = (seg.called_at - seg.issued_at).total_seconds()
            tally.waits += 1
            tally.waits_ok += wait <= limit.max_wait_minutes * 60
            tally.wait_histogram[wait_bucket(max(wait, 0))] += 1
        if seg.started_at is not None and seg.ended_at is not None:
            handling = (seg.ended_at - seg.started_at).total_seconds()
            tally.handled += 1
            tally.handled_ok += handling <= limit.max_attention_minutes * 60
    for survey in surveys:
        day = local_date(survey.at)
        if not calendar.is_working_day(day):
            continue
        tally = out[(survey.entity, survey.service, day)]
        tally.surveys += 1
        tally.surveys_ok += survey.score >= 4
    return dict(out)


def tally_entity_days(
    assigned_modules: Iterable[tuple[Hashable, str]],
    clock_ins: Iterable[ClockIn],
    interruptions: Iterable[Interruption],
    calendar: Calendar,
    start: date,
    end: date,
    tolerance_minutes: int = DEFAULT_TOLERANCE_MINUTES,
) -> dict[tuple[Hashable, date], EntityDay]:
    """Counts per (entity, working day) for ``puntualidad``, ``ocupabilidad`` and ``interrupcion``."""
    interruptions = list(interruptions)
    admin = _admin_interruptions(interruptions)
    first_clock_in: dict[tuple[Hashable, str, date], datetime] = {}
    for c in clock_ins:
        key = (c.entity, c.module, local_date(c.at))
        if key not in first_clock_in or c.at < first_clock_in[key]:
            first_clock_in[key] = c.at
    modules_by_entity: dict[Hashable, set[str]] = defaultdict(set)
    for entity, module in assigned_modules:
        modules_by_entity[entity].add(module)
    entities = set(modules_by_entity) | {i.entity for i in interruptions
                                         if i.attributable_to == "entidad" and i.entity is not None}
    out: dict[tuple[Hashable, date], EntityDay] = {}
    for day in calendar.working_days(start, end):
        opens, closes = calendar.working_hours(day)  # type: ignore[misc]
        deadline = opens + timedelta(minutes=tolerance_minutes)
        for entity in entities:
            tally = EntityDay()
            whole_day_out = any(i.affects(entity) and i.start <= opens and i.end >= closes for i in admin)
            late_start_out = any(i.affects(entity) and i.overlaps(opens, deadline + timedelta(minutes=1))
                                 for i in admin)
            for module in modules_by_entity.get(entity, ()):
                first = first_clock_in.get((entity, module, day))
                if not whole_day_out:
                    tally.module_days += 1
                    tally.module_days_occupied += first is not None
                if first is not None and not late_start_out:
                    tally.module_days_checked += 1
                    on_time = first.astimezone(LIMA).replace(second=0, microsecond=0) <= deadline
                    tally.module_days_punctual += on_time
            for i in interruptions:
                if i.attributable_to != "entidad" or i.entity != entity:
                    continue
                lo, hi = max(i.start, opens), min(i.end, closes)
                if hi > lo:
                    tally.interruption_seconds += int((hi - lo).total_seconds())
                    tally.interruptions += 1
            out[(entity, day)] = tally
    return out


# ------------------------------------------------------------------------------------------ measures ---


@dataclass(frozen=True)
class Measure:
    """An indicator's value over a period; ``value`` None when the denominator is zero."""

    indicator: str
    numerator: int
    denominator: int
    value: Decimal | None


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> Decimal | None:
    if not denominator:
        return None
    return round4(Decimal(numerator) / Decimal(denominator))


def measure(indicator: str, services: ServiceDay, entity: EntityDay, working_days: int = 0) -> Measure:
    """The indicator's value from summed tallies (``services``: summed ServiceDay; ``entity``: EntityDay)."""
    pairs = {
        "espera": (services.waits_ok, services.waits),
        "atencion": (services.handled_ok, services.handled),
        "abandono": (services.abandoned, services.issued),
        "puntualidad": (entity.module_days_punctual, entity.module_days_checked),
        "ocupabilidad": (entity.module_days_occupied, entity.module_days),
        "satisfaccion": (services.surveys_ok, services.surveys),
    }
    if indicator == "interrupcion":
        minutes = round4(Decimal(entity.interruption_seconds) / Decimal(60))
        return Measure(indicator, entity.interruptions, working_days, minutes)
    if indicator not in pairs:
        raise ValueError(f"Indicador desconocido: {indicator}")
    num, den = pairs[indicator]
    return Measure(indicator, num, den, ratio(num, den))


def sum_service_days(days: Iterable[ServiceDay]) -> ServiceDay:
    total = ServiceDay()
    for d in days:
        total.add(d)
    return total


def sum_entity_days(days: Iterable[EntityDay]) -> EntityDay:
    total = EntityDay()
    for d in days:
        total.add(d)
    return total


@dataclass(frozen=True)
class Target:
    indicator: str
    comparison: str
    target: Decimal
    min_sample: int = 0


def meets(value: Decimal, comparison: str, target: Decimal) -> bool:
    if comparison == ">=":
        return value >= target
    if comparison == "<=":
        return value <= target
    if comparison == ">":
        return value > target
    if comparison == "<":
        return value < target
    raise ValueError(f"Comparación desconocida: {comparison}")


def evaluate(target: Target, current: Measure, projected: Decimal | None = None) -> str:
    """``sin_datos`` | ``no_cumple`` | ``en_riesgo`` | ``cumple`` (see the module docstring)."""
    if current.value is None:
        return "sin_datos"
    if current.indicator != "interrupcion" and current.denominator < target.min_sample:
        return "sin_datos"
    if not meets(current.value, target.comparison, target.target):
        return "no_cumple"
    if projected is not None and not meets(projected, target.comparison, target.target):
        return "en_riesgo"
    return "cumple"


@dataclass(frozen=True)
class DailyPoint:
    """One working day's tallies of a series (an entity, or an entity's service)."""

    day: date
    services: ServiceDay
    entity: EntityDay


def project(indicator: str, points: Sequence[DailyPoint], remaining_working_days: int,
            window: int = PROJECTION_WINDOW_DAYS) -> Decimal | None:
    """The value expected at month end if the remaining working days behave like the last ``window``
    working days with data (their average daily numerator and denominator are added once per remaining day).

    ``points``: the month's working days so far, in order (days without events included, as empty tallies).
    Returns None when nothing can be projected (no remaining days, or no recent data).
    """
    if remaining_working_days <= 0 or not points:
        return None
    so_far = measure(indicator, sum_service_days(p.services for p in points),
                     sum_entity_days(p.entity for p in points), len(points))
    recent = points[-window:]
    recent_m = measure(indicator, sum_service_days(p.services for p in recent),
                       sum_entity_days(p.entity for p in recent), len(recent))
    n = Decimal(len(recent))
    if indicator == "interrupcion":
        per_day = (recent_m.value or Decimal(0)) / n
        return round4((so_far.value or Decimal(0)) + per_day * remaining_working_days)
    if recent_m.denominator == 0:
        return None
    num = Decimal(so_far.numerator) + Decimal(recent_m.numerator) / n * remaining_working_days
    den = Decimal(so_far.denominator) + Decimal(recent_m.denominator) / n * remaining_working_days
    return round4(num / den) if den else None


# ---------------------------------------------------------------------------- period results (calc) ---


@dataclass(frozen=True)
class Result:
    entity: Hashable
    indicator: str
    measure: Measure
    target: Target
    status: str
    projected: Decimal | None = None


def period_results(
    targets: Mapping[Hashable, Sequence[Target]],
    service_days: Mapping[tuple[Hashable, Hashable, date], ServiceDay],
    entity_days: Mapping[tuple[Hashable, date], EntityDay],
    working_days: Sequence[date],
    remaining_working_days: int = 0,
) -> list[Result]:
    """Each entity's targets evaluated over ``working_days`` (the period's, or the month's so far)."""
    days = set(working_days)
    results = []
    for entity, entity_targets in targets.items():
        by_day_services: dict[date, ServiceDay] = defaultdict(ServiceDay)
        for (e, _service, day), tally in service_days.items():
            if e == entity and day in days:
                by_day_services[day].add(tally)
        points = [DailyPoint(d, by_day_services.get(d, ServiceDay()), entity_days.get((entity, d), EntityDay()))
                  for d in sorted(days)]
        services_total = sum_service_days(p.services for p in points)
        entity_total = sum_entity_days(p.entity for p in points)
        for target in entity_targets:
            current = measure(target.indicator, services_total, entity_total, len(points))
            projected = project(target.indicator, points, remaining_working_days)
            results.append(Result(entity, target.indicator, current, target,
                                  evaluate(target, current, projected), projected))
    return results
