"""One sync of a Novo SGA source: read (read-only), interpret, feed the existing ingest, record the run.

- **Watermark and trailing window**: archived rows are re-read from local midnight ``reread_days`` before the
  latest arrival already read (rows change after the fact: a no-show reactivated and served, a 4 coded into
  an 8); the live table is read whole every time. The first sync starts at ``desde`` (default: the first day
  of the previous month).
- **One sync of a source at a time**: a transaction-level advisory lock per source; a second worker (or a
  console run) that finds it taken does nothing and says so.
- **One path for the data**: the segments go through :func:`app.sla.ingest.ingest_records` (validation,
  idempotent upsert, rollups of the affected days). Unchanged rows change nothing; changed rows update their
  ticket and the rollups.
- Counts are of the rows read in this run, each counted once: imported (new segment), updated, unchanged,
  open (still in the queue), cancelled, unmapped (service without mapping) and rejected (with reasons).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time as stopwatch
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, TenantContext
from app.errors import DomainError, NotFound
from app.localtime import now_utc, today_lima
from app.sla import ingest
from app.sla.calendar import LIMA
from app.sla.sources import connector, mapping, novosga
from app.sla.sources.history import RunCounts, record_run
from app.sla.sources.models import DataSource, ServiceMapping, SourceService, SyncRun
from app.sla.sources.secrets import decrypt
from app.tenants.models import CentreModule, CentreOpeningHours, Entity

# Novo redirects at triage (status 7, «erro de triagem») often before the attention starts: for this feed a
# transferred segment needs only its call, an attended one its call and start (the end may be missing in both
# feeds: 1.x never writes dt_fim on «encerrado»); the other rules are the ingest's.
_END_RULES = ("Un ticket atendido o derivado necesita",)
NOVO_TICKETS = dataclasses.replace(
    ingest.TICKETS,
    rules=tuple(r for r in ingest.TICKETS.rules if not r[2].strip("'").startswith(_END_RULES)) + (
        ("llamado", "lower(btrim(s.resultado)) IN ('atendido', 'derivado') AND coalesce(btrim(s.llamado), '') = ''",
         "'Una atención atendida o derivada en Novo necesita la hora de llamado.'"),
        ("inicio", "lower(btrim(s.resultado)) = 'atendido' AND coalesce(btrim(s.inicio), '') = ''",
         "'Una atención atendida en Novo necesita la hora de inicio.'"),
    ),
)
# Share of arrivals outside opening hours above which the configured zone is suspect.
ZONE_WARNING_SHARE = 0.2
DEFAULT_HOURS = (time(7, 0), time(20, 0))


@dataclass
class SyncOutcome:
    counts: RunCounts
    run_id: uuid.UUID | None = None
    error: str | None = None
    busy: bool = False  # another sync of this source was running: nothing done
    timings: dict[str, float] = dataclasses.field(default_factory=dict)  # seconds per phase (benchmarks, logs)

    def as_json(self) -> dict:
        return {**self.counts.as_dict(), "estado": "ocupado" if self.busy else ("error" if self.error else "exito"),
                "sincronizacion": str(self.run_id) if self.run_id else None,
                "servicios_sin_mapeo": self.counts.unmapped_services, "avisos": self.counts.warnings,
                "motivos": self.counts.reasons[:200], **({"error": self.error} if self.error else {})}


def source_tag(source_id: uuid.UUID) -> str:
    """A short, stable prefix of the source's ticket ids (tickets of two sources of a centre never clash)."""
    return source_id.hex[:8]


def address_of(source: DataSource) -> connector.SourceAddress:
    return connector.SourceAddress(host=source.host, port=source.port, database=source.database,
                                   username=source.username, password=decrypt(source.password_encrypted),
                                   version=source.version, unidade_id=source.unidade_id)


async def mapping_entries(session: AsyncSession, source_id: uuid.UUID) -> list[mapping.MapEntry]:
    rows = (await session.execute(
        select(ServiceMapping, Entity.ruc).join(Entity, Entity.id == ServiceMapping.entity_id)
        .where(ServiceMapping.source_id == source_id).order_by(ServiceMapping.novo_service_id,
                                                               ServiceMapping.valid_from))).all()
    return [mapping.MapEntry(m.novo_service_id, m.includes_children, m.entity_id, ruc, m.service_code, m.valid_from,
                             m.valid_to, m.version) for m, ruc in rows]


async def catalogue(session: AsyncSession, source_id: uuid.UUID) -> tuple[dict[int, int | None], dict[int, str]]:
    rows = (await session.execute(select(SourceService.novo_service_id, SourceService.macro_id, SourceService.name)
                                  .where(SourceService.source_id == source_id))).all()
    return {i: m for i, m, _n in rows}, {i: n for i, _m, n in rows}


async def store_catalogue(session: AsyncSession, source: DataSource,
                          services: list[tuple[int, int | None, str]]) -> None:
    if not services:
        return
    stmt = insert(SourceService).values([
        {"id": uuid.uuid4(), "source_id": source.id, "centre_id": source.centre_id, "novo_service_id": i,
         "macro_id": m, "name": n[:250], "seen_at": now_utc()} for i, m, n in services])
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["source_id", "novo_service_id"],
        set_={"macro_id": stmt.excluded.macro_id, "name": stmt.excluded.name, "seen_at": stmt.excluded.seen_at}))


