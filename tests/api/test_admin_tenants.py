"""The platform administrator manages entities, centres, people and roles, on HTML pages and through the API.

Every refusal is in Spanish, one message per field, and stores nothing; every other role is turned away from
every administration route without seeing any data.
"""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import date, timedelta

import httpx
import pytest
from litestar.routes import HTTPRoute
from sqlalchemy import func, select

from app.audit_models import AuditEntry
from app.auth.passwords import hash_password
from app.db import TenantContext
from app.tenants.models import Centre, CentreOpeningHours, Entity, Membership, User
from app.tenants.schemas import RUC_MESSAGE
from tests.conftest import WebClient
from tests.factories import valid_dni, valid_ruc

PASSWORD = "Clave-segura-2026"
PROBLEM_JSON = "application/problem+json"
_addresses = itertools.count(1)


# ------------------------------------------------------------------------------------- fixtures ---


@pytest.fixture
async def make_client(app):
    """Browser-like clients, each from its own address: sign-in is throttled per address, and the suite
    signs in many times from the shared application."""
    opened: list[httpx.AsyncClient] = []

    async def make() -> WebClient:
        n = next(_addresses)
        transport = httpx.ASGITransport(app=app, client=(f"10.77.{n // 250}.{n % 250 + 1}", 50000))
        http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000")
        opened.append(http)
        return WebClient(http)

    yield make
    for http in opened:
        await http.aclose()


@pytest.fixture
async def admin(tenants, db):
    """The platform administrator, acting for the rector entity (PCM)."""
    tenant = await tenants.create(roles=("administrador_plataforma",), password_hash=hash_password(PASSWORD))
    async with db.transaction(TenantContext.system()) as s:
        entity = await s.get(Entity, tenant.entity.id)
        entity.is_rector = True
    tenant.entity.is_rector = True
    return tenant


@pytest.fixture
async def as_admin(admin, make_client) -> WebClient:
    client = await make_client()
    response = await client.login(admin.users["administrador_plataforma"].email, PASSWORD)
    assert response.status_code in (302, 303), response.text
    return client


def entity_payload(**overrides) -> dict:
    tag = uuid.uuid4().hex[:6]
    return {"ruc": valid_ruc(), "name": f"Superintendencia de Prueba {tag}", "short_name": f"SP-{tag}",
            "kind": "publica", "level": "nacional", **overrides}


def centre_payload(entity_id, **overrides) -> dict:
    tag = uuid.uuid4().hex[:6].upper()
    return {"name": f"Centro MAC Prueba {tag}", "code": f"MAC-{tag}", "channel": "centro_mac",
            "address": "Av. Alfonso Ugarte 123", "ubigeo": "150101", "administering_entity_id": str(entity_id),
            "opened_on": "2024-03-01", **overrides}


def errors_by_field(problem: dict) -> dict[str, str]:
    return {e["campo"]: e["mensaje"] for e in problem.get("errores", [])}


async def count(db, model, *conditions) -> int:
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(func.count()).select_from(model).where(*conditions))


async def audit_actions(db, record_id) -> list[AuditEntry]:
    async with db.transaction(TenantContext.system()) as s:
        return list((await s.scalars(select(AuditEntry).where(AuditEntry.record_id == str(record_id))
                                     .order_by(AuditEntry.seq))).all())


# ------------------------------------------------------------------------------------- entities ---


async def test_the_administrator_registers_an_entity_with_a_valid_ruc_and_finds_it_listed(as_admin, db):
    data = entity_payload()
    response = await as_admin.submit("/admin/entidades", data)
    assert response.status_code == 303 and response.headers["location"] == "/admin/entidades"

    listed = await as_admin.get("/admin/entidades", params={"q": data["ruc"]})
    assert f"Se registró la entidad {data['short_name']}" in listed.text
    assert data["ruc"] in listed.text and data["name"] in listed.text

    async with db.transaction(TenantContext.system()) as s:
        entity = await s.scalar(select(Entity).where(Entity.ruc == data["ruc"]))
    assert (entity.kind, entity.level, entity.is_rector, entity.is_active) == ("publica", "nacional", False, True)
    [entry] = await audit_actions(db, entity.id)
    assert entry.action == "entidad_creada" and entry.after["ruc"] == data["ruc"]


