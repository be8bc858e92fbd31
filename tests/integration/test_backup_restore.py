"""`mac respaldo crear` then `mac respaldo restaurar` into a fresh database: the restored platform passes
`mac audit verify` (chain and anchors) and every stored PDF has the SHA-256 it was stored with."""

from __future__ import annotations

import hashlib
import io
import shutil
import json
import tarfile
import uuid

import psycopg
import pytest
from reportlab.pdfgen import canvas

from app.audit import record
from app.config import psycopg_url
from app.db import Database, TenantContext
from app.documents.models import DocumentRevision, RegisteredDocument
from app.tenants.models import Entity
from tests.factories import valid_ruc
from tests.scale_fixtures import ScratchDatabase, drop_database, scratch, scratch_database  # noqa: F401


def a_pdf(title: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, title)
    page.save()
    return buffer.getvalue()


async def store_documents(database: ScratchDatabase, count: int) -> dict[str, str]:
    """Documents and audit entries as the platform stores them; returns revision id -> SHA-256."""
    db = Database(database.settings.runtime_url(), pool_size=1)
    stored = {}
    try:
        async with db.transaction(TenantContext.system()) as s:
            entity = Entity(ruc=valid_ruc(), name=f"Entidad respaldada {uuid.uuid4().hex[:6]}", short_name="ER",
                            kind="publica", level="nacional", is_demo=True)
            s.add(entity)
            await s.flush()
            for n in range(count):
                content = a_pdf(f"Estado de cuenta {n}")
                document = RegisteredDocument(code=f"RESP{n:04d}{uuid.uuid4().hex[:8].upper()}", kind="estado_de_cuenta",
                                              title=f"Estado de cuenta {n}", subject_type="estado_de_cuenta",
                                              subject_id=uuid.uuid4(), subject_state="emitido",
                                              subject_state_label="Emitido", entity_id=entity.id, is_demo=True)
                s.add(document)
                await s.flush()
                revision = DocumentRevision(document_id=document.id, entity_id=entity.id, number=0, kind="original",
                                            label="Original", sha256=hashlib.sha256(content).hexdigest(),
                                            size=len(content), content=content)
                s.add(revision)
                await s.flush()
                stored[str(revision.id)] = revision.sha256
                await record(s, TenantContext.system(), action="documento_registrado", record_type="documento",
                             record_id=document.id, entity_id=entity.id)
    finally:
        await db.dispose()
    return stored


@pytest.fixture
def fresh(settings, tmp_path):
    """An empty database (not migrated) with a data folder of its own: where the restore goes."""
    database = scratch_database(settings, tmp_path / "destino", migrated=False)
    yield database
    drop_database(settings, database.name)


async def test_a_backup_restored_into_a_fresh_database_passes_the_audit_and_keeps_every_pdf(scratch, fresh, tmp_path):
    stored = await store_documents(scratch, 3)
    assert scratch.mac("audit", "anclar").returncode == 0
    archive = tmp_path / "respaldo.mac"
    created = scratch.mac("respaldo", "crear", str(archive))
    assert created.returncode == 0, created.stderr
    assert "Documentos guardados: 3" in created.stdout
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifiesto.json"))
    assert "base.dump" in names and any(n.startswith("anclas/ancla-") for n in names)
    assert manifest["documentos"]["sha256"] == stored
    assert manifest["auditoria"]["entradas"] == manifest["auditoria"]["cabeza_secuencia"] >= 3

    restored = fresh.mac("respaldo", "restaurar", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert "Anclas de auditoría copiadas: 1" in restored.stdout
    # The sealing certificate is configuration, not data (SEALING_*; here the demo seal of the data folder):
    # the new installation has the same one.
    shutil.copytree(scratch.settings.data_dir / "sealing", fresh.settings.data_dir / "sealing")
    verified = fresh.mac("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert f"{manifest['auditoria']['entradas']} entradas" in verified.stdout
    assert "Anclas verificadas: 1" in verified.stdout

    with psycopg.connect(psycopg_url(fresh.owner_url)) as conn:  # every PDF read back and hashed again
        conn.execute("SELECT set_config('app.role', 'sistema', true)")
        rows = conn.execute("SELECT id, sha256, content FROM document_revisions").fetchall()
    assert {str(i): hashlib.sha256(bytes(c)).hexdigest() for i, _, c in rows} == stored
    assert all(bytes(c).startswith(b"%PDF-") and hashlib.sha256(bytes(c)).hexdigest() == h for _, h, c in rows)

    # The restored platform works as the runtime role (grants, RLS and the definer's functions came along).
    with psycopg.connect(psycopg_url(fresh.settings.runtime_url())) as conn:
        conn.execute("SELECT set_config('app.role', 'sistema', true)")
        assert conn.execute("SELECT count(*) FROM document_revisions").fetchone()[0] == 3
        conn.execute("SELECT set_config('app.role', 'anonimo', true)")
        assert conn.execute("SELECT count(*) FROM document_revisions").fetchone()[0] == 0


async def test_a_restore_refuses_a_database_that_is_not_empty_and_a_damaged_dump(scratch, tmp_path):
    archive = tmp_path / "respaldo.mac"
    assert scratch.mac("respaldo", "crear", str(archive)).returncode == 0
    again = scratch.mac("respaldo", "crear", str(archive))
    assert again.returncode == 1 and "ya existe" in again.stderr
    into_itself = scratch.mac("respaldo", "restaurar", str(archive))
    assert into_itself.returncode == 1 and "no está vacía" in into_itself.stderr

    damaged = tmp_path / "dañado.mac"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "base.dump":
                data = data[:-10] + b"0123456789"
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    refused = scratch.mac("respaldo", "restaurar", str(damaged))
    assert refused.returncode == 1 and "dañado" in refused.stderr
