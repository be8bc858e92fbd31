"""The demo shows generated statements for the cost-sharing demo's closed period, and loading twice changes
nothing. On a private, freshly migrated database (the demo commits)."""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import func, select

from app.billing_reports import demo
from app.billing_reports.models import Statement, StatementFile
from app.config import Settings, psycopg_url, with_database
from app.costsharing import demo as costs_demo
from app.costsharing.models import AllocationLine, CostPeriod
from app.database_setup import migrate
from app.db import Database, TenantContext
from app.tenants.demo import load_demo_data

DEMO_DATABASE = f"mac_test_stmt_demo_{os.getpid()}"


@pytest.fixture(scope="module")
async def demo_db(settings: Settings, owner_url: str):
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


async def test_the_demo_has_definitive_statements_for_the_closed_period_and_loads_once(demo_db):
    await load_demo_data(demo_db)
    await costs_demo.load_demo(demo_db)
    lines = await demo.load_demo(demo_db)
    assert "definitivos generados" in lines[0]
    async with demo_db.transaction(TenantContext.system()) as s:
        period = await s.scalar(select(CostPeriod).where(CostPeriod.state == "cerrado"))
        statements = (await s.scalars(select(Statement).where(Statement.period_id == period.id))).all()
        entities = set((await s.scalars(select(AllocationLine.entity_id).where(
            AllocationLine.period_id == period.id))).all())
        files = await s.scalar(select(func.count()).select_from(StatementFile))
    assert {st.entity_id for st in statements} == entities and len(statements) == len(entities) >= 3
    assert all(st.state == "generado" and st.status == "definitivo" for st in statements)
    assert files == 3 * len(statements)
    # A partial transfer, confirmed: the accounts and receivables show a payment and what is still owed.
    assert lines[1].startswith("Pagos: transferencia PAG-")
    from app.billing_reports import ledger
    from app.billing_reports.balances import balances
    from app.localtime import today_lima

    async with demo_db.transaction(TenantContext.system()) as s:
        stored = await ledger.load(s, as_of=today_lima())
    accounts = balances(today_lima(), stored.statements, stored.payments).accounts
    assert any(a.paid > 0 and a.outstanding > 0 for a in accounts)

    again = await demo.load_demo(demo_db)
    assert "ya estaban generados" in again[0]
    async with demo_db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(func.count()).select_from(Statement)) == len(statements)
