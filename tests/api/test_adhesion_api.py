"""The adhesion API and pages: the same guards as the services, problem+json errors, and no way around the
SGP's gates for any role."""

from __future__ import annotations

import pytest

from tests.adhesion_world import PASSWORD, walk_to, world  # noqa: F401

API = "/api/v1/adhesiones"


async def sign_in_as(client, tenant, role):  # noqa: ANN001, ANN201
    await client.submit("/salir")
    response = await client.login(tenant.users[role].email, PASSWORD)
    assert response.status_code in (302, 303), response.text


def new_adhesion(world) -> dict:  # noqa: ANN001
    return {"centre_id": str(world.administrator.centre.id),
            "services": [{"code": "DNI-DUP", "name": "Duplicado del DNI"}],
            "ans": [{"service": "Duplicado del DNI", "max_wait": 20, "max_attention": 15, "target": "90"}],
            "modules": 2, "area_m2": "12.00", "monthly_fee": "800.00", "term_months": 12}


async def test_the_whole_path_through_the_api(client, world):
    await sign_in_as(client, world.participant, "gestor_entidad")
    r = await client.post(API, json=new_adhesion(world))
    assert r.status_code == 201, r.text
    adhesion_id = r.json()["id"]
    assert r.json()["acciones_disponibles"] == ["presentar"]
    r = await client.post(f"{API}/{adhesion_id}/firma", json={"contrasena": PASSWORD})
    assert (r.status_code, r.json()["estado"]) == (200, "presentada")

    await sign_in_as(client, world.administrator, "coordinador_centro")
    for accion, extra in (("evaluar", {}), ("derivar_sgp", {"lista_verificacion": [
            "servicios", "espacio", "ans", "financiamiento", "firma"]})):
        r = await client.post(f"{API}/{adhesion_id}/transiciones", json={"accion": accion, **extra})
        assert r.status_code == 200, r.text
    assert r.json()["estado"] == "pendiente_opinion_sgp"

    await sign_in_as(client, world.sgp, "supervisor_sgp")
    r = await client.post(f"{API}/{adhesion_id}/transiciones",
                          json={"accion": "opinar_favorable", "motivo": "Cumple"})
    assert r.json()["estado"] == "opinion_favorable"

    await sign_in_as(client, world.administrator, "coordinador_centro")
    r = await client.post(f"{API}/{adhesion_id}/firma",
                          json={"contrasena": PASSWORD, "fecha_inicio": "2099-01-01", "plazo_meses": 12})
    assert (r.status_code, r.json()["estado"], r.json()["fecha_fin"]) == (200, "aceptada", "2099-12-31")
    r = await client.get(f"{API}/{adhesion_id}/documento")
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")


@pytest.mark.parametrize("role,tenant_name", [("coordinador_centro", "administrator"),
                                              ("gestor_entidad", "participant"),
                                              ("administrador_plataforma", "sgp"),
                                              ("finanzas", "participant")])
async def test_no_role_but_the_sgp_can_give_the_opinion(client, world, role, tenant_name):
    adhesion_id = await walk_to(world, "pendiente_opinion_sgp")
    await sign_in_as(client, getattr(world, tenant_name), role)
    for accion in ("opinar_favorable", "opinar_desfavorable"):
        r = await client.post(f"{API}/{adhesion_id}/transiciones", json={"accion": accion, "motivo": "Adelanto"})
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    # Nor can anyone jump straight to acceptance.
    r = await client.post(f"{API}/{adhesion_id}/transiciones", json={"accion": "aceptar"})
    assert r.status_code in (403, 409)
    r = await client.post(f"{API}/{adhesion_id}/firma", json={"contrasena": PASSWORD, "fecha_inicio": "2099-01-01"})
    assert r.status_code in (403, 409)
    r = await client.get(f"{API}/{adhesion_id}")
    assert r.status_code != 200 or r.json()["estado"] == "pendiente_opinion_sgp"


async def test_the_coordinator_cannot_accept_before_the_opinion_even_holding_the_link(client, world):
    adhesion_id = await walk_to(world, "en_evaluacion")
    await sign_in_as(client, world.administrator, "coordinador_centro")
    r = await client.post(f"{API}/{adhesion_id}/firma", json={"contrasena": PASSWORD, "fecha_inicio": "2099-01-01"})
    assert r.status_code == 409
    body = r.json()
    assert body["codigo"] == "transicion_no_permitida" and "En evaluación" in body["detail"]


