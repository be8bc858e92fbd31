"""The demo shows a centre fed by Novo SGA: a source configured at MAC Callao, its services mapped, a seeded import of
the national export in its sync history, and (no Novo
database in the embedded run) a failed first sync that its health shows. Loaded once."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import func, select

from app.config import Settings, psycopg_url, with_database
from app.database_setup import migrate
from app.db import Database, TenantContext
from app.sla.sources.demo import NAME, load_demo
from app.sla.sources.models import DataSource, ServiceMapping, SyncRun
from app.sla.sources.registry import health_of
from app.tenants.demo import load_demo_data

DATABASE = f"mac_test_sources_demo_{os.getpid()}"


@pytest.fixture(scope="module")
async def demo_db(settings: Settings, owner_url: str):
    server = psycopg_url(owner_url)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    migrate(settings.model_copy(update={"database_url": with_database(owner_url, DATABASE)}))
    database = Database(with_database(settings.runtime_url(), DATABASE), pool_size=2)
    yield database
    await database.dispose()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))


async def test_the_demo_configures_a_novo_source_whose_health_shows_it_is_unreachable(demo_db):
    await load_demo_data(demo_db)
    lines = await load_demo(demo_db)
    assert "fuente Novo SGA 1.x de demostración en MAC-CALLAO" in lines[0]
    async with demo_db.transaction(TenantContext.system()) as s:
        source = await s.scalar(select(DataSource).where(DataSource.name == NAME))
        mapped = await s.scalar(select(func.count()).select_from(ServiceMapping)
                                .where(ServiceMapping.source_id == source.id))
        runs = (await s.scalars(select(SyncRun).where(SyncRun.source_id == source.id))).all()
    assert mapped > 0
    assert [r.status for r in runs] == ["error"] and "No se pudo conectar" in runs[0].error
    assert health_of(source).state == "con_error"
    async with demo_db.transaction(TenantContext.system()) as s:
        export_run = await s.scalar(select(SyncRun).where(SyncRun.centre_id == source.centre_id,
                                                          SyncRun.kind == "detalle_atenciones"))
    # Yesterday's national export: two attended, one with its end missing, an abandonment, a transfer (two
    # segments), a cancellation and a service nobody mapped yet.
    assert "exportación nacional «detalle de atenciones»" in lines[1]
    assert (export_run.status, export_run.trigger, export_run.rows_read, export_run.imported, export_run.cancelled,
            export_run.unmapped, export_run.rejected) == ("exito", "importacion", 7, 5, 1, 1, 0)
    assert await load_demo(demo_db) == ["Fuentes de datos: la fuente Novo SGA de demostración ya estaba configurada."]
