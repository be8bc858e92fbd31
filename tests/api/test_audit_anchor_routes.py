"""The SGP (and the platform administrator) list and download the sealed anchors of the audit chain; nobody
else sees them, and only anchor files can be downloaded from their folder."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.audit_checkpoints import Anchor, read_anchor, seal_anchor, write_anchor
from app.auth.passwords import hash_password

PASSWORD = "Clave-segura-2026"


@pytest.fixture
async def anchor_file(settings):
    anchor = Anchor(seq=41, hash="ab" * 32, at=datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
    path = write_anchor(settings.checkpoint_dir(), anchor, await seal_anchor(anchor, settings))
    (settings.checkpoint_dir() / "notas.txt").write_text("no es un ancla")
    yield path
    path.unlink()


async def signed_in(client, tenants, role):
    tenant = await tenants.create(roles=(role,), password_hash=hash_password(PASSWORD))
    await client.login(tenant.users[role].email, PASSWORD)
    return client


async def test_the_sgp_lists_and_downloads_an_anchor(client, tenants, anchor_file):
    sgp = await signed_in(client, tenants, "supervisor_sgp")
    page = await sgp.get("/auditoria/anclas")
    assert page.status_code == 200 and anchor_file.name in page.text and "Anclas del registro" in page.text
    download = await sgp.get(f"/auditoria/anclas/{anchor_file.name}")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert json.loads(download.content)["secuencia"] == 41
    assert read_anchor(anchor_file).anchor.hash == "ab" * 32


async def test_other_files_of_the_folder_are_not_served(client, tenants, anchor_file):
    sgp = await signed_in(client, tenants, "supervisor_sgp")
    assert (await sgp.get("/auditoria/anclas/notas.txt")).status_code == 404
    assert (await sgp.get("/auditoria/anclas/..%2Fsecret_key")).status_code == 404


@pytest.mark.parametrize("role", ["gestor_entidad", "finanzas", "coordinador_centro"])
async def test_entity_roles_cannot_see_the_anchors(client, tenants, anchor_file, role):
    other = await signed_in(client, tenants, role)
    assert (await other.get("/auditoria/anclas")).status_code == 403
    assert (await other.get(f"/auditoria/anclas/{anchor_file.name}")).status_code == 403
