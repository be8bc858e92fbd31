"""Novo SGA 1.x / 2.x semantics: what a row of ``atendimentos`` (today) or ``historico_atendimentos``
(archived by the daily reset) becomes on the platform. Pure: no database, no network.

| 1.x | 2.x              | live table            | archived                                   |
|-----|------------------|-----------------------|--------------------------------------------|
| 1   | emitida          | open (not imported)   | ``abandoned``, never called                |
| 2   | chamado          | open                  | ``abandoned``, ``called_at`` kept          |
| 3   | iniciado         | open                  | ``attended`` with no end                   |
| 4   | encerrado        | ``attended``, end = ``dt_fim`` when written (1.x never writes it)  |
| 5   | nao_compareceu   | ``abandoned`` (``called_at`` kept); a reactivation (5 → 1 → …) updates it |
| 6   | cancelada        | not imported, counted as cancelled                                 |
| 7   | erro_triagem     | segment *n*, ``transferred``; its child row (``atendimento_id``) is *n+1* |
| 8   | (codificado)     | ``attended``                                                       |

An ``abandoned`` segment keeps only ``issued_at`` and ``called_at``. Ids are not unique (the live table's
auto-increment may restart after the reset), so a row is identified by (source, unidade_id, id, dt_cheg), and
a ticket by its first row's identity. Citizen data (``nm_cli``, ``ident_cli``, ``clientes``) is never read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

STATUS_NAMES = {1: "emitida", 2: "chamado", 3: "iniciado", 4: "encerrado", 5: "nao_compareceu", 6: "cancelada",
                7: "erro_triagem", 8: "codificado"}
STATUS_CODES = {name: code for code, name in STATUS_NAMES.items()}
STATUS_LABELS = {"emitida": "emitida", "chamado": "llamada", "iniciado": "iniciada", "encerrado": "cerrada",
                 "nao_compareceu": "no se presentó", "cancelada": "cancelada", "erro_triagem": "derivada",
                 "codificado": "codificada"}
OUTCOME_WORDS = {"attended": "atendido", "abandoned": "abandonado", "transferred": "derivado"}

# What happens to a row: imported as a segment, or counted only.
OPEN, CANCELLED, UNMAPPED, REJECTED, SEGMENT = "abierto", "cancelado", "sin_mapeo", "rechazado", "segmento"


@dataclass(frozen=True)
class NovoRow:
    """The columns the connector reads of one row (never the citizen's name or document)."""

    live: bool  # True: ``atendimentos``; False: ``historico_atendimentos``
    id: int
    unidade_id: int | None
    servico_id: int
    parent_id: int | None  # ``atendimento_id``: the row this one continues after a redirection
    status: str  # a name of STATUS_NAMES (2.x spells them; 1.x codes are translated by :func:`status_name`)
    ticket_number: int
    arrived: datetime  # dt_cheg, naive, source-local
    called: datetime | None
    started: datetime | None
    ended: datetime | None
    module: int | None  # num_local
    user_id: int | None

    @property
    def table(self) -> str:
        return "atendimentos" if self.live else "historico_atendimentos"

    def describe(self) -> str:
        """How the coordinator finds the row in Novo (no citizen data)."""
        return f"{self.table} id {self.id} (unidad {self.unidade_id}, llegada {self.arrived:%Y-%m-%d %H:%M:%S})"


@dataclass(frozen=True)
class Target:
    """The entity's service a Novo service stands for."""

    ruc: str
    service_code: str


@dataclass(frozen=True)
class Segment:
    row: NovoRow
    ticket_id: str
    segment: int
    target: Target
    outcome: str  # attended, abandoned, transferred
    issued_at: datetime
    called_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True)
class Verdict:
    row: NovoRow
    what: str  # OPEN, CANCELLED, UNMAPPED, REJECTED or SEGMENT
    segment: Segment | None = None
    reason: str = ""
    field: str = "atendimento_id"  # the Novo column a rejection is about


