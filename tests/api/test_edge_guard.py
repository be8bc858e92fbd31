"""Bad input is refused at the edge with a clear 4xx in Spanish — never a 500, never half-stored data — and the
request log always shows the status the client received."""

from __future__ import annotations

import json

import httpx
import pytest

from app import logging as app_logging
from app.auth.passwords import hash_password
from app.db import TenantContext
from app.edge import MAX_JSON_DEPTH, json_depth_exceeds
from app.tenants.models import Entity
from tests.conftest import WebClient

PASSWORD = "Clave-segura-2026"


@pytest.fixture
async def anonymous(app):
    """A client with no cookies at all: what an attacker's script sends."""
    transport = httpx.ASGITransport(app=app, client=("10.13.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        yield http


@pytest.fixture
async def as_admin(app, tenants, db):
    tenant = await tenants.create(roles=("administrador_plataforma",), password_hash=hash_password(PASSWORD))
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(Entity, tenant.entity.id)).is_rector = True
    transport = httpx.ASGITransport(app=app, client=("10.13.0.2", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        client = WebClient(http)
        response = await client.login(tenant.users["administrador_plataforma"].email, PASSWORD)
        assert response.status_code in (302, 303)
        yield client


def assert_refused(response: httpx.Response, status: int = 400, *words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    for word in words:
        assert word in response.text


@pytest.mark.parametrize("path,form", [
    ("/ingresar", {"correo": "x\x00@y.pe", "contrasena": "a"}),
    ("/restablecer", {"correo": "x\x00"}),
])
async def test_a_nul_byte_in_a_public_form_is_a_400_in_spanish(client, path, form):
    response = await client.submit(path, form)
    assert_refused(response, 400, "carácter nulo")


async def test_a_nul_byte_in_a_path_or_a_query_is_a_400(client, anonymous, as_admin):
    assert_refused(await anonymous.get("/verificar/ADH-%00-x"), 400, "carácter nulo")
    assert_refused(await as_admin.get("/api/v1/admin/entidades", params={"q": "a\x00b"}), 400, "carácter nulo")


async def test_invalid_utf8_in_a_multipart_field_is_a_400_even_without_cookies(anonymous):
    for path in ("/registro", "/verificar"):
        response = await anonymous.post(path, files={"entity_name": (None, b"\xff\xfe"),
                                                     "pdf": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})
        assert_refused(response, 400, "UTF-8")


async def test_a_nul_byte_in_an_uploaded_file_name_is_refused(client):
    body = (b'--b\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n' + (await client.csrf()).encode()
            + b'\r\n--b\r\nContent-Disposition: form-data; name="pdf"; filename="a\x00.pdf"\r\n'
            b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n%%EOF\n\r\n--b--\r\n")
    response = await client.post("/verificar", content=body, headers={"content-type": "multipart/form-data; boundary=b"})
    assert_refused(response, 400, "carácter nulo")


async def test_paging_numbers_are_bounded(as_admin):
    for value in ("9999999999999999999", "999999999999999999999", "0", "-1"):
        response = await as_admin.get("/api/v1/admin/usuarios", params={"page": value})
        assert response.status_code == 400, (value, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await as_admin.get("/admin/entidades", params={"pagina": "999999999999999999999"})).status_code == 400
    assert (await as_admin.get("/api/v1/admin/usuarios", params={"page": "2", "page_size": "201"})).status_code == 400
    assert (await as_admin.get("/api/v1/admin/usuarios", params={"page": "100000"})).status_code == 200


async def test_json_nested_too_deep_or_with_a_lone_surrogate_is_a_400(anonymous):
    deep = "[" * 5000 + "]" * 5000
    response = await anonymous.post("/api/v1/atenciones/lotes", content=deep,
                                    headers={"content-type": "application/json"})
    assert_refused(response, 400, "anida")
    lone = b'{"eventos": [{"tipo": "atencion", "ticket": "\\ud800"}]}'
    response = await anonymous.post("/api/v1/atenciones/lotes", content=lone,
                                    headers={"content-type": "application/json"})
    assert_refused(response, 400, "no válidos")
    nul = json.dumps({"eventos": [{"ticket": "a\x00"}]})
    assert_refused(await anonymous.post("/api/v1/atenciones/lotes", content=nul,
                                        headers={"content-type": "application/json"}), 400, "nulo")


def test_the_json_depth_check_counts_levels_and_ignores_brackets_inside_strings():
    assert not json_depth_exceeds(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, MAX_JSON_DEPTH)
    assert json_depth_exceeds(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)
    assert not json_depth_exceeds(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\"[["}', 2)
    assert json_depth_exceeds(b'{"a": [{"b": [1, {"c": []}]}]}', 5)  # six levels
    assert not json_depth_exceeds(b'{"a": [{"b": [1, {"c": []}]}]}', 6)


async def test_a_body_over_the_routes_limit_is_a_413_before_it_is_read(anonymous, client):
    big_form = {"correo": "a" * (300 * 1024), "contrasena": "x"}
    assert_refused(await client.submit("/ingresar", big_form), 413, "tamaño máximo")
    nine_mb = b"%PDF-1.4\n" + b" " * (9 * 1024 * 1024) + b"\n%%EOF\n"
    response = await anonymous.post("/verificar", files={"pdf": ("grande.pdf", nine_mb, "application/pdf")})
    assert_refused(response, 413, "tamaño máximo")


async def test_a_very_long_text_field_is_refused_with_its_name(client):
    response = await client.submit("/restablecer", {"correo": "a" * 25_000})
    assert_refused(response, 422, "correo", "demasiado largo")


async def test_the_request_log_shows_the_status_the_client_received(anonymous, client, monkeypatch):
    logged: list[dict] = []
    monkeypatch.setattr(app_logging, "log_request", lambda **fields: logged.append(fields))
    csrf = await anonymous.post("/ingresar", data={"correo": "a@b.pe", "contrasena": "x"})  # no CSRF token
    nul = await client.submit("/ingresar", {"correo": "\x00"})
    big = await client.submit("/ingresar", {"correo": "a" * (300 * 1024)})
    assert [csrf.status_code, nul.status_code, big.status_code] == [403, 400, 413]
    statuses = [entry["status"] for entry in logged if entry["path"] == "/ingresar" and entry["method"] == "POST"]
    assert statuses == [403, 400, 413]


async def test_the_services_of_an_adhesion_are_bounded_in_lines_and_characters(client):
    from app.adhesion.routes import parse_services
    from app.adhesion.schemas import MAX_SERVICES
    from app.errors import ValidationFailed

    three_thousand = "".join(f"S{n} | {'Servicio ' * 16}\n" for n in range(3000))  # the report's 3,000 × 150
    assert (await client.submit("/adhesiones/nueva", {"servicios": three_thousand})).status_code == 413
    long_field = "".join(f"S{n} | {'Servicio ' * 16}\n" for n in range(200))  # 29,000 characters
    response = await client.submit("/adhesiones/nueva", {"servicios": long_field})
    assert_refused(response, 422, "servicios", "demasiado largo")
    assert len(parse_services("".join(f"S{n} | Servicio {n}\n" for n in range(MAX_SERVICES)))) == MAX_SERVICES
    with pytest.raises(ValidationFailed, match=f"como máximo {MAX_SERVICES} servicios"):
        parse_services("".join(f"S{n} | Servicio {n}\n" for n in range(MAX_SERVICES + 1)))


async def test_public_posts_are_rate_limited_and_the_refusal_is_logged_as_the_429_it_is(settings, monkeypatch):
    from app.main import create_app

    strict = create_app(settings.model_copy(update={"login_rate_limit_per_minute": 2}))
    logged: list[dict] = []
    monkeypatch.setattr(app_logging, "log_request", lambda **fields: logged.append(fields))
    transport = httpx.ASGITransport(app=strict, client=("10.13.9.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        pdf = {"pdf": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")}
        statuses = [(await http.post("/verificar", files=pdf)).status_code for _ in range(3)]
    assert statuses[-1] == 429
    assert [e["status"] for e in logged if e["path"] == "/verificar"] == statuses
