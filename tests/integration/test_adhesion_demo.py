"""The demo run shows adhesions in several states at Centro MAC Callao, built through the real services."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select

from app.adhesion.demo import load_demo
from app.adhesion.models import Adhesion
from app.config import Settings, psycopg_url, with_database
from app.database_setup import migrate
from app.db import Database, TenantContext
from app.documents.models import DocumentRevision
from app.tenants.demo import load_demo_data
from app.tenants.models import Entity

DATABASE = f"mac_test_adh_demo_{os.getpid()}"


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


async def test_the_demo_shows_vigente_pending_opinion_and_observed_adhesions_once(demo_db, db):
    await load_demo_data(demo_db)
    lines = await load_demo(demo_db)
    assert lines[0] == "Adhesiones de demostración creadas:"
    assert any("DEMOSTRACIÓN" in line for line in lines)
    async with demo_db.transaction(TenantContext.system()) as s:
        rows = dict((await s.execute(select(Entity.short_name, Adhesion.state)
                                     .join(Entity, Entity.id == Adhesion.entity_id))).all())
        signed = await s.scalar(select(DocumentRevision.id).where(DocumentRevision.kind == "sello_plataforma").limit(1))
    assert rows == {"RENIEC": "vigente", "SUNAT": "pendiente_opinion_sgp", "SUNARP": "observada"}
    assert signed is not None
    assert await load_demo(demo_db) == ["Las adhesiones de demostración ya estaban cargadas."]