async def test_a_wrong_ruc_is_refused_in_spanish_next_to_the_field_and_nothing_is_stored(as_admin, db):
    good = valid_ruc()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)  # same RUC, wrong check digit
    data = entity_payload(ruc=bad)

    page = await as_admin.submit("/admin/entidades", data)
    assert page.status_code == 422
    assert 'id="entidad-ruc-error"' in page.text and RUC_MESSAGE in page.text
    assert 'aria-invalid="true"' in page.text
    assert f'value="{bad}"' in page.text and f'value="{data["name"]}"' in page.text  # what was typed stays

    api = await as_admin.post("/api/v1/admin/entidades", json=data)
    assert api.status_code == 422 and api.headers["content-type"].startswith(PROBLEM_JSON)
    assert api.json()["errores"] == [{"campo": "ruc", "mensaje": RUC_MESSAGE}]

    assert await count(db, Entity, Entity.ruc == bad) == 0
    assert await count(db, Entity, Entity.name == data["name"]) == 0


async def test_a_duplicate_ruc_is_a_conflict_in_problem_json_and_on_the_form(as_admin, db):
    data = entity_payload()
    assert (await as_admin.post("/api/v1/admin/entidades", json=data)).status_code == 201

    again = await as_admin.post("/api/v1/admin/entidades", json=entity_payload(ruc=data["ruc"]))
    assert again.status_code == 409 and again.headers["content-type"].startswith(PROBLEM_JSON)
    problem = again.json()
    assert problem["detail"] == f"Ya existe una entidad con el RUC {data['ruc']}."
    assert problem["status"] == 409 and errors_by_field(problem) == {"ruc": problem["detail"]}

    page = await as_admin.submit("/admin/entidades", entity_payload(ruc=data["ruc"]))
    assert page.status_code == 409 and f"Ya existe una entidad con el RUC {data['ruc']}." in page.text
    assert await count(db, Entity, Entity.ruc == data["ruc"]) == 1


async def test_each_invalid_field_gets_exactly_one_spanish_message(as_admin):
    response = await as_admin.post("/api/v1/admin/entidades", json={
        "ruc": "123", "name": "", "kind": "mixta", "level": "provincial", "is_rector": True})
    assert response.status_code == 422
    errors = errors_by_field(response.json())
    assert errors == {
        "ruc": RUC_MESSAGE,
        "name": "Este campo es obligatorio.",
        "short_name": "Este campo es obligatorio.",
        "kind": "Elija una opción válida ('publica' o 'privada').",
        "level": "Elija una opción válida ('nacional', 'regional' o 'local').",
        "is_rector": "Campo no reconocido.",
    }


async def test_a_blank_form_names_each_missing_field_once_in_the_summary_and_next_to_it(as_admin):
    page = await as_admin.submit("/admin/entidades", {})
    assert page.status_code == 422
    for field, label in (("ruc", "RUC"), ("name", "Nombre"), ("short_name", "Sigla o nombre corto"), ("kind", "Tipo")):
        assert page.text.count(f"{label}: Este campo es obligatorio.") == 1, label
        assert f'<p class="campo-error" id="entidad-{field}-error"' in page.text
    assert 'id="entidad-level-error"' not in page.text  # the level depends on a kind not chosen yet


async def test_only_public_entities_have_a_level_of_government(as_admin):
    private_with_level = await as_admin.post("/api/v1/admin/entidades", json=entity_payload(kind="privada"))
    assert errors_by_field(private_with_level.json()) == {
        "level": "Una entidad privada no tiene nivel de gobierno: deje este campo vacío."}
    public_without = await as_admin.post("/api/v1/admin/entidades", json=entity_payload(level=None))
    assert errors_by_field(public_without.json()) == {"level": "Indique el nivel de gobierno de la entidad pública."}
    private = await as_admin.post("/api/v1/admin/entidades", json=entity_payload(kind="privada", level=None))
    assert private.status_code == 201 and private.json()["level"] is None


