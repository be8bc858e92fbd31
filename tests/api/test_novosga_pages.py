"""The source registry through the web: the coordinator registers a Novo SGA source, tests it, maps a service
and reads the sync history; a refused form keeps what was typed; the password is never shown back; nobody
from another tenant reaches the pages."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.localtime import today_lima
from app.sla.sources.models import DataSource
from app.sla.sources.sync import sync_source
from app.worker.models import OutboxMessage
from tests.api.test_sla_pages import PASSWORD, login
from tests.integration.test_novosga_sync import insert_v1, novo_catalogue_v1
from tests.mariadb import READER, READER_PASSWORD
from tests.sla_helpers import build_world


@pytest.fixture
async def world(db, tenants):
    return await build_world(db, tenants, password_hash=hash_password(PASSWORD))


async def test_the_coordinator_registers_tests_maps_and_reads_a_novo_source(client, world, mariadb, db):
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(mariadb, database, "historico_atendimentos", [
        {"id": 1, "servico": 9, "status": 8, "numero": 1, "cheg": day + timedelta(hours=9),
         "cha": day + timedelta(hours=9, minutes=3), "ini": day + timedelta(hours=9, minutes=4),
         "fim": day + timedelta(hours=9, minutes=8)}])
    await login(client, world, "coordinador")
    centre = world.centre_id
    page = await client.get(f"/ans/centros/{centre}/fuentes")
    assert page.status_code == 200 and "Registrar una base Novo SGA" in page.text

    refused = await client.submit(f"/ans/centros/{centre}/fuentes", {
        "nombre": "Novo sede", "version": "1", "host": "127.0.0.1", "puerto": "99999", "base": database,
        "usuario": READER, "clave": READER_PASSWORD, "zona_horaria": "America/Lima", "dias_relectura": "3"})
    assert refused.status_code == 422
    assert "El puerto debe ser un número entero de 1 a 65535 (se recibió «99999»)" in refused.text
    assert 'value="Novo sede"' in refused.text and READER_PASSWORD not in refused.text

    created = await client.submit(f"/ans/centros/{centre}/fuentes", {
        "nombre": "Novo sede", "version": "1", "host": "127.0.0.1", "puerto": str(mariadb.port), "base": database,
        "usuario": READER, "clave": READER_PASSWORD, "zona_horaria": "America/Lima", "dias_relectura": "3",
        "activa": "on"})
    assert created.status_code == 303
    url = created.headers["location"]
    tested = await client.submit(f"{url}/probar", {})
    assert tested.status_code == 200 and "Conexión de solo lectura correcta" in tested.text
    assert READER_PASSWORD not in tested.text and "«Orientación»" in tested.text

    async with db.transaction(TenantContext.system()) as s:
        source_id = (await s.scalar(select(DataSource).where(DataSource.centre_id == centre))).id
    await sync_source(db, source_id)
    detail = await client.get(url)
    assert 'id="sin-mapeo"' in detail.text and "Servicio 9 «Orientación»: 1 fila(s)" in detail.text

    bad = await client.submit(f"{url}/mapeos", {"servicio_novo": "nueve", "ruc": world.reniec.entity.ruc,
                                                "servicio": "DNI"})
    assert bad.status_code == 422 and "«nueve» no es el número de un servicio de Novo" in bad.text
    assert 'value="nueve"' in bad.text
    mapped = await client.submit(f"{url}/mapeos", {"servicio_novo": "9", "ruc": world.reniec.entity.ruc,
                                                   "servicio": "DNI", "desde": (day.date()).isoformat()})
    assert mapped.status_code == 303
    await sync_source(db, source_id)
    detail = await client.get(url)
    assert 'id="sin-mapeo"' not in detail.text
    run_link = detail.text.split('href="/ans/sincronizaciones/')[1].split('"')[0]
    run = await client.get(f"/ans/sincronizaciones/{run_link}")
    assert run.status_code == 200 and "<strong>1</strong> importadas" in run.text

    listing = await client.get(f"/ans/centros/{centre}/fuentes")
    assert f'href="/ans/sincronizaciones/{run_link}"' in listing.text and "Al día" in listing.text
    queued = await client.submit(f"{url}/sincronizar", {})
    assert queued.status_code == 303
    async with db.transaction(TenantContext.system()) as s:
        messages = (await s.scalars(select(OutboxMessage).where(OutboxMessage.actor_name == "sla_sync_source"))).all()
    assert any(m.message["args"] == [str(source_id)] for m in messages)


async def test_participants_and_other_centres_never_reach_a_source(client, world, db, tenants, mariadb):
    database = mariadb.create_novo(1)
    await login(client, world, "coordinador")
    created = await client.submit(f"/ans/centros/{world.centre_id}/fuentes", {
        "nombre": "Novo", "version": "1", "host": "127.0.0.1", "puerto": str(mariadb.port), "base": database,
        "usuario": READER, "clave": READER_PASSWORD})
    url = created.headers["location"]
    await client.get("/salir")
    client.cookies.clear()
    await login(client, world, "reniec")
    assert (await client.get(url)).status_code == 403
    assert (await client.get(f"/ans/centros/{world.centre_id}/fuentes")).status_code == 403
    other = await build_world(db, tenants, password_hash=hash_password(PASSWORD))
    client.cookies.clear()
    await login(client, other, "coordinador")
    assert (await client.get(url)).status_code == 404
    assert (await client.get(f"/ans/centros/{world.centre_id}/fuentes")).status_code == 404
    assert (await client.submit(f"{url}/mapeos", {"servicio_novo": "1", "ruc": other.reniec.entity.ruc,
                                                  "servicio": "DNI"})).status_code == 404


async def test_editing_a_source_keeps_its_password_unless_a_new_one_is_typed(client, world, mariadb, db):
    from app.sla.sources.secrets import decrypt

    database = mariadb.create_novo(2)
    await login(client, world, "coordinador")
    created = await client.submit(f"/ans/centros/{world.centre_id}/fuentes", {
        "nombre": "Novo 2", "version": "2", "host": "127.0.0.1", "puerto": str(mariadb.port), "base": database,
        "usuario": READER, "clave": READER_PASSWORD, "activa": "on"})
    url = created.headers["location"]
    settings = {"nombre": "Novo 2 (sede)", "version": "2", "host": "127.0.0.1", "puerto": str(mariadb.port),
                "base": database, "usuario": READER, "clave": "", "zona_horaria": "America/Lima",
                "dias_relectura": "5"}
    assert (await client.submit(url, settings)).status_code == 303
    async with db.transaction(TenantContext.system()) as s:
        source = await s.scalar(select(DataSource).where(DataSource.centre_id == world.centre_id))
    assert (source.name, source.reread_days, source.enabled) == ("Novo 2 (sede)", 5, False)
    assert decrypt(source.password_encrypted) == READER_PASSWORD
    refused = await client.submit(url, {**settings, "zona_horaria": "Lima/Peru"})
    assert refused.status_code == 422 and "«Lima/Peru» no es una zona horaria IANA" in refused.text
    assert 'value="Lima/Peru"' in refused.text
    page = await client.get(url)
    assert READER_PASSWORD not in page.text and source.password_encrypted not in page.text
