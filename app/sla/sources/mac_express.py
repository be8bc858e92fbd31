"""MAC Express attention records (pure): reading them, checking them, and their own indicators.

A MAC Express point has no queue. An advisor registers the citizen (``REGISTRADA``), starts the attention and
selects the entity and its digital service (``EN_SELECCION``), and the citizen is served in the entity's
digital service, from which they come back (``EN_SERVICIO``); the attention then ends. Each record carries
``fecha_registro``, ``fecha_inicio_atencion``, ``fecha_seleccion_entidad``, ``fecha_seleccion_servicio``,
``fecha_salida_servicio``, ``fecha_retorno_servicio`` and ``fecha_fin_atencion``, each after the one before
(when present). Timestamps are ISO-8601 with an offset, or ``aaaa-mm-dd HH:MM:SS`` in the point's local time
(America/Lima).

Indicators, per entity (the one selected) and period, over the attentions registered on those days:

``registro_inicio``
    minutes from registration to the start of the attention (how long the citizen waited for the advisor);
``servicio_digital``
    minutes in the entity's digital service (``fecha_retorno_servicio − fecha_salida_servicio``);
``total``
    minutes from registration to the end of the attention.

Each is given as the number of attentions measured, the mean and the median, in minutes rounded half-up to
one decimal (Decimal, never float). An attention counts for an indicator only when both of its moments are
known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from app.sla.sources.common import LIMA, cell_text, normalise, parse_local_timestamp

STATES = ("REGISTRADA", "EN_SELECCION", "EN_SERVICIO")
MOMENTS = ("fecha_registro", "fecha_inicio_atencion", "fecha_seleccion_entidad", "fecha_seleccion_servicio",
           "fecha_salida_servicio", "fecha_retorno_servicio", "fecha_fin_atencion")
COLUMNS = ("atencion", "ruc_entidad", "servicio", "asesor", "estado", *MOMENTS)
REQUIRED = ("atencion", "estado", "fecha_registro")
MAX_RECORDS = 50_000
INDICATORS = {
    "registro_inicio": ("fecha_registro", "fecha_inicio_atencion", "Registro → inicio de la atención"),
    "servicio_digital": ("fecha_salida_servicio", "fecha_retorno_servicio", "En el servicio digital de la entidad"),
    "total": ("fecha_registro", "fecha_fin_atencion", "Tiempo total"),
}
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class ExpressRecord:
    attention_id: str
    state: str
    moments: dict[str, datetime | None]
    ruc: str | None = None
    service: str | None = None
    advisor: str | None = None


@dataclass
class Checked:
    records: list[tuple[int, ExpressRecord]] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)


def check(rows: Iterable[tuple[int, Mapping[str, object]]], services: set[tuple[str, str]]) -> Checked:
    """Rows (line, column → value) checked against the point's (RUC, service code) pairs."""
    out = Checked()
    rucs = {r for r, _s in services}
    seen: dict[str, int] = {}
    for line, row in rows:
        errors = out.errors
        before = len(errors)

        def err(column: str, reason: str) -> None:
            errors.append((line, column, reason))  # noqa: B023

        unknown = [k for k in row if k not in COLUMNS]
        if unknown:
            err(unknown[0], f"Campo desconocido: {unknown[0]}.")
            continue
        attention = cell_text(row.get("atencion"))
        if not attention:
            err("atencion", "Falta el identificador de la atención.")
        elif len(attention) > 40:
            err("atencion", "El identificador tiene más de 40 caracteres.")
        state = cell_text(row.get("estado")).upper().replace(" ", "_").replace("Ó", "O")
        if state not in STATES:
            err("estado", f"«{cell_text(row.get('estado'))}» no es un estado ({', '.join(STATES)}).")
        moments: dict[str, datetime | None] = {}
        for column in MOMENTS:
            text = cell_text(row.get(column))
            if not text:
                moments[column] = None
                continue
            moment = parse_local_timestamp(text, LIMA)
            if moment is None:
                err(column, f"«{text}» no es una fecha y hora (aaaa-mm-dd HH:MM:SS o ISO-8601).")
            moments[column] = moment
        if moments.get("fecha_registro") is None and not any(e[1] == "fecha_registro" for e in errors[before:]):
            err("fecha_registro", "Falta la fecha de registro.")
        previous = None
        for column in MOMENTS:
            moment = moments.get(column)
            if moment is None:
                continue
            if previous is not None and moment < moments[previous]:
                err(column, f"{column} es anterior a {previous}.")
            previous = column
        ruc, service = cell_text(row.get("ruc_entidad")) or None, cell_text(row.get("servicio")) or None
        if state in ("EN_SELECCION", "EN_SERVICIO") and moments.get("fecha_inicio_atencion") is None:
            err("fecha_inicio_atencion", f"Una atención {state} necesita la fecha de inicio de la atención.")
        if state == "EN_SERVICIO":
            if not ruc:
                err("ruc_entidad", "Una atención EN_SERVICIO necesita la entidad seleccionada.")
            if not service:
                err("servicio", "Una atención EN_SERVICIO necesita el servicio seleccionado.")
        if ruc and ruc not in rucs:
            err("ruc_entidad", f"La entidad con RUC {ruc} no ofrece servicios en este punto.")
        elif ruc and service and (ruc, service) not in services:
            err("servicio", f"El servicio «{service}» no es de esa entidad en este punto.")
        elif service and not ruc:
            err("ruc_entidad", "Indique la entidad del servicio.")
        advisor = cell_text(row.get("asesor")) or None
        if advisor and len(advisor) > 40:
            err("asesor", "El asesor tiene más de 40 caracteres.")
        if len(errors) > before:
            continue
        if attention in seen:
            # The same attention twice in one file: the later line wins, as in the ticket ingest.
            out.records = [(n, r) for n, r in out.records if r.attention_id != attention]
        seen[attention] = line
        out.records.append((line, ExpressRecord(attention, state, moments, ruc, service, advisor)))
    return out


