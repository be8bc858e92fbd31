"""The audit log is append-only and hash-chained: `mac audit verify` detects any edited or deleted entry."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import select, text

from app import audit
from app.audit_models import AuditEntry
from app.cli import main as mac
from app.db import TenantContext


async def _append(db, ctx, n: int = 3) -> list[int]:
    async with db.transaction(ctx) as s:
        for i in range(n):
            await audit.record(s, ctx, action="prueba", record_type="entidad", record_id=i,
                               before={"nombre": "antes"}, after={"nombre": f"después {i}"})
    async with db.transaction(TenantContext.system()) as s:
        return list((await s.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(n))).all())


async def test_each_entry_carries_the_hash_of_the_previous_one(db, tenants):
    t = await tenants.create()
    seqs = await _append(db, t.ctx("gestor_entidad"))
    async with db.transaction(TenantContext.system()) as s:
        rows = (await s.scalars(select(AuditEntry).where(AuditEntry.seq.in_(seqs)).order_by(AuditEntry.seq))).all()
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert all(len(r.hash) == 64 for r in rows)
    assert rows[0].entity_id == t.entity.id and rows[0].after == {"nombre": "después 0"}


async def test_the_runtime_role_can_neither_update_nor_delete_entries(db, tenants):
    t = await tenants.create()
    await _append(db, t.ctx("gestor_entidad"), 1)
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="permission denied"):
            async with db.transaction(TenantContext.system()) as s:
                await s.execute(text(statement))


async def test_an_intact_chain_verifies(db, tenants, owner_url, capsys):
    t = await tenants.create()
    await _append(db, t.ctx("gestor_entidad"))
    assert audit.verify_chain(owner_url).intact
    # A command runs outside any event loop (it starts its own to check the anchors' seals), as from a shell.
    assert await asyncio.to_thread(mac, ["audit", "verify"]) == 0
    assert "Auditoría íntegra" in capsys.readouterr().out


def _tampered(owner_url: str, tamper: str) -> audit.ChainReport:
    """Tamper as a database superuser would (triggers off), verify, then roll everything back."""
    with psycopg.connect(owner_url) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.execute(tamper)
        report = audit.verify_chain_on(conn)
        conn.rollback()
    return report


async def test_an_edited_entry_is_detected(db, tenants, owner_url):
    t = await tenants.create()
    seqs = await _append(db, t.ctx("gestor_entidad"))
    report = _tampered(owner_url, f"UPDATE audit_log SET after = '{{\"nombre\": \"falso\"}}' WHERE seq = {seqs[1]}")
    assert not report.intact
    assert [p.seq for p in report.problems] == [seqs[1]]


async def test_an_edit_that_recomputes_its_own_hash_still_breaks_the_next_link(db, tenants, owner_url):
    t = await tenants.create()
    seqs = sorted(await _append(db, t.ctx("gestor_entidad")))
    report = _tampered(owner_url, f"UPDATE audit_log SET action = 'borrado' WHERE seq = {seqs[0]};"
                                  f"UPDATE audit_log a SET hash = audit_digest(a) WHERE seq = {seqs[0]}")
    assert {p.seq for p in report.problems} == {seqs[1]}


async def test_a_deleted_entry_is_detected(db, tenants, owner_url):
    t = await tenants.create()
    seqs = sorted(await _append(db, t.ctx("gestor_entidad")))
    report = _tampered(owner_url, f"DELETE FROM audit_log WHERE seq = {seqs[1]}")
    assert not report.intact
    assert any("faltan" in p.problem for p in report.problems)


async def test_a_deleted_tail_is_detected(db, tenants, owner_url):
    t = await tenants.create()
    seqs = sorted(await _append(db, t.ctx("gestor_entidad")))
    report = _tampered(owner_url, f"DELETE FROM audit_log WHERE seq = {seqs[-1]}")
    assert any("cabeza" in p.problem for p in report.problems)


async def test_a_tenant_reads_only_its_own_trail(db, tenants):
    ours = await tenants.create()
    theirs = await tenants.create()
    await _append(db, theirs.ctx("gestor_entidad"), 1)
    async with db.transaction(ours.ctx("gestor_entidad")) as s:
        entity_ids = set((await s.scalars(select(AuditEntry.entity_id))).all())
    assert entity_ids <= {ours.entity.id}


async def test_a_tenant_cannot_write_entries_in_another_tenants_name(db, tenants):
    ours = await tenants.create()
    theirs = await tenants.create()
    with pytest.raises(Exception, match="row-level security"):
        async with db.transaction(ours.ctx("gestor_entidad")) as s:
            await audit.record(s, ours.ctx("gestor_entidad"), action="suplantacion", record_type="entidad",
                               entity_id=theirs.entity.id)
