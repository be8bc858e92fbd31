"""Machine clients (a centre's queue system) with OAuth2 client credentials: the right client gets a token with
the scopes it may have, the token opens only that client's data, and revocation works at once."""

from __future__ import annotations

import base64
import itertools
import time
import uuid

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import select

from app.audit_models import AuditEntry
from app.auth.models import OAuthClient
from app.auth.passwords import hash_password
from app.auth.tokens import (
    _signing_key,
    create_client,
    create_client_for_cli,
    encode_access_token,
    set_client_active,
)
from app.db import TenantContext
from app.errors import NotFound, ValidationFailed
from app.tenants.models import CentreModule

PASSWORD = "Clave-segura-2026"
BOTH = ("centros:leer", "atenciones:escribir")
_addresses = itertools.count(1)


@pytest.fixture
async def api(app):
    """A machine's HTTP client, from its own address (the token endpoint is throttled per address)."""
    n = next(_addresses)
    transport = httpx.ASGITransport(app=app, client=(f"10.77.{n // 250}.{n % 250 + 1}", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c


@pytest.fixture
async def queue_system(tenants, db):
    """A centre, its administering entity, and the centre's queue system registered as a client."""
    t = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    async with db.transaction(TenantContext.system()) as s:
        s.add(CentreModule(centre_id=t.centre.id, code="M-01", kind="fijo"))
    client_id, secret = await create_client(db, entity_id=t.entity.id, centre_id=t.centre.id,
                                            name="Sistema de colas", scopes=BOTH)
    return t, client_id, secret


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def get_token(api, client_id: str, secret: str, scope: str | None = None) -> httpx.Response:  # noqa: ANN001
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return await api.post("/oauth/token", data=data, headers=basic(client_id, secret))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_client_gets_a_token_and_the_api_accepts_it(api, queue_system):
    t, client_id, secret = queue_system
    response = await get_token(api, client_id, secret, "centros:leer")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "centros:leer"
    assert body["expires_in"] == 15 * 60

    me = await api.get("/api/v1/yo", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {
        "cliente": client_id,
        "entidad": {"id": str(t.entity.id), "ruc": t.entity.ruc, "nombre": t.entity.name},
        "centro": {"id": str(t.centre.id), "codigo": t.centre.code, "nombre": t.centre.name},
        "alcances": ["centros:leer"],
    }
    centre = await api.get(f"/api/v1/centros/{t.centre.id}", headers=bearer(body["access_token"]))
    assert centre.status_code == 200
    assert centre.json()["codigo"] == t.centre.code and centre.json()["modulos"] == ["M-01"]


async def test_credentials_in_the_body_work_too_and_no_scope_means_all_of_the_clients(api, queue_system):
    _, client_id, secret = queue_system
    response = await api.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                    "client_secret": secret})
    assert response.status_code == 200
    assert set(response.json()["scope"].split()) == set(BOTH)


async def test_issuing_a_token_is_in_the_entitys_audit_trail(api, queue_system, db):
    t, client_id, secret = queue_system
    assert (await get_token(api, client_id, secret)).status_code == 200
    async with db.transaction(t.ctx("coordinador_centro")) as s:  # read as the entity (RLS)
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.actor_label == f"cliente:{client_id}"))).all()
    assert "token_emitido" in actions


async def test_a_wrong_secret_or_unknown_client_gets_401_invalid_client(api, queue_system):
    _, client_id, secret = queue_system
    for response in (await get_token(api, client_id, secret + "x"),
                     await get_token(api, "mac-no-existe", secret),
                     await api.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                          "client_secret": "adivinanza"})):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.json()["error_description"].startswith("Autenticación del cliente fallida")
        assert response.headers["www-authenticate"].startswith("Basic")
        assert "access_token" not in response.json()


async def test_a_scope_the_client_does_not_have_is_invalid_scope(api, tenants, db):
    t = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    client_id, secret = await create_client(db, entity_id=t.entity.id, centre_id=t.centre.id, name="Solo lectura",
                                            scopes=["centros:leer"])
    response = await get_token(api, client_id, secret, "centros:leer atenciones:escribir")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert "atenciones:escribir" in response.json()["error_description"]


async def test_other_grant_types_and_malformed_requests_are_refused(api, queue_system):
    _, client_id, secret = queue_system
    password_grant = await api.post("/oauth/token", data={"grant_type": "password", "username": "a", "password": "b"},
                                    headers=basic(client_id, secret))
    assert password_grant.status_code == 400 and password_grant.json()["error"] == "unsupported_grant_type"
    as_json = await api.post("/oauth/token", json={"grant_type": "client_credentials"}, headers=basic(client_id, secret))
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    both_methods = await api.post("/oauth/token", headers=basic(client_id, secret),
                                  data={"grant_type": "client_credentials", "client_id": client_id,
                                        "client_secret": secret})
    assert both_methods.status_code == 400 and both_methods.json()["error"] == "invalid_request"