def status_name(value: int | str) -> str | None:
    """A 1.x code (1–8) or a 2.x name, as the 2.x name; None when it is neither."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return STATUS_NAMES.get(int(value))
    name = str(value).strip().lower()
    return name if name in STATUS_CODES else None


def row_key(source_tag: str, row: NovoRow) -> str:
    """The ticket id of a ticket whose first row is ``row``: (source, unidade, id, dt_cheg), ≤ 40 chars."""
    return f"{source_tag}:{row.unidade_id or 0}:{row.id}:{row.arrived:%Y%m%d%H%M%S}"


def _parent_of(row: NovoRow, by_id: dict[tuple[int | None, int], list[NovoRow]]) -> NovoRow | None:
    """The redirected row this one continues: same unidade, day and ticket number, status erro_triagem, arrived
    no later than the child (ids collide after a reset, so the id alone is not enough)."""
    if row.parent_id is None:
        return None
    candidates = [p for p in by_id.get((row.unidade_id, row.parent_id), ())
                  if p is not row and p.arrived <= row.arrived and p.arrived.date() == row.arrived.date()
                  and p.ticket_number == row.ticket_number]
    if not candidates:
        return None
    transferred = [p for p in candidates if p.status == "erro_triagem"] or candidates
    return max(transferred, key=lambda p: p.arrived)


def interpret(rows: Iterable[NovoRow], *, source_tag: str, zone: ZoneInfo,
              resolve: Callable[[int, date], Target | None]) -> list[Verdict]:
    """Every row's verdict, in the order given. ``resolve(servico_id, local day)`` is the mapping in force."""
    rows = list(rows)
    by_id: dict[tuple[int | None, int], list[NovoRow]] = {}
    for row in rows:
        by_id.setdefault((row.unidade_id, row.id), []).append(row)

    chain_cache: dict[int, tuple[NovoRow, int] | None] = {}

    def root_and_depth(row: NovoRow) -> tuple[NovoRow, int] | None:
        key = id(row)
        if key in chain_cache:
            return chain_cache[key]
        chain_cache[key] = None  # guards a cycle in corrupt data
        if row.parent_id is None:
            found: tuple[NovoRow, int] | None = (row, 1)
        else:
            parent = _parent_of(row, by_id)
            up = root_and_depth(parent) if parent is not None else None
            found = (up[0], up[1] + 1) if up is not None else None
        chain_cache[key] = found
        return found

    verdicts = []
    for row in rows:
        status = row.status
        if status not in STATUS_CODES:
            verdicts.append(Verdict(row, REJECTED, reason=f"Estado «{status.removeprefix('desconocido:')}» "
                                                          f"desconocido en Novo SGA: ¿la versión configurada es la "
                                                          f"correcta?", field="status"))
            continue
        if status == "cancelada":
            verdicts.append(Verdict(row, CANCELLED))
            continue
        if row.live and status in ("emitida", "chamado", "iniciado"):
            verdicts.append(Verdict(row, OPEN))
            continue
        target = resolve(row.servico_id, row.arrived.date())
        if target is None:
            verdicts.append(Verdict(row, UNMAPPED, reason=f"El servicio {row.servico_id} de Novo no está mapeado "
                                                          f"a un servicio de una entidad."))
            continue
        chain = root_and_depth(row)
        if chain is None:
            verdicts.append(Verdict(row, REJECTED, reason=f"Continúa la atención {row.parent_id} derivada, que no "
                                                          f"está entre las filas leídas."))
            continue
        root, depth = chain
        if depth > 99:
            verdicts.append(Verdict(row, REJECTED, reason="La atención tiene más de 99 derivaciones."))
            continue
        issued = row.arrived.replace(tzinfo=zone)
        called = row.called.replace(tzinfo=zone) if row.called is not None else None
        started = row.started.replace(tzinfo=zone) if row.started is not None else None
        ended = row.ended.replace(tzinfo=zone) if row.ended is not None else None
        if status in ("emitida", "chamado", "nao_compareceu"):
            outcome, started, ended = "abandoned", None, None
            if status == "emitida":
                called = None
        elif status == "erro_triagem":
            outcome = "transferred"
        else:  # iniciado (archived), encerrado, codificado
            outcome = "attended"
        verdicts.append(Verdict(row, SEGMENT, Segment(row, row_key(source_tag, root), depth, target, outcome,
                                                      issued, called, started, ended)))
    return verdicts


def segment_record(line: int, seg: Segment, module_codes: frozenset[str]) -> tuple:
    """A COPY record of app.sla.ingest's ``atenciones`` kind (times as ISO-8601 with their offset)."""
    module = str(seg.row.module) if seg.row.module is not None and str(seg.row.module) in module_codes else None

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return (line, seg.ticket_id, str(seg.segment), seg.target.ruc, seg.target.service_code, module,
            str(seg.row.user_id) if seg.row.user_id is not None else None, iso(seg.issued_at), iso(seg.called_at),
            iso(seg.started_at), iso(seg.ended_at), OUTCOME_WORDS[seg.outcome])


# ------------------------------------------------------------------------------------ the source's zone ---


def share_outside_hours(arrivals_by_hour: dict[int, int], zone: ZoneInfo, opening: tuple[time, time],
                        centre_zone: ZoneInfo, on: date) -> float:
    """Share of arrivals (by the source's local hour) that fall outside the centre's opening hours once read in
    ``zone`` and shown in the centre's zone: a wrong zone shifts them all by its offset."""
    total = sum(arrivals_by_hour.values())
    if not total:
        return 0.0
    opens, closes = opening
    outside = 0
    for hour, count in arrivals_by_hour.items():
        local = datetime.combine(on, time(hour, 30), tzinfo=zone).astimezone(centre_zone).time()
        if not (opens <= local < closes):
            outside += count
    return outside / total


def window_start(watermark: datetime | None, reread_days: int, zone: ZoneInfo, first: date) -> datetime:
    """The source-local (naive) time from which archived rows are read: the local midnight ``reread_days``
    before the watermark's day (rows change after the fact; a redirection never crosses a day), or ``first``
    when nothing was read yet."""
    if watermark is None:
        return datetime.combine(first, time())
    day = watermark.astimezone(zone).date() - timedelta(days=reread_days)
    return datetime.combine(day, time())
