"""The platform as operators run it: two `mac serve` processes behind one address space and two `mac worker`
processes on RabbitMQ, all on one PostgreSQL. Nothing is in one process's memory: a session made on one web
process works on the other, sign-in attempts spread over both are throttled as one, each periodic job runs once
per period, a whole centre's statement batch yields each statement exactly once (even with every job queued
twice, as at-least-once delivery allows), killing a worker in the middle of the batch loses nothing, and a centre's
Novo SGA source asked to sync several times at once by both workers is never synced twice at the same time.

Needs RabbitMQ at RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672): skipped when unreachable, except
under CI, where that is a failure.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import datetime, timedelta

import httpx
import pika
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import psycopg_url
from app.localtime import today_lima
from app.sla.sources.secrets import encrypt
from app.sla.sources.sync import source_tag
from app.db import Database, TenantContext
from app.worker.outbox import enqueue_in_transaction
from tests.integration.test_broker_rabbitmq import rabbitmq_url  # noqa: F401 (fixture)
from tests.integration.test_novosga_sync import insert_v1, novo_catalogue_v1
from tests.mariadb import READER, READER_PASSWORD, MariaDB
from tests.scale_fixtures import ScratchDatabase, mac_cluster, scratch  # noqa: F401

pytestmark = pytest.mark.rabbitmq

METRICS_TOKEN = "metricas-" + "m" * 30
RATE_LIMIT = 5
PERIODIC = ("reconcile_statements", "audit_checkpoint", "apply_retention", "sla_evaluate_alerts",
            "sla_close_previous_month")
PROXIED_CLIENT = "203.0.113.7"  # a citizen's address, as the proxy (127.0.0.1, trusted) reports it


def demo_passwords(output: str) -> dict[str, str]:
    return dict(re.findall(r"^  .*?(\S+@demo\.mac\.pe) +(\S+)$", output, re.MULTILINE))


def sign_in(base_url: str, email: str, password: str, *, headers: dict | None = None) -> tuple[httpx.Client, int]:
    client = httpx.Client(base_url=base_url, headers=headers or {}, timeout=60)
    client.get("/ingresar")
    response = client.post("/ingresar", data={"_csrf_token": client.cookies["mac_csrf"], "correo": email,
                                              "contrasena": password})
    return client, response.status_code


def owner_query(database: ScratchDatabase, query: str, *params):  # noqa: ANN201
    with psycopg.connect(psycopg_url(database.owner_url)) as conn:
        conn.execute("SELECT set_config('app.role', 'sistema', true)")
        return conn.execute(query, params).fetchall()


def wait_for(predicate, *, timeout: float, what: str, cluster=None) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.kind} {p.port or ''}\n{p.log()[-3000:]}" for p in cluster.processes) if cluster else ""
            raise AssertionError(f"Tiempo agotado esperando {what}\n{logs}")
        time.sleep(0.5)


def enqueue_jobs(database: ScratchDatabase, job: str, arguments: list[str]) -> None:
    """One ``job`` message per argument, through the outbox, in one transaction."""
    async def enqueue() -> None:
        db = Database(database.settings.runtime_url(), pool_size=1)
        try:
            async with db.transaction(TenantContext.system()) as s:
                for argument in arguments:
                    await enqueue_in_transaction(s, job, argument)
        finally:
            await db.dispose()

    asyncio.run(enqueue())


def queue_duplicates(database: ScratchDatabase, statement_ids: list[str]) -> None:
    """Every statement's job once more, as a redelivery would: generation must still happen once."""
    enqueue_jobs(database, "generate_statement", statement_ids)


NOVO_ROWS = 20
SYNC_REQUESTS = 4