async def test_a_token_without_the_scope_gets_403_problem_json(api, queue_system):
    t, client_id, secret = queue_system
    token = (await get_token(api, client_id, secret, "atenciones:escribir")).json()["access_token"]
    response = await api.get(f"/api/v1/centros/{t.centre.id}", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "centros:leer" in response.json()["detail"]


async def test_expired_tampered_or_foreign_tokens_get_401(api, queue_system, settings):
    t, client_id, secret = queue_system
    token = (await get_token(api, client_id, secret)).json()["access_token"]
    now = int(time.time())
    base = settings.base_url.rstrip("/")
    claims = {"iss": base, "aud": base + "/api", "sub": client_id, "ent": str(t.entity.id), "ctr": str(t.centre.id),
              "scope": "centros:leer", "iat": now - 3600, "exp": now - 600, "jti": uuid.uuid4().hex}
    expired = encode_access_token(claims)
    header, payload, signature = token.split(".")
    other_entity_claims = dict(claims, exp=now + 600, iat=now, ent=str(uuid.uuid4()))
    _, forged_payload, _ = encode_access_token(other_entity_claims).split(".")
    tampered = f"{header}.{forged_payload}.{signature}"
    foreign_key = jwt.encode({"alg": "HS256", "typ": "at+jwt"}, dict(claims, exp=now + 600, iat=now),
                             OctKey.import_key(b"otra-clave-que-no-es-la-nuestra!"))
    # Our key, but not typed as an access token (RFC 9068): no other JWT of ours may pass for one.
    not_an_access_token = jwt.encode({"alg": "HS256"}, dict(claims, exp=now + 600, iat=now), _signing_key())
    for bad in (expired, tampered, foreign_key, not_an_access_token, "basura", token[:-4] + "AAAA"):
        response = await api.get("/api/v1/yo", headers=bearer(bad))
        assert response.status_code == 401, bad
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert (await api.get("/api/v1/yo", headers=bearer(token))).status_code == 200


async def test_a_deactivated_clients_token_stops_working_at_once(api, queue_system, db):
    t, client_id, secret = queue_system
    token = (await get_token(api, client_id, secret)).json()["access_token"]
    assert (await api.get("/api/v1/yo", headers=bearer(token))).status_code == 200
    await set_client_active(db, client_id, False)
    assert (await api.get("/api/v1/yo", headers=bearer(token))).status_code == 401
    assert (await get_token(api, client_id, secret)).json()["error"] == "invalid_client"
    await set_client_active(db, client_id, True)
    assert (await api.get("/api/v1/yo", headers=bearer(token))).status_code == 200


async def test_a_scope_removed_from_the_client_stops_working_before_the_token_expires(api, queue_system, db):
    t, client_id, secret = queue_system
    token = (await get_token(api, client_id, secret)).json()["access_token"]
    async with db.transaction(TenantContext.system()) as s:
        client = await s.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        client.scopes = ["atenciones:escribir"]
    assert (await api.get(f"/api/v1/centros/{t.centre.id}", headers=bearer(token))).status_code == 403
    assert (await api.get("/api/v1/yo", headers=bearer(token))).json()["alcances"] == ["atenciones:escribir"]


async def test_a_client_of_one_entity_cannot_read_another_entitys_centre(api, queue_system, tenants):
    _, client_id, secret = queue_system
    other = await tenants.create(roles=("coordinador_centro",), with_centre=True)
    token = (await get_token(api, client_id, secret)).json()["access_token"]
    response = await api.get(f"/api/v1/centros/{other.centre.id}", headers=bearer(token))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert other.centre.code not in response.text and other.centre.name not in response.text


async def test_a_persons_session_cannot_call_the_machine_api(client, queue_system, tenants):
    t, _, _ = queue_system
    person = await tenants.create(roles=("coordinador_centro",), password_hash=hash_password(PASSWORD))
    assert (await client.login(person.users["coordinador_centro"].email, PASSWORD)).status_code in (302, 303)
    assert (await client.get("/")).status_code == 200  # the session is good for pages
    for url in ("/api/v1/yo", f"/api/v1/centros/{t.centre.id}"):
        response = await client.get(url)
        assert response.status_code == 403, url
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_bearer_token_cannot_open_pages_meant_for_people(api, queue_system):
    _, client_id, secret = queue_system
    token = (await get_token(api, client_id, secret)).json()["access_token"]
    for page in ("/centros", "/auditoria", "/cambiar-entidad"):
        response = await api.get(page, headers=bearer(token))
        assert response.status_code in (302, 303), page
        assert response.headers["location"].startswith("/ingresar"), page
    home = await api.get("/", headers=bearer(token))  # a machine is sent to the API description
    assert home.status_code in (302, 303) and home.headers["location"] == "/schema"


async def test_creating_a_client_checks_scopes_and_centre(db, tenants):
    t = await tenants.create(roles=("gestor_entidad",), with_centre=True)
    stranger = await tenants.create(roles=("gestor_entidad",), with_centre=True)
    with pytest.raises(ValidationFailed, match="Alcances desconocidos"):
        await create_client(db, entity_id=t.entity.id, centre_id=t.centre.id, name="X", scopes=["todo:poder"])
    with pytest.raises(ValidationFailed, match="centro"):
        await create_client(db, entity_id=t.entity.id, centre_id=stranger.centre.id, name="X", scopes=["centros:leer"])
    client_id, secret = await create_client(db, entity_id=t.entity.id, centre_id=None, name="Reportes",
                                            scopes=["centros:leer"])
    async with db.transaction(TenantContext.system()) as s:
        stored = await s.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    assert stored.secret_hash.startswith("$argon2") and secret not in stored.secret_hash


async def test_the_cli_names_the_entity_by_ruc_and_the_centre_by_code(db, tenants, api):
    t = await tenants.create(roles=("gestor_entidad",), with_centre=True)
    client_id, secret = await create_client_for_cli(db, entity_ruc=t.entity.ruc, centre_code=t.centre.code,
                                                    name="Colas CLI", scopes=["centros:leer"])
    token = (await get_token(api, client_id, secret)).json()["access_token"]
    assert (await api.get(f"/api/v1/centros/{t.centre.id}", headers=bearer(token))).status_code == 200
    with pytest.raises(NotFound):
        await create_client_for_cli(db, entity_ruc="20000000001", name="X", scopes=["centros:leer"])
    with pytest.raises(NotFound):
        await create_client_for_cli(db, entity_ruc=t.entity.ruc, centre_code="NO-EXISTE", name="X",
                                    scopes=["centros:leer"])
