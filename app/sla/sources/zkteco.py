"""Clock-ins from ZKTeco biometric clocks (pure): the punches, and the module each one is a clock-in of.

Two inputs are read, told apart by their first line:

* a CSV export of the attendance database's ``iclock_transaction`` table (ZKBioTime / BioTime): a header
  with at least ``emp_code`` and ``punch_time`` (other columns such as ``id``, ``punch_state``,
  ``verify_type``, ``terminal_sn`` are ignored); ``punch_time`` as ``aaaa-mm-dd HH:MM:SS``, with an offset
  when the export has one, else the centre's local time;
* the clock's own attendance log file (``attlog.dat``, downloaded from the device): one punch per line,
  tab-separated: user id (often right-aligned with spaces), ``aaaa-mm-dd HH:MM:SS`` in the clock's local time,
  then the in/out state, the verification mode, the work code and reserved fields.

Every punch counts (the first of the day is what punctuality uses, whatever its in/out state: clocks are
often left in the wrong state).

Which module a punch is for: the advisor's assignment in force that day. An *itinerante* assignment wins on
its days: it replaces the advisor's fixed module, and the module's fixed advisors do not clock in for that
module on those days (their punch is reported, not counted). A punch by an unknown employee code, or on a
day without an assignment, is reported (``sin_mapeo``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.errors import ValidationFailed
from app.sla.sources.common import LIMA, cell_text, csv_rows, decode_text, normalise, parse_local_timestamp

MAX_PUNCHES = 200_000


@dataclass(frozen=True)
class Punch:
    line: int
    employee: str
    at: datetime


@dataclass(frozen=True)
class AdvisorRef:
    code: str
    ruc: str


@dataclass(frozen=True)
class Assignment:
    advisor: str  # employee code
    module: str
    kind: str  # fijo | itinerante
    valid_from: date
    valid_to: date | None = None

    def in_force(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass
class Punches:
    punches: list[Punch] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    read: int = 0
    layout: str = ""  # iclock_transaction | attlog


def read_punches(data: bytes, zone: ZoneInfo = LIMA) -> Punches:
    """The punches of an ``iclock_transaction`` CSV or an ``attlog`` file, with the lines that are not."""
    text = decode_text(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "emp_code" in first.lower():
        return _iclock(data, zone)
    return _attlog(text, zone)


def _iclock(data: bytes, zone: ZoneInfo) -> Punches:
    out = Punches(layout="iclock_transaction")
    rows = iter(csv_rows(data))
    _line, header = next(rows)
    names = [normalise(c).replace(" ", "_") for c in header]
    missing = [c for c in ("emp_code", "punch_time") if c not in names]
    if missing:
        raise ValidationFailed("No es una exportación de iclock_transaction: faltan las columnas "
                               + ", ".join(missing) + ".", field="archivo")
    code_at, time_at = names.index("emp_code"), names.index("punch_time")
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        out.read += 1
        if out.read > MAX_PUNCHES:
            raise ValidationFailed(f"El archivo tiene más de {MAX_PUNCHES:,} marcaciones; divídalo."
                                   .replace(",", "."), field="archivo")
        code = cell_text(cells[code_at]) if code_at < len(cells) else ""
        raw = cell_text(cells[time_at]) if time_at < len(cells) else ""
        _add(out, line, code, raw, "emp_code", "punch_time", zone)
    return out


def _attlog(text: str, zone: ZoneInfo) -> Punches:
    out = Punches(layout="attlog")
    for line, content in enumerate(text.splitlines(), start=1):
        if not content.strip():
            continue
        out.read += 1
        if out.read > MAX_PUNCHES:
            raise ValidationFailed(f"El archivo tiene más de {MAX_PUNCHES:,} marcaciones; divídalo."
                                   .replace(",", "."), field="archivo")
        fields = content.split("\t")
        if len(fields) < 2:
            out.errors.append((line, "linea", "No es una línea del registro de asistencia (usuario, tabulador, "
                                              "fecha y hora, …)."))
            continue
        _add(out, line, fields[0].strip(), fields[1].strip(), "usuario", "fecha_hora", zone)
    return out


def _add(out: Punches, line: int, code: str, raw: str, code_field: str, time_field: str, zone: ZoneInfo) -> None:
    if not code:
        out.errors.append((line, code_field, "Falta el código del empleado."))
        return
    if len(code) > 40:
        out.errors.append((line, code_field, "El código del empleado tiene más de 40 caracteres."))
        return
    moment = parse_local_timestamp(raw, zone)
    if moment is None:
        out.errors.append((line, time_field, f"«{raw}» no es una fecha y hora aaaa-mm-dd HH:MM:SS."))
        return
    out.punches.append(Punch(line, code, moment))


@dataclass
class Resolved:
    records: list[tuple] = field(default_factory=list)  # app.sla.ingest.CLOCK_INS records
    unmapped: list[tuple[int, str, str]] = field(default_factory=list)
    placed: dict[tuple[str, datetime], str | None] = field(default_factory=dict)  # known advisor's punch → module


def module_of(advisor: str, day: date, assignments: Iterable[Assignment]) -> tuple[str | None, str]:
    """The module an advisor clocks in for on ``day`` and, when none, why (Spanish)."""
    assignments = list(assignments)
    own = [a for a in assignments if a.advisor == advisor and a.in_force(day)]
    roving = sorted((a for a in own if a.kind == "itinerante"), key=lambda a: a.valid_from)
    if roving:
        return roving[-1].module, ""
    fixed = sorted((a for a in own if a.kind == "fijo"), key=lambda a: a.valid_from)
    if not fixed:
        return None, f"El asesor {advisor} no tiene módulo asignado el {day:%d/%m/%Y}."
    module = fixed[-1].module
    cover = next((a for a in assignments if a.kind == "itinerante" and a.module == module and a.advisor != advisor
                  and a.in_force(day)), None)
    if cover is not None:
        return None, (f"El {day:%d/%m/%Y} el módulo {module} lo atiende el asesor itinerante {cover.advisor}; la "
                      f"marcación de {advisor} no cuenta para el módulo.")
    return module, ""


def resolve(punches: Iterable[Punch], advisors: dict[str, AdvisorRef], assignments: Iterable[Assignment],
            zone: ZoneInfo = LIMA) -> Resolved:
    """Each punch as a clock-in of the module its advisor is assigned to that (local) day."""
    out = Resolved()
    assignments = list(assignments)
    known: dict[tuple[str, date], tuple[str | None, str]] = {}  # one look-up per advisor and day
    for p in punches:
        advisor = advisors.get(p.employee)
        if advisor is None:
            out.unmapped.append((p.line, "emp_code", f"El código de empleado {p.employee} no es de ningún asesor "
                                                     "registrado en este centro."))
            continue
        day = p.at.astimezone(zone).date()
        if (p.employee, day) not in known:
            known[(p.employee, day)] = module_of(p.employee, day, assignments)
        module, why = known[(p.employee, day)]
        out.placed[(p.employee, p.at)] = module
        if module is None:
            out.unmapped.append((p.line, "modulo", why))
            continue
        out.records.append((p.line, advisor.ruc, module, advisor.code, p.at.isoformat()))
    return out