async def opening_span(session: AsyncSession, centre_id: uuid.UUID) -> tuple[time, time]:
    """The widest opening hours in force at the centre (earliest opening, latest closing)."""
    rows = (await session.execute(select(CentreOpeningHours.opens_at, CentreOpeningHours.closes_at)
                                  .where(CentreOpeningHours.centre_id == centre_id))).all()
    if not rows:
        return DEFAULT_HOURS
    return min(r[0] for r in rows), max(r[1] for r in rows)


def zone_warning(arrivals_by_hour: dict[int, int], zone: ZoneInfo, opening: tuple[time, time]) -> str | None:
    share = novosga.share_outside_hours(arrivals_by_hour, zone, opening, LIMA, today_lima())
    if share <= ZONE_WARNING_SHARE:
        return None
    return (f"Con la zona horaria {zone.key}, el {round(share * 100)} % de las llegadas cae fuera del horario "
            f"de atención del centro ({opening[0]:%H:%M}–{opening[1]:%H:%M}): revise la zona de la fuente.")


def _first_day(since: date | None) -> date:
    if since is not None:
        return since
    return (today_lima().replace(day=1) - timedelta(days=1)).replace(day=1)


async def _read(source: DataSource, start: datetime) -> connector.Snapshot:
    address = address_of(source)
    return await asyncio.to_thread(connector.read_snapshot, address, start)


async def sync_source(db: Database, source_id: uuid.UUID, *, ctx: TenantContext | None = None,
                      trigger: str = "trabajador", since: date | None = None) -> SyncOutcome:
    """Sync one source now. A source that cannot be read gives a run with status error (and the source's
    ``last_error``); nothing else changes. ``since`` re-reads from that local day regardless of the watermark.

    Should storing fail (the platform's database), the whole sync is rolled back, a failed run is recorded in a
    transaction of its own and the error is raised again (the worker retries)."""
    ctx = ctx or TenantContext.system()
    started = now_utc()
    try:
        return await _sync(db, source_id, ctx, trigger, since, started)
    except DomainError:
        raise
    except Exception as exc:
        message = f"Error al guardar las atenciones en la plataforma ({type(exc).__name__}); se reintentará."
        async with db.transaction(ctx) as s:
            source = await s.get(DataSource, source_id)
            if source is not None:
                source.last_attempt_at, source.last_error = now_utc(), message
                await record_run(s, ctx, centre_id=source.centre_id, kind="novosga", trigger=trigger,
                                 started_at=started, finished_at=now_utc(), counts=RunCounts(), error=message,
                                 source_id=source.id)
        raise


async def _sync(db: Database, source_id: uuid.UUID, ctx: TenantContext, trigger: str, since: date | None,
                started: datetime) -> SyncOutcome:
    async with db.transaction(ctx) as s:
        locked = await s.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
                                {"key": f"sla-fuente:{source_id}"})
        if not locked:
            return SyncOutcome(RunCounts(), busy=True)
        source = await s.get(DataSource, source_id)
        if source is None:
            raise NotFound("La fuente de datos no existe.")
        zone = ZoneInfo(source.time_zone)
        start = novosga.window_start(None if since else source.watermark, source.reread_days, zone,
                                     _first_day(since))
        window_from = start.replace(tzinfo=zone)
        try:
            clock = stopwatch.perf_counter()
            snapshot = await _read(source, start)
            read_seconds = stopwatch.perf_counter() - clock
        except (connector.SourceUnavailable, ValueError) as exc:
            message = str(exc)
            source.last_attempt_at, source.last_error = now_utc(), message
            run = await record_run(s, ctx, centre_id=source.centre_id, kind="novosga", trigger=trigger,
                                   started_at=started, finished_at=now_utc(), counts=RunCounts(), error=message,
                                   source_id=source.id, window_from=window_from)
            return SyncOutcome(RunCounts(), run_id=run.id, error=message)
        timings: dict[str, float] = {"lectura": read_seconds}
        counts = await _store(s, source, snapshot, zone, timings)
        newest = max((r.arrived for r in snapshot.rows), default=None)
        if newest is not None:
            newest_utc = newest.replace(tzinfo=zone)
            source.watermark = max(source.watermark, newest_utc) if source.watermark else newest_utc
        source.last_attempt_at = source.last_success_at = now_utc()
        source.last_error = None
        run = await record_run(s, ctx, centre_id=source.centre_id, kind="novosga", trigger=trigger,
                               started_at=started, finished_at=now_utc(), counts=counts, source_id=source.id,
                               window_from=window_from)
        return SyncOutcome(counts, run_id=run.id, timings=timings)


