"""The queue system pushes attention events with client credentials: batches up to 10,000, a per-event report,
safe retries, and only for its own centre (and, for a participant's client, only its own entity's rows)."""

from __future__ import annotations

import base64
import itertools

import httpx
import pytest
from sqlalchemy import func, select

from app.auth.tokens import create_client
from app.db import TenantContext
from app.sla.models import TicketSegment
from tests.sla_helpers import build_world

_addresses = itertools.count(1)


@pytest.fixture
async def api(app):
    n = next(_addresses)
    transport = httpx.ASGITransport(app=app, client=(f"10.88.{n // 250}.{n % 250 + 1}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c


@pytest.fixture
async def world(db, tenants):
    return await build_world(db, tenants)


async def token_for(api, db, entity_id, centre_id, scopes=("atenciones:escribir",)) -> str:  # noqa: ANN001
    client_id, secret = await create_client(db, entity_id=entity_id, centre_id=centre_id, name="Colas",
                                            scopes=scopes)
    auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    r = await api.post("/oauth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": f"Basic {auth}"})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def event(world, ticket: str, **overrides) -> dict:
    e = {"tipo": "atencion", "ticket": ticket, "ruc_entidad": world.reniec.entity.ruc, "servicio": "DNI",
         "modulo": "M01", "emitido": "2025-03-03T09:00:00-05:00", "llamado": "2025-03-03T09:05:00-05:00",
         "inicio": "2025-03-03T09:05:30-05:00", "fin": "2025-03-03T09:12:00-05:00", "resultado": "atendido"}
    e.update(overrides)
    return e


async def test_a_batch_is_stored_reported_per_event_and_safe_to_retry(api, db, world):
    token = await token_for(api, db, world.admin.entity.id, world.centre_id)
    body = {"eventos": [event(world, "A1"), event(world, "A2", emitido="2025-03-03 09:00"),
                        event(world, "A3", resultado="abandonado", llamado=None, inicio=None, fin=None)]}
    r = await api.post("/api/v1/atenciones/lotes", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["recibidos"], report["guardados"], report["sin_cambios"], report["rechazados"]) == (3, 2, 0, 1)
    assert report["errores"] == [{"linea": 2, "campo": "emitido",
                                  "motivo": "«2025-03-03 09:00» no indica la zona horaria: agregue el desfase "
                                            "(p. ej. -05:00)."}]
    again = await api.post("/api/v1/atenciones/lotes", json=body, headers={"Authorization": f"Bearer {token}"})
    assert (again.json()["guardados"], again.json()["sin_cambios"]) == (0, 2)
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(func.count()).select_from(TicketSegment)
                              .where(TicketSegment.centre_id == world.centre_id)) == 2


async def test_more_than_ten_thousand_events_is_refused_as_a_whole(api, db, world):
    token = await token_for(api, db, world.admin.entity.id, world.centre_id)
    r = await api.post("/api/v1/atenciones/lotes", json={"eventos": [{}] * 10_001},
                       headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "10000" in r.json()["detail"]


async def test_a_client_without_the_scope_or_for_another_centre_is_refused(api, db, world, tenants):
    no_scope = await token_for(api, db, world.admin.entity.id, world.centre_id, scopes=("centros:leer",))
    r = await api.post("/api/v1/atenciones/lotes", json={"eventos": []}, headers={"Authorization": f"Bearer {no_scope}"})
    assert r.status_code == 403
    other = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    foreign = await token_for(api, db, other.entity.id, other.centre.id)
    r = await api.post("/api/v1/atenciones/lotes", json={"centro": str(world.centre_id), "eventos": [event(world, "Z")]},
                       headers={"Authorization": f"Bearer {foreign}"})
    assert r.status_code == 403


async def test_a_participants_own_client_may_send_only_its_own_rows(api, db, world):
    token = await token_for(api, db, world.reniec.entity.id, world.centre_id)
    body = {"eventos": [event(world, "R1"),
                        event(world, "S1", ruc_entidad=world.sunat.entity.ruc, servicio="RUC")]}
    r = await api.post("/api/v1/atenciones/lotes", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert (r.json()["guardados"], r.json()["errores"][0]["linea"], r.json()["errores"][0]["campo"]) == \
        (1, 2, "ruc_entidad")


async def test_people_cannot_use_the_machine_endpoint(client, world, tenants):
    from app.auth.passwords import hash_password

    t = await tenants.create(roles=("coordinador_centro",), password_hash=hash_password("Clave-de-prueba-1"))
    await client.login(t.users["coordinador_centro"].email, "Clave-de-prueba-1")
    r = await client.post("/api/v1/atenciones/lotes", json={"eventos": []})
    assert r.status_code == 403
