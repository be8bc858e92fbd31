"""Load benchmark: signed-in users against one and two `mac serve` processes, on the demo data plus a synthetic
national volume (18 Centros MAC, 59 entities, 3 years of daily ANS rollups).

The mix, each session looping over its role's pages (the session's cookie, as a browser):
  entity manager     /  (home)                    /ans/tablero (compliance dashboard)
  SGP supervisor     /ans/ranking (national view)  /  (home)
  finance            /estados-de-cuenta (list)     /estados-de-cuenta/{id}/pdf (download)
  centre coordinator /adhesiones (list)
at 1, 10 and 50 concurrent sessions, for a fixed time each, against one web process and against two (the
sessions are spread over the two ports, as a proxy would). Prints per route p50/p99 and throughput, and:
  * throughput with two processes ÷ one (goal ≥ 1.6 on a 2-core machine), at each concurrency;
  * the SGP national view's p99 with 3 years of national rollups ÷ with one month (goal ≤ 1.5).
The load generator runs on the same machine (it takes CPU from the servers): figures, not assertions; run it
a few times and read ranges.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_load.py [SECONDS] [REPEATS]
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from app.config import get_settings, psycopg_url  # noqa: E402
from bench.scratch_database import scratch_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MONTH = date(2026, 11, 1)  # the month the national view shows (the last full month of the demo)
# BENCH_SESSIONS=1,10 for a shorter run.
CONCURRENCY = tuple(int(n) for n in os.environ.get("BENCH_SESSIONS", "1,10,50").split(","))
TARGET_CENTRES, TARGET_ENTITIES, YEARS = 18, 59, 3
ENTITIES_PER_CENTRE = 10

ROLES = {
    "gestor": "gestor.reniec@demo.mac.pe",
    "sgp": "sgp@demo.mac.pe",
    "finanzas": "finanzas.reniec@demo.mac.pe",
    "coordinador": "coordinador.callao@demo.mac.pe",
}


# --- Data: the demo, then a synthetic national volume -----------------------------------------------------------

CLONE = "INSERT INTO {t} SELECT (jsonb_populate_record(NULL::{t}, to_jsonb(x) || {o})).* FROM {t} x WHERE {w}"


def national_volume(owner_url: str, first: date, last: date, *, structure: bool) -> int:
    """Entities and centres up to the national counts (``structure``), then daily rollups from ``first`` to
    ``last`` for every (centre, entity) with an ANS. Returns the rows of sla_daily_service inserted."""
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        conn.execute("SELECT set_config('app.role', 'sistema', true)")
        if structure:
            _structure(conn)
        pairs = conn.execute("SELECT DISTINCT centre_id, entity_id FROM sla_ans WHERE state = 'aceptado'").fetchall()
        histogram = conn.execute("SELECT wait_histogram FROM sla_daily_service LIMIT 1").fetchone()[0]
        before = conn.execute("SELECT count(*) FROM sla_daily_service").fetchone()[0]
        for centre_id, entity_id in pairs:
            for service in ("TRAMITE-A", "TRAMITE-B"):
                conn.execute("""
                    INSERT INTO sla_daily_service (centre_id, entity_id, service_code, day, issued, abandoned, waits,
                        waits_ok, handled, handled_ok, surveys, surveys_ok, excluded, wait_histogram)
                    SELECT %s, %s, %s, d::date, 120 + (extract(doy FROM d)::int %% 40), 4, 116, 104, 116, 108, 20,
                           17, 0, %s
                    FROM generate_series(%s::date, %s::date, interval '1 day') d
                    WHERE extract(isodow FROM d) < 7
                    ON CONFLICT DO NOTHING""", (centre_id, entity_id, service, histogram, first, last))
            conn.execute("""
                INSERT INTO sla_daily_entity (centre_id, entity_id, day, module_days, module_days_occupied,
                    module_days_checked, module_days_punctual, interruption_seconds, interruptions)
                SELECT %s, %s, d::date, 4, 4, 4, 4, 0, 0
                FROM generate_series(%s::date, %s::date, interval '1 day') d WHERE extract(isodow FROM d) < 7
                ON CONFLICT DO NOTHING""", (centre_id, entity_id, first, last))
        after = conn.execute("SELECT count(*) FROM sla_daily_service").fetchone()[0]
        conn.commit()
        conn.execute("ANALYZE sla_daily_service")
        conn.execute("ANALYZE sla_daily_entity")
        conn.commit()
    return after - before


def _structure(conn: psycopg.Connection) -> None:
    template_centre = conn.execute("SELECT id FROM centres WHERE code = 'MAC-CALLAO'").fetchone()[0]
    template_entity = conn.execute("SELECT entity_id FROM sla_ans WHERE centre_id = %s AND state = 'aceptado' "
                                   "LIMIT 1", (template_centre,)).fetchone()[0]
    template_ans = conn.execute("SELECT id FROM sla_ans WHERE centre_id = %s AND entity_id = %s AND state = 'aceptado'"
                                " LIMIT 1", (template_centre, template_entity)).fetchone()[0]
    entities = conn.execute("SELECT count(*) FROM entities").fetchone()[0]
    for n in range(entities, TARGET_ENTITIES):
        conn.execute(CLONE.format(t="entities", w="x.id = %s", o="jsonb_build_object('id', gen_random_uuid(), "
                                  "'ruc', %s::text, 'name', %s::text, 'short_name', %s::text, 'is_rector', false)"),
                     (f"20{n:09d}", f"Entidad sintética {n}", f"ES{n}", template_entity))
    centres = conn.execute("SELECT count(*) FROM centres WHERE channel = 'centro_mac'").fetchone()[0]
    for n in range(centres, TARGET_CENTRES):
        new = conn.execute("SELECT gen_random_uuid()").fetchone()[0]
        conn.execute(CLONE.format(t="centres", w="x.id = %s", o="jsonb_build_object('id', %s::uuid, 'code', %s::text,"
                                  " 'name', %s::text)"), (new, f"MAC-SINT-{n}", f"Centro MAC sintético {n}",
                                                          template_centre))
        conn.execute(CLONE.format(t="centre_opening_hours", w="x.centre_id = %s",
                                  o="jsonb_build_object('id', gen_random_uuid(), 'centre_id', %s::uuid)"),
                     (new, template_centre))
    all_entities = [e for (e,) in conn.execute("SELECT id FROM entities ORDER BY ruc")]
    synthetic_centres = [c for (c,) in conn.execute("SELECT id FROM centres WHERE code LIKE 'MAC-SINT-%%' ORDER BY code")]
    cycle = itertools.cycle(all_entities)
    for centre in synthetic_centres:
        for _ in range(ENTITIES_PER_CENTRE):
            entity = next(cycle)
            for service in ("TRAMITE-A", "TRAMITE-B"):
                conn.execute(CLONE.format(
                    t="centre_services", w="x.id = (SELECT id FROM centre_services WHERE centre_id = %s LIMIT 1)",
                    o="jsonb_build_object('id', gen_random_uuid(), 'centre_id', %s::uuid, 'entity_id', %s::uuid,"
                      " 'code', %s::text)"), (centre, entity, service, template_centre))
            ans = conn.execute("SELECT gen_random_uuid()").fetchone()[0]
            conn.execute(CLONE.format(t="sla_ans", w="x.id = %s", o="jsonb_build_object('id', %s::uuid, 'centre_id',"
                                      " %s::uuid, 'entity_id', %s::uuid, 'adhesion_id', null)"),
                         (ans, centre, entity, template_ans))
            conn.execute(CLONE.format(t="sla_ans_targets", w="x.ans_id = %s",
                                      o="jsonb_build_object('id', gen_random_uuid(), 'ans_id', %s::uuid, "
                                        "'centre_id', %s::uuid, 'entity_id', %s::uuid)"),
                         (ans, centre, entity, template_ans))


# --- Processes --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RUNNING: list[subprocess.Popen] = []  # stopped at exit whatever happens (Ctrl-C, SIGTERM)


def start_webs(count: int, env: dict[str, str], log_dir: Path) -> list[tuple[subprocess.Popen, str]]:
    webs = []
    for n in range(count):
        port = free_port()
        log = (log_dir / f"web-{count}-{n}.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)
        RUNNING.append(process)
        webs.append((process, f"http://127.0.0.1:{port}"))
    for process, url in webs:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"mac serve no arrancó ({url}); ver {log_dir}")
            time.sleep(0.3)
    return webs


def stop_webs(webs: list[tuple[subprocess.Popen, str]]) -> None:
    for process, _ in webs:
        process.terminate()
    for process, _ in webs:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


# --- Sessions and the mix ---------------------------------------------------------------------------------------


async def signed_in(url: str, email: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=120)
    await client.get("/ingresar")
    response = await client.post("/ingresar", data={"_csrf_token": client.cookies["mac_csrf"], "correo": email,
                                                    "contrasena": password})
    if response.status_code not in (302, 303):
        sys.exit(f"No se pudo iniciar sesión como {email}: {response.status_code}")
    return client


def routes_for(role: str, statement_id: str) -> list[tuple[str, str]]:
    """(route label, URL) in the order a session visits them."""
    return {
        "gestor": [("gestor /", "/"), ("gestor /ans/tablero", "/ans/tablero")],
        "sgp": [("sgp /ans/ranking", f"/ans/ranking?mes={MONTH:%Y-%m}"), ("sgp /", "/")],
        "finanzas": [("finanzas /estados-de-cuenta", "/estados-de-cuenta"),
                     ("finanzas descarga PDF", f"/estados-de-cuenta/{statement_id}/pdf")],
        "coordinador": [("coordinador /adhesiones", "/adhesiones")],
    }[role]


async def session_loop(client: httpx.AsyncClient, routes: list[tuple[str, str]], until: float,
                       samples: dict[str, list[float]], errors: dict[str, int]) -> None:
    for label, url in itertools.cycle(routes):
        if time.perf_counter() >= until:
            return
        started = time.perf_counter()
        response = await client.get(url)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            errors[label] += 1
        else:
            samples[label].append(elapsed)


async def measure(urls: list[str], passwords: dict[str, str], statement_id: str, sessions: int,
                  seconds: float) -> tuple[dict[str, list[float]], dict[str, int], float]:
    role_cycle = itertools.cycle(ROLES)
    clients = []
    for n in range(sessions):
        role = next(role_cycle)
        clients.append((role, await signed_in(urls[n % len(urls)], ROLES[role], passwords[ROLES[role]])))
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    async def warm_up(role: str, client: httpx.AsyncClient) -> None:  # every session once through its routes
        for _, url in routes_for(role, statement_id):
            await client.get(url)

    await asyncio.gather(*(warm_up(role, client) for role, client in clients))
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(session_loop(c, routes_for(r, statement_id), until, samples, errors) for r, c in clients))
    elapsed = time.perf_counter() - started
    for _, client in clients:
        await client.aclose()
    return samples, errors, elapsed


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(title: str, samples: dict[str, list[float]], errors: dict[str, int], elapsed: float) -> float:
    total = sum(len(v) for v in samples.values())
    print(f"  {title}: {total} respuestas en {elapsed:.1f} s = {total / elapsed:6.1f} solicitudes/s"
          + (f"  (errores: {dict(errors)})" if errors else ""), flush=True)
    for label in sorted(samples):
        values = samples[label]
        print(f"      {label:<32} n={len(values):5d}  p50 {pct(values, 50) * 1000:8.1f} ms   "
              f"p99 {pct(values, 99) * 1000:8.1f} ms")
    return total / elapsed


RANKING_REQUESTS = int(os.environ.get("BENCH_RANKING_REQUESTS", "30"))


async def national_view_p99(url: str, passwords: dict[str, str], requests: int = RANKING_REQUESTS) -> float:
    client = await signed_in(url, ROLES["sgp"], passwords[ROLES["sgp"]])
    path = f"/ans/ranking?mes={MONTH:%Y-%m}"
    await client.get(path)
    values = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path)
        values.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    await client.aclose()
    return pct(values, 99)


def main() -> None:
    import signal

    sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that the scratch database and servers go too
    try:
        _main()
    finally:
        for process in RUNNING:
            if process.poll() is None:
                process.kill()


def _main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with scratch_database("mac_bench_load") as owner, tempfile.TemporaryDirectory(prefix="mac-bench-load-") as tmp:
        data_dir = Path(tmp) / "datos"
        env = {**os.environ, "DATABASE_URL": owner, "DATA_DIR": str(data_dir),
               "SECRET_KEY": get_settings().resolved_secret_key(), "LOGIN_RATE_LIMIT_PER_MINUTE": "1000000"}
        env.pop("BROKER_URL", None)
        loaded = subprocess.run([sys.executable, "-m", "app.cli", "demo-data"], env=env, cwd=ROOT,
                                capture_output=True, text=True)
        if loaded.returncode != 0:
            sys.exit(loaded.stderr)
        passwords = dict(re.findall(r"^  .*?(\S+@demo\.mac\.pe) +(\S+)$", loaded.stdout, re.MULTILINE))
        with psycopg.connect(psycopg_url(owner)) as conn:
            conn.execute("SELECT set_config('app.role', 'sistema', true)")
            statement_id = str(conn.execute(
                "SELECT s.id FROM statements s JOIN entities e ON e.id = s.entity_id WHERE e.short_name = 'RENIEC'"
                " AND s.state = 'generado' LIMIT 1").fetchone()[0])
        last_day = date(MONTH.year + (MONTH.month == 12), MONTH.month % 12 + 1, 1).toordinal() - 1
        rows = national_volume(owner, MONTH, date.fromordinal(last_day), structure=True)
        print(f"Volumen nacional: {TARGET_CENTRES} Centros MAC, {TARGET_ENTITIES} entidades; un mes de resúmenes "
              f"({rows:_} filas diarias por servicio)".replace("_", "."))
        log_dir = Path(tmp)
        webs = start_webs(1, env, log_dir)
        month_p99 = [asyncio.run(national_view_p99(webs[0][1], passwords)) for _ in range(repeats)]
        stop_webs(webs)
        print(f"  Vista nacional SGP (/ans/ranking), 1 sesión, un mes de datos: p99 "
              + ", ".join(f"{v * 1000:.0f} ms" for v in month_p99), flush=True)
        rows = national_volume(owner, date(MONTH.year - YEARS, MONTH.month, 1), date.fromordinal(MONTH.toordinal() - 1),
                               structure=False)
        print(f"  + {YEARS} años de historia: {rows:_} filas diarias por servicio más".replace("_", "."))
        throughput: dict[tuple[int, int], list[float]] = defaultdict(list)
        years_p99 = []
        for repeat in range(1, repeats + 1):
            print(f"\nRonda {repeat} de {repeats} ({seconds:.0f} s por medición)")
            for processes in (1, 2):
                webs = start_webs(processes, env, log_dir)
                urls = [url for _, url in webs]
                try:
                    if processes == 1:
                        years_p99.append(asyncio.run(national_view_p99(urls[0], passwords)))
                        print(f"  Vista nacional SGP, 1 sesión, {YEARS} años de datos: p99 {years_p99[-1] * 1000:.0f} ms",
                              flush=True)
                    for sessions in CONCURRENCY:
                        samples, errors, elapsed = asyncio.run(measure(urls, passwords, statement_id, sessions,
                                                                       seconds))
                        throughput[(processes, sessions)].append(
                            report(f"{processes} proceso(s) web, {sessions} sesiones", samples, errors, elapsed))
                finally:
                    stop_webs(webs)
        print("\nResumen (rango entre rondas)")
        for sessions in CONCURRENCY:
            one, two = throughput[(1, sessions)], throughput[(2, sessions)]
            ratios = [b / a for a, b in zip(one, two, strict=True)]
            print(f"  {sessions:>2} sesiones: 1 proceso {min(one):6.1f}–{max(one):6.1f} sol/s; 2 procesos "
                  f"{min(two):6.1f}–{max(two):6.1f} sol/s; RAZÓN 2÷1 {min(ratios):.2f}–{max(ratios):.2f} (meta ≥ 1,6)")
        ratios = [y / m for m, y in zip(month_p99, years_p99, strict=True)]
        print(f"  Vista nacional SGP (/ans/ranking) p99: un mes {min(month_p99) * 1000:.0f}–{max(month_p99) * 1000:.0f}"
              f" ms; {YEARS} años {min(years_p99) * 1000:.0f}–{max(years_p99) * 1000:.0f} ms; "
              f"RAZÓN {min(ratios):.2f}–{max(ratios):.2f} (meta ≤ 1,5)")


if __name__ == "__main__":
    main()
