"""Importing a source file for a centre (the coordinator's upload, ``mac sla import --formato``): each format is
read by its pure module, and its rows go through the one ingest path (:mod:`app.sla.ingest`) — tickets and
clock-ins are validated, stored and rolled up exactly like the platform's own CSV. MAC Express attentions
are their own channel and table. Everything runs in the caller's transaction: nothing is stored half-way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import offload
from app.auth.actor import Actor
from app.db import Database, TenantContext
from app.errors import NotFound, ValidationFailed
from app.localtime import now_utc
from app.sla import ingest
from app.sla.models import Advisor, AdvisorAssignment, ExpressAttention
from app.sla.sources import detalle_atenciones, mac_express, zkteco
from app.sla.sources.common import SourceResult, check_size, csv_rows, table_rows
from app.sla.sources.history import RunCounts, record_run
from app.tenants.models import Centre, CentreService, Entity


PARSE_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Format:
    name: str  # the ImportBatch kind
    cli_name: str  # mac sla import --formato
    label: str
    run: Callable


async def _run_sync(fn: Callable, *args: object) -> object:
    """Parsing (XLSX above all) is CPU work: off the event loop, in the bounded pool. A month of a large centre's
    national export is tens of thousands of rows (openpyxl reads about a thousand XLSX rows a second), so its
    time limit is longer than a document's; the row limit is what bounds it."""
    return await offload.run(fn, *args, timeout=PARSE_TIMEOUT_SECONDS)


def _report(result: SourceResult, total: int, stored: int, unchanged: int) -> ingest.IngestReport:
    """The batch's row report (what ImportBatch keeps), all errors in line order."""
    return ingest.IngestReport(total=total, stored=stored, unchanged=unchanged,
                               errors=sorted(result.errors, key=lambda e: (e.line, e.field)),
                               touched_days=set(result.touched_days))


# ---------------------------------------------------------------------------- detalle de atenciones ---


async def import_detalle(session: AsyncSession, centre: Centre, data: bytes, filename: str | None
                         ) -> tuple[SourceResult, ingest.IngestReport]:
    if centre.channel != "centro_mac":
        raise ValidationFailed("El detalle de atenciones es de los Centros MAC con sistema de colas; este centro es "
                               "un punto MAC Express.", field="tipo")
    check_size(data)
    services = (await session.execute(
        select(Entity.ruc, Entity.name, Entity.short_name, CentreService.code, CentreService.name)
        .join(Entity, Entity.id == CentreService.entity_id).where(CentreService.centre_id == centre.id))).all()
    catalogue = detalle_atenciones.Catalogue.build(centre.name, centre.code, services)
    parsed: detalle_atenciones.Parsed = await _run_sync(
        lambda: detalle_atenciones.parse(table_rows(data, filename), catalogue))
    result = SourceResult(warnings=parsed.warnings)
    result.errors = [ingest.RowError(line, column, reason) for line, column, reason in parsed.errors]
    ids = sorted({r[1] for r in parsed.records})
    existing = set()
    if ids:
        existing = {(t, int(sg)) for t, sg in (await session.execute(text(
            "SELECT ticket_id, segment FROM sla_tickets WHERE centre_id = :c AND ticket_id = ANY(:ids)"),
            {"c": centre.id, "ids": ids})).all()}
    report = await ingest.ingest_records(session, centre_id=centre.id, kind=ingest.TICKETS, records=parsed.records)
    rejected_now = {e.line for e in report.errors}
    existed = sum(1 for r in parsed.records if r[0] not in rejected_now and (r[1], int(r[2])) in existing)
    updated = max(existed - report.unchanged, 0)
    parse_rejected = {line for line, _c, _r in parsed.errors}
    result.errors += report.errors
    result.touched_days = report.touched_days
    result.counts.update(leidos=parsed.read, importados=report.stored - updated, actualizados=updated,
                         sin_cambios=report.unchanged, abiertos=parsed.open, cancelados=parsed.cancelled,
                         sin_mapeo=parsed.unmapped,
                         rechazados=len(parse_rejected) - parsed.unmapped + len(rejected_now))
    return result, _report(result, parsed.read, report.stored, report.unchanged)


# ----------------------------------------------------------------------------------------- ZKTeco ---