async def _store(s: AsyncSession, source: DataSource, snapshot: connector.Snapshot, zone: ZoneInfo,
                 timings: dict[str, float]) -> RunCounts:
    clock = stopwatch.perf_counter()
    await store_catalogue(s, source, snapshot.services)
    entries = await mapping_entries(s, source.id)
    macro_of = {i: m for i, m, _n in snapshot.services}
    names = {i: n for i, _m, n in snapshot.services}

    resolved: dict[tuple[int, date], novosga.Target | None] = {}

    def resolve(servico_id: int, day: date) -> novosga.Target | None:
        key = (servico_id, day)
        if key not in resolved:  # a few services × a few days: look each pair up once
            found = mapping.resolve(entries, macro_of, servico_id, day)
            resolved[key] = novosga.Target(found.ruc, found.service_code) if found else None
        return resolved[key]

    # Tables without transactions (1.x uses MyISAM) give no consistent snapshot: during the daily reset a row
    # may be read in both tables. It is one row; the archived copy is the one that stays.
    rows, seen, doubled = [], set(), 0
    for row in sorted(snapshot.rows, key=lambda r: r.live):
        key = (row.unidade_id, row.id, row.arrived)
        if key in seen:
            doubled += 1
            continue
        seen.add(key)
        rows.append(row)
    verdicts = novosga.interpret(rows, source_tag=source_tag(source.id), zone=zone, resolve=resolve)
    counts = RunCounts(leidos=len(verdicts))
    if doubled:
        counts.warnings.append(f"{doubled} fila(s) estaban a la vez en atendimentos e historico_atendimentos "
                               f"(reinicio diario en curso): se leyeron una vez.")
    warning = zone_warning(Counter(r.arrived.hour for r in rows), zone, await opening_span(s, source.centre_id))
    if warning:
        counts.warnings.append(warning)
    unmapped: Counter[int] = Counter()
    modules = frozenset((await s.scalars(select(CentreModule.code)
                                         .where(CentreModule.centre_id == source.centre_id))).all())
    records, described = [], {}
    for v in verdicts:
        if v.what == novosga.OPEN:
            counts.abiertos += 1
        elif v.what == novosga.CANCELLED:
            counts.cancelados += 1
        elif v.what == novosga.UNMAPPED:
            counts.sin_mapeo += 1
            unmapped[v.row.servico_id] += 1
        elif v.what == novosga.REJECTED:
            counts.rechazados += 1
            counts.reasons.append({"fila": v.row.describe(), "campo": v.field, "motivo": v.reason})
        else:
            line = len(records) + 1
            described[line] = v.row  # described only if the ingest refuses it
            records.append(novosga.segment_record(line, v.segment, modules))
    missing_modules = sorted({str(v.row.module) for v in verdicts if v.what == novosga.SEGMENT
                              and v.row.module is not None and str(v.row.module) not in modules})
    if missing_modules:
        counts.warnings.append("Módulos de Novo que no existen en el centro (guardados sin módulo): "
                               + ", ".join(missing_modules) + ".")
    counts.unmapped_services = [{"servicio": sid, "nombre": names.get(sid, ""), "filas": n}
                                for sid, n in sorted(unmapped.items())]

    # Which of these segments the platform already has: those are updates (or unchanged), the rest new.
    keys = {(r[1], int(r[2])) for r in records}
    existing: set[tuple[str, int]] = set()
    if keys:
        # One array parameter, not one bind parameter per ticket (a sync may read 100,000 rows).
        existing = {(t, seg) for t, seg in (await s.execute(
            text("SELECT ticket_id, segment FROM sla_tickets WHERE centre_id = :centre AND ticket_id = ANY(:ids)"),
            {"centre": source.centre_id, "ids": sorted({k[0] for k in keys})})).all()}
    timings["interpretacion"] = stopwatch.perf_counter() - clock
    report = await ingest.ingest_records(s, centre_id=source.centre_id, kind=NOVO_TICKETS, records=records)
    timings.update({f"ingesta_{k}": v for k, v in report.timings.items()})
    rejected_lines = {e.line for e in report.errors}
    for e in report.errors:
        row = described.get(e.line)
        counts.reasons.append({"fila": row.describe() if row else str(e.line), "campo": e.field,
                               "motivo": e.reason})
    counts.rechazados += len(rejected_lines)
    new = {(r[1], int(r[2])) for r in records if r[0] not in rejected_lines} - existing
    counts.importados = len(new)
    counts.actualizados = report.stored - len(new)
    counts.sin_cambios = report.unchanged
    return counts


async def sync_all(db: Database, *, trigger: str = "trabajador") -> list[SyncOutcome]:
    """Every enabled source, one after the other (each under its own lock)."""
    async with db.transaction(TenantContext.system()) as s:
        ids = list((await s.scalars(select(DataSource.id).where(DataSource.enabled)
                                    .order_by(DataSource.created_at))).all())
    outcomes = []
    for source_id in ids:
        outcomes.append(await sync_source(db, source_id, trigger=trigger))
    return outcomes


async def last_runs(s: AsyncSession, source_id: uuid.UUID, limit: int = 20) -> list[SyncRun]:
    return list((await s.scalars(select(SyncRun).where(SyncRun.source_id == source_id)
                                 .order_by(SyncRun.started_at.desc()).limit(limit))).all())

