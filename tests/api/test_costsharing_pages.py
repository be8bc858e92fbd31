"""The cost sharing pages, through the app as a browser would use them: who may do what, and what each sees."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from app.auth.passwords import hash_password
from app.costsharing import services as svc
from tests.costsharing_fixtures import make_scene

PASSWORD = "Costos-compartidos-2026"


@pytest.fixture
async def web_scene(tenants):
    return await make_scene(tenants, password_hash=hash_password(PASSWORD))


async def login(client, tenant, role):
    response = await client.login(tenant.users[role].email, PASSWORD)
    assert response.status_code in (302, 303), response.text


async def test_the_coordinator_records_costs_and_drivers_computes_and_publishes_through_the_pages(client, web_scene):
    s = web_scene
    await login(client, s.admin, "coordinador_centro")
    r = await client.submit("/costos/periodos", {"centro": str(s.admin.centre.id), "mes": "5", "anio": str(s.year)})
    assert r.status_code in (302, 303)
    period_url = r.headers["location"]
    period_id = period_url.rsplit("/", 1)[1]
    form = {"_csrf_token": await client.csrf(), "categoria": "alquiler", "descripcion": "Alquiler de mayo",
            "monto": "3000.00", "referencia": "F001-9", "tipo": "real"}
    r = await client.post(f"{period_url}/costos", data=form,
                          files={"sustento": ("factura.pdf", b"%PDF-1.4 factura", "application/pdf")})
    assert r.status_code in (302, 303)
    for tenant, area in ((s.a, "20"), (s.b, "10")):
        r = await client.submit(f"{period_url}/participantes", {"ruc": tenant.entity.ruc, "desde": f"{s.year}-05-01",
                                                               "area_m2": area, "atenciones": "5"})
        assert r.status_code in (302, 303)
    r = await client.submit(f"{period_url}/participantes", {"ruc": "20999999999", "desde": f"{s.year}-05-01"})
    page = await client.get(r.headers["location"])
    assert "No hay una entidad registrada con RUC" in page.text
    await client.submit(f"{period_url}/calcular")
    page = await client.get(period_url)
    assert "S/ 2,000.00" in page.text and "S/ 1,000.00" in page.text
    assert '<svg role="img"' in page.text and "Costos del centro por categoría" in page.text
    r = await client.submit(f"{period_url}/publicar")
    page = await client.get(r.headers["location"])
    assert 'data-estado="publicado"' in page.text
    # The coordinator's items page links the support document.
    assert "factura.pdf" in page.text
    view = await svc.get_allocation(s.coordinator, uuid.UUID(period_id))
    (item,) = view.items
    download = await client.get(f"/costos/costos/{item.id}/sustento")
    assert download.status_code == 200 and download.content == b"%PDF-1.4 factura"


async def test_a_participants_page_shows_its_share_and_the_centre_totals_but_no_other_entity(client, web_scene):
    s = web_scene
    c = s.coordinator
    period = await svc.open_period(c, s.admin.centre.id, s.year, 6)
    await svc.add_item(c, period.id, svc.ItemInput("alquiler", "Alquiler de junio", "3000.00"))
    await svc.record_participant(c, period.id, svc.ParticipantInput(s.a.entity.ruc, date(s.year, 6, 1), None, "20"))
    await svc.record_participant(c, period.id, svc.ParticipantInput(s.b.entity.ruc, date(s.year, 6, 1), None, "10"))
    await svc.compute_period(c, period.id)
    await svc.publish_period(c, period.id)

    await login(client, s.a, "finanzas")
    page = await client.get(f"/costos/periodos/{period.id}")
    assert page.status_code == 200
    assert "S/ 2,000.00" in page.text and "S/ 3,000.00" in page.text  # its share, the centre's total
    assert s.b.entity.ruc not in page.text and s.b.entity.short_name not in page.text
    index = await client.get("/costos")
    assert str(period.id) in index.text
    r = await client.submit(f"/costos/periodos/{period.id}/observaciones", {"texto": "Nuestra área es de 18 m²."})
    assert r.status_code in (302, 303)
    page = await client.get(f"/costos/periodos/{period.id}")
    assert "Nuestra área es de 18 m²." in page.text and "Pendiente de respuesta" in page.text
    # A participant cannot move the period.
    assert (await client.submit(f"/costos/periodos/{period.id}/cerrar")).status_code == 403

    await client.submit("/salir")
    await login(client, s.outsider, "finanzas")
    assert (await client.get(f"/costos/periodos/{period.id}")).status_code == 404
    assert str(period.id) not in (await client.get("/costos")).text


async def test_only_the_sgp_creates_and_approves_methodologies(client, web_scene):
    s = web_scene
    rules = {f"regla_{c}": "equal=1" for c in ("alquiler", "mantenimiento", "limpieza", "vigilancia", "energia", "agua",
                                                "telecomunicaciones", "sistema_colas", "orientacion", "otros")}
    await login(client, s.admin, "coordinador_centro")
    r = await client.submit("/costos/metodologias", {"version": "x", "titulo": "x", "vacancia": "redistribute", **rules})
    assert r.status_code == 403
    await client.submit("/salir")
    await login(client, s.sgp, "supervisor_sgp")
    version = f"web-{s.year}"
    r = await client.submit("/costos/metodologias", {"version": version, "titulo": "Web", "vacancia": "administering",
                                                    **rules, "regla_limpieza": "area_m2=0.6; attentions=0.3"})
    page = await client.get(r.headers["location"])
    assert "los pesos suman 0.9, deben sumar exactamente 1" in page.text
    r = await client.submit("/costos/metodologias", {"version": version, "titulo": "Web", "vacancia": "administering",
                                                    **rules, "regla_limpieza": "area_m2=0.6; attentions=0.4"})
    detail_url = r.headers["location"]
    r = await client.submit(f"{detail_url}/aprobar", {"desde": f"{s.year}-12"})
    page = await client.get(detail_url)
    assert 'id="estado-metodologia">Aprobada' in page.text and "área (m²) 60 % + atenciones 40 %" in page.text


async def test_the_import_page_reports_each_row(client, web_scene):
    s = web_scene
    period = await svc.open_period(s.coordinator, s.admin.centre.id, s.year, 9)
    await login(client, s.admin, "coordinador_centro")
    content = "categoria,descripcion,monto\nagua,Agua de setiembre,120.50\nmagia,Nada,1.00\n".encode()
    r = await client.post(f"/costos/periodos/{period.id}/importar", data={"_csrf_token": await client.csrf()},
                          files={"archivo": ("costos.csv", content, "text/csv")})
    assert r.status_code == 200
    assert "1</strong> fila(s) importada(s)" in r.text and "«magia» no es una categoría" in r.text


async def test_the_api_gives_the_allocation_with_derivation_and_problem_json_for_others(client, web_scene):
    s = web_scene
    c = s.coordinator
    period = await svc.open_period(c, s.admin.centre.id, s.year, 11)
    await svc.add_item(c, period.id, svc.ItemInput("otros", "Señalética", "0.01"))
    for t in (s.a, s.b):
        await svc.record_participant(c, period.id, svc.ParticipantInput(t.entity.ruc, date(s.year, 11, 1)))
    await svc.compute_period(c, period.id)
    await svc.publish_period(c, period.id)
    await login(client, s.a, "finanzas")
    r = await client.get(f"/api/v1/costos/periodos/{period.id}/reparto")
    assert r.status_code == 200
    body = r.json()
    assert {ln["ruc"] for ln in body["lineas"]} == {s.a.entity.ruc}
    assert body["periodo"]["total_costos"] == "0.01"
    lower = min(s.a.entity.ruc, s.b.entity.ruc)
    assert body["total_lineas"] == ("0.01" if lower == s.a.entity.ruc else "0.00")  # the céntimo goes to the lower RUC
    await client.submit("/salir")
    await login(client, s.outsider, "finanzas")
    r = await client.get(f"/api/v1/costos/periodos/{period.id}/reparto")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "El periodo no existe o no tiene acceso a él."
