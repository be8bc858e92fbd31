"""The demo data loader, against a private, freshly migrated database of its own.

The loader commits, and its rows (nine centres, a dozen entities) would otherwise show up in every other
test's queries of the shared run database; a database of its own also makes the first load really the first.
"""

from __future__ import annotations

import asyncio
import os
from datetime import time

import psycopg
import pytest
from argon2 import PasswordHasher
from psycopg import sql
from sqlalchemy import func, select
from stdnum.pe import ruc as pe_ruc

from app.config import Settings, psycopg_url, with_database
from app.database_setup import migrate
from app.db import Database, TenantContext
from app.tenants import demo
from app.tenants.demo import ACCOUNTS, CENTRES, ENTITIES, PCM_RUC, load_demo_data
from app.tenants.models import Centre, CentreModule, CentreOpeningHours, CentreService, Entity, Membership, User

DEMO_DATABASE = f"mac_test_demo_{os.getpid()}"
TABLES = (Entity, Centre, CentreOpeningHours, CentreModule, CentreService, User, Membership)

# RUCs checked against public listings (see app/tenants/demo.py); every other entity must say it is made up.
KNOWN_RUCS = {"20168999926", "20505703554", "20484004421", "20295613620", "20131312955", "20267073580",
              "20551239692", "20100030595", "20131257750", "20505208626"}


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


@pytest.fixture(scope="module")
async def loads(demo_db: Database):
    """Two loaders started at once on the empty database (random passwords: no DEMO_PASSWORD)."""
    saved = os.environ.pop(demo.DEMO_PASSWORD_ENV, None)
    try:
        return await asyncio.gather(load_demo_data(demo_db), load_demo_data(demo_db))
    finally:
        if saved is not None:
            os.environ[demo.DEMO_PASSWORD_ENV] = saved


@pytest.fixture(scope="module")
def first_load(loads):
    return next(report for report in loads if report.created)


async def _row_counts(db: Database) -> dict[str, int]:
    async with db.transaction(TenantContext.system()) as s:
        return {t.__tablename__: await s.scalar(select(func.count()).select_from(t)) for t in TABLES}


async def test_the_first_load_creates_everything_it_reports(demo_db, first_load):
    assert first_load.created
    counts = await _row_counts(demo_db)
    assert counts == {
        "entities": first_load.counts["entities"], "centres": first_load.counts["centres"],
        "centre_opening_hours": first_load.counts["opening_hours"], "centre_modules": first_load.counts["modules"],
        "centre_services": first_load.counts["services"], "users": first_load.counts["users"],
        "memberships": first_load.counts["memberships"],
    }
    assert counts["entities"] == len(ENTITIES) and counts["centres"] == len(CENTRES) == 9
    assert [a.email for a in first_load.accounts] == [a.email for a in ACCOUNTS]
    assert all(a.password for a in first_load.accounts)


def test_of_two_loaders_started_at_once_exactly_one_creates_the_data(loads):
    assert sorted(report.created for report in loads) == [False, True]


async def test_a_second_load_changes_nothing_and_says_the_data_existed(demo_db, first_load):
    before = await _row_counts(demo_db)
    async with demo_db.transaction(TenantContext.system()) as s:
        hashes_before = dict((await s.execute(select(User.email, User.password_hash))).all())

    again = await load_demo_data(demo_db)

    assert not again.created
    assert again.counts == {}
    assert [(a.role_label, a.email) for a in again.accounts] == [(a.role_label, a.email) for a in first_load.accounts]
    assert all(a.password is None for a in again.accounts)
    assert await _row_counts(demo_db) == before
    async with demo_db.transaction(TenantContext.system()) as s:
        assert dict((await s.execute(select(User.email, User.password_hash))).all()) == hashes_before


async def test_every_ruc_is_valid(demo_db, first_load):
    async with demo_db.transaction(TenantContext.system()) as s:
        rucs = (await s.scalars(select(Entity.ruc))).all()
    assert len(rucs) == len(ENTITIES)
    assert [r for r in rucs if not pe_ruc.is_valid(r)] == []


