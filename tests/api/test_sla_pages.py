"""ANS through the web: the coordinator uploads, the entity manager watches, alerts, ANS acceptance,
incumplimientos, the SGP ranking, monthly reports and the machine API — and nobody sees another tenant's
figures."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.sla.calendar import LIMA
from app.sla.models import Alert, DailyServiceRollup, TicketSegment
from app.worker.models import OutgoingEmail
from tests.sla_helpers import TICKET_HEADER, build_world, ticket_line

PASSWORD = "Clave-ANS-2026"


@pytest.fixture
async def world(db, tenants):
    # Open all week, all day, so that "today" is a working day and alerts may be sent whenever the test runs.
    return await build_world(db, tenants, password_hash=hash_password(PASSWORD), all_week=True,
                             targets={"espera": (">=", "0.80", 1), "abandono": ("<=", "0.20", 1)})


def today_lines(world, n_good: int, n_late: int) -> str:
    """Tickets issued today (Lima) an hour ago: some called in 5 minutes, some in 40."""
    now = datetime.now(LIMA) - timedelta(hours=1)
    day, hhmm = now.strftime("%Y-%m-%d"), now.strftime("%H:%M")
    plus = lambda m: (now + timedelta(minutes=m)).strftime("%H:%M")  # noqa: E731
    if (now + timedelta(minutes=41)).date() != now.date():  # near midnight: keep everything in one day
        now = now.replace(hour=12, minute=0)
        day, hhmm = now.strftime("%Y-%m-%d"), "12:00"
    ruc = world.reniec.entity.ruc
    lines = [ticket_line(f"G{i}", ruc, day, hhmm, plus(5), end=plus(10)) for i in range(n_good)]
    lines += [ticket_line(f"L{i}", ruc, day, hhmm, plus(40), end=plus(41)) for i in range(n_late)]
    return "".join(lines)


async def login(client, world, who: str):
    tenant, role = {"coordinador": (world.admin, "coordinador_centro"), "reniec": (world.reniec, "gestor_entidad"),
                    "sunat": (world.sunat, "gestor_entidad")}[who]
    response = await client.login(tenant.users[role].email, PASSWORD)
    if response.headers.get("location") == "/cambiar-entidad":
        from app.tenants.models import Membership

        from app.db import get_database
        async with get_database().transaction(TenantContext.system()) as s:
            membership = await s.scalar(select(Membership.id).where(Membership.user_id == tenant.users[role].id,
                                                                    Membership.role == role))
        response = await client.submit("/cambiar-entidad", {"membresia": str(membership)})
    assert response.status_code in (302, 303), response.text


async def upload(client, world, body: str, kind: str = "atenciones"):
    return await client.post(
        f"/ans/centros/{world.centre_id}/cargas",
        data={"_csrf_token": await client.csrf(), "tipo": kind},
        files={"archivo": ("atenciones.csv", (TICKET_HEADER + body).encode(), "text/csv")})


async def test_the_coordinator_uploads_and_sees_the_row_report_then_the_manager_sees_figures_and_an_alert(
        client, world, db):
    await login(client, world, "coordinador")
    bad = ticket_line("X1", "20999999999", "2025-03-03", "09:00", "09:10")
    response = await upload(client, world, today_lines(world, 3, 2) + bad)
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert page.status_code == 200
    assert "5</strong> guardadas" in page.text and "1</strong> rechazadas" in page.text
    assert re.search(r"<td class=\"num\">7</td><td>ruc_entidad</td><td>La entidad con RUC 20999999999", page.text)

    # 3 of 5 on time = 60 % < 80 %: an alert for the entity, once, and e-mails queued.
    async with db.transaction(TenantContext.system()) as s:
        alerts = (await s.scalars(select(Alert).where(Alert.centre_id == world.centre_id))).all()
        mails = (await s.scalars(select(OutgoingEmail).where(OutgoingEmail.entity_id.in_(
            [world.reniec.entity.id, world.admin.entity.id])))).all()
    assert [(a.entity_id, a.indicator, a.status) for a in alerts] == [(world.reniec.entity.id, "espera", "no_cumple")]
    assert {m.to_address for m in mails} == {world.reniec.users["gestor_entidad"].email,
                                             world.admin.users["coordinador_centro"].email}
    await upload(client, world, today_lines(world, 3, 2))  # the same rows again: nothing new, no second alert
    async with db.transaction(TenantContext.system()) as s:
        assert len((await s.scalars(select(Alert).where(Alert.centre_id == world.centre_id))).all()) == 1

    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await login(client, world, "reniec")
    board = await client.get("/ans/tablero")
    assert board.status_code == 200
    assert "60.0 %" in board.text and "No cumple" in board.text and "<svg" in board.text
    data = await client.get(f"/ans/tablero/datos?centro={world.centre_id}")
    assert data.status_code == 200 and "60.0 %" in data.text and "alerta" in data.text


async def test_a_manager_never_sees_another_entitys_figures(client, world, db):
    await login(client, world, "coordinador")
    await upload(client, world, today_lines(world, 4, 1))
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await login(client, world, "sunat")
    # Asking for RENIEC's dashboard shows SUNAT's own (empty) figures.
    page = await client.get(f"/ans/tablero?centro={world.centre_id}&entidad={world.reniec.entity.id}")
    assert page.status_code == 200
    assert world.sunat.entity.name in page.text and world.reniec.entity.name not in page.text
    assert '<td class="num valor">80.0 %' not in page.text  # RENIEC: 4 of 5 on time
    # And the database itself refuses the rows.
    async with db.transaction(world.sunat.ctx("gestor_entidad")) as s:
        assert (await s.scalars(select(TicketSegment))).all() == []
        assert (await s.scalars(select(DailyServiceRollup))).all() == []
        assert (await s.scalars(select(Alert))).all() == []
    for path in ("/ans/alertas", "/ans/incumplimientos", "/ans/interrupciones", "/ans/informes", "/ans/acuerdos"):
        r = await client.get(path)
        assert r.status_code == 200 and world.reniec.entity.short_name not in r.text, path


async def test_another_centres_coordinator_cannot_reach_this_centre(client, world, tenants):
    other = await tenants.create(roles=("coordinador_centro",), with_centre=True,
                                 password_hash=hash_password(PASSWORD))
    await client.login(other.users["coordinador_centro"].email, PASSWORD)
    for path in ("calendario", "limites", "acuerdos", "cargas"):
        r = await client.get(f"/ans/centros/{world.centre_id}/{path}")
        assert r.status_code == 404, path
    r = await upload(client, world, today_lines(world, 1, 0))
    assert r.status_code == 404


async def test_the_coordinator_proposes_an_ans_and_the_manager_accepts_it(client, world, db):
    await login(client, world, "coordinador")
    r = await client.submit(f"/ans/centros/{world.centre_id}/acuerdos", {
        "entidad": str(world.sunat.entity.id), "desde": "2025-01-01", "tolerancia": "10",
        "meta_espera": "0.85", "comparacion_espera": ">=", "muestra_espera": "30",
        "meta_interrupcion": "120", "comparacion_interrupcion": "<=", "muestra_interrupcion": "0"})
    assert r.status_code == 303
    bad = await client.submit(f"/ans/centros/{world.centre_id}/acuerdos", {
        "entidad": str(world.sunat.entity.id), "desde": "2025-01-01", "meta_espera": "90"})
    assert bad.status_code == 422 and "proporción entre 0 y 1" in bad.text
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await login(client, world, "sunat")
    page = await client.get("/ans/acuerdos")
    ans_id = re.search(r"/ans/acuerdos/([0-9a-f-]{36})/aceptar", page.text).group(1)
    r = await client.submit(f"/ans/acuerdos/{ans_id}/aceptar")
    assert r.status_code == 303
    page = await client.get("/ans/acuerdos")
    assert "Aceptado" in page.text and "/aceptar" not in page.text
    again = await client.submit(f"/ans/acuerdos/{ans_id}/aceptar")
    assert again.status_code == 409


async def test_an_incumplimiento_goes_through_its_review_loop(client, world):
    await login(client, world, "coordinador")
    r = await client.submit(f"/ans/centros/{world.centre_id}/incumplimientos", {
        "entidad": str(world.reniec.entity.id), "indicador": "espera", "mes": "2025-03",
        "descripcion": "La espera superó la meta en marzo."})
    item = r.headers["location"]
    # The coordinator may not answer for the entity.
    assert (await client.submit(item + "/pasos", {"estado": "descargo", "texto": "x"})).status_code == 403
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await login(client, world, "reniec")
    r = await client.post(item + "/pasos", data={"_csrf_token": await client.csrf(), "estado": "descargo",
                                                 "texto": "Faltó personal por licencia."},
                          files={"adjunto": ("licencias.pdf", b"%PDF-1.4 prueba", "application/pdf")})
    assert r.status_code == 303
    page = await client.get(item)
    assert "Descargo presentado" in page.text and "licencias.pdf" in page.text
    attachment = re.search(r'href="(/ans/adjuntos/[0-9a-f-]{36})"', page.text).group(1)
    assert (await client.get(attachment)).content == b"%PDF-1.4 prueba"
    # The entity cannot validate its own descargo, nor skip the loop.
    assert (await client.submit(item + "/pasos", {"estado": "validado", "texto": "x"})).status_code == 403
    assert (await client.submit(item + "/pasos", {"estado": "corregido", "texto": "x"})).status_code == 409
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await login(client, world, "coordinador")
    assert (await client.submit(item + "/pasos", {"estado": "observado", "texto": "Adjunte el rol."})).status_code == 303
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await login(client, world, "reniec")
    assert (await client.submit(item + "/pasos", {"estado": "corregido", "texto": "Rol adjunto."})).status_code == 303
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await login(client, world, "coordinador")
    assert (await client.submit(item + "/pasos", {"estado": "validado", "texto": "Conforme."})).status_code == 303
    page = await client.get(item)
    assert "Estado: <strong>Validado</strong>" in page.text


async def test_monthly_report_pdf_and_csv_on_demand(client, world):
    await login(client, world, "coordinador")
    await upload(client, world, ticket_line("T1", world.reniec.entity.ruc, "2025-03-03", "09:00", "09:10"))
    r = await client.submit(f"/ans/centros/{world.centre_id}/informes", {"mes": "2025-03"})
    assert r.status_code == 303
    page = await client.get("/ans/informes")
    pdf_link = re.search(r'href="(/ans/informes/[0-9a-f-]{36}/pdf)"', page.text).group(1)
    pdf = await client.get(pdf_link)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    csv_text = (await client.get(pdf_link.replace("/pdf", "/csv"))).text
    assert csv_text.splitlines()[0].startswith("centro,periodo,entidad_ruc")
    assert f",{world.reniec.entity.ruc}," in csv_text and ",espera,1.0000,1,1,>=,0.8000,cumple" in csv_text
    # The participant sees only its own report, not the centre's nor another participant's.
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await login(client, world, "sunat")
    page = await client.get("/ans/informes")
    assert page.text.count("/pdf") == 1
    assert (await client.get(pdf_link)).status_code == 404


async def test_the_sgp_ranks_every_centre_and_entity(client, world, tenants):
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=hash_password(PASSWORD))
    await login(client, world, "coordinador")
    await upload(client, world, today_lines(world, 1, 3))
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await client.login(sgp.users["supervisor_sgp"].email, PASSWORD)
    page = await client.get(f"/ans/ranking?centro={world.centre_id}")
    assert page.status_code == 200
    rows = re.findall(r"<td>(\d+)</td><td>[^<]+</td>\s*<td><a [^>]+>([^<]+)</a>", page.text)
    assert [name for _n, name in rows] == [world.reniec.entity.short_name, world.sunat.entity.short_name]
    filtered = await client.get(f"/ans/ranking?centro={world.centre_id}&indicador=espera&estado=no_cumple")
    assert world.reniec.entity.short_name in filtered.text and world.sunat.entity.short_name not in filtered.text


async def test_an_ans_proposed_for_a_pair_with_an_adhesion_is_its_annex(client, world, db):
    from datetime import date as _date

    from app.adhesion.models import Adhesion, ClauseTemplate
    from app.sla.models import Ans

    async with db.transaction(TenantContext.system()) as s:
        import random
        import uuid as _uuid

        template = ClauseTemplate(version=random.randint(10_000, 10**9), title="Cláusula", body="Texto",
                                  status="publicada")
        s.add(template)
        await s.flush()
        adhesion = Adhesion(entity_id=world.sunat.entity.id, centre_id=world.centre_id, template_id=template.id,
                            state="borrador", draft_code=f"B-{_uuid.uuid4().hex[:12]}",
                            start_date=_date(2025, 1, 1))
        s.add(adhesion)
    await login(client, world, "coordinador")
    r = await client.submit(f"/ans/centros/{world.centre_id}/acuerdos", {
        "entidad": str(world.sunat.entity.id), "desde": "2025-01-01", "meta_espera": "0.85"})
    assert r.status_code == 303
    async with db.transaction(TenantContext.system()) as s:
        ans = await s.scalar(select(Ans).where(Ans.entity_id == world.sunat.entity.id, Ans.state == "propuesto"))
    assert ans.adhesion_id == adhesion.id
    page = await client.get(f"/ans/centros/{world.centre_id}/acuerdos")
    assert f"/adhesiones/{adhesion.id}" in page.text


async def test_the_platform_administrator_keeps_the_dias_no_laborables_for_every_centre(client, world, tenants, db):
    # A date no other test uses: días no laborables apply to every centre of the (shared) test database.
    admin = await tenants.create(roles=("administrador_plataforma",), password_hash=hash_password(PASSWORD))
    await login(client, world, "coordinador")
    await upload(client, world, ticket_line("T1", world.reniec.entity.ruc, "2024-10-15", "09:00", "09:10"))
    await client.post("/salir", data={"_csrf_token": await client.csrf()})
    await client.login(admin.users["administrador_plataforma"].email, PASSWORD)
    hub = await client.get("/ans/")
    assert hub.status_code == 200 and "/ans/dias-no-laborables" in hub.text
    r = await client.submit("/ans/dias-no-laborables", {"dia": "2024-10-15", "descripcion": "D.S. de prueba"})
    assert r.status_code == 303
    async with db.transaction(TenantContext.system()) as s:
        day = await s.scalar(select(DailyServiceRollup).where(DailyServiceRollup.centre_id == world.centre_id))
    assert day is None  # the only day with tickets is no longer a working day
    again = await client.submit("/ans/dias-no-laborables", {"dia": "2024-10-15", "descripcion": "otra vez"})
    assert again.status_code == 409
