"""Benchmark of the national «detalle de atenciones» import: N rows (50,000 by default) of the export, as CSV
and as XLSX, read, mapped and stored through the one ingest path, against the floor of the same tickets sent in
the platform's own CSV layout through the same ingest (what the export's parsing, name mapping, state rules and
segment chaining cost on top), in the same run and database. Each time is best of two and includes the commit
and the daily rollups; each run starts from an empty ticket table.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_sources.py [N]

Creates and drops its own database (``mac_bench_sources_<pid>``) on that server.
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

from bench.bench_ingest import RUC, setup  # noqa: E402
from bench.scratch_database import scratch_database  # noqa: E402

HEADER = ("IDENTIFICADOR UNICO;NOMBRE MAC;NOMBRE ENTIDAD;SERVICIO;HORA DE LLEGADA;HORA DE LLAMADO;TIEMPO ESPERA;"
          "HORA INICIO;TIEMPO PROMEDIO;FIN DE ATENCION;TIEMPO TOTAL;N° DE MODULO;NUMERO DE TICKET;ESTADO ATENCION;"
          "FECHA;MODALIDAD;TIPO DE ATENCION;N° DE DOCUMENTO")


def rows(n: int, seed: int = 5) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    start = date(2025, 3, 3)
    for i in range(n):
        day = start + timedelta(days=(i // 2500) % 26)
        if day.weekday() == 6:
            day += timedelta(days=1)
        arrival = datetime.combine(day, dtime(8, 0)) + timedelta(seconds=rng.randint(0, 8 * 3600))
        called = arrival + timedelta(seconds=rng.randint(60, 2400))
        begun = called + timedelta(seconds=rng.randint(5, 60))
        ended = begun + timedelta(seconds=rng.randint(180, 1200))
        abandoned = rng.random() < 0.05

        def hms(d: timedelta) -> str:
            s = int(d.total_seconds())
            return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"

        out.append([str(i), "Centro de benchmark", "RENIEC", "DNI", f"{arrival:%H:%M:%S}", f"{called:%H:%M:%S}",
                    hms(called - arrival), "" if abandoned else f"{begun:%H:%M:%S}",
                    "" if abandoned else hms(ended - begun), "" if abandoned else f"{ended:%H:%M:%S}",
                    "" if abandoned else hms(ended - arrival), f"M{rng.randint(1, 20):02d}", f"T{i:06d}",
                    "Abandono" if abandoned else "Terminado", f"{day:%d/%m/%Y}", "PRESENCIAL", "TRAMITE",
                    f"{rng.randint(10_000_000, 99_999_999)}"])
    return out


def as_csv(data: list[list[str]]) -> bytes:
    return ("\n".join([HEADER, *(";".join(r) for r in data)]) + "\n").encode()


def as_xlsx(data: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER.split(";"))
    for r in data:
        sheet.append(r)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def as_platform_csv(data: list[list[str]]) -> bytes:
    out = io.StringIO()
    out.write("ticket,segmento,ruc_entidad,servicio,modulo,asesor,emitido,llamado,inicio,fin,resultado\n")
    for r in data:
        day = datetime.strptime(r[14], "%d/%m/%Y").date()

        def ts(hms: str) -> str:
            return f"{day:%Y-%m-%d}T{hms}-05:00" if hms else ""

        outcome = "abandonado" if r[13] == "Abandono" else "atendido"
        out.write(f"{day:%Y%m%d}-{r[12]},1,{RUC},DNI,{r[11]},,{ts(r[4])},{ts(r[5])},{ts(r[7])},{ts(r[9])},"
                  f"{outcome}\n")
    return out.getvalue().encode()


async def run(n: int) -> None:
    from sqlalchemy import delete, select

    from app.config import get_settings
    from app.db import Database, TenantContext
    from app.sla import ingest
    from app.sla.models import DailyServiceRollup, TicketSegment
    from app.sla.sources.imports import import_detalle
    from app.tenants.models import Centre

    db = Database(get_settings().runtime_url(), pool_size=2)
    centre_id, _admin = await setup(db)
    data = rows(n)
    csv_bytes, platform = as_csv(data), as_platform_csv(data)
    clock = time.perf_counter()
    xlsx_bytes = as_xlsx(data)
    written = time.perf_counter() - clock

    async def empty() -> None:
        async with db.transaction(TenantContext.system()) as s:
            await s.execute(delete(TicketSegment))
            await s.execute(delete(DailyServiceRollup))

    async def detalle(payload: bytes, name: str) -> tuple[float, dict]:
        await empty()
        started = time.perf_counter()
        async with db.transaction(TenantContext.system()) as s:
            centre = await s.scalar(select(Centre).where(Centre.id == centre_id))
            result, _report = await import_detalle(s, centre, payload, name)
        return time.perf_counter() - started, result.counts

    async def own() -> float:
        await empty()
        started = time.perf_counter()
        async with db.transaction(TenantContext.system()) as s:
            report = await ingest.ingest_csv(s, centre_id=centre_id, kind=ingest.TICKETS, data=platform)
        assert report.stored == n, report.errors[:3]
        return time.perf_counter() - started

    floor = min([await own() for _ in range(2)])
    csv_runs = [await detalle(csv_bytes, "detalle.csv") for _ in range(2)]
    xlsx_runs = [await detalle(xlsx_bytes, "detalle.xlsx") for _ in range(2)]
    csv_time, counts = min(csv_runs, key=lambda r: r[0])
    xlsx_time, xlsx_counts = min(xlsx_runs, key=lambda r: r[0])
    assert counts["importados"] == n and xlsx_counts["importados"] == n, (counts, xlsx_counts)
    print(f"{n:,} filas del detalle de atenciones (CSV {len(csv_bytes) / 1e6:.1f} MB, "
          f"XLSX {len(xlsx_bytes) / 1e6:.1f} MB, escrito en {written:.1f} s)")
    print(f"  piso: los mismos tickets en el CSV de la plataforma, misma ruta .. {floor:7.2f} s  "
          f"({n / floor:,.0f} filas/s)")
    print(f"  detalle de atenciones CSV ................................. {csv_time:7.2f} s  "
          f"({n / csv_time:,.0f} filas/s)")
    print(f"  detalle de atenciones XLSX (openpyxl read_only) ............ {xlsx_time:7.2f} s  "
          f"({n / xlsx_time:,.0f} filas/s)")
    print(f"  RAZÓN CSV frente al piso (piso / detalle):  {floor / csv_time:.2f}×")
    print(f"  RAZÓN XLSX frente al piso (piso / detalle): {floor / xlsx_time:.2f}×")
    await db.dispose()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with scratch_database("mac_bench_sources"):
        asyncio.run(run(n))


if __name__ == "__main__":
    main()
