"""Operators' view of a web process: /metrics behind its token, /ready naming the database and the broker, and
the rate limit kept in the shared store (two application instances, as two processes would, count as one)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app.db import TenantContext
from app.main import create_app
from app.stores import PostgresStore

TOKEN = "token-de-metricas-" + "z" * 24


def samples(body: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture(scope="module")
def metered_app(settings, db):
    return create_app(settings.model_copy(update={"metrics_token": TOKEN}))


@pytest.fixture
async def metered(metered_app):
    transport = httpx.ASGITransport(app=metered_app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        yield http


async def test_metrics_are_off_without_a_token(client):
    assert (await client.get("/metrics")).status_code == 404


async def test_metrics_refuse_a_missing_or_wrong_token(metered):
    assert (await metered.get("/metrics")).status_code == 401
    assert (await metered.get("/metrics", headers={"authorization": "Bearer otro"})).status_code == 401


async def test_a_scrape_shows_requests_by_route_template_and_the_outbox(metered, db):
    verification = f"/verificar/{uuid.uuid4().hex[:12].upper()}"
    await metered.get(verification)
    await metered.get("/health")
    response = await metered.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    health = [v for (name, labels), v in found.items()
              if name == "mac_requests_total" and ("path", "/health") in labels and ("method", "GET") in labels
              and ("status_code", "200") in labels]
    assert health and health[0] >= 1
    paths = {dict(labels).get("path") for (name, labels) in found if name == "mac_requests_total"}
    assert verification not in paths  # one series per route, never one per code
    assert any(name == "mac_request_duration_seconds_bucket" for name, _ in found)
    async with db.transaction(TenantContext.system()) as s:
        pending = await s.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"))
    assert found[("mac_outbox_messages", (("state", "pending"),))] == pending
    assert ("mac_outbox_oldest_pending_age_seconds", ()) in found
    assert any(name == "mac_db_pool_connections" for name, _ in found)
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"mac_jobs", "mac_job_duration_seconds", "mac_broker_refusals", "mac_ingest_rows"} <= families


async def test_readiness_names_the_database_and_the_broker(client):
    body = (await client.get("/ready")).json()
    assert body["estado"] == "listo" and body["base_de_datos"] == "ok"
    assert body["broker"] == {"tipo": "postgres", "estado": "ok"}


async def test_readiness_fails_when_the_configured_broker_does_not_answer(settings, db, monkeypatch):
    unreachable = settings.model_copy(update={"broker_url": "amqp://guest:guest@127.0.0.1:1/"})
    monkeypatch.setattr("app.config.get_settings", lambda: unreachable)
    transport = httpx.ASGITransport(app=create_app(unreachable), client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        response = await http.get("/ready")
    assert response.status_code == 503
    assert response.json()["broker"]["tipo"] == "rabbitmq" and response.json()["broker"]["estado"] != "ok"


async def test_sign_in_attempts_on_two_app_instances_are_throttled_as_one(settings, db):
    limited = settings.model_copy(update={"login_rate_limit_per_minute": 4})
    first, second = create_app(limited), create_app(limited)
    address = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    statuses = []
    for app in (first, second, first, second, first):
        transport = httpx.ASGITransport(app=app, client=(address, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
            await http.get("/ingresar")
            form = {"_csrf_token": http.cookies["mac_csrf"], "correo": "x@y.pe", "contrasena": "nada-de-nada-1"}
            statuses.append((await http.post("/ingresar", data=form)).status_code)
    assert statuses == [401, 401, 401, 401, 429]


async def test_the_postgres_store_keeps_namespaces_apart_and_forgets_expired_values(db):
    limits, other = PostgresStore(db.engine, "prueba_a"), PostgresStore(db.engine, "prueba_b")
    await limits.set("10.0.0.1", b"3", expires_in=60)
    await other.set("10.0.0.1", b"9")
    await limits.set("10.0.0.2", "vencido", expires_in=-1)
    assert await limits.get("10.0.0.1") == b"3" and await other.get("10.0.0.1") == b"9"
    assert await limits.get("10.0.0.2") is None and not await limits.exists("10.0.0.2")
    assert 0 < await limits.expires_in("10.0.0.1") <= 60
    async with db.engine.begin() as conn:  # keys are hashed: an address is never stored in clear
        assert not (await conn.execute(text("SELECT 1 FROM shared_store WHERE key_hash = '10.0.0.1'"))).first()
    await limits.delete_all()
    assert await limits.get("10.0.0.1") is None and await other.get("10.0.0.1") == b"9"
    await other.delete("10.0.0.1")
    assert await other.get("10.0.0.1") is None
