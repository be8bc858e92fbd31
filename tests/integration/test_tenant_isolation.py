"""Row-level security: what one tenant can see of another, even when application code forgets a WHERE."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import select, text, update

from app.auth.models import OAuthClient
from app.db import MissingTenantContext, TenantContext
from app.tenants.models import Membership, User


async def test_a_query_without_where_returns_only_the_tenants_own_people(db, tenants):
    ours = await tenants.create()
    theirs = await tenants.create()
    async with db.transaction(ours.ctx("gestor_entidad")) as s:
        memberships = (await s.scalars(select(Membership))).all()  # no WHERE on purpose
        users = (await s.scalars(select(User))).all()
    assert {m.entity_id for m in memberships} == {ours.entity.id}
    assert {u.id for u in users} == {u.id for u in ours.users.values()}
    assert not {u.id for u in theirs.users.values()} & {u.id for u in users}


async def test_a_finance_officer_sees_only_their_own_user_record(db, tenants):
    ours = await tenants.create()
    async with db.transaction(ours.ctx("finanzas")) as s:
        users = (await s.scalars(select(User))).all()
    assert [u.id for u in users] == [ours.users["finanzas"].id]


async def test_an_update_without_where_cannot_touch_another_tenants_rows(db, tenants):
    ours = await tenants.create()
    theirs = await tenants.create()
    async with db.transaction(ours.ctx("gestor_entidad")) as s:
        await s.execute(update(User).values(full_name="sobrescrito"))
    async with db.transaction(TenantContext.system()) as s:
        names = (await s.scalars(select(User.full_name).where(User.id.in_([u.id for u in theirs.users.values()])))).all()
    assert "sobrescrito" not in names


async def test_a_tenant_cannot_write_rows_for_another_tenant(db, tenants):
    ours = await tenants.create()
    theirs = await tenants.create()
    with pytest.raises(Exception, match="row-level security"):
        async with db.transaction(ours.ctx("gestor_entidad")) as s:
            s.add(Membership(user_id=ours.users["gestor_entidad"].id, entity_id=theirs.entity.id, role="gestor_entidad"))


async def test_machine_client_secrets_of_other_entities_are_invisible(db, tenants):
    ours = await tenants.create()
    theirs = await tenants.create()
    async with db.transaction(TenantContext.system()) as s:
        s.add(OAuthClient(client_id=f"colas-{uuid.uuid4().hex[:8]}", secret_hash="x", name="Colas",
                          entity_id=theirs.entity.id, scopes=["atenciones:escribir"]))
    async with db.transaction(ours.ctx("gestor_entidad")) as s:
        assert (await s.scalars(select(OAuthClient))).all() == []


async def test_the_sgp_reads_across_tenants_but_cannot_write(db, tenants):
    sgp = await tenants.create(roles=("supervisor_sgp",))
    other = await tenants.create()
    async with db.transaction(sgp.ctx("supervisor_sgp")) as s:
        seen = set((await s.scalars(select(Membership.entity_id))).all())
        assert other.entity.id in seen
        result = await s.execute(update(User).where(User.id == other.users["gestor_entidad"].id).values(full_name="x"))
        assert result.rowcount == 0


async def test_the_tenant_context_is_transaction_local_and_never_leaks_through_the_pool(db, tenants):
    ours = await tenants.create()
    async with db.transaction(ours.ctx("gestor_entidad")) as s:
        assert (await s.scalar(text("SELECT app_entity_id()"))) == ours.entity.id
    # Same pool, raw connection, no context: the settings are gone and nothing is visible.
    async with db.engine.connect() as conn:
        assert (await conn.scalar(text("SELECT app_entity_id()"))) is None
        assert (await conn.scalar(text("SELECT count(*) FROM memberships"))) == 0
        assert (await conn.scalar(text("SELECT count(*) FROM users"))) == 0


async def test_a_transaction_without_a_tenant_context_is_refused(db):
    with pytest.raises(MissingTenantContext):
        async with db.sessionmaker() as s:
            await s.execute(text("SELECT 1"))


def test_the_runtime_role_owns_nothing_and_cannot_bypass_rls(settings):
    with psycopg.connect(settings.runtime_url().replace("postgresql+asyncpg", "postgresql")) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
        assert row == (False, False)
        owned = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tableowner = current_user").fetchone()[0]
        assert owned == 0


def test_every_table_with_a_tenant_column_forces_rls_and_has_a_policy(owner_url):
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute("""
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND EXISTS (
              SELECT 1 FROM information_schema.columns col
              WHERE col.table_schema = 'public' AND col.table_name = c.relname
                AND col.column_name IN ('entity_id', 'administering_entity_id', 'user_id', 'centre_id'))
        """).fetchall()
    assert rows, "the catalogue query found no tenant tables"
    offenders = [name for name, rls, force, policies in rows if not (rls and force and policies)]
    assert offenders == []


async def test_an_email_is_unique_whatever_its_case(db, tenants):
    from sqlalchemy.exc import IntegrityError

    t = await tenants.create(roles=("finanzas",))
    with pytest.raises(IntegrityError, match="uq_users_email_lower"):
        async with db.transaction(TenantContext.system()) as s:
            s.add(User(email=t.users["finanzas"].email.upper(), full_name="Duplicado"))
