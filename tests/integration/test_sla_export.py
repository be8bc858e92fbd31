"""The auditor's export: ``mac sla export`` prints, from stored data, a document on which ``mac sla compliance``
gives exactly the figures the dashboard shows for the same month (a month of demo data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import select

from app.auth.actor import Actor
from app.config import Settings, psycopg_url, with_database
from app.database_setup import migrate
from app.db import Database, TenantContext
from app.errors import NotFound, ValidationFailed
from app.localtime import today_lima
from app.sla import services
from app.sla.calculator import run_case
from app.sla.calendar import month_bounds
from app.sla.demo import load_demo
from app.sla.export import build_case
from app.tenants.demo import load_demo_data
from app.tenants.models import Centre, Entity

DATABASE = f"mac_test_sla_export_{os.getpid()}"


@pytest.fixture(scope="module")
async def demo_db(settings: Settings, owner_url: str):
    server = psycopg_url(owner_url)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    migrate(settings.model_copy(update={"database_url": with_database(owner_url, DATABASE)}))
    database = Database(with_database(settings.runtime_url(), DATABASE), pool_size=2)
    await load_demo_data(database)
    await load_demo(database, volumes={"MAC-CALLAO": 900})
    yield database
    await database.dispose()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))


def previous_month():
    return month_bounds((today_lima().replace(day=1) - timedelta(days=1)))


async def callao(db: Database) -> Centre:
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(Centre).where(Centre.code == "MAC-CALLAO"))


async def test_export_then_compliance_equals_the_dashboard_for_a_month_of_demo_data(demo_db):
    first, last = previous_month()
    centre = await callao(demo_db)
    async with demo_db.transaction(TenantContext.system()) as s:
        case = await build_case(s, centre, first, last)
    assert len(case["tickets"]) > 500 and case["clock_ins"] and case["surveys"] and len(case["interruptions"]) == 2
    assert any(t["outcome"] == "abandoned" for t in case["tickets"])
    results = run_case(json.loads(json.dumps(case)))["results"]
    offline = {(r["entity_ruc"], r["indicator"]): (r["value"], r["numerator"], r["denominator"], r["status"])
               for r in results}

    sgp = Actor(role="supervisor_sgp", entity_id=None)
    shown = {}
    rucs = sorted({t["entity_ruc"] for t in case["targets"]})
    assert len(rucs) >= 5
    async with demo_db.transaction(TenantContext.system()) as s:
        entities = {e.ruc: e.id for e in (await s.scalars(select(Entity).where(Entity.ruc.in_(rucs)))).all()}
    for ruc in rucs:
        board = await services.dashboard(demo_db, sgp, ip=None, centre_id=centre.id, entity_id=entities[ruc],
                                         month=first)
        for row in board.rows:
            if row.target is not None:
                value = None if row.measure.value is None else str(row.measure.value)
                shown[(ruc, row.indicator)] = (value, row.measure.numerator, row.measure.denominator, row.status)
    assert shown == offline
    # The figures are real ones, not a table of empty results.
    assert sum(v[2] for (_r, ind), v in shown.items() if ind == "espera") > 400
    assert sum(v[2] for (_r, ind), v in shown.items() if ind == "ocupabilidad") > 100
    assert {v[3] for v in shown.values()} >= {"cumple", "no_cumple"}


async def test_an_export_for_one_entity_holds_only_its_data_and_still_reproduces_its_figures(demo_db):
    first, last = previous_month()
    centre = await callao(demo_db)
    async with demo_db.transaction(TenantContext.system()) as s:
        whole = await build_case(s, centre, first, last)
        ruc = whole["targets"][0]["entity_ruc"]
        one = await build_case(s, centre, first, last, ruc)
    assert {t["entity_ruc"] for t in one["targets"]} == {ruc}
    assert {s["entity_ruc"] for s in one["services"]} == {ruc}
    assert {m["entity_ruc"] for m in one["modules"]} == {ruc}
    assert 0 < len(one["tickets"]) < len(whole["tickets"])
    mine = [r for r in run_case(whole)["results"] if r["entity_ruc"] == ruc]
    assert run_case(one)["results"] == mine


async def test_a_bad_ruc_or_range_is_refused_in_spanish(demo_db):
    first, last = previous_month()
    centre = await callao(demo_db)
    async with demo_db.transaction(TenantContext.system()) as s:
        with pytest.raises(ValidationFailed, match="no es un RUC válido"):
            await build_case(s, centre, first, last, "12345678901")
        with pytest.raises(NotFound, match="no ofrece servicios"):
            await build_case(s, centre, first, last, "20100047218")  # a valid RUC not at the centre
        with pytest.raises(ValidationFailed, match="anterior a la inicial"):
            await build_case(s, centre, last, first)


def test_the_command_prints_a_document_the_calculator_reads(demo_db, settings: Settings, owner_url: str):
    first, last = previous_month()
    env = {**os.environ, "DATABASE_URL": with_database(settings.runtime_url(), DATABASE)}
    export = subprocess.run([sys.executable, "-m", "app.cli", "sla", "export", "--centro", "MAC-CALLAO",
                             "--desde", first.isoformat(), "--hasta", last.isoformat()],
                            capture_output=True, text=True, env=env, timeout=300)
    assert export.returncode == 0, export.stderr
    computed = subprocess.run([sys.executable, "-m", "app.cli", "sla", "compliance", "--input", "-"],
                              input=export.stdout, capture_output=True, text=True, env=env, timeout=300)
    assert computed.returncode == 0, computed.stderr
    assert computed.stdout.strip() and json.loads(computed.stdout)["results"] == run_case(json.loads(export.stdout))[
        "results"]
    wrong = subprocess.run([sys.executable, "-m", "app.cli", "sla", "export", "--centro", "NO-EXISTE",
                            "--desde", first.isoformat(), "--hasta", last.isoformat()],
                           capture_output=True, text=True, env=env, timeout=300)
    assert wrong.returncode == 2 and "No existe un centro con código NO-EXISTE" in wrong.stderr
    bad_day = subprocess.run([sys.executable, "-m", "app.cli", "sla", "export", "--centro", "MAC-CALLAO",
                              "--desde", "01/03/2025", "--hasta", last.isoformat()],
                             capture_output=True, text=True, env=env, timeout=300)
    assert bad_day.returncode == 2 and "--desde debe ser una fecha AAAA-MM-DD" in bad_day.stderr


async def test_the_demo_mac_express_points_have_synthetic_attentions_on_their_own_board(demo_db):
    from app.sla import express

    first, _last = previous_month()
    sgp = Actor(role="supervisor_sgp", entity_id=None)
    centres = await express.express_centres(demo_db, sgp, ip=None)
    assert sorted(c.code for c in centres) == ["MACX-ESTRECHO", "MACX-PACHACUTEC"]
    for centre in centres:
        board = await express.express_board(demo_db, sgp, ip=None, centre_id=centre.id, month=first)
        assert board.total > 50 and board.states["EN_SERVICIO"] > 40
        measured = [row for row in board.rows if row.entity is not None]
        assert measured and all(row.stats["total"].count > 0 for row in measured)
        assert all(row.stats["total"].mean_minutes > row.stats["servicio_digital"].mean_minutes for row in measured)


async def test_the_demo_centres_advisors_are_assigned_to_the_modules_their_clock_ins_are_for(demo_db):
    from app.sla.models import Advisor, AdvisorAssignment, ClockInRow

    centre = await callao(demo_db)
    async with demo_db.transaction(TenantContext.system()) as s:
        assigned = dict((await s.execute(select(Advisor.code, AdvisorAssignment.module_code)
                                          .join(AdvisorAssignment, AdvisorAssignment.advisor_id == Advisor.id)
                                          .where(Advisor.centre_id == centre.id))).all())
        clocked = set((await s.execute(select(ClockInRow.advisor, ClockInRow.module_code)
                                       .where(ClockInRow.centre_id == centre.id).distinct())).all())
    assert len(assigned) > 10 and clocked and all(assigned[a] == m for a, m in clocked)
