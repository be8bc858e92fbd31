"""Signing in with a password: the right person gets in, nothing says which part failed (the throttle of
repeated failures: test_login_throttle.py)."""

from __future__ import annotations


from app.auth.passwords import hash_password
from app.db import TenantContext

PASSWORD = "Clave-segura-2026"


async def test_a_manager_signs_in_and_lands_on_the_home_of_their_role(client, tenants):
    t = await tenants.create(roles=("gestor_entidad",), password_hash=hash_password(PASSWORD))
    response = await client.login(t.users["gestor_entidad"].email, PASSWORD)
    assert response.status_code in (302, 303)
    home = await client.get("/")
    assert home.status_code == 200
    assert "Gestor(a) de entidad" in home.text
    assert t.entity.name in home.text


async def test_a_wrong_password_is_refused_without_saying_which_part_failed(client, tenants):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(PASSWORD))
    wrong_password = await client.login(t.users["finanzas"].email, "otra-clave-123")
    unknown_user = await client.login("nadie@ejemplo.pe", "otra-clave-123")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "Correo o contraseña incorrectos." in wrong_password.text
    assert "Correo o contraseña incorrectos." in unknown_user.text
    assert (await client.get("/")).headers["location"] == "/ingresar"


async def test_a_person_with_two_memberships_chooses_the_entity_to_act_for(client, tenants, db):
    from app.tenants.models import Membership

    t = await tenants.create(roles=("gestor_entidad",), password_hash=hash_password(PASSWORD))
    other = await tenants.create(roles=("finanzas",))
    async with db.transaction(TenantContext.system()) as s:
        m = Membership(user_id=t.users["gestor_entidad"].id, entity_id=other.entity.id, role="finanzas")
        s.add(m)
    response = await client.login(t.users["gestor_entidad"].email, PASSWORD)
    assert response.headers["location"] == "/cambiar-entidad"
    await client.submit("/cambiar-entidad", {"membresia": str(m.id)})
    home = await client.get("/")
    assert other.entity.name in home.text and "Finanzas" in home.text


async def test_a_form_without_the_csrf_token_is_refused(client):
    response = await client.post("/ingresar", data={"correo": "a@b.pe", "contrasena": "x"})
    assert response.status_code == 403


async def test_signing_in_rotates_the_session_cookie(client, tenants):
    t = await tenants.create(roles=("gestor_entidad",), password_hash=hash_password(PASSWORD))
    planted = "a" * 64  # a session id fixated by an attacker
    await client.login(t.users["gestor_entidad"].email, PASSWORD)
    response = await client.submit("/ingresar", {"correo": t.users["gestor_entidad"].email, "contrasena": PASSWORD},
                                   headers={"cookie": f"mac_sesion={planted}; mac_csrf={await client.csrf()}"})
    issued = response.cookies.get("mac_sesion")
    assert issued and issued != planted
    assert (await client.get("/")).status_code == 200


async def test_health_and_readiness(client):
    assert (await client.get("/health")).json() == {"estado": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["estado"] == "listo"


async def test_sign_in_attempts_are_throttled_per_address(settings):
    import httpx

    from app.main import create_app

    throttled = create_app(settings.model_copy(update={"login_rate_limit_per_minute": 3}))
    transport = httpx.ASGITransport(app=throttled, client=("10.0.0.7", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        await http.get("/ingresar")
        form = {"_csrf_token": http.cookies["mac_csrf"], "correo": "x@y.pe", "contrasena": "nada-de-nada-1"}
        statuses = [(await http.post("/ingresar", data=form)).status_code for _ in range(4)]
        assert statuses[:3] == [401, 401, 401]
        assert statuses[3] == 429
        page = await http.post("/ingresar", data=form, headers={"accept": "text/html"})
        assert "demasiados intentos" in page.text.lower()


async def test_the_openapi_document_describes_the_machine_api_and_its_bearer_tokens(client):
    spec = (await client.get("/schema/openapi.json")).json()
    assert spec["info"]["title"] == "Plataforma MAC"
    assert "BearerToken" in spec["components"]["securitySchemes"]
    assert spec["paths"]["/api/v1/yo"]["get"]["security"] == [{"BearerToken": []}]
    assert "/ingresar" not in spec["paths"]  # HTML pages are not API
