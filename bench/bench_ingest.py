"""Benchmark of the ANS bulk ingest: a CSV of N attention records (50,000 by default) through the bulk path
(COPY into a staging table, one set-based validation pass into a typed table, upsert, rollups in SQL), sent as
the queue system does it (a machine client of the administering entity, so row-level security applies),
against the *storage floor* measured in the same run and database.

The storage floor is a raw COPY of the same file into a table with what ``sla_tickets`` must have to be
trustworthy (its primary key, which makes re-sends idempotent; its index by centre and time; its index by
entity; its foreign keys to the centre and the entity), with no validation, no row-level security and no
upsert: no ingest that keeps those can be faster. Ratio = floor time / path time (goal ≥ 0.6×), printed
without and with the rollup refresh. For context it also prints a raw COPY into an unindexed table, the floor
without foreign keys and an identical re-send. Every time is the best of three and includes the
commit; the range of the path is printed. A measurement, not a test: exits 0 whatever the figures.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_ingest.py [N]

Creates and drops its own database (``mac_bench_ingest_<pid>``) on that server.
"""

from __future__ import annotations

import asyncio
import io
import random
import sys
import time
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from app.config import get_settings, psycopg_url  # noqa: E402
from app.sla.calendar import LIMA  # noqa: E402
from bench.quiet import quiet  # noqa: E402
from bench.scratch_database import scratch_database  # noqa: E402

RUC = "20295613620"