async def test_an_update_changes_only_what_was_sent_and_audits_before_and_after(as_admin, db):
    created = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload())).json()
    response = await as_admin.patch(f"/api/v1/admin/entidades/{created['id']}",
                                    json={"kind": "privada", "level": None})
    assert response.status_code == 200
    assert response.json() | {"kind": "publica", "level": "nacional"} == created
    entries = await audit_actions(db, created["id"])
    assert entries[-1].action == "entidad_actualizada"
    assert entries[-1].before == {"kind": "publica", "level": "nacional"}
    assert entries[-1].after == {"kind": "privada", "level": None}

    # The result must still be a valid entity.
    refused = await as_admin.patch(f"/api/v1/admin/entidades/{created['id']}", json={"kind": "publica"})
    assert refused.status_code == 422 and "level" in errors_by_field(refused.json())


async def test_the_entity_list_searches_by_ruc_or_name_and_answers_htmx_with_the_table_only(as_admin):
    tag = uuid.uuid4().hex[:8]
    one = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload(name=f"Registro {tag} Uno"))).json()
    two = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload(name=f"Registro {tag} Dos"))).json()

    by_name = (await as_admin.get("/api/v1/admin/entidades", params={"q": tag})).json()
    assert {e["id"] for e in by_name["items"]} == {one["id"], two["id"]} and by_name["total"] == 2
    by_ruc = (await as_admin.get("/api/v1/admin/entidades", params={"q": one["ruc"]})).json()
    assert [e["id"] for e in by_ruc["items"]] == [one["id"]]
    # Words make it a name search: the digits in "Registro 12345" are not looked for in RUCs.
    mixed = (await as_admin.get("/api/v1/admin/entidades", params={"q": f"Registro {one['ruc'][2:7]}"})).json()
    assert mixed["total"] == 0

    fragment = await as_admin.get("/admin/entidades", params={"q": f"{tag} dos"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert two["ruc"] in fragment.text and one["ruc"] not in fragment.text


async def test_a_deactivated_entity_keeps_its_history_and_the_rector_cannot_be_deactivated(as_admin, admin, db):
    created = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload())).json()
    response = await as_admin.post(f"/api/v1/admin/entidades/{created['id']}/desactivar")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert await count(db, Entity, Entity.id == created["id"]) == 1
    assert [e.action for e in await audit_actions(db, created["id"])] == ["entidad_creada", "entidad_desactivada"]

    rector = await as_admin.post(f"/api/v1/admin/entidades/{admin.entity.id}/desactivar")
    assert rector.status_code == 409 and rector.json()["detail"] == "La entidad rectora (PCM) no puede desactivarse."


# -------------------------------------------------------------------------------------- centres ---


async def test_a_centre_gets_its_hours_modules_and_services_through_the_forms(as_admin, db):
    administrator = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload())).json()
    participant = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload())).json()
    data = centre_payload(administrator["id"])
    created = await as_admin.submit("/admin/centros", data)
    assert created.status_code == 303
    centre_url = created.headers["location"]
    centre_id = centre_url.rsplit("/", 1)[1]

    hours = await as_admin.submit(f"{centre_url}/horarios", {
        "weekdays": ["0", "1", "2", "3", "4"], "opens_at": "08:00", "closes_at": "16:45", "valid_from": "2024-03-01"})
    saturday = await as_admin.submit(f"{centre_url}/horarios", {
        "weekdays": "5", "opens_at": "08:00", "closes_at": "13:45", "valid_from": "2024-03-01"})
    module = await as_admin.submit(f"{centre_url}/modulos", {"code": "m01", "kind": "fijo", "area_m2": "12"})
    virtual = await as_admin.submit(f"{centre_url}/modulos", {"code": "V01", "kind": "virtual"})
    service = await as_admin.submit(f"{centre_url}/servicios", {
        "entity_id": participant["id"], "code": "dni-duplicado", "name": "Duplicado del DNI"})
    assert [r.status_code for r in (hours, saturday, module, virtual, service)] == [303] * 5

    page = await as_admin.get(centre_url)
    assert "Se agregó el servicio «Duplicado del DNI»" in page.text
    detail = (await as_admin.get(f"/api/v1/admin/centros/{centre_id}")).json()
    assert detail["code"] == data["code"] and detail["administering_entity_name"] == administrator["short_name"]
    assert sorted((h["weekday"], h["opens_at"], h["closes_at"]) for h in detail["hours"]) == (
        [(d, "08:00:00", "16:45:00") for d in range(5)] + [(5, "08:00:00", "13:45:00")])
    assert [(m["code"], m["kind"], m["area_m2"]) for m in detail["modules"]] == [("M01", "fijo", 12), ("V01", "virtual", None)]
    assert [(s["entity_name"], s["code"]) for s in detail["services"]] == [(participant["short_name"], "DNI-DUPLICADO")]
    assert {e.action for e in await audit_actions(db, centre_id)} == {
        "centro_creado", "horario_definido", "modulo_agregado", "servicio_agregado"}


