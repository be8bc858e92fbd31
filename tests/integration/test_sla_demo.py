"""The demo run shows ANS figures at first start: synthetic attentions, clearly labelled, loaded once."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import func, select

from app.config import Settings, psycopg_url, with_database
from app.database_setup import migrate
from app.db import Database, TenantContext
from app.sla.calendar import LIMA
from app.sla.demo import MARKER, load_demo
from app.sla.models import Ans, DailyServiceRollup, ImportBatch, SupervisionReport, TicketSegment
from app.tenants.demo import load_demo_data
from app.tenants.models import Centre

DATABASE = f"mac_test_sla_demo_{os.getpid()}"


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


async def test_the_demo_loads_labelled_synthetic_attentions_once(demo_db, db):
    await load_demo_data(demo_db)
    lines = await load_demo(demo_db, volumes={"MAC-CALLAO": 600})
    assert "SINTÉTICAS" in lines[0] and "Centro MAC Callao" in lines[1]
    async with demo_db.transaction(TenantContext.system()) as s:
        callao = await s.scalar(select(Centre).where(Centre.code == "MAC-CALLAO"))
        tickets = await s.scalar(select(func.count()).select_from(TicketSegment)
                                 .where(TicketSegment.centre_id == callao.id))
        rollup_days = await s.scalar(select(func.count(func.distinct(DailyServiceRollup.day)))
                                     .where(DailyServiceRollup.centre_id == callao.id))
        accepted = await s.scalar(select(func.count()).select_from(Ans).where(Ans.centre_id == callao.id,
                                                                              Ans.state == "aceptado"))
        marker = await s.scalar(select(ImportBatch.filename).where(ImportBatch.centre_id == callao.id))
        previous = (datetime.now(LIMA).date().replace(day=1) - timedelta(days=1)).replace(day=1)
        report = await s.scalar(select(SupervisionReport).where(SupervisionReport.centre_id == callao.id,
                                                                SupervisionReport.period == previous,
                                                                SupervisionReport.scope == "centro"))
    assert tickets > 500 and rollup_days > 20 and accepted == 6 and marker == MARKER
    assert report is not None and report.pdf.startswith(b"%PDF")
    from io import BytesIO

    from pypdf import PdfReader

    first_page = PdfReader(BytesIO(report.pdf)).pages[0].extract_text()
    assert "DATOS SINTÉTICOS DE DEMOSTRACIÓN" in first_page and "Centro MAC Callao" in first_page
    assert await load_demo(demo_db, volumes={"MAC-CALLAO": 600}) == [
        "ANS: los datos sintéticos de atención ya estaban cargados."]
