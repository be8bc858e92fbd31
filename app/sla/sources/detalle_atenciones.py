"""The national «detalle de atenciones» export (CSV or XLSX, 18 columns), read into ticket segments (pure).

Columns (header row; names compared without case, accents or punctuation): IDENTIFICADOR UNICO, NOMBRE MAC,
NOMBRE ENTIDAD, SERVICIO, HORA DE LLEGADA, HORA DE LLAMADO, TIEMPO ESPERA, HORA INICIO, TIEMPO PROMEDIO,
FIN DE ATENCION, TIEMPO TOTAL, N° DE MODULO, NUMERO DE TICKET, ESTADO ATENCION, FECHA, MODALIDAD,
TIPO DE ATENCION, N° DE DOCUMENTO.

Rules:

* FECHA is ``dd/mm/aaaa`` or ``aaaa-mm-dd``; the hours are ``HH:MM:SS`` local time of the centre
  (America/Lima).
* The durations are recomputed from the hours and compared with the file's: TIEMPO ESPERA = llamado −
  llegada, TIEMPO PROMEDIO = fin − inicio (the attention), TIEMPO TOTAL = fin − llegada. A difference of more
  than one second is reported as a warning; the hours are what is stored.
* NOMBRE ENTIDAD + SERVICIO are matched to the centre's entity services by name (the entity's name or short
  name; the service's name or code), normalised. A row whose pair is not found is not imported (``sin_mapeo``)
  and is listed.
* ESTADO ATENCION, with the Novo SGA meaning of each label: «En espera», «Llamando» and «Atención Iniciada»
  are still open and not imported (``abiertos``: a later export brings them closed); «Atención Cerrada» is
  attended (its end when the file has one: without it the segment counts for waiting, not for attention
  time); «Terminado» is attended; «Abandono» is abandoned (its call kept, no start or end); «Cancelado» is
  not imported (``cancelados``); «Error de selección» is a transferred segment: the next row of the same
  ticket number that day continues the ticket as its next segment (its waiting restarts at its own arrival).
* A ticket is identified by the day and its ticket number (``20250303-A001``); if the number comes back
  that day without a transfer before it, that is another ticket (``20250303-A001-2``).
* NOMBRE MAC must be the centre's (normalised, with or without «Centro MAC»).
* N° DE DOCUMENTO (the citizen's DNI) is never read into anything: not stored, not in a message.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from app.errors import ValidationFailed
from app.sla.sources.common import (
    RowWarning,
    cell_text,
    format_duration,
    local_moment,
    normalise,
    parse_clock,
    parse_day,
    parse_duration,
)

COLUMNS = ("IDENTIFICADOR UNICO", "NOMBRE MAC", "NOMBRE ENTIDAD", "SERVICIO", "HORA DE LLEGADA",
           "HORA DE LLAMADO", "TIEMPO ESPERA", "HORA INICIO", "TIEMPO PROMEDIO", "FIN DE ATENCION", "TIEMPO TOTAL",
           "N° DE MODULO", "NUMERO DE TICKET", "ESTADO ATENCION", "FECHA", "MODALIDAD", "TIPO DE ATENCION",
           "N° DE DOCUMENTO")
REQUIRED = ("NOMBRE ENTIDAD", "SERVICIO", "HORA DE LLEGADA", "NUMERO DE TICKET", "ESTADO ATENCION", "FECHA")
KEYS = {normalise(c): c for c in COLUMNS}

# ESTADO ATENCION → what the row becomes (None: not imported), by normalised label.
OPEN, CANCELLED = "abierto", "cancelado"
STATES = {
    "en espera": OPEN, "llamando": OPEN, "atencion iniciada": OPEN,
    "atencion cerrada": "atendido", "terminado": "atendido", "abandono": "abandonado",
    "cancelado": CANCELLED, "error de seleccion": "derivado",
}
STATE_LABELS = ("En espera", "Llamando", "Atención Iniciada", "Atención Cerrada", "Abandono", "Cancelado",
                "Error de selección", "Terminado")
MISMATCH_SECONDS = 1


@dataclass(frozen=True)
class ServiceRef:
    ruc: str
    code: str


@dataclass
class Catalogue:
    """The centre's entity services by normalised (entity name, service name)."""

    centre_names: set[str]
    services: dict[tuple[str, str], ServiceRef]
    _known: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def build(cls, centre_name: str, centre_code: str,
              services: Iterable[tuple[str, str, str, str, str]]) -> Catalogue:
        """``services``: (entity RUC, entity name, entity short name, service code, service name)."""
        names = {normalise(centre_name), normalise(centre_code)}
        for prefix in ("centro mac ", "mac "):
            names |= {n[len(prefix):] for n in list(names) if n.startswith(prefix)}
        by_name: dict[tuple[str, str], ServiceRef] = {}
        for ruc, name, short, code, service_name in services:
            for e in {normalise(name), normalise(short), ruc}:
                for sv in {normalise(service_name), normalise(code)}:
                    by_name.setdefault((e, sv), ServiceRef(ruc, code))
        return cls(names, by_name)

    def is_centre(self, name: str) -> bool:
        if name in self._known:
            return self._known[name]
        n = normalise(name)
        self._known[name] = n in self.centre_names or any(n == f"{p}{c}" for c in self.centre_names
                                                            for p in ("centro mac ", "mac "))
        return self._known[name]