def point_the_demo_source_at(database: ScratchDatabase, maria: MariaDB) -> str:
    """The demo's Novo source at MAC Callao (an unreachable host) now reads a real Novo 1.x database holding
    yesterday's attentions; returns the source's id."""
    novo = maria.create_novo(1)
    novo_catalogue_v1(maria, novo)
    yesterday = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(maria, novo, "historico_atendimentos", [
        {"id": n, "servico": 1, "status": 8, "numero": n, "cheg": yesterday + timedelta(hours=8, minutes=n),
         "cha": yesterday + timedelta(hours=8, minutes=n + 5), "ini": yesterday + timedelta(hours=8, minutes=n + 6),
         "fim": yesterday + timedelta(hours=8, minutes=n + 9)} for n in range(1, NOVO_ROWS + 1)])
    [(source_id,)] = owner_query(
        database, "UPDATE sla_data_sources SET host = '127.0.0.1', port = %s, database = %s, username = %s, "
                  "password_encrypted = %s WHERE kind = 'novosga' RETURNING id",
        maria.port, novo, READER, encrypt(READER_PASSWORD, secret_key=database.env["SECRET_KEY"]))
    return str(source_id)


def job_runs(metrics_text: str) -> dict[tuple[str, str], float]:
    runs = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "mac_jobs":
            for sample in family.samples:
                if sample.name == "mac_jobs_total":
                    key = (sample.labels["job"], sample.labels["outcome"])
                    runs[key] = runs.get(key, 0) + sample.value
    return runs


