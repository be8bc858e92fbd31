"""Ingest of attention events: one bulk path for the API, the CSV upload and ``mac sla import``.

1. **COPY** the rows, as text, into a temporary staging table (``ON COMMIT DROP``) with their line numbers.
2. **Set-based validation** in one pass: each rule is one SQL condition over the whole staging table, and the
   timestamps are parsed once, into a typed temporary table with a ``broken`` flag per line; the broken lines
   become the row report (line, field, Spanish reason).
3. **Upsert** the good rows of the typed table into the event table with ``INSERT ... ON CONFLICT``; a row
   that is already stored with the same values is not rewritten (``WHERE ... IS DISTINCT FROM``), so
   re-sending the same events changes nothing (idempotent).
4. **Rollups** of the (entity, day) pairs touched are recomputed (:func:`app.sla.rollups.refresh`).

Everything happens in the caller's transaction: a database failure rolls the whole batch back, so nothing is
ever stored half-way. Good rows of a batch with bad rows *are* stored (that is a validation outcome, not a
failure). The staging table is temporary, so concurrent batches never see each other's rows.

Row keys (what makes a re-send "the same event"): tickets (centre, ticket, segment); clock-ins (centre,
module, advisor, time); surveys (centre, survey id); interruptions (centre, interruption id).
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.db import Database, TenantContext
from app.errors import NotFound, ValidationFailed
from app.sla import rollups
from app.sla.models import ImportBatch
from app.tenants.models import Centre

MAX_API_EVENTS = 10_000
MAX_API_BATCH_BYTES = 16 * 1024 * 1024  # 10,000 events of a few hundred bytes each, with room
MAX_CSV_BYTES = 50 * 1024 * 1024
MAX_STORED_ERRORS = 10_000


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str

    def as_dict(self) -> dict:
        return {"linea": self.line, "campo": self.field, "motivo": self.reason}


@dataclass
class IngestReport:
    total: int = 0
    stored: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    batch_id: uuid.UUID | None = None
    days_refreshed: int = 0
    touched_days: set[date] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase (benchmarks, logs)

    @property
    def rejected_lines(self) -> int:
        return len({e.line for e in self.errors})

    def add(self, other: IngestReport) -> None:
        self.total += other.total
        self.stored += other.stored
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)
        self.touched_days |= other.touched_days
        for phase, seconds in other.timings.items():
            self.timings[phase] = self.timings.get(phase, 0.0) + seconds


# ------------------------------------------------------------------------------------ kinds and rules ---


@dataclass(frozen=True)
class Kind:
    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    api_type: str  # the "tipo" of an API event
    rules: tuple[tuple[str, str, str], ...]  # (field, SQL condition true when the row is invalid, SQL reason)
    timestamps: tuple[str, ...] = ()  # columns holding timestamps (parsed once per row into t_<column>)


def _required(col: str, label: str) -> tuple[str, str, str]:
    return (col, f"coalesce(btrim(s.{col}), '') = ''", f"'Falta {label}.'")


def _maxlen(col: str, n: int) -> tuple[str, str, str]:
    return (col, f"length(btrim(s.{col})) > {n}", f"'Tiene más de {n} caracteres.'")


def _timestamp(col: str) -> tuple[str, str, str]:
    return (col, f"coalesce(btrim(s.{col}), '') <> '' AND s.t_{col} IS NULL",
            f"CASE WHEN btrim(s.{col}) ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]\\d{{2}}:\\d{{2}}(:\\d{{2}}(\\.\\d+)?)?$' "
            f"THEN format('«%s» no indica la zona horaria: agregue el desfase (p. ej. -05:00).', s.{col}) "
            f"ELSE format('«%s» no es una fecha y hora ISO-8601 válida (p. ej. 2025-03-03T09:00:00-05:00).', "
            f"s.{col}) END")


def _ts(col: str) -> str:
    return f"s.t_{col}"


def _order(before: str, after: str, reason: str) -> tuple[str, str, str]:
    cond = f"{_ts(after)} < {_ts(before)}"
    return (after, cond, f"'{reason}'")


def _not_future(col: str) -> tuple[str, str, str]:
    return (col, f"{_ts(col)} > now() + interval '10 minutes'",
            "'La fecha y hora está en el futuro.'")


# References are resolved against small temporary tables of the centre's entities, services and modules
# (built once per batch), so each rule is a hashed lookup rather than a query per row.
ENTITY_AT_CENTRE = "btrim(s.ruc_entidad) IN (SELECT ruc FROM sla_ref_services)"
RUC_RULES = (
    ("ruc_entidad", f"coalesce(btrim(s.ruc_entidad), '') <> '' AND NOT {ENTITY_AT_CENTRE}",
     "format('La entidad con RUC %s no ofrece servicios en este centro.', s.ruc_entidad)"),
    ("ruc_entidad", "CAST(:only_ruc AS text) IS NOT NULL AND coalesce(btrim(s.ruc_entidad), '') <> :only_ruc",
     "'Este cliente solo puede enviar registros de su propia entidad.'"),
)
SERVICE_RULE = (
    "servicio",
    f"coalesce(btrim(s.servicio), '') <> '' AND {ENTITY_AT_CENTRE} AND (btrim(s.ruc_entidad), btrim(s.servicio)) "
    "NOT IN (SELECT ruc, code FROM sla_ref_services)",
    "format('El servicio «%s» no es de esa entidad en este centro.', s.servicio)")
MODULE_RULE = (
    "modulo",
    "coalesce(btrim(s.modulo), '') <> '' AND btrim(s.modulo) NOT IN (SELECT code FROM sla_ref_modules)",
    "format('El módulo «%s» no existe en este centro.', s.modulo)")

TICKETS = Kind(
    "atenciones",
    ("ticket", "segmento", "ruc_entidad", "servicio", "modulo", "asesor", "emitido", "llamado", "inicio", "fin",
     "resultado"),
    ("ticket", "ruc_entidad", "servicio", "emitido", "resultado"),
    "atencion",
    (
        _required("ticket", "el número de ticket"), _maxlen("ticket", 40),
        ("segmento", "coalesce(btrim(s.segmento), '') <> '' AND btrim(s.segmento) !~ '^(0?[1-9]|[1-9][0-9])$'",
         "'El segmento debe ser un entero de 1 a 99.'"),
        _required("ruc_entidad", "el RUC de la entidad"), *RUC_RULES,
        _required("servicio", "el código del servicio"), SERVICE_RULE, MODULE_RULE, _maxlen("asesor", 40),
        _required("emitido", "la hora de emisión"), _timestamp("emitido"), _not_future("emitido"),
        _timestamp("llamado"), _timestamp("inicio"), _timestamp("fin"),
        _order("emitido", "llamado", "El llamado es anterior a la emisión."),
        _order("llamado", "inicio", "El inicio de la atención es anterior al llamado."),
        _order("inicio", "fin", "El fin de la atención es anterior a su inicio."),
        ("resultado", "coalesce(lower(btrim(s.resultado)), '') NOT IN ('atendido', 'abandonado', 'derivado')",
         "format('«%s» no es un resultado válido (atendido, abandonado o derivado).', coalesce(s.resultado, ''))"),
        # The end may be unknown (a queue system that closes without writing it): the segment then counts for
        # waiting, not for attention time.
        *[(col, f"lower(btrim(s.resultado)) IN ('atendido', 'derivado') AND coalesce(btrim(s.{col}), '') = ''",
           f"'Un ticket atendido o derivado necesita la hora de {label}.'")
          for col, label in (("llamado", "llamado"), ("inicio", "inicio"))],
    ),
    ("emitido", "llamado", "inicio", "fin"),
)
CLOCK_INS = Kind(
    "marcaciones", ("ruc_entidad", "modulo", "asesor", "hora"), ("ruc_entidad", "modulo", "asesor", "hora"),
    "marcacion",
    (
        _required("ruc_entidad", "el RUC de la entidad"), *RUC_RULES,
        _required("modulo", "el módulo"), MODULE_RULE, _required("asesor", "el asesor"), _maxlen("asesor", 40),
        _required("hora", "la hora de marcación"), _timestamp("hora"), _not_future("hora"),
    ),
    ("hora",),
)
SURVEYS = Kind(
    "encuestas", ("encuesta", "ruc_entidad", "servicio", "hora", "puntaje"),
    ("encuesta", "ruc_entidad", "servicio", "hora", "puntaje"), "encuesta",
    (
        _required("encuesta", "el identificador de la encuesta"), _maxlen("encuesta", 40),
        _required("ruc_entidad", "el RUC de la entidad"), *RUC_RULES,
        _required("servicio", "el código del servicio"), SERVICE_RULE,
        _required("hora", "la hora de la respuesta"), _timestamp("hora"), _not_future("hora"),
        ("puntaje", "coalesce(btrim(s.puntaje), '') !~ '^[1-5]$'", "'El puntaje debe ser un entero de 1 a 5.'"),
    ),
    ("hora",),
)
INTERRUPTIONS = Kind(
    "interrupciones", ("interrupcion", "ruc_entidad", "inicio", "fin", "causa", "atribuible_a"),
    ("interrupcion", "inicio", "fin", "causa", "atribuible_a"), "interrupcion",
    (
        _required("interrupcion", "el identificador de la interrupción"), _maxlen("interrupcion", 40), *RUC_RULES,
        _required("inicio", "el inicio"), _timestamp("inicio"), _required("fin", "el fin"), _timestamp("fin"),
        ("fin", f"{_ts('fin')} <= {_ts('inicio')}",
         "'El fin debe ser posterior al inicio.'"),
        _required("causa", "la causa"), _maxlen("causa", 300),
        ("atribuible_a", "coalesce(lower(btrim(s.atribuible_a)), '') NOT IN ('entidad', 'administradora')",
         "'Indique a quién es atribuible: entidad o administradora.'"),
        ("ruc_entidad", "lower(btrim(s.atribuible_a)) = 'entidad' AND coalesce(btrim(s.ruc_entidad), '') = ''",
         "'Una interrupción atribuible a la entidad debe indicar el RUC de la entidad.'"),
    ),
    ("inicio", "fin"),
)
KINDS = {k.name: k for k in (TICKETS, CLOCK_INS, SURVEYS, INTERRUPTIONS)}
API_TYPES = {k.api_type: k for k in KINDS.values()}

# ----------------------------------------------------------------------------------------- upserts ---

LOCAL_DAY = "(({col}) AT TIME ZONE 'America/Lima')::date"

UPSERTS = {
    "atenciones": """
