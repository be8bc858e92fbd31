"""Novo SGA sync against a real MariaDB loaded with Novo's own 1.x and 2.x schema: a hand-built day covering
every status and rule becomes exactly the expected segments; a second sync changes nothing; changed rows
update their ticket and the rollups; no citizen name or document ever reaches the platform's database."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import select

from app.auth.actor import Actor
from app.config import psycopg_url
from app.db import TenantContext
from app.localtime import now_lima, today_lima
from app.sla.models import DailyServiceRollup, TicketSegment
from app.sla.rollups import load_calendar
from app.sla.sources import registry
from app.sla.sources.models import DataSource, SyncRun
from app.sla.sources.sync import source_tag, sync_source
from tests.mariadb import MariaDB
from tests.sla_helpers import build_world

LIMA = ZoneInfo("America/Lima")
CITIZEN_NAME, CITIZEN_DNI = "María Quispe Huamán", "45678912"
UTC = ZoneInfo("UTC")


def coordinator_actor(world) -> Actor:  # noqa: ANN001
    return Actor(role="coordinador_centro", entity_id=world.admin.entity.id,
                 user_id=world.admin.users["coordinador_centro"].id)


COLUMNS_V1 = ("id, unidade_id, usuario_id, usuario_tri_id, servico_id, prioridade_id, atendimento_id, status, "
              "sigla_senha, num_senha, num_senha_serv, nm_cli, num_local, dt_cheg, dt_cha, dt_ini, dt_fim, ident_cli")


def insert_v1(maria: MariaDB, database: str, table: str, rows: list[dict]) -> None:
    with maria.root(database) as conn, conn.cursor() as cur:
        for r in rows:
            cur.execute(
                f"INSERT INTO {table} ({COLUMNS_V1}) VALUES (%s, 1, 7, 7, %s, 1, %s, %s, 'A', %s, %s, %s, %s, %s, %s, "
                f"%s, %s, %s)",
                (r["id"], r["servico"], r.get("padre"), r["status"], r["numero"], r["numero"], CITIZEN_NAME,
                 r.get("local", 1), r["cheg"], r.get("cha"), r.get("ini"), r.get("fim"), CITIZEN_DNI))


def novo_catalogue_v1(maria: MariaDB, database: str) -> None:
    with maria.root(database) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO grupos VALUES (1, 'Raíz', 'Raíz', 1, 2, 0)")
        cur.execute("INSERT INTO unidades VALUES (1, 1, 'MAC1', 'Centro MAC', 1, 0, '')")
        cur.executemany("INSERT INTO servicos (id, macro_id, descricao, nome, status, peso) VALUES (%s, %s, %s, %s, 1, 1)",
                        [(1, None, "Duplicado de DNI", "DNI"), (2, None, "Tributos", "SUNAT"),
                         (3, 2, "Inscripción RUC", "RUC"), (9, None, "Orientación", "Orientación")])


async def register(db, world, maria: MariaDB, database: str, *, version: int = 1, zone: str = "America/Lima"):  # noqa: ANN001, ANN201
    coordinator = coordinator_actor(world)
    source_id = await registry.register_source(db, coordinator, ip=None, centre_id=world.centre_id, form={
        "nombre": f"Novo {database}", "version": str(version), "host": "127.0.0.1", "puerto": str(maria.port),
        "base": database, "usuario": "lector_mac", "clave": "clave-de-solo-lectura", "zona_horaria": zone,
        "activa": "on"})
    desde = (today_lima() - timedelta(days=40)).isoformat()
    for novo, ruc, code, children in (("1", world.reniec.entity.ruc, "DNI", ""),
                                      ("2", world.sunat.entity.ruc, "RUC", "on")):
        await registry.add_mapping(db, coordinator, ip=None, source_id=source_id, form={
            "servicio_novo": novo, "ruc": ruc, "servicio": code, "desde": desde, "incluye_subservicios": children})
    return source_id


async def segments(db, centre_id):  # noqa: ANN001, ANN201
    async with db.transaction(TenantContext.system()) as s:
        rows = (await s.scalars(select(TicketSegment).where(TicketSegment.centre_id == centre_id)
                                .order_by(TicketSegment.ticket_id, TicketSegment.segment))).all()
        return {(r.ticket_id, r.segment): r for r in rows}


def at(day_time: datetime | None) -> datetime | None:
    return day_time.replace(tzinfo=LIMA) if day_time else None


async def test_a_novo_1x_day_becomes_exactly_the_expected_segments_and_a_resync_changes_nothing(
        db, tenants, mariadb, owner_url):
    world = await build_world(db, tenants)
    database = mariadb.create_novo(1)
    novo_catalogue_v1(mariadb, database)
    day = datetime.combine(today_lima() - timedelta(days=2), datetime.min.time())
    h = lambda hh, mm: day + timedelta(hours=hh, minutes=mm)  # noqa: E731
    archived = [
        {"id": 101, "servico": 1, "status": 8, "numero": 1, "cheg": h(9, 0), "cha": h(9, 10), "ini": h(9, 12),
         "fim": h(9, 20)},
        {"id": 102, "servico": 1, "status": 4, "numero": 2, "cheg": h(9, 5), "cha": h(9, 30), "ini": h(9, 31)},
        {"id": 103, "servico": 1, "status": 1, "numero": 3, "cheg": h(9, 6)},
        {"id": 104, "servico": 1, "status": 2, "numero": 4, "cheg": h(9, 7), "cha": h(9, 40)},
        {"id": 105, "servico": 1, "status": 3, "numero": 5, "cheg": h(9, 8), "cha": h(9, 41), "ini": h(9, 42)},
        {"id": 106, "servico": 1, "status": 5, "numero": 6, "cheg": h(9, 9), "cha": h(9, 43)},
        {"id": 107, "servico": 1, "status": 6, "numero": 7, "cheg": h(9, 10)},
        # Redirected from RENIEC to SUNAT's «Inscripción RUC» (a child of the mapped macro service «SUNAT»).
        {"id": 108, "servico": 1, "status": 7, "numero": 8, "cheg": h(10, 0), "cha": h(10, 5), "ini": h(10, 6),
         "fim": h(10, 8)},
        {"id": 109, "servico": 3, "status": 8, "numero": 8, "padre": 108, "cheg": h(10, 8), "cha": h(10, 20),
         "ini": h(10, 21), "fim": h(10, 30)},
        {"id": 110, "servico": 9, "status": 8, "numero": 9, "cheg": h(10, 40), "cha": h(10, 45), "ini": h(10, 46),
         "fim": h(10, 50)},
        # Archived id 1: the live table's ids restarted at 1 after the reset.
        {"id": 1, "servico": 1, "status": 8, "numero": 10, "cheg": h(11, 0), "cha": h(11, 5), "ini": h(11, 6),
         "fim": h(11, 15)},
    ]
    base = now_lima().replace(tzinfo=None, microsecond=0) - timedelta(hours=3)
    b = lambda mm: base + timedelta(minutes=mm)  # noqa: E731
    live = [
        {"id": 1, "servico": 1, "status": 8, "numero": 1, "cheg": b(0), "cha": b(5), "ini": b(6), "fim": b(12)},
        {"id": 2, "servico": 1, "status": 1, "numero": 2, "cheg": b(1)},
        {"id": 3, "servico": 1, "status": 2, "numero": 3, "cheg": b(2), "cha": b(20)},
        {"id": 4, "servico": 1, "status": 3, "numero": 4, "cheg": b(3), "cha": b(21), "ini": b(22)},
        {"id": 5, "servico": 1, "status": 5, "numero": 5, "cheg": b(4), "cha": b(25)},
    ]
    insert_v1(mariadb, database, "historico_atendimentos", archived)
    insert_v1(mariadb, database, "atendimentos", live)
    source_id = await register(db, world, mariadb, database)
    tag = source_tag(source_id)

    first = await sync_source(db, source_id, trigger="consola")
    assert first.error is None
    async with db.transaction(TenantContext.system()) as s:
        before = await s.scalar(select(DailyServiceRollup.abandoned).where(
            DailyServiceRollup.centre_id == world.centre_id, DailyServiceRollup.entity_id == world.reniec.entity.id,
            DailyServiceRollup.day == b(0).date()))
        assert before == 1 if (await load_calendar(s, world.centre_id)).is_working_day(b(0).date()) else before is None
    assert first.counts.as_dict() == {"leidos": 16, "importados": 11, "actualizados": 0, "sin_cambios": 0,
                                      "abiertos": 3, "cancelados": 1, "sin_mapeo": 1, "rechazados": 0}
    assert first.counts.unmapped_services == [{"servicio": 9, "nombre": "Orientación", "filas": 1}]

    reniec, sunat = world.reniec.entity.id, world.sunat.entity.id
    key = lambda r, when: (f"{tag}:1:{r}:{when:%Y%m%d%H%M%S}")  # noqa: E731
    expected = {
        (key(101, h(9, 0)), 1): (reniec, "DNI", "attended", h(9, 0), h(9, 10), h(9, 12), h(9, 20)),
        (key(102, h(9, 5)), 1): (reniec, "DNI", "attended", h(9, 5), h(9, 30), h(9, 31), None),
        (key(103, h(9, 6)), 1): (reniec, "DNI", "abandoned", h(9, 6), None, None, None),
        (key(104, h(9, 7)), 1): (reniec, "DNI", "abandoned", h(9, 7), h(9, 40), None, None),
        (key(105, h(9, 8)), 1): (reniec, "DNI", "attended", h(9, 8), h(9, 41), h(9, 42), None),
        (key(106, h(9, 9)), 1): (reniec, "DNI", "abandoned", h(9, 9), h(9, 43), None, None),
        (key(108, h(10, 0)), 1): (reniec, "DNI", "transferred", h(10, 0), h(10, 5), h(10, 6), h(10, 8)),
        (key(108, h(10, 0)), 2): (sunat, "RUC", "attended", h(10, 8), h(10, 20), h(10, 21), h(10, 30)),
        (key(1, h(11, 0)), 1): (reniec, "DNI", "attended", h(11, 0), h(11, 5), h(11, 6), h(11, 15)),
        (key(1, b(0)), 1): (reniec, "DNI", "attended", b(0), b(5), b(6), b(12)),
        (key(5, b(4)), 1): (reniec, "DNI", "abandoned", b(4), b(25), None, None),
    }
    stored = await segments(db, world.centre_id)
    assert {k: (r.entity_id, r.service_code, r.outcome, r.issued_at, r.called_at, r.started_at, r.ended_at)
            for k, r in stored.items()} == {k: (*v[:3], *(at(t) for t in v[3:])) for k, v in expected.items()}

    second = await sync_source(db, source_id)
    assert second.counts.as_dict() == {"leidos": 16, "importados": 0, "actualizados": 0, "sin_cambios": 11,
                                       "abiertos": 3, "cancelados": 1, "sin_mapeo": 1, "rechazados": 0}
    unchanged = await segments(db, world.centre_id)
    assert {k: r.updated_at for k, r in unchanged.items()} == {k: r.updated_at for k, r in stored.items()}

    # After the fact: 102 is coded with its end; the no-show 5 is reactivated (back in the queue) ...
    with mariadb.root(database) as conn, conn.cursor() as cur:
        cur.execute("UPDATE historico_atendimentos SET status = 8, dt_fim = %s WHERE id = 102", (h(9, 50),))
        cur.execute("UPDATE atendimentos SET status = 1, dt_cha = NULL WHERE id = 5")
    third = await sync_source(db, source_id)
    assert third.counts.as_dict() == {"leidos": 16, "importados": 0, "actualizados": 1, "sin_cambios": 9,
                                      "abiertos": 4, "cancelados": 1, "sin_mapeo": 1, "rechazados": 0}
    after = await segments(db, world.centre_id)
    assert after[(key(102, h(9, 5)), 1)].ended_at == at(h(9, 50))
    assert after[(key(5, b(4)), 1)].outcome == "abandoned"
    # ... then called again and served: its ticket is updated and its day's rollup follows.
    with mariadb.root(database) as conn, conn.cursor() as cur:
        cur.execute("UPDATE atendimentos SET status = 8, dt_cha = %s, dt_ini = %s, dt_fim = %s WHERE id = 5",
                    (b(40), b(41), b(50)))
    fourth = await sync_source(db, source_id)
    assert fourth.counts.as_dict() == {"leidos": 16, "importados": 0, "actualizados": 1, "sin_cambios": 10,
                                       "abiertos": 3, "cancelados": 1, "sin_mapeo": 1, "rechazados": 0}
    served = (await segments(db, world.centre_id))[(key(5, b(4)), 1)]
    assert (served.outcome, served.called_at, served.started_at, served.ended_at) == (
        "attended", at(b(40)), at(b(41)), at(b(50)))
    async with db.transaction(TenantContext.system()) as s:
        rollup = await s.scalar(select(DailyServiceRollup).where(
            DailyServiceRollup.centre_id == world.centre_id, DailyServiceRollup.entity_id == reniec,
            DailyServiceRollup.day == b(0).date()))
        working = (await load_calendar(s, world.centre_id)).is_working_day(b(0).date())
        runs = (await s.scalars(select(SyncRun).where(SyncRun.source_id == source_id))).all()
        source = await s.get(DataSource, source_id)
    # Today's rollup (a working day of the centre) counts the served no-show as attended, not abandoned.
    assert (rollup.issued, rollup.abandoned) == (2, 0) if working else rollup is None
    assert len(runs) == 4 and {r.status for r in runs} == {"exito"}
    assert source.last_success_at is not None and source.watermark == at(b(4))

    # Nothing of the citizen reached the platform: not in any table, not in the audit log.
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            found = conn.execute(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s OR t::text LIKE %s',
                                 (f"%{CITIZEN_NAME}%", f"%{CITIZEN_DNI}%")).fetchone()[0]
            assert found == 0, table