@dataclass
class Parsed:
    records: list[tuple] = field(default_factory=list)  # app.sla.ingest.TICKETS records
    errors: list = field(default_factory=list)  # (line, field, reason)
    warnings: list[RowWarning] = field(default_factory=list)
    read: int = 0
    open: int = 0
    cancelled: int = 0
    unmapped: int = 0


def header_index(cells: list[object]) -> dict[str, int]:
    """Column → position; refuses a header without the required columns (named in the message)."""
    index: dict[str, int] = {}
    for i, cell in enumerate(cells):
        key = KEYS.get(normalise(cell_text(cell)))
        if key and key not in index:
            index[key] = i
    missing = [c for c in REQUIRED if c not in index]
    if missing:
        raise ValidationFailed("No es un «detalle de atenciones»: faltan las columnas " + ", ".join(missing) + ".",
                               field="archivo",
                               errors=[{"linea": 1, "campo": "encabezado", "mensaje": "faltan " + ", ".join(missing)}])
    return index


@dataclass
class _Row:
    line: int
    ident: str
    day: date
    ticket: str
    arrival: datetime
    called: datetime | None
    started: datetime | None
    ended: datetime | None
    module: str
    outcome: str  # atendido | abandonado | derivado | abierto | cancelado
    service: ServiceRef | None


def parse(rows: Iterable[tuple[int, list[object]]], catalogue: Catalogue) -> Parsed:
    """The export's rows (header first) as ticket records for the ingest, with the rows that cannot be."""
    out = Parsed()
    rows = iter(rows)
    try:
        _line, header = next(rows)
    except StopIteration:
        raise ValidationFailed("El archivo está vacío.", field="archivo") from None
    index = header_index(header)

    def cell(cells: list[object], column: str) -> object:
        i = index.get(column)
        return cells[i] if i is not None and i < len(cells) else None

    good: list[_Row] = []
    for line, cells in rows:
        if not any(cell_text(c) for c in cells):
            continue  # blank line
        out.read += 1
        row = _read_row(line, cells, cell, catalogue, out)
        if row is not None:
            good.append(row)
    _segments(good, out)
    return out