WITH src AS (
  SELECT DISTINCT ON (btrim(s.ticket), coalesce(nullif(btrim(s.segmento), ''), '1')::smallint)
         CAST(:centre AS uuid) AS centre_id, btrim(s.ticket) AS ticket_id,
         coalesce(nullif(btrim(s.segmento), ''), '1')::smallint AS segment, e.id AS entity_id,
         btrim(s.servicio) AS service_code, nullif(btrim(s.modulo), '') AS module_code,
         nullif(btrim(s.asesor), '') AS advisor, s.t_emitido AS issued_at,
         s.t_llamado AS called_at, s.t_inicio AS started_at,
         s.t_fin AS ended_at,
         CASE lower(btrim(s.resultado)) WHEN 'atendido' THEN 'attended' WHEN 'abandonado' THEN 'abandoned'
              ELSE 'transferred' END AS outcome
  FROM {stage} s JOIN sla_ref_entities e ON e.ruc = btrim(s.ruc_entidad)
  ORDER BY btrim(s.ticket), coalesce(nullif(btrim(s.segmento), ''), '1')::smallint, s.line DESC
)
INSERT INTO sla_tickets AS t (centre_id, ticket_id, segment, entity_id, service_code, module_code, advisor,
                              issued_at, called_at, started_at, ended_at, outcome)
