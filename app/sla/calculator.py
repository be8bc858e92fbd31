"""The offline ANS calculator (pure): one JSON case in, JSON results out, with the app's own functions.

``mac sla compliance --input case.json`` is a thin wrapper around :func:`run_case`, so an auditor can re-run
any month from exported data and get exactly the figures the platform shows. The format is documented in the
README (section «Calculadora de ANS»). Every timestamp must carry its UTC offset; one without is refused.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from app.sla.calendar import WEEKDAY_KEYS, Calendar, OpeningHours
from app.sla.indicators import (
    ATTRIBUTIONS,
    COMPARISONS,
    DEFAULT_TOLERANCE_MINUTES,
    INDICATORS,
    OUTCOMES,
    ClockIn,
    Interruption,
    Segment,
    ServiceLimit,
    Survey,
    Target,
    period_results,
    tally_entity_days,
    tally_service_days,
)


class CaseError(ValueError):
    """The case document is not valid; the message says where and why (in Spanish)."""


def _require(doc: dict, key: str, where: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise CaseError(f"{where}: falta el campo «{key}»")
    return doc[key]


def parse_timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise CaseError(f"{where}: se esperaba una fecha y hora ISO-8601, se recibió {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CaseError(f"{where}: «{value}» no es una fecha y hora ISO-8601") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CaseError(f"{where}: «{value}» no indica la zona horaria (agregue el desfase, p. ej. -05:00)")
    return moment


def _optional_timestamp(doc: dict, key: str, where: str) -> datetime | None:
    value = doc.get(key)
    return None if value is None else parse_timestamp(value, f"{where}.{key}")


def parse_date(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CaseError(f"{where}: «{value}» no es una fecha AAAA-MM-DD") from None


def _parse_time(value: Any, where: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise CaseError(f"{where}: «{value}» no es una hora HH:MM") from None


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise CaseError(f"{where}: se esperaba un entero entre {lo} y {hi}, se recibió {value!r}")
    return value


def _opening_hours(value: Any, where: str, valid_from: date = date(1900, 1, 1)) -> list[OpeningHours]:
    if value is not None and not isinstance(value, dict):
        raise CaseError(f"{where}: se esperaba un objeto por día de la semana")
    hours = []
    for key, pair in (value or {}).items():
        if key not in WEEKDAY_KEYS:
            raise CaseError(f"{where}: día «{key}» desconocido (use {', '.join(WEEKDAY_KEYS)})")
        if not isinstance(pair, list) or len(pair) != 2:
            raise CaseError(f"{where}.{key}: se esperaba [\"HH:MM\", \"HH:MM\"]")
        opens = _parse_time(pair[0], f"{where}.{key}")
        closes = _parse_time(pair[1], f"{where}.{key}")
        if closes <= opens:
            raise CaseError(f"{where}.{key}: el cierre debe ser posterior a la apertura")
        hours.append(OpeningHours(WEEKDAY_KEYS.index(key), opens, closes, valid_from))
    return hours


def run_case(doc: dict) -> dict:
    """Compute every target of the case over its period; returns ``{"results": [...]}``."""
    if not isinstance(doc, dict):
        raise CaseError("El documento debe ser un objeto JSON")
    period = _require(doc, "period", "documento")
    start = parse_date(_require(period, "start", "period"), "period.start")
    end = parse_date(_require(period, "end", "period"), "period.end")
    if end < start:
        raise CaseError("period: la fecha final es anterior a la inicial")
    tz = doc.get("timezone", "America/Lima")
    if tz != "America/Lima":
        raise CaseError("timezone: solo se admite «America/Lima»")

    cal_doc = _require(doc, "calendar", "documento")
    hours = _opening_hours(_require(cal_doc, "opening_hours", "calendar"), "calendar.opening_hours")
    # Opening hours that changed within the case: each later set applies from its own date on.
    for n, change in enumerate(cal_doc.get("opening_hours_from") or []):
        where = f"calendar.opening_hours_from[{n}]"
        valid_from = parse_date(_require(change, "valid_from", where), f"{where}.valid_from")
        hours.extend(_opening_hours(_require(change, "opening_hours", where), f"{where}.opening_hours",
                                    valid_from))
    holidays = [parse_date(d, f"calendar.holidays[{i}]") for i, d in enumerate(cal_doc.get("holidays") or [])]
    calendar = Calendar.build(hours, holidays, include_national_holidays=bool(cal_doc.get("national_holidays")))
    tolerance = _int(doc.get("punctuality_tolerance_minutes", DEFAULT_TOLERANCE_MINUTES),
                     "punctuality_tolerance_minutes", 0, 120)
    # An entity's accepted ANS may set its own tolerance.
    tolerances = {str(ruc): _int(minutes, f"punctuality_tolerance_by_entity.{ruc}", 0, 120)
                  for ruc, minutes in (doc.get("punctuality_tolerance_by_entity") or {}).items()}

    service_entity: dict[str, str] = {}
    limits: dict[str, list[ServiceLimit]] = defaultdict(list)
    for i, s in enumerate(doc.get("services") or []):
        where = f"services[{i}]"
        code, ruc = str(_require(s, "code", where)), str(_require(s, "entity_ruc", where))
        if service_entity.setdefault(code, ruc) != ruc:
            raise CaseError(f"{where}: el servicio «{code}» ya pertenece a otra entidad")
        limits[code].append(ServiceLimit(
            code, _int(_require(s, "max_wait_minutes", where), f"{where}.max_wait_minutes", 0, 120),
            _int(_require(s, "max_attention_minutes", where), f"{where}.max_attention_minutes", 0, 180),
            bool(s.get("counts", True)),
            parse_date(s["valid_from"], f"{where}.valid_from") if s.get("valid_from") else date(1900, 1, 1)))

    # A module may be listed once per assignment (valid_from / valid_to, both optional and inclusive).
    module_entity: dict[str, str] = {}
    assignments: list[tuple[str, str, date, date | None]] = []
    for i, m in enumerate(doc.get("modules") or []):
        where = f"modules[{i}]"
        code, ruc = str(_require(m, "code", where)), str(_require(m, "entity_ruc", where))
        module_entity.setdefault(code, ruc)
        valid_from = parse_date(m["valid_from"], f"{where}.valid_from") if m.get("valid_from") else date(1900, 1, 1)
        valid_to = parse_date(m["valid_to"], f"{where}.valid_to") if m.get("valid_to") else None
        if valid_to is not None and valid_to < valid_from:
            raise CaseError(f"{where}: valid_to es anterior a valid_from")
        assignments.append((ruc, code, valid_from, valid_to))

    targets: dict[str, list[Target]] = defaultdict(list)
    for i, t in enumerate(_require(doc, "targets", "documento") or []):
        where = f"targets[{i}]"
        indicator = _require(t, "indicator", where)
        if indicator not in INDICATORS:
            raise CaseError(f"{where}.indicator: «{indicator}» no es un indicador ({', '.join(INDICATORS)})")
        comparison = t.get("comparison", ">=")
        if comparison not in COMPARISONS:
            raise CaseError(f"{where}.comparison: use una de {', '.join(COMPARISONS)}")
        try:
            value = Decimal(str(_require(t, "target", where)))
        except InvalidOperation:
            raise CaseError(f"{where}.target: «{t['target']}» no es un número decimal") from None
        targets[str(_require(t, "entity_ruc", where))].append(
            Target(indicator, comparison, value, _int(t.get("min_sample", 0), f"{where}.min_sample", 0, 10**9)))

    segments = []
    for i, tk in enumerate(doc.get("tickets") or []):
        where = f"tickets[{i}]"
        service = str(_require(tk, "service", where))
        if service not in service_entity:
            raise CaseError(f"{where}.service: el servicio «{service}» no está en «services»")
        outcome = _require(tk, "outcome", where)
        if outcome not in OUTCOMES:
            raise CaseError(f"{where}.outcome: use una de {', '.join(OUTCOMES)}")
        segments.append(Segment(
            ticket_id=str(_require(tk, "id", where)), entity=service_entity[service], service=service,
            issued_at=parse_timestamp(_require(tk, "issued_at", where), f"{where}.issued_at"), outcome=outcome,
            called_at=_optional_timestamp(tk, "called_at", where),
            started_at=_optional_timestamp(tk, "started_at", where),
            ended_at=_optional_timestamp(tk, "ended_at", where),
            segment=_int(tk.get("segment", 1), f"{where}.segment", 1, 99), module=tk.get("module")))

    clock_ins = []
    for i, c in enumerate(doc.get("clock_ins") or []):
        where = f"clock_ins[{i}]"
        module = str(_require(c, "module", where))
        if module not in module_entity:
            raise CaseError(f"{where}.module: el módulo «{module}» no está en «modules»")
        clock_ins.append(ClockIn(str(c.get("entity_ruc") or module_entity[module]), module,
                                 parse_timestamp(_require(c, "at", where), f"{where}.at")))
    surveys = []
    for i, sv in enumerate(doc.get("surveys") or []):
        where = f"surveys[{i}]"
        service = str(_require(sv, "service", where))
        if service not in service_entity:
            raise CaseError(f"{where}.service: el servicio «{service}» no está en «services»")
        surveys.append(Survey(service_entity[service], service,
                              parse_timestamp(_require(sv, "at", where), f"{where}.at"),
                              _int(_require(sv, "score", where), f"{where}.score", 1, 5)))
    interruptions = []
    for i, it in enumerate(doc.get("interruptions") or []):
        where = f"interruptions[{i}]"
        attributable = _require(it, "attributable_to", where)
        if attributable not in ATTRIBUTIONS:
            raise CaseError(f"{where}.attributable_to: use una de {', '.join(ATTRIBUTIONS)}")
        i_start = parse_timestamp(_require(it, "start", where), f"{where}.start")
        i_end = parse_timestamp(_require(it, "end", where), f"{where}.end")
        if i_end <= i_start:
            raise CaseError(f"{where}: el fin debe ser posterior al inicio")
        entity = it.get("entity_ruc")
        if attributable == "entidad" and not entity:
            raise CaseError(f"{where}.entity_ruc: una interrupción atribuible a la entidad indica la entidad")
        interruptions.append(Interruption(i_start, i_end, attributable, entity, str(it.get("cause", ""))))

    service_days = tally_service_days(segments, surveys, limits, calendar, interruptions)
    working = calendar.working_days(start, end)
    entity_days = _entity_days(assignments, clock_ins, interruptions, calendar, working, tolerance, tolerances)
    results = period_results(targets, service_days, entity_days, working)
    return {"results": [
        {"entity_ruc": r.entity, "indicator": r.indicator,
         "value": None if r.measure.value is None else str(r.measure.value),
         "numerator": r.measure.numerator, "denominator": r.measure.denominator,
         "target": str(r.target.target), "status": r.status}
        for r in results
    ]}


def _entity_days(assignments: list[tuple[str, str, date, date | None]], clock_ins: list[ClockIn],
                 interruptions: list[Interruption], calendar: Calendar, working: list[date], tolerance: int,
                 tolerances: dict[str, int]) -> dict:
    """Per (entity, day) module and interruption tallies, each day with the modules assigned that day and
    each entity with its own tolerance (as the platform's daily rollups do)."""
    clock_by_entity: dict[str, list[ClockIn]] = defaultdict(list)
    for c in clock_ins:
        clock_by_entity[c.entity].append(c)
    entities = {ruc for ruc, _m, _f, _t in assignments} | {
        i.entity for i in interruptions if i.attributable_to == "entidad" and i.entity is not None}
    out: dict = {}
    for entity in entities:
        own = [i for i in interruptions if i.entity is None or i.entity == entity]
        for day in working:
            assigned = [(entity, code) for ruc, code, valid_from, valid_to in assignments
                        if ruc == entity and valid_from <= day and (valid_to is None or valid_to >= day)]
            tallies = tally_entity_days(assigned, clock_by_entity.get(entity, ()), own, calendar, day, day,
                                        tolerances.get(entity, tolerance))
            if (entity, day) in tallies:
                out[(entity, day)] = tallies[(entity, day)]
    return out
