"""ANS data through the web: the coordinator keeps advisors and uploads the national export with the row-by-row
report; the SGP downloads the auditor's export; MAC Express has its own board — each only for who may."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.sla.calculator import run_case
from app.tenants.models import Centre, Membership, User
from tests.sla_helpers import build_world

PASSWORD = "Clave-Datos-2026"
HEADER = ("IDENTIFICADOR UNICO;NOMBRE MAC;NOMBRE ENTIDAD;SERVICIO;HORA DE LLEGADA;HORA DE LLAMADO;TIEMPO ESPERA;"
          "HORA INICIO;TIEMPO PROMEDIO;FIN DE ATENCION;TIEMPO TOTAL;N° DE MODULO;NUMERO DE TICKET;ESTADO ATENCION;"
          "FECHA;MODALIDAD;TIPO DE ATENCION;N° DE DOCUMENTO")


@pytest.fixture
async def world(db, tenants):
    return await build_world(db, tenants, password_hash=hash_password(PASSWORD))


async def login(client, tenant, role: str) -> None:
    response = await client.login(tenant.users[role].email, PASSWORD)
    if response.headers.get("location") == "/cambiar-entidad":
        from app.db import get_database

        async with get_database().transaction(TenantContext.system()) as s:
            membership = await s.scalar(select(Membership.id).where(Membership.user_id == tenant.users[role].id,
                                                                    Membership.role == role))
        response = await client.submit("/cambiar-entidad", {"membresia": str(membership)})
    assert response.status_code in (302, 303), response.text


def export_body(world) -> bytes:
    centre, reniec = world.admin.centre.name, world.reniec.entity.short_name
    rows = [f"1;{centre};{reniec};Duplicado de DNI;09:00:00;09:05:00;00:09:00;09:05:20;;09:07:00;;M01;A001;Terminado;"
            "03/03/2025;PRESENCIAL;TRAMITE;45781236",
            f"2;{centre};MIGRACIONES;Pasaporte;09:00:00;09:05:00;;09:05:20;;09:07:00;;M01;A002;Terminado;"
            "03/03/2025;PRESENCIAL;TRAMITE;45781237"]
    return ("\n".join([HEADER, *rows]) + "\n").encode()


async def test_the_coordinator_uploads_the_national_export_and_sees_counts_warnings_and_rejections(client, world):
    await login(client, world.admin, "coordinador_centro")
    form = await client.get(f"/ans/centros/{world.centre_id}/cargas")
    assert form.status_code == 200 and "Detalle de atenciones (exportación nacional, CSV o XLSX)" in form.text
    response = await client.post(f"/ans/centros/{world.centre_id}/cargas",
                                 data={"_csrf_token": await client.csrf(), "tipo": "detalle"},
                                 files={"archivo": ("detalle.csv", export_body(world), "text/csv")})
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    assert '<table id="conteos">' in page.text
    assert ('<td class="num">2</td><td class="num">1</td><td class="num">0</td><td class="num">0</td>'
            '<td class="num">0</td><td class="num">0</td><td class="num">1</td><td class="num">0</td>') in page.text
    assert "El archivo dice 00:09:00 y las horas dan 00:05:00" in page.text
    assert "El servicio «Pasaporte» de «MIGRACIONES» no corresponde" in page.text
    assert "45781236" not in page.text and "45781237" not in page.text


async def test_the_coordinator_keeps_advisors_and_a_bad_form_gets_a_spanish_message(client, world):
    await login(client, world.admin, "coordinador_centro")
    response = await client.post(f"/ans/centros/{world.centre_id}/asesores",
                                 data={"_csrf_token": await client.csrf(), "codigo": "1001", "nombre": "Ana Quispe",
                                       "entidad": str(world.reniec.entity.id)})
    assert response.status_code == 303
    page = await client.get(f"/ans/centros/{world.centre_id}/asesores")
    assert page.status_code == 200 and "Ana Quispe" in page.text
    bad = await client.post(f"/ans/centros/{world.centre_id}/asesores",
                            data={"_csrf_token": await client.csrf(), "codigo": "", "nombre": "X",
                                  "entidad": str(world.reniec.entity.id)})
    assert bad.status_code in (400, 422) and "Indique el código del empleado" in bad.text


async def test_a_manager_cannot_reach_the_advisors_or_the_export(client, world):
    await login(client, world.reniec, "gestor_entidad")
    assert (await client.get(f"/ans/centros/{world.centre_id}/asesores")).status_code == 403
    assert (await client.get(f"/ans/exportar?centro={world.centre_id}&desde=2025-03-01&hasta=2025-03-31")
            ).status_code == 403


async def test_the_sgp_downloads_the_export_and_the_calculator_reads_it(client, world, db, tenants):
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=hash_password(PASSWORD))
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(User).where(User.id == sgp.users["supervisor_sgp"].id).values(is_active=True))
    await login(client, world.admin, "coordinador_centro")
    await client.post(f"/ans/centros/{world.centre_id}/cargas",
                      data={"_csrf_token": await client.csrf(), "tipo": "detalle"},
                      files={"archivo": ("detalle.csv", export_body(world), "text/csv")})
    await client.get("/salir")
    await login(client, sgp, "supervisor_sgp")
    form = await client.get("/ans/exportar")
    assert form.status_code == 200 and world.admin.centre.name in form.text
    response = await client.get(f"/ans/exportar?centro={world.centre_id}&desde=2025-03-01&hasta=2025-03-31")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    case = json.loads(response.content)
    assert [t["id"] for t in case["tickets"]] == ["20250303-A001"]
    results = {(r["entity_ruc"], r["indicator"]): r for r in run_case(case)["results"]}
    assert results[(world.reniec.entity.ruc, "espera")]["numerator"] == 1
    wrong = await client.get(f"/ans/exportar?centro={world.centre_id}&desde=2025-03-31&hasta=2025-03-01")
    assert wrong.status_code in (400, 422) and "anterior a la inicial" in wrong.text


async def test_a_mac_express_point_has_its_own_board(client, world, db):
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(Centre).where(Centre.id == world.centre_id).values(channel="mac_express"))
    await login(client, world.admin, "coordinador_centro")
    body = (b"atencion,ruc_entidad,servicio,estado,fecha_registro,fecha_inicio_atencion,fecha_salida_servicio,"
            b"fecha_retorno_servicio,fecha_fin_atencion\n"
            + f"X1,{world.reniec.entity.ruc},DNI,EN_SERVICIO,2025-03-03 09:00:00,2025-03-03 09:04:00,"
              "2025-03-03 09:06:00,2025-03-03 09:16:00,2025-03-03 09:20:00\n".encode())
    response = await client.post(f"/ans/centros/{world.centre_id}/cargas",
                                 data={"_csrf_token": await client.csrf(), "tipo": "mac_express"},
                                 files={"archivo": ("express.csv", body, "text/csv")})
    assert response.status_code == 303
    board = await client.get(f"/ans/express?centro={world.centre_id}&mes=2025-03")
    assert board.status_code == 200 and "<strong>1</strong> atenciones registradas" in board.text
    assert "4.0 min (4.0), 1" in board.text and "10.0 min (10.0), 1" in board.text
    dashboard = await client.get(f"/ans/tablero?centro={world.centre_id}&mes=2025-03")
    assert dashboard.status_code == 200 and 'id="aviso-express"' in dashboard.text