async def test_new_opening_hours_supersede_the_old_ones_from_their_date_and_history_is_kept(as_admin, db):
    entity = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload())).json()
    centre = (await as_admin.post("/api/v1/admin/centros", json=centre_payload(entity["id"]))).json()
    url = f"/api/v1/admin/centros/{centre['id']}/horarios"
    past, future = date.today() - timedelta(days=400), date.today() + timedelta(days=30)
    await as_admin.post(url, json={"weekdays": [0], "opens_at": "08:00", "closes_at": "16:45", "valid_from": str(past)})
    await as_admin.post(url, json={"weekdays": [0], "opens_at": "09:00", "closes_at": "17:00",
                                   "valid_from": str(past + timedelta(days=100))})
    response = await as_admin.post(url, json={"weekdays": [0], "opens_at": "07:30", "closes_at": "15:00",
                                              "valid_from": str(future)})
    assert response.status_code == 201
    states = {(h["opens_at"], h["status"]) for h in response.json()["hours"]}
    assert states == {("08:00:00", "reemplazado"), ("09:00:00", "vigente"), ("07:30:00", "programado")}
    assert await count(db, CentreOpeningHours, CentreOpeningHours.centre_id == centre["id"]) == 3

    clash = await as_admin.post(url, json={"weekdays": [0, 1], "opens_at": "08:00", "closes_at": "12:00",
                                           "valid_from": str(future)})
    assert clash.status_code == 409 and "lunes" in clash.json()["detail"]
    assert await count(db, CentreOpeningHours, CentreOpeningHours.centre_id == centre["id"]) == 3  # not even Tuesday


async def test_hours_must_close_after_they_open_and_the_form_says_so_in_spanish(as_admin, db):
    entity = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload())).json()
    centre = (await as_admin.post("/api/v1/admin/centros", json=centre_payload(entity["id"]))).json()
    page = await as_admin.submit(f"/admin/centros/{centre['id']}/horarios", {
        "opens_at": "17:00", "closes_at": "08:00", "valid_from": "2025-01-01"})
    assert page.status_code == 422
    assert "La hora de cierre debe ser posterior a la de apertura." in page.text
    assert "Elija al menos un día." in page.text
    assert await count(db, CentreOpeningHours, CentreOpeningHours.centre_id == centre["id"]) == 0


async def test_centre_and_module_codes_are_unique_and_a_centre_needs_an_active_administering_entity(as_admin, db):
    entity = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload())).json()
    data = centre_payload(entity["id"])
    centre = (await as_admin.post("/api/v1/admin/centros", json=data)).json()
    duplicate = await as_admin.post("/api/v1/admin/centros", json=centre_payload(entity["id"], code=data["code"]))
    assert duplicate.status_code == 409
    assert errors_by_field(duplicate.json()) == {"code": f"Ya existe un centro con el código {data['code']}."}

    module_url = f"/api/v1/admin/centros/{centre['id']}/modulos"
    assert (await as_admin.post(module_url, json={"code": "M01", "area_m2": 10})).status_code == 201
    again = await as_admin.post(module_url, json={"code": "m01"})
    assert again.status_code == 409 and again.json()["detail"] == "El centro ya tiene un módulo con el código M01."
    negative = await as_admin.post(module_url, json={"code": "M02", "area_m2": -1})
    assert errors_by_field(negative.json()) == {"area_m2": "Debe ser mayor o igual a 0."}

    unknown = await as_admin.post("/api/v1/admin/centros", json=centre_payload(uuid.uuid4(), ubigeo="1501"))
    assert errors_by_field(unknown.json()) == {"ubigeo": "El ubigeo debe tener 6 dígitos (por ejemplo, 150101)."}
    unknown = await as_admin.post("/api/v1/admin/centros", json=centre_payload(uuid.uuid4()))
    assert unknown.status_code == 422
    assert errors_by_field(unknown.json()) == {"administering_entity_id": "Elija una entidad activa."}
    assert await count(db, Centre, Centre.administering_entity_id == entity["id"]) == 1