SELECT * FROM src
ON CONFLICT (centre_id, ticket_id, segment) DO UPDATE SET
  entity_id = excluded.entity_id, service_code = excluded.service_code,
  module_code = coalesce(excluded.module_code, t.module_code), advisor = coalesce(excluded.advisor, t.advisor),
  issued_at = excluded.issued_at, called_at = greatest(t.called_at, excluded.called_at),
  started_at = coalesce(excluded.started_at, t.started_at), ended_at = coalesce(excluded.ended_at, t.ended_at),
  outcome = excluded.outcome, updated_at = now()
WHERE (t.entity_id, t.service_code, t.module_code, t.advisor, t.issued_at, t.called_at, t.started_at, t.ended_at,
       t.outcome)
  IS DISTINCT FROM
      (excluded.entity_id, excluded.service_code, coalesce(excluded.module_code, t.module_code),
       coalesce(excluded.advisor, t.advisor), excluded.issued_at, greatest(t.called_at, excluded.called_at),
       coalesce(excluded.started_at, t.started_at), coalesce(excluded.ended_at, t.ended_at), excluded.outcome)
RETURNING t.entity_id, (t.issued_at AT TIME ZONE 'America/Lima')::date
""",
    "marcaciones": """
INSERT INTO sla_clock_ins (id, centre_id, entity_id, module_code, advisor, at)
SELECT gen_random_uuid(), CAST(:centre AS uuid), e.id, btrim(s.modulo), btrim(s.asesor), s.t_hora
FROM {stage} s JOIN sla_ref_entities e ON e.ruc = btrim(s.ruc_entidad)
ON CONFLICT (centre_id, module_code, advisor, at) DO NOTHING
RETURNING entity_id, (at AT TIME ZONE 'America/Lima')::date
""",
    "encuestas": """
