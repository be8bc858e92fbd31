"""The Novo SGA source registry and connector around the sync: Novo 2.x, a source in another time zone, the
console command, the read-only session, one sync per source at a time, an unreachable source, the mapping's
rules, and who may see a source."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from app.cli import main as mac
from app.db import TenantContext
from app.errors import NotFound, ValidationFailed
from app.localtime import today_lima
from app.sla.models import TicketSegment
from app.sla.sources import connector, registry
from app.sla.sources.models import DataSource, ServiceMapping, SyncRun
from app.sla.sources.secrets import decrypt
from app.sla.sources.sync import source_tag, sync_source
from tests.integration.test_novosga_sync import (
    CITIZEN_DNI,
    CITIZEN_NAME,
    coordinator_actor,
    insert_v1,
    novo_catalogue_v1,
    register,
)
from app.tenants.models import CentreService
from tests.mariadb import READER, MariaDB
from tests.sla_helpers import build_world


def catalogue_v2(maria: MariaDB, database: str) -> None:
    with maria.root(database) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO unidades (id, nome, descricao, ativo, impressao_cabecalho, impressao_rodape, "
                    "impressao_exibir_data, impressao_exibir_prioridade, impressao_exibir_nome_unidade, "
                    "impressao_exibir_nome_servico, impressao_exibir_mensagem_servico) "
                    "VALUES (1, 'Centro MAC', '', 1, '', '', 1, 1, 1, 1, 1)")
        cur.executemany("INSERT INTO servicos (id, macro_id, nome, descricao, ativo, peso) VALUES (%s, %s, %s, %s, 1, 1)",
                        [(1, None, "DNI", "Duplicado de DNI"), (2, None, "SUNAT", "Tributos"),
                         (3, 2, "RUC", "Inscripción RUC")])
        cur.execute("INSERT INTO clientes (id, nome, documento) VALUES (1, %s, %s)", (CITIZEN_NAME, CITIZEN_DNI))


def insert_v2(maria: MariaDB, database: str, table: str, rows: list[dict]) -> None:
    with maria.root(database) as conn, conn.cursor() as cur:
        for r in rows:
            cur.execute(f"INSERT INTO {table} (id, cliente_id, unidade_id, servico_id, usuario_id, atendimento_id, "
                        f"num_local, dt_cheg, dt_cha, dt_ini, dt_fim, status, senha_sigla, senha_numero) "
                        f"VALUES (%s, 1, 1, %s, NULL, %s, 1, %s, %s, %s, %s, %s, 'A', %s)",
                        (r["id"], r["servico"], r.get("padre"), r["cheg"], r.get("cha"), r.get("ini"), r.get("fim"),
                         r["status"], r["numero"]))


async def test_novo_2x_string_statuses_and_a_source_in_another_zone(db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(2)
    catalogue_v2(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=3), datetime.min.time())
    h = lambda hh, mm: day + timedelta(hours=hh, minutes=mm)  # noqa: E731
    insert_v2(mariadb, database, "historico_atendimentos", [
        {"id": 1, "servico": 1, "status": "encerrado", "numero": 1, "cheg": h(9, 0), "cha": h(9, 5),
         "ini": h(9, 6), "fim": h(9, 16)},
        {"id": 2, "servico": 1, "status": "nao_compareceu", "numero": 2, "cheg": h(9, 1), "cha": h(9, 30)},
        {"id": 3, "servico": 1, "status": "cancelada", "numero": 3, "cheg": h(9, 2)},
        {"id": 4, "servico": 1, "status": "erro_triagem", "numero": 4, "cheg": h(9, 3), "cha": h(9, 4),
         "ini": h(9, 5), "fim": h(9, 6)},
        {"id": 5, "servico": 3, "status": "encerrado", "numero": 4, "padre": 4, "cheg": h(9, 6), "cha": h(9, 10),
         "ini": h(9, 11), "fim": h(9, 20)},
        {"id": 6, "servico": 1, "status": "emitida", "numero": 5, "cheg": h(9, 7)},
    ])
    # The Novo server keeps Guatemala's time (UTC-6): 09:00 there is 10:00 in Lima.
    source_id = await register(db, world, mariadb, database, version=2, zone="America/Guatemala")
    outcome = await sync_source(db, source_id)
    assert outcome.counts.as_dict() == {"leidos": 6, "importados": 5, "actualizados": 0, "sin_cambios": 0,
                                        "abiertos": 0, "cancelados": 1, "sin_mapeo": 0, "rechazados": 0}
    guatemala = ZoneInfo("America/Guatemala")
    async with db.transaction(TenantContext.system()) as s:
        rows = (await s.scalars(select(TicketSegment).where(TicketSegment.centre_id == world.centre_id)
                                .order_by(TicketSegment.issued_at, TicketSegment.segment))).all()
    tag = source_tag(source_id)
    assert [(r.ticket_id, r.segment, r.outcome, r.entity_id) for r in rows] == [
        (f"{tag}:1:1:{h(9, 0):%Y%m%d%H%M%S}", 1, "attended", world.reniec.entity.id),
        (f"{tag}:1:2:{h(9, 1):%Y%m%d%H%M%S}", 1, "abandoned", world.reniec.entity.id),
        (f"{tag}:1:4:{h(9, 3):%Y%m%d%H%M%S}", 1, "transferred", world.reniec.entity.id),
        (f"{tag}:1:4:{h(9, 3):%Y%m%d%H%M%S}", 2, "attended", world.sunat.entity.id),
        (f"{tag}:1:6:{h(9, 7):%Y%m%d%H%M%S}", 1, "abandoned", world.reniec.entity.id),
    ]
    first = rows[0]
    assert first.issued_at == h(9, 0).replace(tzinfo=guatemala)
    assert first.issued_at.astimezone(ZoneInfo("America/Lima")).hour == 10
    assert first.ended_at == h(9, 16).replace(tzinfo=guatemala)  # 2.x writes dt_fim on close


async def test_a_zone_that_puts_arrivals_outside_opening_hours_is_warned_at_the_connection_test(
        db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(mariadb, database, "historico_atendimentos", [
        {"id": n, "servico": 1, "status": 8, "numero": n, "cheg": day + timedelta(hours=9, minutes=n)}
        for n in range(1, 21)])
    right = await register(db, world, mariadb, database)
    ok = await registry.probe_connection(db, coordinator_actor(world), ip=None, source_id=right)
    assert ok.ok and ok.archived_rows == 20 and ok.services == 4 and ok.warning is None
    coordinator = coordinator_actor(world)
    wrong = await registry.register_source(db, coordinator, ip=None, centre_id=world.centre_id, form={
        "nombre": "Zona equivocada", "version": "1", "host": "127.0.0.1", "puerto": str(mariadb.port),
        "base": database, "usuario": READER, "clave": "clave-de-solo-lectura", "zona_horaria": "Asia/Tokyo"})
    warned = await registry.probe_connection(db, coordinator, ip=None, source_id=wrong)
    assert warned.ok and "Asia/Tokyo" in warned.warning and "100 %" in warned.warning


async def test_the_console_command_syncs_with_a_mapping_file_and_prints_the_counts(db, tenants, mariadb, tmp_path,
                                                                                  capsys):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(mariadb, database, "historico_atendimentos", [
        {"id": 1, "servico": 1, "status": 8, "numero": 1, "cheg": day + timedelta(hours=9),
         "cha": day + timedelta(hours=9, minutes=5), "ini": day + timedelta(hours=9, minutes=6),
         "fim": day + timedelta(hours=9, minutes=9)},
        {"id": 2, "servico": 3, "status": 6, "numero": 2, "cheg": day + timedelta(hours=9, minutes=1)},
        {"id": 3, "servico": 9, "status": 5, "numero": 3, "cheg": day + timedelta(hours=9, minutes=2),
         "cha": day + timedelta(hours=9, minutes=20)},
    ])
    mapa = tmp_path / "mapa.csv"
    mapa.write_text(f"servicio_novo,ruc,servicio\n1,{world.reniec.entity.ruc},DNI\n2*,{world.sunat.entity.ruc},RUC\n",
                    encoding="utf-8")
    args = ["sla", "novosga", "sincronizar", "--centro", world.admin.centre.code, "--dsn", mariadb.dsn(database),
            "--version", "1", "--mapa", str(mapa), "--desde", (day.date() - timedelta(days=1)).isoformat()]
    code = await asyncio.to_thread(mac, args)
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {k: result[k] for k in ("leidos", "importados", "actualizados", "sin_cambios", "abiertos", "cancelados",
                                   "sin_mapeo", "rechazados")} == {
        "leidos": 3, "importados": 1, "actualizados": 0, "sin_cambios": 0, "abiertos": 0, "cancelados": 1,
        "sin_mapeo": 1, "rechazados": 0}
    assert result["servicios_sin_mapeo"] == [{"servicio": 9, "nombre": "Orientación", "filas": 1}]
    # Again with the same file: the mapping is already in force (no new version), and nothing changes.
    code = await asyncio.to_thread(mac, args)
    again = json.loads(capsys.readouterr().out)
    assert code == 0 and (again["importados"], again["sin_cambios"]) == (0, 1)
    async with db.transaction(TenantContext.system()) as s:
        source = await s.scalar(select(DataSource).where(DataSource.centre_id == world.centre_id))
        versions = (await s.scalars(select(ServiceMapping.version).where(ServiceMapping.source_id == source.id))).all()
    assert sorted(versions) == [1, 1]
    assert source.password_encrypted != "clave-de-solo-lectura" and "clave-de-solo" not in source.password_encrypted
    assert decrypt(source.password_encrypted) == "clave-de-solo-lectura"

    bad = await asyncio.to_thread(mac, ["sla", "novosga", "sincronizar", "--centro", "NO-EXISTE", "--dsn",
                                        mariadb.dsn(database), "--version", "1"])
    assert bad == 2 and "No existe un centro con código NO-EXISTE" in capsys.readouterr().err


async def test_the_connector_never_writes_to_the_source(db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(mariadb, database, "historico_atendimentos", [
        {"id": 1, "servico": 1, "status": 8, "numero": 1, "cheg": day + timedelta(hours=9),
         "cha": day + timedelta(hours=9, minutes=5), "ini": day + timedelta(hours=9, minutes=6),
         "fim": day + timedelta(hours=9, minutes=9)}])
    # A user allowed to write: the connector's own session must still refuse any write.
    with mariadb.root() as conn, conn.cursor() as cur:
        cur.execute("CREATE USER IF NOT EXISTS 'todo_poder'@'%' IDENTIFIED BY 'clave-con-escritura'")
        cur.execute(f"GRANT ALL ON {database}.* TO 'todo_poder'@'%'")
        cur.execute("SET GLOBAL log_output = 'TABLE'")
        cur.execute("TRUNCATE mysql.general_log")
        cur.execute("SET GLOBAL general_log = 1")
    address = connector.parse_dsn(mariadb.dsn(database, user="todo_poder", password="clave-con-escritura"),
                                  version=1)
    with pytest.raises(connector.SourceUnavailable):
        with connector.read_only_session(address) as cur:
            cur.execute("INSERT INTO servicos (id, descricao, nome, status, peso) VALUES (99, 'x', 'x', 1, 1)")
    source_id = await register(db, world, mariadb, database)
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(DataSource, source_id)).username = "todo_poder"
    async with db.transaction(TenantContext.system()) as s:
        from app.sla.sources.secrets import encrypt

        (await s.get(DataSource, source_id)).password_encrypted = encrypt("clave-con-escritura")
    outcome = await sync_source(db, source_id)
    assert outcome.error is None and outcome.counts.importados == 1
    with mariadb.root() as conn, conn.cursor() as cur:
        cur.execute("SET GLOBAL general_log = 0")
        cur.execute("SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log "
                    "WHERE user_host LIKE 'todo_poder%%' AND command_type = 'Query'")
        statements = [r[0].strip() for r in cur.fetchall()]
        cur.execute(f"SELECT COUNT(*) FROM {database}.servicos WHERE id = 99")
        assert cur.fetchone()[0] == 0
    assert statements, "the general log recorded the connector's statements"
    allowed = ("SELECT ", "SET SESSION TRANSACTION READ ONLY", "START TRANSACTION READ ONLY", "ROLLBACK",
               "SET AUTOCOMMIT", "SET NAMES")
    writes = [q for q in statements if not q.upper().startswith(allowed)]
    assert writes == ["INSERT INTO servicos (id, descricao, nome, status, peso) VALUES (99, 'x', 'x', 1, 1)"]
    selects = [q for q in statements if q.upper().startswith("SELECT ")]
    assert all("nm_cli" not in q and "ident_cli" not in q and "clientes" not in q for q in selects)


async def test_two_syncs_of_one_source_never_run_at_once(db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    source_id = await register(db, world, mariadb, database)
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"sla-fuente:{source_id}"})
        busy = await sync_source(db, source_id)
        assert busy.busy and busy.run_id is None
    done = await sync_source(db, source_id)
    assert not done.busy and done.error is None
    async with db.transaction(TenantContext.system()) as s:
        assert len((await s.scalars(select(SyncRun).where(SyncRun.source_id == source_id))).all()) == 1


async def test_an_unreachable_source_records_a_failed_run_and_shows_in_its_health(db, tenants, mariadb):
    world = await build_world(db, tenants)
    coordinator = coordinator_actor(world)
    source_id = await registry.register_source(db, coordinator, ip=None, centre_id=world.centre_id, form={
        "nombre": "Sin servidor", "version": "1", "host": "127.0.0.1", "puerto": "1", "base": "novosga",
        "usuario": "lector", "clave": "x", "activa": "on"})
    outcome = await sync_source(db, source_id)
    assert outcome.error and "No se pudo conectar" in outcome.error
    view = await registry.source_view(db, coordinator, ip=None, source_id=source_id)
    assert view.health.state == "con_error" and view.runs[0].status == "error"
    assert view.runs[0].error == outcome.error


async def test_the_mapping_refuses_two_entities_for_one_novo_service_and_one_service_mapped_twice(
        db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    source_id = await register(db, world, mariadb, database)  # 1 → RENIEC DNI; 2 with children → SUNAT RUC
    coordinator = coordinator_actor(world)
    await registry.probe_connection(db, coordinator, ip=None, source_id=source_id)  # reads the catalogue
    desde = (today_lima() - timedelta(days=10)).isoformat()
    with pytest.raises(ValidationFailed) as two_entities:
        await registry.add_mapping(db, coordinator, ip=None, source_id=source_id, form={
            "servicio_novo": "3", "ruc": world.reniec.entity.ruc, "servicio": "DNI", "desde": desde})
    assert two_entities.value.field == "servicio_novo" and "dos entidades" in two_entities.value.message
    with pytest.raises(ValidationFailed) as twice:
        await registry.add_mapping(db, coordinator, ip=None, source_id=source_id, form={
            "servicio_novo": "9", "ruc": world.reniec.entity.ruc, "servicio": "DNI", "desde": desde})
    assert twice.value.field == "servicio" and "ya está mapeado" in twice.value.message
    with pytest.raises(ValidationFailed) as not_offered:
        await registry.add_mapping(db, coordinator, ip=None, source_id=source_id, form={
            "servicio_novo": "9", "ruc": world.reniec.entity.ruc, "servicio": "RUC", "desde": desde})
    assert not_offered.value.field == "servicio"
    # A new version of service 1 from a later day closes the one in force the day before.
    async with db.transaction(TenantContext.system()) as s:
        s.add(CentreService(centre_id=world.centre_id, entity_id=world.reniec.entity.id, code="RECT",
                            name="Rectificación de datos"))
    later = today_lima() - timedelta(days=5)
    await registry.add_mapping(db, coordinator, ip=None, source_id=source_id, form={
        "servicio_novo": "1", "ruc": world.reniec.entity.ruc, "servicio": "RECT", "desde": later.isoformat()})
    view = await registry.source_view(db, coordinator, ip=None, source_id=source_id)
    ones = [(m.entry.version, m.entry.valid_from, m.entry.valid_to, m.ruc) for m in view.mappings
            if m.entry.novo_service_id == 1]
    assert ones == [(1, today_lima() - timedelta(days=40), later - timedelta(days=1), world.reniec.entity.ruc),
                    (2, later, None, world.reniec.entity.ruc)]


async def test_another_centres_coordinator_and_the_participants_never_see_a_source(db, tenants, mariadb):
    world = await build_world(db, tenants)
    other = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    source_id = await register(db, world, mariadb, database)
    intruder = coordinator_actor(other)
    with pytest.raises(NotFound):
        await registry.source_view(db, intruder, ip=None, source_id=source_id)
    with pytest.raises(NotFound):
        await registry.register_source(db, intruder, ip=None, centre_id=world.centre_id, form={
            "nombre": "Intrusa", "version": "1", "host": "h", "base": "b", "usuario": "u", "clave": "c"})
    with pytest.raises(NotFound):
        await registry.add_mapping(db, intruder, ip=None, source_id=source_id, form={
            "servicio_novo": "9", "ruc": other.reniec.entity.ruc, "servicio": "DNI", "desde": "2026-01-01"})
    await sync_source(db, source_id)
    # Row-level security, whatever the service layer does: other tenants' roles read nothing of it.
    for ctx in (other.coordinator(), world.reniec.ctx("gestor_entidad"), world.sunat.ctx("gestor_entidad")):
        async with db.transaction(ctx) as s:
            for table in ("sla_data_sources", "sla_source_service_maps", "sla_source_services", "sla_sync_runs"):
                count = await s.scalar(text(f"SELECT count(*) FROM {table} WHERE centre_id = :c"),
                                       {"c": world.centre_id})
                assert count == 0, (ctx.role, table)
            changed = await s.execute(text("UPDATE sla_data_sources SET host = 'evil' WHERE id = :id"),
                                      {"id": source_id})
            assert changed.rowcount == 0
    async with db.transaction(world.coordinator()) as s:
        assert await s.scalar(text("SELECT count(*) FROM sla_data_sources WHERE id = :id"), {"id": source_id}) == 1
    async with db.transaction(TenantContext(role="supervisor_sgp", entity_id=other.admin.entity.id)) as s:
        assert await s.scalar(text("SELECT count(*) FROM sla_sync_runs WHERE source_id = :id"),
                              {"id": source_id}) == 1
        assert await s.scalar(text("SELECT count(*) FROM sla_data_sources WHERE id = :id"), {"id": source_id}) == 0


def test_a_dsn_is_read_with_its_parts_decoded():
    address = connector.parse_dsn("mysql://lector:cl%40ve@10.0.0.5:3307/novosga", version=2)
    assert (address.host, address.port, address.database, address.username, address.password) == (
        "10.0.0.5", 3307, "novosga", "lector", "cl@ve")
    with pytest.raises(ValueError):
        connector.parse_dsn("postgres://x@y/z", version=1)


async def test_a_row_caught_in_both_tables_by_the_daily_reset_is_read_once(db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    row = {"id": 7, "servico": 1, "status": 8, "numero": 1, "cheg": day + timedelta(hours=9),
           "cha": day + timedelta(hours=9, minutes=5), "ini": day + timedelta(hours=9, minutes=6),
           "fim": day + timedelta(hours=9, minutes=9)}
    insert_v1(mariadb, database, "historico_atendimentos", [row])
    insert_v1(mariadb, database, "atendimentos", [row])
    source_id = await register(db, world, mariadb, database)
    outcome = await sync_source(db, source_id)
    assert (outcome.counts.leidos, outcome.counts.importados) == (1, 1)
    assert any("a la vez en atendimentos e historico_atendimentos" in w for w in outcome.counts.warnings)


async def test_a_sync_in_a_suspect_zone_says_so_in_its_warnings(db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(mariadb, database, "historico_atendimentos", [
        {"id": 1, "servico": 1, "status": 1, "numero": 1, "cheg": day + timedelta(hours=10)}])
    source_id = await register(db, world, mariadb, database, zone="Asia/Tokyo")
    outcome = await sync_source(db, source_id)
    assert any("Asia/Tokyo" in w and "fuera del horario" in w for w in outcome.counts.warnings)
    async with db.transaction(TenantContext.system()) as s:
        run = await s.get(SyncRun, outcome.run_id)
    assert run.warnings == outcome.counts.warnings


async def test_a_failure_while_storing_rolls_the_sync_back_and_records_a_failed_run(db, tenants, mariadb,
                                                                                   monkeypatch):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(mariadb, database, "historico_atendimentos", [
        {"id": 1, "servico": 1, "status": 5, "numero": 1, "cheg": day + timedelta(hours=10),
         "cha": day + timedelta(hours=10, minutes=9)}])
    source_id = await register(db, world, mariadb, database)
    from app.sla import ingest

    async def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disco lleno")

    monkeypatch.setattr(ingest, "ingest_records", broken)
    with pytest.raises(RuntimeError):
        await sync_source(db, source_id)
    async with db.transaction(TenantContext.system()) as s:
        runs = (await s.scalars(select(SyncRun).where(SyncRun.source_id == source_id))).all()
        source = await s.get(DataSource, source_id)
        stored = await s.scalar(select(TicketSegment.ticket_id).where(TicketSegment.centre_id == world.centre_id))
    assert [r.status for r in runs] == ["error"] and "RuntimeError" in runs[0].error
    assert source.watermark is None and source.last_success_at is None and stored is None


async def test_the_worker_syncs_every_enabled_source_and_the_one_asked_for(db, tenants, mariadb, settings):
    from app.sla.sources.jobs import sla_sync_source, sla_sync_sources
    from app.worker.broker import WorkerRuntime

    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(mariadb, database, "historico_atendimentos", [
        {"id": 1, "servico": 1, "status": 5, "numero": 1, "cheg": day + timedelta(hours=10),
         "cha": day + timedelta(hours=10, minutes=9)}])
    enabled = await register(db, world, mariadb, database)
    coordinator = coordinator_actor(world)
    disabled = await registry.register_source(db, coordinator, ip=None, centre_id=world.centre_id, form={
        "nombre": "Apagada", "version": "1", "host": "127.0.0.1", "puerto": str(mariadb.port), "base": database,
        "usuario": READER, "clave": "clave-de-solo-lectura"})
    runtime = WorkerRuntime(settings)
    try:
        assert await asyncio.to_thread(sla_sync_sources, runtime) >= 1
        asked = await asyncio.to_thread(sla_sync_source, runtime, str(disabled))
    finally:
        runtime.dispose()
    # Asked for, the disabled source is synced too (it has no mapping yet: its row is reported unmapped).
    assert (asked["estado"], asked["leidos"], asked["sin_mapeo"]) == ("exito", 1, 1)
    async with db.transaction(TenantContext.system()) as s:
        runs = {(r.source_id, r.trigger) for r in (await s.scalars(
            select(SyncRun).where(SyncRun.centre_id == world.centre_id))).all()}
    assert runs == {(enabled, "trabajador"), (disabled, "manual")}


async def test_a_row_the_ingest_refuses_is_reported_with_where_to_find_it_and_why(db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=1), datetime.min.time())
    insert_v1(mariadb, database, "historico_atendimentos", [
        {"id": 41, "servico": 1, "status": 8, "numero": 1, "cheg": day + timedelta(hours=10),
         "cha": day + timedelta(hours=9), "ini": day + timedelta(hours=10, minutes=1),
         "fim": day + timedelta(hours=10, minutes=5)}])
    source_id = await register(db, world, mariadb, database)
    outcome = await sync_source(db, source_id)
    assert (outcome.counts.rechazados, outcome.counts.importados) == (1, 0)
    assert outcome.counts.reasons == [{
        "fila": f"historico_atendimentos id 41 (unidad 1, llegada {day + timedelta(hours=10):%Y-%m-%d %H:%M:%S})",
        "campo": "llamado", "motivo": "El llamado es anterior a la emisión."}]


async def test_any_feed_records_its_run_in_the_same_history(db, tenants):
    from app.localtime import now_utc
    from app.sla.sources.history import RunCounts, record_run

    from prometheus_client import REGISTRY

    def scraped(outcome: str) -> float:
        return REGISTRY.get_sample_value("mac_sync_rows_total",
                                         {"source": "detalle_atenciones", "outcome": outcome}) or 0.0

    world = await build_world(db, tenants)
    before = scraped("importados"), scraped("rechazados")
    async with db.transaction(world.coordinator()) as s:
        run = await record_run(s, world.coordinator(), centre_id=world.centre_id, kind="detalle_atenciones",
                               trigger="importacion", started_at=now_utc(), finished_at=now_utc(),
                               counts=RunCounts(leidos=3, importados=2, rechazados=1,
                                                reasons=[{"fila": "4", "campo": "FECHA", "motivo": "x"}]),
                               filename="detalle.xlsx")
    async with db.transaction(world.coordinator()) as s:
        stored = await s.get(SyncRun, run.id)
    assert (stored.kind, stored.source_id, stored.rows_read, stored.imported, stored.rejected, stored.status) == (
        "detalle_atenciones", None, 3, 2, 1, "exito")
    # The operator's /metrics counts what every feed did with its rows.
    assert (scraped("importados") - before[0], scraped("rechazados") - before[1]) == (2, 1)
    async with db.transaction(world.reniec.ctx("gestor_entidad")) as s:
        assert await s.get(SyncRun, run.id) is None
    listing = await registry.list_sources(db, coordinator_actor(world), ip=None, centre_id=world.centre_id)
    assert [r.id for r in listing.runs] == [run.id] and listing.sources == []


async def test_a_source_registered_with_the_wrong_version_fails_with_a_hint(db, tenants, mariadb):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(2)
    source_id = await register(db, world, mariadb, database, version=1)
    outcome = await sync_source(db, source_id)
    assert outcome.error and "versión indicada" in outcome.error
