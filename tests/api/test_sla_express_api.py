"""A MAC Express point's system pushes its attentions with client credentials: a per-attention report, safe
retries, only for its own point (and, for a participant's client, only its own entity's attentions)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from app.db import TenantContext
from app.sla.models import ExpressAttention
from app.tenants.models import Centre
from tests.api.test_sla_machine_api import api, token_for  # noqa: F401  (fixtures and helper)
from tests.sla_helpers import build_world


@pytest.fixture
async def world(db, tenants):
    world = await build_world(db, tenants)
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(Centre).where(Centre.id == world.centre_id).values(channel="mac_express"))
    return world


def attention(world, n: str, **overrides) -> dict:
    a = {"atencion": n, "ruc_entidad": world.reniec.entity.ruc, "servicio": "DNI", "estado": "EN_SERVICIO",
         "fecha_registro": "2025-03-03T09:00:00-05:00", "fecha_inicio_atencion": "2025-03-03T09:03:00-05:00",
         "fecha_salida_servicio": "2025-03-03T09:05:00-05:00", "fecha_retorno_servicio": "2025-03-03T09:15:00-05:00",
         "fecha_fin_atencion": "2025-03-03T09:18:00-05:00"}
    a.update(overrides)
    return a


async def test_attentions_are_stored_reported_and_safe_to_retry(api, db, world):  # noqa: F811
    token = await token_for(api, db, world.admin.entity.id, world.centre_id)
    body = {"atenciones": [attention(world, "E1"), attention(world, "E2", estado="PERDIDA"), "basura"]}
    r = await api.post("/api/v1/mac-express/atenciones", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["leidos"], out["importados"], out["rechazados"]) == (3, 1, 2)
    assert [(e["linea"], e["campo"]) for e in out["errores"]] == [(2, "estado"), (3, "atencion")]
    again = await api.post("/api/v1/mac-express/atenciones", json=body, headers={"Authorization": f"Bearer {token}"})
    assert (again.json()["importados"], again.json()["sin_cambios"]) == (0, 1)


async def test_a_participants_client_sends_only_its_own_entitys_attentions(api, db, world):  # noqa: F811
    token = await token_for(api, db, world.sunat.entity.id, world.centre_id)
    body = {"atenciones": [attention(world, "E1"),
                           attention(world, "E2", ruc_entidad=world.sunat.entity.ruc, servicio="RUC")]}
    r = await api.post("/api/v1/mac-express/atenciones", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert (r.json()["importados"], r.json()["rechazados"]) == (1, 1)
    assert r.json()["errores"][0]["motivo"] == "Este cliente solo puede enviar atenciones de su propia entidad."
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(func.count()).select_from(ExpressAttention)
                              .where(ExpressAttention.centre_id == world.centre_id)) == 1


async def test_a_client_cannot_send_to_another_point_and_a_bad_body_is_refused(api, db, world, tenants):  # noqa: F811
    other = await build_world(db, tenants)
    token = await token_for(api, db, other.admin.entity.id, other.centre_id)
    r = await api.post("/api/v1/mac-express/atenciones", json={"centro": str(world.centre_id), "atenciones": []},
                       headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    r = await api.post("/api/v1/mac-express/atenciones", json={"centro": "x", "atenciones": []},
                       headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and "UUID" in r.text
    r = await api.post("/api/v1/mac-express/atenciones", content=b"{", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422
