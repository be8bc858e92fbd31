"""Benchmark of the Novo SGA sync: N archived Novo 1.x rows (100,000 by default) read from a real MariaDB and
synced into the platform (read-only snapshot, Novo semantics, the ingest's validation and upsert, rollups),
against a plain ``SELECT`` of the same rows and columns from MariaDB with the same driver as the floor, in the
same run. Best of three for the floor; the first sync (every row new) and a re-sync (every row unchanged) are
timed once each, as they happen once. Prints rows per second and the ratio to the floor.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_novosga.py [N]

Starts its own MariaDB (a private data directory, as the tests do) and creates and drops its own PostgreSQL
database (``mac_bench_novosga_<pid>``) on that server.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pymysql  # noqa: E402

from app.config import get_settings  # noqa: E402
from app.localtime import today_lima  # noqa: E402
from bench.scratch_database import scratch_database  # noqa: E402
from tests.mariadb import READER, READER_PASSWORD, running_mariadb  # noqa: E402

RUC = "20295613620"
DAYS = 20


def load_novo(maria, database: str, n: int, seed: int = 7) -> date:  # noqa: ANN001
    """N archived rows over the DAYS days before yesterday; returns the first day."""
    rng = random.Random(seed)
    first = today_lima() - timedelta(days=DAYS + 1)
    per_day = -(-n // DAYS)
    statuses = [8] * 80 + [4] * 8 + [5] * 6 + [1] * 2 + [2] * 1 + [3] * 1 + [6] * 2
    rows = []
    for i in range(n):
        day = first + timedelta(days=i // per_day)
        arrived = datetime.combine(day, dtime(8)) + timedelta(seconds=rng.randint(0, 8 * 3600))
        status = rng.choice(statuses)
        called = arrived + timedelta(minutes=rng.uniform(1, 40)) if status not in (1, 6) else None
        started = called + timedelta(minutes=1) if status in (3, 4, 8) else None
        ended = started + timedelta(minutes=rng.uniform(3, 20)) if status == 8 else None
        rows.append((i + 1, rng.choice((1, 1, 1, 2)), status, i % 999 + 1, rng.randint(1, 20), arrived, called, started,
                     ended))
    with maria.root(database) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO grupos VALUES (1, 'Raíz', 'Raíz', 1, 2, 0)")
        cur.execute("INSERT INTO unidades VALUES (1, 1, 'MAC1', 'Centro MAC', 1, 0, '')")
        cur.executemany("INSERT INTO servicos (id, macro_id, descricao, nome, status, peso) VALUES (%s, NULL, %s, %s, 1, 1)",
                        [(1, "Duplicado de DNI", "DNI"), (2, "Orientación", "Orientación")])
        for start in range(0, len(rows), 5_000):
            cur.executemany(
                "INSERT INTO historico_atendimentos (id, unidade_id, usuario_id, usuario_tri_id, servico_id, "
                "prioridade_id, atendimento_id, status, sigla_senha, num_senha, num_senha_serv, nm_cli, num_local, "
                "dt_cheg, dt_cha, dt_ini, dt_fim, ident_cli) VALUES (%s, 1, 7, 7, %s, 1, NULL, %s, 'A', %s, %s, "
                "'Ciudadana de prueba', %s, %s, %s, %s, %s, '00000000')",
                [(r[0], r[1], r[2], r[3], r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows[start:start + 5_000]])
    return first


def plain_select(maria, database: str, since: datetime) -> tuple[float, int]:  # noqa: ANN001
    from app.sla.sources.connector import _columns

    conn = pymysql.connect(host="127.0.0.1", port=maria.port, user=READER, password=READER_PASSWORD,
                           database=database, charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            started = time.perf_counter()
            cur.execute(f"SELECT {_columns(1)} FROM historico_atendimentos WHERE dt_cheg >= %s", (since,))
            count = len(cur.fetchall())
            return time.perf_counter() - started, count
    finally:
        conn.close()


async def setup(db, port: int, database: str, first: date):  # noqa: ANN001, ANN201
    from app.db import TenantContext
    from app.sla.models import ServiceLimitRow
    from app.sla.sources.models import DataSource, ServiceMapping
    from app.sla.sources.secrets import encrypt
    from app.tenants.models import Centre, CentreModule, CentreOpeningHours, CentreService, Entity

    async with db.transaction(TenantContext.system()) as s:
        entity = Entity(ruc=RUC, name="RENIEC (benchmark)", short_name="RENIEC", kind="publica", level="nacional")
        admin = Entity(ruc="20505703554", name="GR Callao (benchmark)", short_name="GRC", kind="publica",
                       level="regional")
        s.add_all([entity, admin])
        await s.flush()
        centre = Centre(code="BENCH-NOVO", name="Centro de benchmark", channel="centro_mac", address="-",
                        ubigeo="070101", administering_entity_id=admin.id)
        s.add(centre)
        await s.flush()
        for d in range(7):
            s.add(CentreOpeningHours(centre_id=centre.id, weekday=d, opens_at=dtime(8), closes_at=dtime(17),
                                     valid_from=date(2020, 1, 1)))
        s.add_all(CentreModule(centre_id=centre.id, code=str(m)) for m in range(1, 21))
        s.add(CentreService(centre_id=centre.id, entity_id=entity.id, code="DNI", name="DNI"))
        s.add(ServiceLimitRow(centre_id=centre.id, entity_id=entity.id, service_code="DNI", max_wait_minutes=20,
                              max_attention_minutes=15, counts=True, valid_from=date(2020, 1, 1)))
        source = DataSource(centre_id=centre.id, kind="novosga", name="Novo benchmark", version=1, host="127.0.0.1",
                            port=port, database=database, username=READER,
                            password_encrypted=encrypt(READER_PASSWORD), time_zone="America/Lima", enabled=True,
                            reread_days=3)
        s.add(source)
        await s.flush()
        s.add(ServiceMapping(source_id=source.id, centre_id=centre.id, novo_service_id=1, includes_children=False,
                             entity_id=entity.id, service_code="DNI", valid_from=first, version=1))
        return source.id


async def run(maria, n: int) -> None:  # noqa: ANN001
    from app.db import Database
    from app.sla.sources.sync import sync_source

    database = maria.create_novo(1)
    clock = time.perf_counter()
    first = load_novo(maria, database, n)
    print(f"Novo 1.x cargado: {n:,} filas en historico_atendimentos ({time.perf_counter() - clock:.1f} s)")
    since = datetime.combine(first, dtime())
    floor = min(plain_select(maria, database, since) for _ in range(3))
    assert floor[1] == n, floor
    db = Database(get_settings().runtime_url(), pool_size=2)
    try:
        source_id = await setup(db, maria.port, database, first)
        results = []
        for label in ("primera sincronización (todo nuevo)", "resincronización (nada cambió)"):
            started = time.perf_counter()
            outcome = await sync_source(db, source_id, trigger="consola", since=first)
            results.append((label, time.perf_counter() - started, outcome))
    finally:
        await db.dispose()
    floor_rate = n / floor[0]
    print(f"Piso: SELECT simple de las mismas {n:,} filas desde MariaDB (PyMySQL): {floor[0]:.2f} s, "
          f"{floor_rate:,.0f} filas/s")
    for label, seconds, outcome in results:
        c = outcome.counts
        rate = c.leidos / seconds
        print(f"{label}: {seconds:.2f} s, {rate:,.0f} filas/s, {rate / floor_rate:.3f}× el piso — leídas {c.leidos:,}, "
              f"importadas {c.importados:,}, actualizadas {c.actualizados:,}, sin cambios {c.sin_cambios:,}, "
              f"abiertas {c.abiertos:,}, canceladas {c.cancelados:,}, sin mapeo {c.sin_mapeo:,}, "
              f"rechazadas {c.rechazados:,}")
        print("  fases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in outcome.timings.items()))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with scratch_database("mac_bench_novosga"), running_mariadb() as maria:
        asyncio.run(run(maria, n))


if __name__ == "__main__":
    main()