async def test_pcm_is_the_national_public_rector(demo_db, first_load):
    async with demo_db.transaction(TenantContext.system()) as s:
        pcm = await s.scalar(select(Entity).where(Entity.ruc == PCM_RUC))
        rectors = (await s.scalars(select(Entity.ruc).where(Entity.is_rector))).all()
    assert (pcm.name, pcm.kind, pcm.level, pcm.is_demo) == (
        "Presidencia del Consejo de Ministros", "publica", "nacional", False)
    assert rectors == [PCM_RUC]


async def test_every_seed_centre_is_present_with_its_administering_entity(demo_db, first_load):
    async with demo_db.transaction(TenantContext.system()) as s:
        rows = (await s.execute(
            select(Centre.name, Centre.channel, Centre.ubigeo, Entity.name)
            .join(Entity, Entity.id == Centre.administering_entity_id)
        )).all()
    centres = {name: (channel, ubigeo, admin) for name, channel, ubigeo, admin in rows}
    pcm = "Presidencia del Consejo de Ministros"
    assert {name: (channel, admin) for name, (channel, _, admin) in centres.items() if channel == "centro_mac"} == {
        "Centro MAC Lima Norte": ("centro_mac", pcm),
        "Centro MAC Callao": ("centro_mac", "Gobierno Regional del Callao"),
        "Centro MAC Ventanilla": ("centro_mac", "Municipalidad Distrital de Ventanilla"),
        "Centro MAC Piura": ("centro_mac", "Gobierno Regional de Piura"),
        "Centro MAC Lima Este": ("centro_mac", pcm),
        "Centro MAC Arequipa": ("centro_mac", pcm),
        "Centro MAC Lima Sur": ("centro_mac", pcm),
    }
    assert sum(channel == "mac_express" for channel, _, _ in centres.values()) == 2
    assert centres["Centro MAC Lima Norte"][1] == "150112"  # Independencia
    assert centres["Centro MAC Callao"][1] == "070101"
    assert centres["Centro MAC Ventanilla"][1] == "070106"
    assert centres["Centro MAC Piura"][1] == "200101"
    assert all(len(u) == 6 and u.isdigit() for _, u, _ in centres.values())


async def test_centres_have_hours_modules_and_services(demo_db, first_load):
    async with demo_db.transaction(TenantContext.system()) as s:
        centres = (await s.scalars(select(Centre))).all()
        hours = (await s.scalars(select(CentreOpeningHours))).all()
        modules = (await s.scalars(select(CentreModule))).all()
        services = (await s.execute(select(CentreService.centre_id, Entity.kind, Entity.is_rector)
                                    .join(Entity, Entity.id == CentreService.entity_id))).all()
    for centre in centres:
        week = {h.weekday: (h.opens_at, h.closes_at) for h in hours if h.centre_id == centre.id}
        assert {d: week[d] for d in range(5)} == dict.fromkeys(range(5), (time(8, 0), time(16, 45)))
        if centre.channel == "centro_mac":
            assert week[5] == (time(8, 0), time(13, 45))
            assert 6 not in week
        own = [m for m in modules if m.centre_id == centre.id]
        assert own and all(m.area_m2 and m.area_m2 > 0 for m in own)
        if centre.channel == "centro_mac":
            assert 20 <= sum(m.kind == "fijo" for m in own) <= 40
            assert sum(m.kind == "virtual" for m in own) >= 1
        assert any(c == centre.id for c, _, _ in services)
    assert not any(is_rector for _, _, is_rector in services)  # PCM administers, it does not participate
    assert any(kind == "privada" for _, kind, _ in services)