def build_csv(n: int, seed: int = 3) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("ticket,segmento,ruc_entidad,servicio,modulo,asesor,emitido,llamado,inicio,fin,resultado\n")
    start = date(2025, 3, 3)
    for i in range(n):
        day = start + timedelta(days=(i // 2500) % 26)
        if day.weekday() == 6:
            day += timedelta(days=1)
        issued = datetime.combine(day, dtime(8, 0), LIMA) + timedelta(seconds=rng.randint(0, 8 * 3600))
        called = issued + timedelta(minutes=rng.uniform(1, 40))
        ended = called + timedelta(minutes=rng.uniform(3, 20))
        abandoned = rng.random() < 0.05
        out.write(f"B{i:07d},1,{RUC},DNI,M{rng.randint(1, 20):02d},AS{rng.randint(1, 40)},{issued.isoformat()},"
                  + (",,,abandonado\n" if abandoned else
                     f"{called.isoformat()},{called.isoformat()},{ended.isoformat()},atendido\n"))
    return out.getvalue().encode()


async def setup(db):  # noqa: ANN001, ANN201
    from app.db import TenantContext
    from app.sla.models import ServiceLimitRow
    from app.tenants.models import Centre, CentreModule, CentreOpeningHours, CentreService, Entity

    async with db.transaction(TenantContext.system()) as s:
        entity = Entity(ruc=RUC, name="RENIEC (benchmark)", short_name="RENIEC", kind="publica", level="nacional")
        admin = Entity(ruc="20505703554", name="GR Callao (benchmark)", short_name="GRC", kind="publica",
                       level="regional")
        s.add_all([entity, admin])
        await s.flush()
        centre = Centre(code="BENCH", name="Centro de benchmark", channel="centro_mac", address="-", ubigeo="070101",
                        administering_entity_id=admin.id)
        s.add(centre)
        await s.flush()
        for d in range(6):
            s.add(CentreOpeningHours(centre_id=centre.id, weekday=d, opens_at=dtime(8), closes_at=dtime(16, 45),
                                     valid_from=date(2020, 1, 1)))
        s.add_all(CentreModule(centre_id=centre.id, code=f"M{m:02d}") for m in range(1, 21))
        s.add(CentreService(centre_id=centre.id, entity_id=entity.id, code="DNI", name="DNI"))
        s.add(ServiceLimitRow(centre_id=centre.id, entity_id=entity.id, service_code="DNI", max_wait_minutes=20,
                              max_attention_minutes=15, counts=True, valid_from=date(2020, 1, 1)))
        return centre.id, admin.id


async def run(owner_url: str, n: int) -> None:
    from app.db import Database, TenantContext
    from app.sla import ingest

    quiet()
    settings = get_settings()
    db = Database(settings.runtime_url(), pool_size=2)
    centre_id, administering_entity_id = await setup(db)
    queue_system = TenantContext(role="cliente_maquina", entity_id=administering_entity_id,
                                 client_id="cola-benchmark")
    data = build_csv(n)
    header_end = data.index(b"\n") + 1
    columns = data[:header_end].decode().strip().split(",")

    def timed_copy(table: str, definition: str) -> float:
        with psycopg.connect(psycopg_url(owner_url), autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(definition)
            started = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN "
                                                "WITH (FORMAT csv)") as copy:
                copy.write(data[header_end:])
            return time.perf_counter() - started

    def raw_copy() -> float:
        return timed_copy("bench_raw", "CREATE TABLE bench_raw (ticket text, segmento smallint, ruc_entidad text, "
                          "servicio text, modulo text, asesor text, emitido timestamptz, llamado timestamptz, "
                          "inicio timestamptz, fin timestamptz, resultado text)")

    def floor_copy(foreign_keys: bool) -> float:
        centre = "REFERENCES centres (id) ON DELETE CASCADE" if foreign_keys else ""
        entity = "REFERENCES entities (ruc)" if foreign_keys else ""
        return timed_copy("bench_floor", f"""
            CREATE TABLE bench_floor (
              centre_id uuid NOT NULL DEFAULT '{centre_id}' {centre},
              ticket varchar(40) NOT NULL, segmento smallint NOT NULL,
              ruc_entidad varchar(11) NOT NULL {entity}, servicio varchar(30), modulo varchar(20),
              asesor varchar(40), emitido timestamptz, llamado timestamptz, inicio timestamptz, fin timestamptz,
              resultado varchar(12), updated_at timestamptz NOT NULL DEFAULT now(),
              PRIMARY KEY (centre_id, ticket, segmento));
            CREATE INDEX ON bench_floor (centre_id, emitido);
            CREATE INDEX ON bench_floor (ruc_entidad)""")

    async def bulk(fresh: bool) -> tuple[float, dict, int]:
        if fresh:
            async with db.transaction(TenantContext.system()) as s:
                from sqlalchemy import delete

                from app.sla.models import DailyServiceRollup, TicketSegment

                await s.execute(delete(TicketSegment))
                await s.execute(delete(DailyServiceRollup))
        started = time.perf_counter()
        async with db.transaction(queue_system) as s:
            report = await ingest.ingest_csv(s, centre_id=centre_id, kind=ingest.TICKETS, data=data)
            committing = time.perf_counter()
        t = dict(report.timings, commit=time.perf_counter() - committing)
        return time.perf_counter() - started, t, report.stored

    raw = min(raw_copy() for _ in range(3))
    floor = min(floor_copy(foreign_keys=True) for _ in range(3))
    floor_without_fks = min(floor_copy(foreign_keys=False) for _ in range(3))
    runs = [await bulk(True) for _ in range(3)]
    resend = await bulk(False)

    def path_of(run: tuple[float, dict, int]) -> float:
        t = run[1]
        return t["copy"] + t["validacion"] + t["upsert"] + t["commit"]

    best = min(runs, key=path_of)
    t, path, total = best[1], path_of(best), best[0]
    paths = [path_of(r) for r in runs]
    print(f"Entrada: {n:,} filas de atención (CSV de {len(data) / 1e6:.1f} MB) enviadas como el sistema de colas "
          f"(RLS); mejor de {len(runs)}")
    print(f"  piso de almacenamiento (COPY con la llave, los índices y las FK de sla_tickets) {floor:6.3f} s")
    print(f"  ruta masiva: COPY {t['copy']:.3f} + validación {t['validacion']:.3f} + upsert {t['upsert']:.3f} + "
          f"commit {t['commit']:.3f} = {path:6.3f} s (rango {min(paths):.3f}–{max(paths):.3f} s)")
    print(f"  resúmenes diarios (SQL) {t['resumenes']:.3f} s; total con resúmenes {total:6.3f} s")
    print(f"  RAZÓN piso / ruta masiva: {floor / path:.2f}× (meta ≥ 0.6×); con resúmenes: {floor / total:.2f}×")
    print(f"  contexto: COPY crudo sin índices {raw:.3f} s; piso sin FK {floor_without_fks:.3f} s; "
          f"reenvío idéntico {resend[0]:.3f} s ({resend[2]} filas guardadas)")
    await db.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with scratch_database("mac_bench_ingest") as owner:
        asyncio.run(run(owner, n))


if __name__ == "__main__":
    main()
