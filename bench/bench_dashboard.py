"""Benchmark of the live compliance dashboard for a centre-month of 50,000 tickets.

Measures the p99 latency of the dashboard's data endpoint (``GET /ans/tablero/datos``: session, RLS, rollups,
pure indicator functions, projection, SVG charts, template) served in-process, against bare asyncpg queries
of the same month's aggregate run as the owner in the same run:

* the aggregate computed from the raw tickets (what the dashboard would cost without rollups), and
* the same aggregate read from the daily rollup rows (the floor for what the endpoint reads).

Prints both ratios (goal: endpoint p99 ≤ 2× the bare query), and nothing else: the app's request log is
turned down to warnings. No assertion: numbers to read; exits 0.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_dashboard.py [N]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from datetime import date, datetime, time as dtime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402

from app.config import get_settings, psycopg_url  # noqa: E402
from app.sla.calendar import LIMA  # noqa: E402
from bench.quiet import quiet  # noqa: E402
from bench.scratch_database import scratch_database  # noqa: E402

PASSWORD = "Banco-de-pruebas-2026"
MONTH = date(2025, 3, 1)
REQUESTS = 200


async def setup(db, n: int):  # noqa: ANN001, ANN201
    from app.auth.passwords import hash_password
    from app.db import TenantContext
    from app.sla import ingest
    from app.sla.models import Ans, AnsTarget, ServiceLimitRow
    from app.tenants.models import Centre, CentreModule, CentreOpeningHours, CentreService, Entity, Membership, User

    async with db.transaction(TenantContext.system()) as s:
        entity = Entity(ruc="20295613620", name="RENIEC (benchmark)", short_name="RENIEC", kind="publica")
        admin = Entity(ruc="20505703554", name="GR Callao (benchmark)", short_name="GRC", kind="publica")
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
        for code in ("DNI", "ACTA", "MENOR"):
            s.add(CentreService(centre_id=centre.id, entity_id=entity.id, code=code, name=code))
            s.add(ServiceLimitRow(centre_id=centre.id, entity_id=entity.id, service_code=code, max_wait_minutes=20,
                                  max_attention_minutes=15, counts=True, valid_from=date(2020, 1, 1)))
        ans = Ans(centre_id=centre.id, entity_id=entity.id, state="aceptado", valid_from=date(2020, 1, 1))
        s.add(ans)
        await s.flush()
        for indicator, comparison, target in (("espera", ">=", "0.90"), ("atencion", ">=", "0.90"),
                                              ("abandono", "<=", "0.06"), ("satisfaccion", ">=", "0.80")):
            s.add(AnsTarget(ans_id=ans.id, centre_id=centre.id, entity_id=entity.id, indicator=indicator,
                            comparison=comparison, target=Decimal(target), min_sample=30))
        user = User(email="gestor@bench.pe", full_name="Gestor", password_hash=hash_password(PASSWORD))
        s.add(user)
        await s.flush()
        s.add(Membership(user_id=user.id, entity_id=entity.id, role="gestor_entidad"))
    rng = random.Random(5)
    records = []
    day = MONTH
    days = []
    while day.month == MONTH.month:
        if day.weekday() != 6:
            days.append(day)
        day += timedelta(days=1)
    for i in range(n):
        d = days[i % len(days)]
        issued = datetime.combine(d, dtime(8), LIMA) + timedelta(seconds=rng.randint(0, 8 * 3600))
        called = issued + timedelta(minutes=rng.uniform(1, 35))
        ended = called + timedelta(minutes=rng.uniform(3, 20))
        records.append((i + 1, f"T{i:06d}", "1", "20295613620", rng.choice(("DNI", "ACTA", "MENOR")),
                        f"M{rng.randint(1, 20):02d}", "A", issued.isoformat(), called.isoformat(), called.isoformat(),
                        ended.isoformat(), "atendido"))
    async with db.transaction(TenantContext.system()) as s:
        await ingest.ingest_records(s, centre_id=centre.id, kind=ingest.TICKETS, records=records)
    return centre.id, entity.id


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


async def run(owner_url: str, n: int) -> None:
    quiet()
    import httpx

    from app.db import set_database, Database
    from app.main import create_app

    settings = get_settings()
    db = Database(settings.runtime_url(), pool_size=5)
    set_database(db)
    centre_id, entity_id = await setup(db, n)
    app = create_app(settings)
    quiet()  # no line per request: a benchmark prints its figures only
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        await client.get("/ingresar")
        r = await client.post("/ingresar", data={"_csrf_token": client.cookies["mac_csrf"], "correo": "gestor@bench.pe",
                                                 "contrasena": PASSWORD})
        assert r.status_code in (302, 303), r.text
        url = f"/ans/tablero/datos?centro={centre_id}&entidad={entity_id}&mes={MONTH:%Y-%m}"
        first = await client.get(url)
        assert first.status_code == 200 and "Tiempo de espera" in first.text, first.text[:500]
        endpoint = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            r = await client.get(url)
            endpoint.append(time.perf_counter() - started)
            assert r.status_code == 200

    conn = await asyncpg.connect(psycopg_url(owner_url))
    lo = datetime.combine(MONTH, dtime(0), LIMA)
    hi = datetime.combine((MONTH + timedelta(days=32)).replace(day=1), dtime(0), LIMA)
    raw_sql = """SELECT (issued_at AT TIME ZONE 'America/Lima')::date AS day, count(*) AS issued,
                        count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
                        count(*) FILTER (WHERE called_at IS NOT NULL AND outcome <> 'abandoned') AS waits,
                        count(*) FILTER (WHERE called_at - issued_at <= interval '20 minutes'
                                         AND outcome <> 'abandoned') AS waits_ok,
                        count(*) FILTER (WHERE ended_at - started_at <= interval '15 minutes') AS handled_ok
                 FROM sla_tickets WHERE centre_id = $1 AND entity_id = $2 AND issued_at >= $3 AND issued_at < $4
                 GROUP BY 1 ORDER BY 1"""
    rollup_sql = """SELECT day, sum(issued), sum(abandoned), sum(waits), sum(waits_ok), sum(handled_ok)
                    FROM sla_daily_service WHERE centre_id = $1 AND entity_id = $2 AND day >= $3 AND day < $4
                    GROUP BY day ORDER BY day"""
    raw, rolled = [], []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        await conn.fetch(raw_sql, centre_id, entity_id, lo, hi)
        raw.append(time.perf_counter() - started)
        started = time.perf_counter()
        await conn.fetch(rollup_sql, centre_id, entity_id, MONTH, (MONTH + timedelta(days=32)).replace(day=1))
        rolled.append(time.perf_counter() - started)
    await conn.close()
    await db.dispose()
    e99, r99, o99 = p99(endpoint), p99(raw), p99(rolled)
    print(f"Centro-mes de {n:,} tickets; {REQUESTS} solicitudes")
    print(f"  endpoint del tablero (/ans/tablero/datos) p50 {statistics.median(endpoint) * 1000:7.1f} ms   "
          f"p99 {e99 * 1000:7.1f} ms")
    print(f"  asyncpg: agregado desde los tickets      p50 {statistics.median(raw) * 1000:7.1f} ms   "
          f"p99 {r99 * 1000:7.1f} ms")
    print(f"  asyncpg: agregado desde los resúmenes    p50 {statistics.median(rolled) * 1000:7.1f} ms   "
          f"p99 {o99 * 1000:7.1f} ms")
    print(f"  RAZÓN p99 endpoint / agregado desde tickets:   {e99 / r99:.2f}×  (meta ≤ 2×)")
    print(f"  RAZÓN p99 endpoint / agregado desde resúmenes: {e99 / o99:.2f}×")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with scratch_database("mac_bench_dashboard") as owner:
        asyncio.run(run(owner, n))


if __name__ == "__main__":
    main()