async def test_each_demo_account_verifies_against_its_password_and_has_its_membership(demo_db, first_load):
    hasher = PasswordHasher()
    async with demo_db.transaction(TenantContext.system()) as s:
        rows = (await s.execute(
            select(User.email, User.password_hash, User.is_demo, Membership.role, Entity.ruc)
            .join(Membership, Membership.user_id == User.id).join(Entity, Entity.id == Membership.entity_id)
        )).all()
    by_email = {email: (hash_, is_demo, role, ruc) for email, hash_, is_demo, role, ruc in rows}
    assert len(by_email) == len(rows) == len(ACCOUNTS)
    for account in first_load.accounts:
        password_hash, is_demo, _, _ = by_email[account.email]
        assert password_hash.startswith("$argon2id$")
        assert account.password not in password_hash
        assert hasher.verify(password_hash, account.password)
        assert is_demo
    assert len({a.password for a in first_load.accounts}) == len(ACCOUNTS)  # random, one each
    assert {email: (role, ruc) for email, (_, _, role, ruc) in by_email.items()} == {
        "admin@demo.mac.pe": ("administrador_plataforma", PCM_RUC),
        "sgp@demo.mac.pe": ("supervisor_sgp", PCM_RUC),
        "coordinador.callao@demo.mac.pe": ("coordinador_centro", "20505703554"),
        "gestor.reniec@demo.mac.pe": ("gestor_entidad", "20295613620"),
        "finanzas.reniec@demo.mac.pe": ("finanzas", "20295613620"),
        "gestor.sunat@demo.mac.pe": ("gestor_entidad", "20131312955"),
    }


async def test_the_callao_coordinator_administers_the_callao_centre(demo_db, first_load):
    async with demo_db.transaction(TenantContext.system()) as s:
        user_id, entity_id = (await s.execute(
            select(User.id, Membership.entity_id).join(Membership, Membership.user_id == User.id)
            .where(User.email == "coordinador.callao@demo.mac.pe"))).one()
        callao = await s.scalar(select(Centre.id).where(Centre.code == "MAC-CALLAO"))
        lima_norte = await s.scalar(select(Centre.id).where(Centre.code == "MAC-LIMA-NORTE"))
    ctx = TenantContext(role="coordinador_centro", entity_id=entity_id, user_id=user_id)
    async with demo_db.transaction(ctx) as s:
        assert await s.scalar(select(func.app_administers_centre(callao)))
        assert not await s.scalar(select(func.app_administers_centre(lima_norte)))


async def test_made_up_rows_are_marked_as_demo(demo_db, first_load):
    async with demo_db.transaction(TenantContext.system()) as s:
        entities = (await s.execute(select(Entity.ruc, Entity.name, Entity.kind, Entity.is_demo))).all()
        centres = (await s.execute(select(Centre.code, Centre.channel, Centre.address, Centre.is_demo))).all()
        users = (await s.scalars(select(User.is_demo))).all()
    # Any RUC we could not check is made up and says so; the ones we checked are not marked.
    assert [(r, n) for r, n, _, d in entities if (r not in KNOWN_RUCS) != d] == []
    by_name = {n: d for _, n, _, d in entities}
    assert by_name["Municipalidad Distrital de Ventanilla"]
    assert all(d for _, _, kind, d in entities if kind == "privada")
    assert any(kind == "privada" for _, _, kind, _ in entities)
    assert all(d for _, channel, _, d in centres if channel == "mac_express")
    assert all(d for _, _, address, d in centres if "referencial" in address)
    assert all(users)


def test_demo_password_comes_from_the_environment_when_set(monkeypatch):
    monkeypatch.setenv(demo.DEMO_PASSWORD_ENV, "clave-fija-2024")
    assert demo.demo_password() == "clave-fija-2024"
    monkeypatch.delenv(demo.DEMO_PASSWORD_ENV)
    generated = {demo.demo_password() for _ in range(20)}
    assert len(generated) == 20
    assert all(len(p) >= 16 and not p.isalpha() and not p.isdigit() for p in generated)


def test_the_declared_data_is_consistent():
    keys = {e.key for e in ENTITIES}
    assert len(keys) == len(ENTITIES) and len({e.ruc for e in ENTITIES}) == len(ENTITIES)
    assert all(pe_ruc.is_valid(e.ruc) for e in ENTITIES)
    assert all(c.administrator in keys and set(c.participants) <= set(demo.CATALOGUE) for c in CENTRES)
    assert set(demo.CATALOGUE) <= keys
    assert all(a.entity in keys for a in ACCOUNTS)
    assert len({c.code for c in CENTRES}) == len(CENTRES)