async def test_the_early_termination_needs_the_sgp_too(client, world):
    adhesion_id = await walk_to(world, "vigente")
    await sign_in_as(client, world.administrator, "coordinador_centro")
    r = await client.post(f"{API}/{adhesion_id}/transiciones",
                          json={"accion": "solicitar_terminacion", "motivo": "Incumplimiento grave"})
    assert r.json()["estado"] == "terminacion_en_tramite"
    r = await client.post(f"{API}/{adhesion_id}/transiciones", json={"accion": "terminar", "motivo": "Ya"})
    assert r.status_code == 403
    await sign_in_as(client, world.sgp, "supervisor_sgp")
    r = await client.post(f"{API}/{adhesion_id}/transiciones", json={"accion": "terminar", "motivo": "Procede"})
    assert r.json()["estado"] == "terminada"


async def test_one_entity_cannot_see_anothers_adhesions(client, world):
    adhesion_id = await walk_to(world, "presentada")
    for role in ("gestor_entidad", "coordinador_centro", "finanzas"):
        await sign_in_as(client, world.outsider, role)
        assert (await client.get(f"{API}/{adhesion_id}")).status_code == 404
        listed = (await client.get(API)).json()
        assert adhesion_id not in [a["id"] for a in listed]
        assert (await client.get(f"/adhesiones/{adhesion_id}")).status_code == 404
        assert (await client.get(f"/adhesiones/{adhesion_id}/documento.pdf")).status_code == 404
        assert world.participant.entity.name not in (await client.get("/adhesiones")).text


async def test_invalid_data_is_a_spanish_problem(client, world):
    await sign_in_as(client, world.participant, "gestor_entidad")
    r = await client.post(API, json={**new_adhesion(world), "services": []})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_the_pages_show_each_party_what_it_may_do(client, world):
    adhesion_id = await walk_to(world, "presentada")
    await sign_in_as(client, world.administrator, "coordinador_centro")
    page = (await client.get(f"/adhesiones/{adhesion_id}")).text
    assert "Iniciar la evaluación" in page and "Presentada" in page
    r = await client.submit(f"/adhesiones/{adhesion_id}/acciones", {"accion": "evaluar"})
    assert r.status_code in (302, 303)
    r = await client.submit(f"/adhesiones/{adhesion_id}/acciones", {"accion": "observar", "motivo": ""})
    assert r.status_code in (302, 303)
    page = (await client.get(f"/adhesiones/{adhesion_id}")).text
    assert "Escriba el motivo" in page  # refused with a flash message, state unchanged
    assert "En evaluación" in page


async def test_the_sgp_opinion_can_carry_a_pdf_through_the_api(client, world):
    adhesion_id = await walk_to(world, "pendiente_opinion_sgp")
    await sign_in_as(client, world.sgp, "supervisor_sgp")
    r = await client.post(f"{API}/{adhesion_id}/transiciones/con-adjunto",
                          data={"accion": "opinar_favorable", "motivo": "Ver informe técnico"},
                          files={"adjunto": ("informe.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})
    assert (r.status_code, r.json()["estado"]) == (200, "opinion_favorable"), r.text
    r = await client.get(f"{API}/{adhesion_id}")
    assert [e["comment"] for e in r.json()["eventos"] if e["to_state"] == "opinion_favorable"] == \
        ["Ver informe técnico"]


async def test_an_attachment_of_the_wrong_type_is_refused(client, world):
    adhesion_id = await walk_to(world, "en_evaluacion")
    await sign_in_as(client, world.administrator, "coordinador_centro")
    r = await client.post(f"{API}/{adhesion_id}/transiciones/con-adjunto",
                          data={"accion": "observar", "motivo": "Ver adjunto"},
                          files={"adjunto": ("x.exe", b"MZ\x90", "application/octet-stream")})
    assert r.status_code == 422 and "PDF, PNG o JPEG" in r.json()["detail"]


async def test_the_adhesion_api_is_described_in_openapi(client):
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in ("/api/v1/adhesiones", "/api/v1/adhesiones/{adhesion_id}/transiciones",
                 "/api/v1/adhesiones/{adhesion_id}/firma", "/api/v1/adhesiones/{adhesion_id}/firma-externa"):
        assert path in paths