# ------------------------------------------------------------------------------ people and roles ---


async def test_a_new_user_chooses_a_password_through_a_one_time_link_and_signs_in_with_a_granted_role(
        as_admin, make_client, db):
    entity = (await as_admin.post("/api/v1/admin/entidades", json=entity_payload())).json()
    email = f"Ana.Quispe.{uuid.uuid4().hex[:6]}@Entidad.gob.pe"
    page = await as_admin.submit("/admin/usuarios", {"full_name": "Ana Quispe", "email": email, "dni": valid_dni()})
    assert page.status_code == 303
    user_url = page.headers["location"]
    shown = (await as_admin.get(user_url)).text
    link = re.search(r"http://\S+/restablecer/[\w-]+", shown).group(0)

    grant = await as_admin.submit(f"{user_url}/roles", {"entity_id": entity["id"], "role": "gestor_entidad"})
    assert grant.status_code == 303
    roles = (await as_admin.get(user_url)).text
    assert "Gestor(a) de entidad" in roles and entity["short_name"] in roles

    person = await make_client()
    path = "/restablecer/" + link.rsplit("/", 1)[1]
    chosen = await person.submit(path, {"contrasena": "Mi-clave-nueva-2026", "confirmacion": "Mi-clave-nueva-2026"})
    assert chosen.status_code in (302, 303)
    reused = await person.submit(path, {"contrasena": "Otra-clave-2026!", "confirmacion": "Otra-clave-2026!"})
    assert reused.status_code == 400  # one use only
    signed_in = await person.login(email.lower(), "Mi-clave-nueva-2026")
    assert signed_in.status_code in (302, 303)
    home = await person.get("/")
    assert home.status_code == 200 and entity["name"] in home.text

    async with db.transaction(TenantContext.system()) as s:
        user = await s.scalar(select(User).where(User.email == email.lower()))
    assert [e.action for e in await audit_actions(db, user.id)][:1] == ["usuario_creado"]


async def test_the_api_creates_users_and_refuses_duplicate_emails_whatever_their_case(as_admin, db):
    email = f"jose.{uuid.uuid4().hex[:6]}@sunarp.gob.pe"
    created = await as_admin.post("/api/v1/admin/usuarios", json={"email": email, "full_name": "José Pérez"})
    assert created.status_code == 201
    body = created.json()
    assert body["user"]["email"] == email and body["user"]["memberships"] == []
    assert "/restablecer/" in body["set_password_url"] and body["link_expires_hours"] == 72

    duplicate = await as_admin.post("/api/v1/admin/usuarios", json={"email": email.upper(), "full_name": "Otro"})
    assert duplicate.status_code == 409
    assert errors_by_field(duplicate.json()) == {"email": f"Ya existe un usuario con el correo {email}."}
    invalid = await as_admin.post("/api/v1/admin/usuarios", json={"email": "sin-arroba", "full_name": "X", "dni": "123"})
    assert set(errors_by_field(invalid.json())) == {"email", "dni"}
    assert "El DNI debe tener 8 dígitos" in errors_by_field(invalid.json())["dni"]
    assert await count(db, User, func.lower(User.email) == email) == 1


async def test_sgp_and_administrator_roles_are_granted_only_in_the_rector_entity(as_admin, admin, tenants, db):
    other = await tenants.create(roles=("gestor_entidad",))
    user_id = other.users["gestor_entidad"].id
    url = f"/api/v1/admin/usuarios/{user_id}/membresias"
    for role, label in (("supervisor_sgp", "Supervisor(a) SGP"), ("administrador_plataforma",
                                                                   "Administrador(a) de plataforma")):
        refused = await as_admin.post(url, json={"entity_id": str(other.entity.id), "role": role})
        assert refused.status_code == 422
        assert errors_by_field(refused.json()) == {
            "role": f"El rol {label} solo puede otorgarse en la entidad rectora (PCM)."}
    assert await count(db, Membership, Membership.user_id == user_id) == 1

    granted = await as_admin.post(url, json={"entity_id": str(admin.entity.id), "role": "supervisor_sgp"})
    assert granted.status_code == 201 and granted.json()["role"] == "supervisor_sgp"


