"""The cost sharing demo: an approved methodology, a closed and a published period at Centro MAC Callao; loading
it twice changes nothing. Runs on a private database (the loader commits)."""

from __future__ import annotations

import os
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import func, select

from app.config import psycopg_url, with_database
from app.costsharing import demo as cs_demo
from app.costsharing.models import AllocationLine, CostItem, CostPeriod, Methodology, Observation
from app.database_setup import migrate
from app.db import Database, TenantContext
from app.tenants.demo import load_demo_data

DEMO_DATABASE = f"mac_test_costos_demo_{os.getpid()}"


@pytest.fixture(scope="module")
async def demo_db(settings, owner_url):
    server = psycopg_url(owner_url)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DEMO_DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DEMO_DATABASE)))
    migrate(settings.model_copy(update={"database_url": with_database(owner_url, DEMO_DATABASE)}))
    database = Database(with_database(settings.runtime_url(), DEMO_DATABASE), pool_size=2)
    yield database
    await database.dispose()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DEMO_DATABASE)))


async def test_the_demo_has_an_approved_methodology_a_closed_and_a_published_period_and_loads_once(demo_db, db):
    await load_demo_data(demo_db)
    first = await cs_demo.load_demo(demo_db)
    assert "setiembre 2026 cerrado y octubre 2026 publicado" in first[0]
    async with demo_db.transaction(TenantContext.system()) as s:
        methodology = await s.scalar(select(Methodology).where(Methodology.version == cs_demo.METHODOLOGY_VERSION))
        periods = {p.state: p for p in (await s.scalars(select(CostPeriod))).all()}
        counts = {t.__tablename__: await s.scalar(select(func.count()).select_from(t))
                  for t in (CostPeriod, CostItem, AllocationLine, Observation)}
        for period in periods.values():
            items = await s.scalar(select(func.sum(CostItem.amount)).where(CostItem.period_id == period.id))
            lines = await s.scalar(select(func.sum(AllocationLine.amount)).where(AllocationLine.period_id == period.id))
            assert items == lines and items > Decimal("100000")
    assert methodology.state == "aprobada" and methodology.approved_by_id is not None
    assert set(periods) == {"cerrado", "publicado"}
    assert counts["cost_observations"] == 1
    again = await cs_demo.load_demo(demo_db)
    assert "ya estaba cargada" in again[0]
    async with demo_db.transaction(TenantContext.system()) as s:
        assert counts == {t.__tablename__: await s.scalar(select(func.count()).select_from(t))
                          for t in (CostPeriod, CostItem, AllocationLine, Observation)}
    # The process's own database was left as it was.
    from app.db import get_database

    assert get_database() is db