async def import_zkteco(session: AsyncSession, centre: Centre, data: bytes, filename: str | None
                        ) -> tuple[SourceResult, ingest.IngestReport]:
    check_size(data)
    punches: zkteco.Punches = await _run_sync(zkteco.read_punches, data)
    advisors = {code: zkteco.AdvisorRef(code, ruc) for code, ruc in (await session.execute(
        select(Advisor.code, Entity.ruc).join(Entity, Entity.id == Advisor.entity_id)
        .where(Advisor.centre_id == centre.id, Advisor.is_active))).all()}
    assignments = [zkteco.Assignment(*row) for row in (await session.execute(
        select(Advisor.code, AdvisorAssignment.module_code, AdvisorAssignment.kind, AdvisorAssignment.valid_from,
               AdvisorAssignment.valid_to)
        .join(Advisor, Advisor.id == AdvisorAssignment.advisor_id)
        .where(AdvisorAssignment.centre_id == centre.id))).all()]
    resolved = zkteco.resolve(punches.punches, advisors, assignments)
    moved = await _move_reassigned_punches(session, centre.id, resolved)
    report = await ingest.ingest_records(session, centre_id=centre.id, kind=ingest.CLOCK_INS, records=resolved.records)
    result = SourceResult()
    result.errors = [ingest.RowError(*e) for e in punches.errors + resolved.unmapped] + list(report.errors)
    result.touched_days = report.touched_days
    result.counts.update(leidos=punches.read, importados=report.stored - moved, actualizados=moved,
                         sin_cambios=report.unchanged,
                         sin_mapeo=len(resolved.unmapped),
                         rechazados=len({e[0] for e in punches.errors}) + report.rejected_lines)
    return result, _report(result, punches.read, report.stored, report.unchanged)


async def _move_reassigned_punches(session: AsyncSession, centre_id: uuid.UUID, resolved: zkteco.Resolved) -> int:
    """A punch imported before under another module (its advisor's assignment changed since): the old clock-in
    goes, so that re-importing a file puts every punch where the assignments now say. Returns how many punches
    move to another module (those that now fit no module are only removed)."""
    if not resolved.placed:
        return 0
    keys = list(resolved.placed)
    rows = (await session.execute(text(
        "SELECT c.id, c.advisor, c.at, c.module_code, c.entity_id FROM sla_clock_ins c "
        "JOIN unnest(CAST(:advisors AS text[]), CAST(:moments AS timestamptz[])) AS p(advisor, at) "
        "ON c.advisor = p.advisor AND c.at = p.at WHERE c.centre_id = :c"),
        {"c": centre_id, "advisors": [a for a, _m in keys], "moments": [m for _a, m in keys]})).all()
    stale = [row for row in rows if resolved.placed.get((row.advisor, row.at)) != row.module_code]
    if not stale:
        return 0
    from app.sla import rollups
    from app.sla.calendar import local_date

    await session.execute(text("DELETE FROM sla_clock_ins WHERE id = ANY(:ids)"), {"ids": [r.id for r in stale]})
    await rollups.refresh(session, centre_id, {(r.entity_id, local_date(r.at)) for r in stale})
    return len({(r.advisor, r.at) for r in stale if resolved.placed.get((r.advisor, r.at)) is not None})


# ------------------------------------------------------------------------------------- MAC Express ---

EXPRESS_COLUMNS = {"fecha_registro": "registered_at", "fecha_inicio_atencion": "started_at",
                   "fecha_seleccion_entidad": "entity_selected_at", "fecha_seleccion_servicio": "service_selected_at",
                   "fecha_salida_servicio": "left_for_service_at", "fecha_retorno_servicio": "returned_at",
                   "fecha_fin_atencion": "ended_at"}


async def store_express(session: AsyncSession, centre: Centre, rows: Iterable[tuple[int, Mapping[str, object]]]
                        ) -> SourceResult:
    """Check and upsert MAC Express attentions (same id again with the same values: unchanged)."""
    if centre.channel != "mac_express":
        raise ValidationFailed("Este centro no es un punto MAC Express.", field="tipo")
    pairs = (await session.execute(
        select(Entity.ruc, CentreService.code, Entity.id).join(Entity, Entity.id == CentreService.entity_id)
        .where(CentreService.centre_id == centre.id))).all()
    entity_of = {ruc: entity_id for ruc, _code, entity_id in pairs}
    rows = list(rows)
    if len(rows) > mac_express.MAX_RECORDS:
        raise ValidationFailed(f"Se admiten como máximo {mac_express.MAX_RECORDS} atenciones por carga.",
                               field="archivo")
    checked = await _run_sync(mac_express.check, rows, {(r, c) for r, c, _e in pairs})
    result = SourceResult()
    result.errors = [ingest.RowError(*e) for e in checked.errors]
    values = []
    for _line, r in checked.records:
        item = {"centre_id": centre.id, "attention_id": r.attention_id, "entity_id": entity_of.get(r.ruc),
                "service_code": r.service, "advisor": r.advisor, "state": r.state}
        item.update({column: r.moments.get(field) for field, column in EXPRESS_COLUMNS.items()})
        values.append(item)
    ids = [v["attention_id"] for v in values]
    existing = set()
    if ids:
        existing = set((await session.scalars(select(ExpressAttention.attention_id).where(
            ExpressAttention.centre_id == centre.id, ExpressAttention.attention_id.in_(ids)))).all())
    changed: set[str] = set()
    compared = ["entity_id", "service_code", "advisor", "state", *EXPRESS_COLUMNS.values()]
    for n in range(0, len(values), 1000):
        stmt = pg_insert(ExpressAttention).values(values[n:n + 1000])
        excluded = stmt.excluded
        table = ExpressAttention.__table__
        stmt = stmt.on_conflict_do_update(
            index_elements=["centre_id", "attention_id"],
            set_={**{c: getattr(excluded, c) for c in compared}, "updated_at": func.now()},
            where=tuple_(*[table.c[c] for c in compared]).is_distinct_from(
                tuple_(*[getattr(excluded, c) for c in compared])))
        changed |= set((await session.scalars(stmt.returning(ExpressAttention.attention_id))).all())
    updated = len(changed & existing)
    result.counts.update(leidos=len(rows), importados=len(changed) - updated, actualizados=updated,
                         sin_cambios=len(values) - len(changed), rechazados=len({e[0] for e in checked.errors}))
    return result