WITH src AS (
  SELECT DISTINCT ON (btrim(s.encuesta)) gen_random_uuid() AS id, CAST(:centre AS uuid) AS centre_id,
         btrim(s.encuesta) AS survey_id, e.id AS entity_id, btrim(s.servicio) AS service_code,
         s.t_hora AS at, btrim(s.puntaje)::smallint AS score
  FROM {stage} s JOIN sla_ref_entities e ON e.ruc = btrim(s.ruc_entidad)
  ORDER BY btrim(s.encuesta), s.line DESC
)
INSERT INTO sla_survey_answers AS a (id, centre_id, survey_id, entity_id, service_code, at, score)
SELECT * FROM src
ON CONFLICT (centre_id, survey_id) DO UPDATE SET entity_id = excluded.entity_id,
  service_code = excluded.service_code, at = excluded.at, score = excluded.score
WHERE (a.entity_id, a.service_code, a.at, a.score) IS DISTINCT FROM
      (excluded.entity_id, excluded.service_code, excluded.at, excluded.score)
RETURNING a.entity_id, (a.at AT TIME ZONE 'America/Lima')::date
""",
    "interrupciones": """
WITH src AS (
  SELECT DISTINCT ON (btrim(s.interrupcion)) gen_random_uuid() AS id, CAST(:centre AS uuid) AS centre_id,
         btrim(s.interrupcion) AS external_id, e.id AS entity_id, s.t_inicio AS started_at,
         s.t_fin AS ended_at, btrim(s.causa) AS cause,
         lower(btrim(s.atribuible_a)) AS attributable_to, now() AS created_at
  FROM {stage} s LEFT JOIN sla_ref_entities e ON e.ruc = btrim(s.ruc_entidad)
  ORDER BY btrim(s.interrupcion), s.line DESC
)
INSERT INTO sla_interruptions AS i (id, centre_id, external_id, entity_id, started_at, ended_at, cause,
                                    attributable_to, created_at)
SELECT * FROM src
ON CONFLICT (centre_id, external_id) DO UPDATE SET entity_id = excluded.entity_id,
  started_at = excluded.started_at, ended_at = excluded.ended_at, cause = excluded.cause,
  -- A claim the coordinator accepted keeps the interruption on the administering entity.
  attributable_to = CASE WHEN i.claim_state = 'aceptado' THEN 'administradora' ELSE excluded.attributable_to END
WHERE (i.entity_id, i.started_at, i.ended_at, i.cause, i.attributable_to) IS DISTINCT FROM
      (excluded.entity_id, excluded.started_at, excluded.ended_at, excluded.cause,
       CASE WHEN i.claim_state = 'aceptado' THEN 'administradora' ELSE excluded.attributable_to END)
RETURNING i.entity_id, i.started_at, i.ended_at
""",
}

# The (entity, day) of rows about to change their entity or day: those old days must be recomputed too.
PREVIOUS_DAYS = {
    "atenciones": """
SELECT DISTINCT t.entity_id, (t.issued_at AT TIME ZONE 'America/Lima')::date
FROM sla_tickets t JOIN {stage} s ON t.centre_id = :centre AND t.ticket_id = btrim(s.ticket)
  AND t.segment = coalesce(nullif(btrim(s.segmento), ''), '1')::smallint
WHERE t.issued_at <> s.t_emitido
   OR t.entity_id <> (SELECT e.id FROM sla_ref_entities e WHERE e.ruc = btrim(s.ruc_entidad))
""",
    "encuestas": """
SELECT DISTINCT a.entity_id, (a.at AT TIME ZONE 'America/Lima')::date
FROM sla_survey_answers a JOIN {stage} s ON a.centre_id = :centre AND a.survey_id = btrim(s.encuesta)
WHERE a.at <> s.t_hora OR a.entity_id <> (SELECT e.id FROM sla_ref_entities e WHERE e.ruc = btrim(s.ruc_entidad))
""",
    "interrupciones": """