def csv_dicts(rows: Iterable[tuple[int, list[object]]]) -> Iterable[tuple[int, dict[str, object]]]:
    """A CSV's rows (header first) as (line, column → value); the header's names normalised."""
    rows = iter(rows)
    try:
        _line, header = next(rows)
    except StopIteration:
        return
    names = [normalise(cell_text(c)).replace(" ", "_") for c in header]
    for line, cells in rows:
        if not any(cell_text(c) for c in cells):
            continue
        yield line, {name: (cells[i] if i < len(cells) else None) for i, name in enumerate(names) if name}


# ------------------------------------------------------------------------------------------ indicators ---


@dataclass(frozen=True)
class Stat:
    count: int
    mean_minutes: Decimal | None
    median_minutes: Decimal | None


@dataclass(frozen=True)
class Attention:
    """What the indicators need of a stored record."""

    entity: object
    moments: Mapping[str, datetime | None]


def _minutes(seconds: Decimal) -> Decimal:
    return (seconds / 60).quantize(TENTH, rounding=ROUND_HALF_UP)


def stat(durations: list[int]) -> Stat:
    """``durations`` in whole seconds."""
    if not durations:
        return Stat(0, None, None)
    total = Decimal(sum(durations))
    return Stat(len(durations), _minutes(total / len(durations)), _minutes(Decimal(median(durations))))


def indicators(attentions: Iterable[Attention]) -> dict[object, dict[str, Stat]]:
    """Per entity (None: no entity selected yet): each indicator's count, mean and median."""
    durations: dict[object, dict[str, list[int]]] = defaultdict(lambda: {k: [] for k in INDICATORS})
    counted: dict[object, int] = defaultdict(int)
    for a in attentions:
        counted[a.entity] += 1
        for name, (start, end, _label) in INDICATORS.items():
            lo, hi = a.moments.get(start), a.moments.get(end)
            if lo is not None and hi is not None:
                durations[a.entity][name].append(int((hi - lo).total_seconds()))
    return {entity: {name: stat(durations[entity][name]) for name in INDICATORS} for entity in counted}