async def import_express(session: AsyncSession, centre: Centre, data: bytes, filename: str | None
                         ) -> tuple[SourceResult, ingest.IngestReport]:
    check_size(data)
    rows = await _run_sync(lambda: list(mac_express.csv_dicts(csv_rows(data))))
    if not rows:
        raise ValidationFailed("El archivo no tiene filas de atenciones.", field="archivo")
    missing = [c for c in mac_express.REQUIRED if c not in rows[0][1]]
    if missing:
        raise ValidationFailed("Encabezado no válido para MAC Express: faltan las columnas " + ", ".join(missing)
                               + f". Columnas: {', '.join(mac_express.COLUMNS)}.", field="archivo")
    result = await store_express(session, centre, rows)
    c = result.counts
    return result, _report(result, c["leidos"], c["importados"] + c["actualizados"], c["sin_cambios"])


FORMATS = {f.name: f for f in (
    Format("detalle", "detalle-atenciones", "Detalle de atenciones (exportación nacional, CSV o XLSX)", import_detalle),
    Format("zkteco", "marcaciones-zkteco", "Marcaciones del reloj ZKTeco (iclock_transaction CSV o attlog)",
           import_zkteco),
    Format("mac_express", "mac-express", "Atenciones MAC Express (CSV)", import_express),
)}
BY_CLI_NAME = {f.cli_name: f for f in FORMATS.values()}
# Formats whose imports are runs of a centre's feed, shown in its sync history (app.sla.sources.history).
SYNC_HISTORY_KINDS = {"detalle": "detalle_atenciones"}


async def import_source(session: AsyncSession, ctx: TenantContext, centre: Centre, fmt: Format, data: bytes,
                        filename: str | None, source: str) -> tuple[SourceResult, ingest.IngestReport]:
    started_at = now_utc()
    result, report = await fmt.run(session, centre, data, filename)
    result.batch_id = await ingest.record_batch(session, ctx, report, centre_id=centre.id, source=source,
                                                kind=fmt.name, filename=filename, summary=result.summary())
    if fmt.name in SYNC_HISTORY_KINDS:
        # The national export is a feed of the centre like its Novo database: its run joins the sync history.
        await record_run(session, ctx, centre_id=centre.id, kind=SYNC_HISTORY_KINDS[fmt.name], trigger="importacion",
                         started_at=started_at, finished_at=now_utc(), filename=filename,
                         counts=RunCounts(**result.counts, reasons=[e.as_dict() for e in result.errors],
                                          warnings=[w.reason for w in result.warnings]))
    return result, report


async def upload_source(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID, fmt: str, data: bytes,
                        filename: str | None) -> SourceResult:
    """The coordinator uploads a source file for its centre."""
    from app.sla.services import administered_centre, after_ingest

    if fmt not in FORMATS:
        raise ValidationFailed("Elija el tipo de archivo.", field="tipo")
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        centre = await administered_centre(s, actor, centre_id)
        result, report = await import_source(s, ctx, centre, FORMATS[fmt], data, filename, "csv")
    if fmt != "mac_express":
        await after_ingest(db, centre_id, report)
    return result


async def import_source_file(db: Database, path: Path, *, centre_code: str, cli_name: str) -> SourceResult:
    """``mac sla import ARCHIVO --formato ...``: as the system, one transaction."""
    data = path.read_bytes()
    ctx = TenantContext.system()
    async with db.transaction(ctx) as s:
        centre = await s.scalar(select(Centre).where(Centre.code == centre_code))
        if centre is None:
            raise NotFound(f"No existe un centro con código {centre_code}.")
        result, _report_ = await import_source(s, ctx, centre, BY_CLI_NAME[cli_name], data, path.name, "archivo")
    return result