SELECT i.entity_id, i.started_at, i.ended_at
FROM sla_interruptions i JOIN {stage} s ON i.centre_id = :centre AND i.external_id = btrim(s.interrupcion)
""",
}


# ------------------------------------------------------------------------------------------ the path ---


async def _raw_connection(session: AsyncSession):  # noqa: ANN202
    conn = await session.connection()
    return (await conn.get_raw_connection()).driver_connection


async def _create_references(session: AsyncSession, centre_id: uuid.UUID) -> None:
    """The centre's (RUC, service) pairs, entities and modules, as small temporary tables for this batch."""
    for name, query in (
        ("sla_ref_services", "SELECT e.ruc::text AS ruc, e.id AS entity_id, cs.code::text AS code FROM entities e "
                             "JOIN centre_services cs ON cs.entity_id = e.id WHERE cs.centre_id = :centre"),
        ("sla_ref_entities", "SELECT DISTINCT e.ruc::text AS ruc, e.id FROM entities e "
                             "JOIN centre_services cs ON cs.entity_id = e.id WHERE cs.centre_id = :centre"),
        ("sla_ref_modules", "SELECT code::text AS code FROM centre_modules WHERE centre_id = :centre"),
    ):
        await session.execute(text(f"DROP TABLE IF EXISTS {name}"))
        await session.execute(text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {query}"), {"centre": centre_id})
        await session.execute(text(f"ANALYZE {name}"))


async def _create_stage(session: AsyncSession, kind: Kind) -> str:
    stage = f"sla_stage_{kind.name}"
    await session.execute(text(f"DROP TABLE IF EXISTS {stage}"))
    columns = ", ".join(f"{c} text" for c in kind.columns)
    await session.execute(text(
        f"CREATE TEMP TABLE {stage} (line bigint GENERATED BY DEFAULT AS IDENTITY, {columns}) ON COMMIT DROP"))
    return stage


# YYYY-MM-DDTHH:MM:SS, optional fraction of 1 to 6 digits, and an offset (checked to be -05:00), digits as 9.
QUICK_SHAPES = "{" + ",".join(f"9999-99-99T99:99:99{'.' + '9' * n if n else ''}-99:99" for n in range(7)) + "}"


def _checked(kind: Kind, stage: str, *, quick: bool) -> str:
    """The staging rows with each timestamp column parsed once into ``t_<column>`` (NULL: missing or not valid).

    Valid means ``sla_is_timestamp`` (ISO-8601 with a UTC offset, a real date and time). That exact check
    costs ~3 µs a value; with ``quick`` the shape nearly every Peruvian queue system sends
    (``YYYY-MM-DDTHH:MM:SS[.ffffff]-05:00``, digits where digits go, hour below 24 and second below 60) is
    parsed directly, which proves the same thing in one parse: any other field out of range (month 13, minute
    60, 30 February) makes PostgreSQL raise, so ``quick`` is tried inside a savepoint and redone without it.
    Any other shape still gets the exact check. OFFSET 0 keeps the planner from inlining the subquery into
    every rule that uses it.
    """
    trimmed = ", ".join(f"btrim(s.{c}) AS b_{c}" for c in kind.timestamps)
    parsed = []
    for c in kind.timestamps:
        v = f"s.b_{c}"
        # PostgreSQL reads hour 24 as the next midnight and second 60 as the next minute: those go to the
        # exact check (which refuses them); any other field out of range makes the parse raise.
        shape = (f"right({v}, 6) = '-05:00' AND translate({v}, '0123456789', '9999999999') = ANY "
                 f"('{QUICK_SHAPES}'::text[]) AND substr({v}, 12, 2) COLLATE \"C\" < '24' "
                 f"AND substr({v}, 18, 2) COLLATE \"C\" < '60'")
        exact = f"WHEN sla_is_timestamp({v}) THEN {v}::timestamptz"
        parsed.append(f"CASE {f'WHEN {shape} THEN {v}::timestamptz ' if quick else ''}{exact} END AS t_{c}")
    return (f"(SELECT s.*, {', '.join(parsed)} FROM (SELECT s.*, {trimmed} FROM {stage} s OFFSET 0) s OFFSET 0) s"
            if kind.timestamps else f"{stage} s")


def _is_data_exception(error: DBAPIError) -> bool:
    """SQLSTATE class 22 (data exception): a value PostgreSQL could not convert."""
    return str(getattr(error.orig, "sqlstate", "")).startswith("22")


async def _validate_and_store(session: AsyncSession, kind: Kind, stage: str, centre_id: uuid.UUID,
                              only_ruc: str | None, total: int, line_offset: int = 0) -> IngestReport:
    params = {"centre": centre_id, "only_ruc": only_ruc}
    clock = time.perf_counter()
    # De-duplicating a 50,000-row batch sorts ~12 MB: keep it in memory, for this transaction only.
    await session.execute(text("SET LOCAL work_mem = '64MB'"))
    await _create_references(session, centre_id)
    where_broken = " OR ".join(f"({cond})" for _f, cond, _r in kind.rules)
    typed = f"{stage}_tipada"

    async def check(quick: bool) -> None:
        # One pass over the batch: every timestamp parsed once, every rule evaluated, into a typed table the
        # upsert reads (no second parse, no deletion of the broken lines). A good row yields broken = false.
        await session.execute(text(f"DROP TABLE IF EXISTS {typed}"))
        kept = ", ".join(["s.line", *(f"s.{c}" for c in kind.columns if c not in kind.timestamps),
                          *(f"s.t_{c}" for c in kind.timestamps)])
        await session.execute(text(
            f"CREATE TEMP TABLE {typed} ON COMMIT DROP AS SELECT {kept}, coalesce({where_broken}, false) AS broken "
            f"FROM {_checked(kind, stage, quick=quick)}"), params)

    try:
        async with session.begin_nested():
            await check(quick=True)
    except DBAPIError as error:
        if not _is_data_exception(error):
            raise
        # A value in the common shape that is no real date (30 February): the exact check finds it.
        await check(quick=False)
    bad = (await session.scalars(text(f"SELECT line FROM {typed} WHERE broken"))).all()
    rows: Sequence = ()
    if bad:
        # The reasons, rule by rule, only for the broken lines (a file is usually clean, and a row per rule
        # per line is costly).
        checks = ",\n".join(f"(CASE WHEN {cond} THEN ({reason})::text END, '{fld}')"
                            for fld, cond, reason in kind.rules)
        rows = (await session.execute(text(
            f"SELECT s.line, v.field, v.reason FROM {_checked(kind, stage, quick=False)},\n"
            f"LATERAL (VALUES {checks}) v(reason, field) "
            f"WHERE s.line = ANY(:bad) AND v.reason IS NOT NULL ORDER BY s.line, v.field"),
            {**params, "bad": list(bad)})).all()
    errors = [RowError(int(line) + line_offset, fld, reason) for line, fld, reason in rows]
    validated = time.perf_counter()
    good = f"(SELECT * FROM {typed} WHERE NOT broken)"
    pairs: set[tuple[uuid.UUID | None, date]] = set()
    if kind.name in PREVIOUS_DAYS:
        previous = (await session.execute(text(PREVIOUS_DAYS[kind.name].format(stage=good)), params)).all()
        pairs |= _pairs(kind, previous)
    # The upsert reports what it changed per (entity, day) (per interruption for interruptions), not per row.
    changed = (await session.execute(text(
        f"WITH changed AS ({UPSERTS[kind.name].format(stage=good)}) "
        f"SELECT *, count(*) FROM changed GROUP BY {', '.join(map(str, range(1, _returned(kind) + 1)))}"),
        params)).all()
    pairs |= _pairs(kind, [row[:-1] for row in changed])
    report = IngestReport(total=total, stored=sum(row[-1] for row in changed), errors=errors,
                          touched_days={d for _e, d in pairs})
    report.unchanged = total - report.rejected_lines - report.stored
    upserted = time.perf_counter()
    if pairs:
        report.days_refreshed = await rollups.refresh(session, centre_id, pairs)
    await session.execute(text(f"DROP TABLE IF EXISTS {typed}, {stage}"))
    report.timings = {"validacion": validated - clock, "upsert": upserted - validated,
                      "resumenes": time.perf_counter() - upserted}
    return report


def _returned(kind: Kind) -> int:
    return 3 if kind.name == "interrupciones" else 2


def _pairs(kind: Kind, rows: Sequence) -> set[tuple[uuid.UUID | None, date]]:
    if kind.name == "interrupciones":
        return {(entity_id, d) for entity_id, start, end in rows for d in rollups.days_between(start, end)}
    return {(entity_id, day) for entity_id, day in rows}


async def ingest_records(session: AsyncSession, *, centre_id: uuid.UUID, kind: Kind,
                         records: Iterable[tuple], only_ruc: str | None = None) -> IngestReport:
    """Records are (line, value per column of ``kind``) tuples of text (None for a missing value)."""
    records = list(records)
    clock = time.perf_counter()
    stage = await _create_stage(session, kind)
    if records:
        raw = await _raw_connection(session)
        await raw.copy_records_to_table(stage, records=records, columns=["line", *kind.columns])
    copied = time.perf_counter() - clock
    report = await _validate_and_store(session, kind, stage, centre_id, only_ruc, len(records))
    report.timings["copy"] = copied
    return report


def _sniff_header(data: bytes) -> tuple[list[str], str, int]:
    """Header columns, delimiter and the byte offset where the data rows start."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        bom = 3
    else:
        bom = 0
    newline = data.find(b"\n")
    header_bytes = data if newline < 0 else data[:newline]
    try:
        header = header_bytes.decode("utf-8").strip("\r")
    except UnicodeDecodeError:
        raise ValidationFailed("El archivo debe estar en UTF-8.", field="archivo") from None
    delimiter = ";" if header.count(";") > header.count(",") else ","
    columns = [c.strip().lower() for c in next(csv.reader([header], delimiter=delimiter))]
    return columns, delimiter, bom + (len(header_bytes) + 1 if newline >= 0 else len(header_bytes))


async def ingest_csv(session: AsyncSession, *, centre_id: uuid.UUID, kind: Kind, data: bytes,
                     only_ruc: str | None = None) -> IngestReport:
    """A CSV file (UTF-8, header row, comma or semicolon) streamed with COPY; line numbers are the file's
    (the header is line 1)."""
    if len(data) > MAX_CSV_BYTES:
        raise ValidationFailed(f"El archivo supera {MAX_CSV_BYTES // (1024 * 1024)} MB; divídalo.", field="archivo")
    columns, delimiter, offset = _sniff_header(data)
    unknown = [c for c in columns if c not in kind.columns]
    missing = [c for c in kind.required if c not in columns]
    if unknown or missing or len(set(columns)) != len(columns):
        parts = []
        if missing:
            parts.append("faltan las columnas " + ", ".join(missing))
        if unknown:
            parts.append("columnas desconocidas: " + ", ".join(unknown))
        if len(set(columns)) != len(columns):
            parts.append("hay columnas repetidas")
        raise ValidationFailed(f"Encabezado no válido para {kind.name} ({'; '.join(parts)}). Columnas esperadas: "
                               f"{', '.join(kind.columns)}.", field="archivo",
                               errors=[{"linea": 1, "campo": "encabezado", "mensaje": "; ".join(parts)}])
    body = data[offset:]
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("El archivo debe estar en UTF-8.", field="archivo") from None
    clock = time.perf_counter()
    stage = await _create_stage(session, kind)
    total = 0
    if body.strip():
        raw = await _raw_connection(session)
        await raw.execute("SAVEPOINT sla_copy")
        try:
            await raw.copy_to_table(stage, source=io.BytesIO(body), columns=columns, format="csv",
                                    delimiter=delimiter, header=False, encoding="utf-8")
            await raw.execute("RELEASE SAVEPOINT sla_copy")
        except asyncpg.exceptions.DataError:
            await raw.execute("ROLLBACK TO SAVEPOINT sla_copy")
            # A line COPY cannot take (an unclosed quote, one column too many, a NUL byte): read the file line by
            # line instead, so such lines become row errors like every other rule and the rest is stored.
            return await _ingest_line_by_line(session, centre_id=centre_id, kind=kind, body=body, columns=columns,
                                              delimiter=delimiter, only_ruc=only_ruc)
        total = int((await session.execute(text(f"SELECT count(*) FROM {stage}"))).scalar_one())
    copied = time.perf_counter() - clock
    # Identity values start at 1 for the first data row, which is line 2 of the file.
    report = await _validate_and_store(session, kind, stage, centre_id, only_ruc, total, line_offset=1)
    report.timings["copy"] = copied
    return report


def csv_lines_to_records(body: bytes, columns: Sequence[str], kind: Kind,
                         delimiter: str) -> tuple[list[tuple], list[RowError]]:
    """Each physical line of the data rows (line 2 onwards) as a record in ``kind``'s column order, or a row
    error saying what is wrong with the line. Pure (and CPU-bound: web code runs it through app.offload)."""
    records: list[tuple] = []
    errors: list[RowError] = []
    positions = {c: columns.index(c) for c in kind.columns if c in columns}
    for n, raw_line in enumerate(body.decode("utf-8").split("\n"), start=2):
        line = raw_line.rstrip("\r")
        if not line.strip():
            continue
        if "\x00" in line:
            errors.append(RowError(n, "linea", "La línea contiene un carácter nulo."))
            continue
        try:
            [values] = list(csv.reader([line], delimiter=delimiter, strict=True)) or [[]]
        except (csv.Error, ValueError):
            errors.append(RowError(n, "linea", "La línea tiene comillas sin cerrar o mal puestas."))
            continue
        if len(values) != len(columns):
            errors.append(RowError(n, "linea", f"La línea tiene {len(values)} columnas; el encabezado tiene "
                                               f"{len(columns)}."))
            continue
        records.append((n, *((values[positions[c]] or None) if c in positions else None for c in kind.columns)))
    return records, errors


async def _ingest_line_by_line(session: AsyncSession, *, centre_id: uuid.UUID, kind: Kind, body: bytes,
                               columns: Sequence[str], delimiter: str, only_ruc: str | None) -> IngestReport:
    from app import offload

    records, errors = await offload.run(csv_lines_to_records, body, columns, kind, delimiter)
    report = await ingest_records(session, centre_id=centre_id, kind=kind, records=records, only_ruc=only_ruc)
    report.total += len(errors)
    report.errors.extend(errors)
    report.errors.sort(key=lambda e: (e.line, e.field))
    report.unchanged = report.total - report.rejected_lines - report.stored
    return report


def events_to_records(events: list) -> tuple[dict[str, list[tuple]], list[RowError]]:
    """API events (JSON objects with a ``tipo``) grouped by kind as COPY records; line = position (1-based)."""
    grouped: dict[str, list[tuple]] = {}
    errors: list[RowError] = []
    for n, event in enumerate(events, start=1):
        if not isinstance(event, dict):
            errors.append(RowError(n, "evento", "Cada evento debe ser un objeto JSON."))
            continue
        kind = API_TYPES.get(event.get("tipo"))
        if kind is None:
            errors.append(RowError(n, "tipo", f"«{event.get('tipo')}» no es un tipo de evento "
                                              f"({', '.join(API_TYPES)})."))
            continue
        unknown = [k for k in event if k != "tipo" and k not in kind.columns]
        if unknown:
            errors.append(RowError(n, unknown[0], f"Campo desconocido para {kind.api_type}: {unknown[0]}."))
            continue
        grouped.setdefault(kind.name, []).append(
            (n, *(None if event.get(c) is None else str(event.get(c)) for c in kind.columns)))
    return grouped, errors


async def ingest_events(session: AsyncSession, *, centre_id: uuid.UUID, events: list,
                        only_ruc: str | None = None) -> IngestReport:
    if len(events) > MAX_API_EVENTS:
        raise ValidationFailed(f"Un lote admite como máximo {MAX_API_EVENTS} eventos (recibidos {len(events)}).",
                               field="eventos")
    grouped, errors = events_to_records(events)
    report = IngestReport(total=0, errors=list(errors))
    report.total = len(errors)
    for name, records in grouped.items():
        report.add(await ingest_records(session, centre_id=centre_id, kind=KINDS[name], records=records,
                                        only_ruc=only_ruc))
    report.unchanged = report.total - report.rejected_lines - report.stored
    report.errors.sort(key=lambda e: (e.line, e.field))
    return report


async def record_batch(session: AsyncSession, ctx: TenantContext, report: IngestReport, *, centre_id: uuid.UUID,
                       source: str, kind: str, filename: str | None = None, summary: dict | None = None
                       ) -> uuid.UUID:
    batch = ImportBatch(centre_id=centre_id, entity_id=ctx.entity_id, source=source, kind=kind,
                        filename=(filename or "")[:200] or None, total=report.total, stored=report.stored,
                        unchanged=report.unchanged, rejected=report.rejected_lines,
                        errors=[e.as_dict() for e in report.errors[:MAX_STORED_ERRORS]],
                        created_by=ctx.user_id, client_id=ctx.client_id, summary=summary)
    session.add(batch)
    await session.flush()
    await audit.record(session, ctx, action="ans_datos_cargados", record_type="lote_atenciones",
                       record_id=batch.id, after={"centro": str(centre_id), "tipo": kind, "origen": source,
                                                  "recibidas": report.total, "guardadas": report.stored,
                                                  "sin_cambios": report.unchanged,
                                                  "rechazadas": report.rejected_lines})
    report.batch_id = batch.id
    return batch.id


async def import_file(db: Database, path: Path, *, centre_code: str, kind: str = "atenciones") -> IngestReport:
    """``mac sla import FILE``: the bulk path as the system, one transaction."""
    data = path.read_bytes()
    ctx = TenantContext.system()
    async with db.transaction(ctx) as s:
        centre_id = await s.scalar(select(Centre.id).where(Centre.code == centre_code))
        if centre_id is None:
            raise NotFound(f"No existe un centro con código {centre_code}.")
        report = await ingest_csv(s, centre_id=centre_id, kind=KINDS[kind], data=data)
        await record_batch(s, ctx, report, centre_id=centre_id, source="archivo", kind=kind, filename=path.name)
    return report