async def test_a_centre_coordinator_works_for_an_entity_that_administers_a_centre(as_admin, tenants):
    without = await tenants.create(roles=("gestor_entidad",))
    with_centre = await tenants.create(roles=("gestor_entidad",), with_centre=True)
    user_id = without.users["gestor_entidad"].id
    url = f"/api/v1/admin/usuarios/{user_id}/membresias"
    refused = await as_admin.post(url, json={"entity_id": str(without.entity.id), "role": "coordinador_centro"})
    assert errors_by_field(refused.json()) == {"role": "El rol Coordinador(a) de centro solo puede otorgarse en una "
                                                       "entidad que administra al menos un centro."}
    granted = await as_admin.post(url, json={"entity_id": str(with_centre.entity.id), "role": "coordinador_centro"})
    assert granted.status_code == 201


async def test_a_revoked_role_stays_as_history_and_granting_it_again_reactivates_it(as_admin, tenants, db):
    t = await tenants.create(roles=("gestor_entidad", "finanzas"))
    user_id = t.users["finanzas"].id
    [membership_id] = [m["id"] for m in (await as_admin.get(f"/api/v1/admin/usuarios/{user_id}")).json()["memberships"]]
    revoked = await as_admin.delete(f"/api/v1/admin/usuarios/{user_id}/membresias/{membership_id}")
    assert revoked.status_code == 204
    [kept] = (await as_admin.get(f"/api/v1/admin/usuarios/{user_id}")).json()["memberships"]
    assert kept["id"] == membership_id and kept["is_active"] is False

    again = await as_admin.post(f"/api/v1/admin/usuarios/{user_id}/membresias",
                                json={"entity_id": str(t.entity.id), "role": "finanzas"})
    assert again.status_code == 201 and again.json()["id"] == membership_id and again.json()["is_active"]
    duplicate = await as_admin.post(f"/api/v1/admin/usuarios/{user_id}/membresias",
                                    json={"entity_id": str(t.entity.id), "role": "finanzas"})
    assert duplicate.status_code == 409
    assert [e.action for e in await audit_actions(db, membership_id)] == ["rol_retirado", "rol_otorgado"]


async def test_deactivating_a_user_keeps_their_history_and_ends_their_session_at_once(
        as_admin, tenants, make_client, db):
    t = await tenants.create(roles=("gestor_entidad",), password_hash=hash_password(PASSWORD))
    person = t.users["gestor_entidad"]
    their_browser = await make_client()
    await their_browser.login(person.email, PASSWORD)
    assert (await their_browser.get("/")).status_code == 200

    response = await as_admin.submit(f"/admin/usuarios/{person.id}/desactivar")
    assert response.status_code == 303

    assert (await their_browser.get("/")).headers["location"] == "/ingresar"
    again = await their_browser.login(person.email, PASSWORD)
    assert again.status_code == 401
    async with db.transaction(TenantContext.system()) as s:
        user = await s.get(User, person.id)
        memberships = (await s.scalars(select(Membership).where(Membership.user_id == person.id))).all()
    assert user.is_active is False and [m.is_active for m in memberships] == [True]  # history intact
    assert "usuario_desactivado" in [e.action for e in await audit_actions(db, person.id)]
    listed = (await as_admin.get("/api/v1/admin/usuarios", params={"q": person.email, "active": "false"})).json()
    assert [u["id"] for u in listed["items"]] == [str(person.id)]


async def test_the_administrator_cannot_lock_themselves_out(as_admin, admin):
    me = admin.users["administrador_plataforma"]
    deactivate = await as_admin.post(f"/api/v1/admin/usuarios/{me.id}/desactivar")
    assert deactivate.status_code == 409
    [mine] = (await as_admin.get(f"/api/v1/admin/usuarios/{me.id}")).json()["memberships"]
    revoke = await as_admin.delete(f"/api/v1/admin/usuarios/{me.id}/membresias/{mine['id']}")
    assert revoke.status_code == 409
    assert (await as_admin.get("/admin/usuarios")).status_code == 200