def _read_row(line: int, cells: list[object], cell, catalogue: Catalogue, out: Parsed) -> _Row | None:  # noqa: ANN001
    def reject(column: str, reason: str) -> None:
        out.errors.append((line, column, reason))

    state_text = cell_text(cell(cells, "ESTADO ATENCION"))
    outcome = STATES.get(normalise(state_text))
    if outcome is None:
        reject("ESTADO ATENCION", f"«{state_text}» no es un estado conocido ({', '.join(STATE_LABELS)}).")
        return None
    mac = cell_text(cell(cells, "NOMBRE MAC"))
    if mac and not catalogue.is_centre(mac):
        reject("NOMBRE MAC", f"La fila es del centro «{mac}», no de este.")
        return None
    day_value = cell(cells, "FECHA")
    day = parse_day(day_value)
    if day is None:
        reject("FECHA", f"«{cell_text(day_value)}» no es una fecha dd/mm/aaaa ni aaaa-mm-dd.")
        return None
    ticket = cell_text(cell(cells, "NUMERO DE TICKET"))
    if not ticket:
        reject("NUMERO DE TICKET", "Falta el número de ticket.")
        return None
    if len(ticket) > 24:
        reject("NUMERO DE TICKET", "El número de ticket tiene más de 24 caracteres.")
        return None
    moments: dict[str, datetime | None] = {}
    for column in ("HORA DE LLEGADA", "HORA DE LLAMADO", "HORA INICIO", "FIN DE ATENCION"):
        raw = cell(cells, column)
        text = cell_text(raw)
        if not text or text in ("-", "--"):
            moments[column] = None
            continue
        clock = parse_clock(raw)
        if clock is None:
            reject(column, f"«{text}» no es una hora HH:MM:SS.")
            return None
        moments[column] = local_moment(day, clock)
    if moments["HORA DE LLEGADA"] is None:
        reject("HORA DE LLEGADA", "Falta la hora de llegada.")
        return None
    if outcome == OPEN:
        out.open += 1
        service = None
    elif outcome == CANCELLED:
        out.cancelled += 1
        service = None
    else:
        entity_name = cell_text(cell(cells, "NOMBRE ENTIDAD"))
        service_name = cell_text(cell(cells, "SERVICIO"))
        service = catalogue.services.get((normalise(entity_name), normalise(service_name)))
        if service is None:
            out.unmapped += 1
            reject("SERVICIO", f"El servicio «{service_name}» de «{entity_name}» no corresponde a ningún servicio "
                               "de las entidades de este centro.")
            return None
    arrival, called = moments["HORA DE LLEGADA"], moments["HORA DE LLAMADO"]
    started, ended = moments["HORA INICIO"], moments["FIN DE ATENCION"]
    if outcome == "abandonado":
        started = ended = None  # an absent citizen was called, never served
    _compare_durations(line, cells, cell, arrival, called, started, ended, out)
    return _Row(line, cell_text(cell(cells, "IDENTIFICADOR UNICO")), day, ticket, arrival, called, started, ended,
                cell_text(cell(cells, "N° DE MODULO")), outcome, service)


def _compare_durations(line: int, cells: list[object], cell, arrival: datetime, called: datetime | None,  # noqa: ANN001
                       started: datetime | None, ended: datetime | None, out: Parsed) -> None:
    for column, lo, hi, label in (("TIEMPO ESPERA", arrival, called, "HORA DE LLAMADO − HORA DE LLEGADA"),
                                  ("TIEMPO PROMEDIO", started, ended, "FIN DE ATENCION − HORA INICIO"),
                                  ("TIEMPO TOTAL", arrival, ended, "FIN DE ATENCION − HORA DE LLEGADA")):
        raw = cell(cells, column)
        if not cell_text(raw) or lo is None or hi is None:
            continue
        given = parse_duration(raw)
        computed = hi - lo
        if given is None:
            out.warnings.append(RowWarning(line, column, f"«{cell_text(raw)}» no es una duración HH:MM:SS; se "
                                                         f"usan las horas ({format_duration(computed)})."))
        elif abs((given - computed).total_seconds()) > MISMATCH_SECONDS:
            out.warnings.append(RowWarning(line, column, f"El archivo dice {format_duration(given)} y las horas "
                                                         f"dan {format_duration(computed)} ({label}); se usan las "
                                                         "horas."))


def _segments(rows: list[_Row], out: Parsed) -> None:
    """Rows of one ticket number on one day, in arrival order: a row continues the ticket when the row before
    it was a transfer (Error de selección); otherwise it starts another ticket with that number."""
    by_ticket: dict[tuple[date, str], list[_Row]] = defaultdict(list)
    for row in rows:
        by_ticket[(row.day, row.ticket)].append(row)
    for (day, number), group in by_ticket.items():
        group.sort(key=lambda r: (r.arrival, r.ident, r.line))
        chain, segment, previous = 0, 0, None
        for row in group:
            if previous is None or previous.outcome != "derivado":
                chain += 1
                segment = 1
            else:
                segment += 1
            previous = row
            if row.outcome in (OPEN, CANCELLED):
                continue
            if segment > 99:
                out.errors.append((row.line, "NUMERO DE TICKET", "El ticket tiene más de 99 derivaciones."))
                continue
            ticket_id = f"{day:%Y%m%d}-{number}" + (f"-{chain}" if chain > 1 else "")
            assert row.service is not None
            out.records.append((row.line, ticket_id, str(segment), row.service.ruc, row.service.code,
                                row.module or None, None, row.arrival.isoformat(),
                                row.called.isoformat() if row.called else None,
                                row.started.isoformat() if row.started else None,
                                row.ended.isoformat() if row.ended else None, row.outcome))
