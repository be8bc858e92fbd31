"""The API's writes cannot be forged from another site with a person's browser session.

People signed in with the session cookie (`mac_sesion`) may call /api/v1 too, so an unsafe call that rides only
on that cookie must echo the double-submit token (cookie `mac_csrf`) in the X-CSRFToken header; without it, or
with a wrong one, the answer is 403 problem+json in Spanish and nothing is written. Machine clients, whose bearer
token is the whole credential, need no such header; reading needs none either.
"""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from app.auth.passwords import hash_password
from app.auth.tokens import create_client
from app.db import TenantContext
from app.tenants.models import Entity
from tests.conftest import WebClient
from tests.factories import valid_ruc
from tests.sla_helpers import build_world

PASSWORD = "Clave-segura-2026"
PROBLEM_JSON = "application/problem+json"
ENTITIES = "/api/v1/admin/entidades"
MISSING = ("Falta el token CSRF en la cabecera X-CSRFToken: las escrituras de la API con sesión del navegador "
           "lo requieren.")


@pytest.fixture
async def admin_browser(tenants, db, client) -> WebClient:
    """The platform administrator (of the rector entity), signed in: the browser holds mac_sesion and mac_csrf."""
    tenant = await tenants.create(roles=("administrador_plataforma",), password_hash=hash_password(PASSWORD))
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(Entity, tenant.entity.id)).is_rector = True
    response = await client.login(tenant.users["administrador_plataforma"].email, PASSWORD)
    assert response.status_code in (302, 303), response.text
    assert {"mac_sesion", "mac_csrf"} <= set(client.http.cookies.keys())
    return client


def new_entity() -> dict:
    tag = uuid.uuid4().hex[:6]
    return {"ruc": valid_ruc(), "name": f"Superintendencia CSRF {tag}", "short_name": f"SC-{tag}",
            "kind": "publica", "level": "nacional"}


async def entities_with_ruc(db, ruc: str) -> int:
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(func.count()).select_from(Entity).where(Entity.ruc == ruc))


async def test_a_cookie_only_write_without_the_header_is_refused_in_spanish_and_stores_nothing(admin_browser, db):
    data = new_entity()
    # `.http` is the bare client: the session cookie goes along, as it would with a forged cross-site request.
    response = await admin_browser.http.post(ENTITIES, json=data)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert (problem["status"], problem["codigo"], problem["detail"], problem["instance"]) == \
        (403, "csrf", MISSING, ENTITIES)
    assert await entities_with_ruc(db, data["ruc"]) == 0


@pytest.mark.parametrize("token", ["no-es-un-token", "another browser's"])
async def test_a_cookie_only_write_with_a_wrong_token_is_refused_and_stores_nothing(admin_browser, app, db, token):
    if token == "another browser's":  # correctly signed by the server, but not this browser's cookie
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1:8000") as other:
            await other.get("/ingresar")
            token = other.cookies["mac_csrf"]
            assert token != admin_browser.http.cookies["mac_csrf"]
    data = new_entity()
    response = await admin_browser.http.post(ENTITIES, json=data, headers={"x-csrftoken": token})

    assert response.status_code == 403 and response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["codigo"] == "csrf"
    assert problem["detail"].startswith("El token CSRF de la cabecera X-CSRFToken no coincide con la cookie mac_csrf")
    assert await entities_with_ruc(db, data["ruc"]) == 0


async def test_the_same_write_with_the_browsers_token_in_the_header_succeeds(admin_browser, db):
    data = new_entity()
    response = await admin_browser.http.post(ENTITIES, json=data,
                                             headers={"x-csrftoken": admin_browser.http.cookies["mac_csrf"]})

    assert response.status_code == 201, response.text
    assert response.json()["ruc"] == data["ruc"]
    assert await entities_with_ruc(db, data["ruc"]) == 1


async def test_every_unsafe_method_is_checked_not_only_post(admin_browser, db):
    created = (await admin_browser.post(ENTITIES, json=new_entity())).json()  # the shared client sends the header
    url = f"{ENTITIES}/{created['id']}"

    forged = await admin_browser.http.patch(url, json={"name": "Nombre cambiado sin token"})
    assert forged.status_code == 403 and forged.json()["detail"] == MISSING
    assert (await admin_browser.get(url)).json()["name"] == created["name"]

    genuine = await admin_browser.http.patch(url, json={"name": "Nombre cambiado con token"},
                                             headers={"x-csrftoken": admin_browser.http.cookies["mac_csrf"]})
    assert genuine.status_code == 200 and genuine.json()["name"] == "Nombre cambiado con token"


async def test_reading_with_the_session_cookie_needs_no_header(admin_browser):
    created = (await admin_browser.post(ENTITIES, json=new_entity())).json()

    listing = await admin_browser.http.get(ENTITIES, params={"q": created["ruc"]})
    one = await admin_browser.http.get(f"{ENTITIES}/{created['id']}")

    assert listing.status_code == 200 and created["ruc"] in listing.text
    assert one.status_code == 200 and one.json()["ruc"] == created["ruc"]


async def test_a_machine_client_writes_with_its_bearer_token_and_no_csrf_header(app, db, tenants):
    world = await build_world(db, tenants)
    client_id, secret = await create_client(db, entity_id=world.admin.entity.id, centre_id=world.centre_id,
                                            name="Colas", scopes=("atenciones:escribir",))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.99.0.1", 40000)),
                                 base_url="http://127.0.0.1:8000") as machine:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        issued = await machine.post("/oauth/token", data={"grant_type": "client_credentials"},
                                    headers={"Authorization": f"Basic {basic}"})
        assert issued.status_code == 200, issued.text
        event = {"tipo": "atencion", "ticket": "C1", "ruc_entidad": world.reniec.entity.ruc, "servicio": "DNI",
                 "modulo": "M01", "emitido": "2025-03-03T09:00:00-05:00", "llamado": "2025-03-03T09:05:00-05:00",
                 "inicio": "2025-03-03T09:05:30-05:00", "fin": "2025-03-03T09:12:00-05:00", "resultado": "atendido"}
        response = await machine.post("/api/v1/atenciones/lotes", json={"eventos": [event]},
                                      headers={"Authorization": f"Bearer {issued.json()['access_token']}"})

        assert "mac_csrf" not in machine.cookies  # it never had a CSRF token to send
    assert response.status_code == 200, response.text
    assert response.json()["guardados"] == 1


async def test_a_bearer_header_never_borrows_the_session_it_skips_the_csrf_check_with(admin_browser, db):
    """The exemption is for requests judged by their token alone: a bad token with the session cookie alongside
    is an unauthenticated request, not the administrator's."""
    data = new_entity()
    response = await admin_browser.http.post(ENTITIES, json=data, headers={"Authorization": "Bearer inventado"})

    assert response.status_code == 401 and response.headers["content-type"].startswith(PROBLEM_JSON)
    assert await entities_with_ruc(db, data["ruc"]) == 0