def delete_queues(url: str, prefix: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for name in ("default", "mail", "reports"):
            for queue in (f"{prefix}{name}", f"{prefix}{name}.DQ", f"{prefix}{name}.XQ"):
                channel.queue_delete(queue=queue)
    finally:
        connection.close()


def test_two_web_and_two_worker_processes_on_rabbitmq_behave_as_one_platform(scratch, rabbitmq_url, mariadb,
                                                                               tmp_path):
    loaded = scratch.mac("demo-data", timeout=600)
    assert loaded.returncode == 0, loaded.stderr
    passwords = demo_passwords(loaded.stdout)
    prefix = f"mp{uuid.uuid4().hex[:8]}_"
    metrics_dir = tmp_path / "metricas"
    metrics_dir.mkdir()
    env = {**scratch.env, "BROKER_URL": rabbitmq_url, "QUEUE_PREFIX": prefix, "METRICS_TOKEN": METRICS_TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LOGIN_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
           "FORWARDED_ALLOW_IPS": "127.0.0.1"}
    try:
        with mac_cluster(env, tmp_path / "procesos", webs=2, workers=2) as cluster:
            web_a, web_b = cluster.webs
            for web in cluster.webs:
                ready = httpx.get(f"{web.url}/ready").json()
                assert ready["broker"] == {"tipo": "rabbitmq", "estado": "ok"} and ready["base_de_datos"] == "ok"

            # One source asked to sync several times at once, with both workers taking the requests: its syncs
            # never overlap (the source's advisory lock), and its rows are imported once.
            source_id = point_the_demo_source_at(scratch, mariadb)
            enqueue_jobs(scratch, "sla_sync_source", [source_id] * SYNC_REQUESTS)
            wait_for(lambda: "".join(w.log() for w in cluster.workers).count("Trabajo sla_sync_source terminado")
                     == SYNC_REQUESTS, timeout=240, what="every sync request", cluster=cluster)
            runs = owner_query(scratch, "SELECT started_at, finished_at, status, imported FROM sla_sync_runs"
                                        " WHERE source_id = %s ORDER BY started_at", source_id)
            for (_, ended, _, _), (began, _, _, _) in zip(runs, runs[1:]):
                assert began >= ended, f"two syncs of one source overlapped: {runs}"
            assert sum(imported for _, _, status, imported in runs if status == "exito") == NOVO_ROWS
            assert owner_query(scratch, "SELECT count(*) FROM sla_tickets WHERE ticket_id LIKE %s",
                               source_tag(uuid.UUID(source_id)) + ":%")[0][0] == NOVO_ROWS

            # A session made on one web process is used on the other.
            coordinator, status = sign_in(web_a.url, "coordinador.callao@demo.mac.pe",
                                          passwords["coordinador.callao@demo.mac.pe"])
            assert status in (302, 303), status
            on_b = httpx.Client(base_url=web_b.url, cookies=coordinator.cookies, timeout=60)
            home = on_b.get("/")
            assert home.status_code == 200 and "Carmen Flores Vega" in home.text

            # The whole centre's batch, started on web B; the workers share it.
            [(period_id,)] = owner_query(scratch, "SELECT p.id FROM cost_periods p JOIN centres c ON c.id = p.centre_id"
                                                  " WHERE p.state = 'publicado' AND c.code LIKE '%%CALLAO%%'")
            on_b.get("/estados-de-cuenta/lotes")
            started = on_b.post("/estados-de-cuenta/lotes/", data={"_csrf_token": on_b.cookies["mac_csrf"],
                                                                    "periodo": str(period_id)})
            assert started.status_code in (302, 303) and "/estados-de-cuenta/lotes/" in started.headers["location"]
            batch_id = started.headers["location"].rsplit("/", 1)[-1]
            statement_ids = [str(i) for (i,) in owner_query(
                scratch, "SELECT statement_id FROM statement_batch_items WHERE batch_id = %s", batch_id)]
            assert len(statement_ids) == 7
            queue_duplicates(scratch, statement_ids)

            def generated() -> int:
                return owner_query(scratch, "SELECT count(*) FROM statements WHERE id = ANY(%s::uuid[])"
                                            " AND state = 'generado'", statement_ids)[0][0]

            # Kill one worker in the middle of the batch: no clean shutdown, jobs in its hands are redelivered.
            # The victim is the first worker to finish a statement: it holds more of the batch (dramatiq
            # prefetches), unacknowledged, when it dies.
            def first_to_generate():  # noqa: ANN202
                return next((w for w in cluster.workers if "Trabajo generate_statement terminado" in w.log()), None)

            wait_for(lambda: first_to_generate() is not None, timeout=240, what="the first statement", cluster=cluster)
            victim = first_to_generate()
            victim.kill()
            assert generated() < len(statement_ids), "the batch ended before the worker could be killed"
            wait_for(lambda: generated() == len(statement_ids), timeout=420, what="every statement", cluster=cluster)
            # Two workers finishing the last two items at once must still complete the batch.
            wait_for(lambda: owner_query(scratch, "SELECT state FROM statement_batches WHERE id = %s",
                                         batch_id)[0][0] == "completado", timeout=60, what="the batch", cluster=cluster)
            wait_for(lambda: owner_query(scratch, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == 0,
                     timeout=60, what="the outbox to drain", cluster=cluster)

            # Exactly once: one PDF, CSV and XLSX each, one registered document, one generation attempt.
            files = owner_query(scratch, "SELECT statement_id, count(*) FILTER (WHERE format = 'pdf'), count(*)"
                                         " FROM statement_files WHERE statement_id = ANY(%s::uuid[])"
                                         " GROUP BY statement_id", statement_ids)
            assert sorted((str(s), pdfs, total) for s, pdfs, total in files) == \
                sorted((s, 1, 3) for s in statement_ids)
            attempts = owner_query(scratch, "SELECT attempts FROM statements WHERE id = ANY(%s::uuid[])",
                                   statement_ids)
            assert [a for (a,) in attempts] == [1] * len(statement_ids)

            # Sign-in attempts from one address, alternating between the two web processes, throttled as one.
            statuses = []
            for n in range(RATE_LIMIT + 1):
                web = cluster.webs[n % 2]
                _, status = sign_in(web.url, "nadie@demo.mac.pe", "no-es-la-clave-1",
                                    headers={"x-forwarded-for": PROXIED_CLIENT})
                statuses.append(status)
            assert statuses == [401] * RATE_LIMIT + [429]

            # The metrics of every process (multiprocess mode), scraped from either web process.
            scraped = httpx.get(f"{web_a.url}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}).text
            runs = job_runs(scraped)
            assert runs.get(("generate_statement", "ok"), 0) >= len(statement_ids)
            assert runs.get(("generate_statement", "error"), 0) == 0
            worker_logs = "".join(w.log() for w in cluster.workers)
    finally:
        delete_queues(rabbitmq_url, prefix)

    # Each periodic job ran once in this period, whichever worker claimed it.
    for name in PERIODIC:
        assert len(re.findall(rf"Trabajo {name} terminado: ok", worker_logs)) == 1, name
    assert len(list(scratch.settings.checkpoint_dir().glob("ancla-*.json"))) == 1