# --------------------------------------------------------------------------------- who may enter ---


def admin_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) the administration exposes, read from the application itself, so a route
    added later is covered without touching this test."""
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith(("/admin/", "/api/v1/admin/")):
            found += [(method, route.path) for method in sorted(route.methods) if method not in ("HEAD", "OPTIONS")]
    return found


def concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+):uuid\}", lambda m: ids[m.group(1)], path)


async def test_every_admin_page_and_read_endpoint_opens_for_the_administrator(app, as_admin, tenants):
    t = await tenants.create(roles=("gestor_entidad",), with_centre=True)
    user = t.users["gestor_entidad"]
    [membership_id] = [m["id"] for m in (await as_admin.get(f"/api/v1/admin/usuarios/{user.id}")).json()["memberships"]]
    ids = {"entity_id": str(t.entity.id), "centre_id": str(t.centre.id), "user_id": str(user.id),
           "membership_id": membership_id}
    pages = [path for method, path in admin_routes(app) if method == "GET"]
    assert len(pages) >= 10
    for path in pages:
        response = await as_admin.get(concrete(path, ids))
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        if path.startswith("/admin/"):
            assert "<h1>" in response.text and "Saltar al contenido" in response.text


@pytest.mark.parametrize("role", ["gestor_entidad", "finanzas", "coordinador_centro", "supervisor_sgp"])
async def test_every_other_role_is_refused_on_every_admin_route_and_sees_no_data(
        role, app, as_admin, tenants, make_client, db):
    target = await tenants.create(roles=("gestor_entidad", "finanzas"), with_centre=True)
    victim = target.users["finanzas"]
    [membership_id] = [m["id"] for m in (await as_admin.get(f"/api/v1/admin/usuarios/{victim.id}")).json()["memberships"]]
    ids = {"entity_id": str(target.entity.id), "centre_id": str(target.centre.id), "user_id": str(victim.id),
           "membership_id": membership_id}
    outsider = await tenants.create(roles=(role,), password_hash=hash_password(PASSWORD), with_centre=True)
    client = await make_client()
    assert (await client.login(outsider.users[role].email, PASSWORD)).status_code in (302, 303)
    before = await count(db, Entity)

    routes = admin_routes(app)
    assert len(routes) >= 30
    for method, path in routes:
        url = concrete(path, ids)
        if path.startswith("/api/"):
            response = await client.request(method, url, json=entity_payload() if method in ("POST", "PATCH") else None)
            assert response.headers["content-type"].startswith(PROBLEM_JSON), (method, url)
        elif method == "POST":
            response = await client.submit(url, {**entity_payload(), "full_name": "Intruso", "email": "x@y.pe"})
        else:
            response = await client.request(method, url)
        assert response.status_code == 403, (method, url, response.status_code)
        assert "Su rol no permite esta acción." in response.text, (method, url)  # the guard, not CSRF
        for secret in (target.entity.ruc, victim.email, target.centre.code):
            assert secret not in response.text, (method, url)

    assert await count(db, Entity) == before
    async with db.transaction(TenantContext.system()) as s:
        assert (await s.get(User, victim.id)).is_active
        assert (await s.get(Membership, uuid.UUID(membership_id))).is_active


async def test_anonymous_visitors_are_sent_to_sign_in_and_the_api_answers_401(make_client):
    client = await make_client()
    page = await client.get("/admin/entidades")
    assert page.status_code in (302, 303) and page.headers["location"].startswith("/ingresar")
    api = await client.get("/api/v1/admin/usuarios")
    assert api.status_code == 401 and api.headers["content-type"].startswith(PROBLEM_JSON)


async def test_api_writes_must_be_json(as_admin, db):
    data = entity_payload()
    response = await as_admin.post("/api/v1/admin/entidades", data=data)  # a form, as a cross-site page would send
    assert response.status_code == 415 and response.headers["content-type"].startswith(PROBLEM_JSON)
    assert await count(db, Entity, Entity.ruc == data["ruc"]) == 0
