"""Pages carry a Content-Security-Policy without inline script and cannot be framed; downloads cannot be
rendered as pages; anonymous visits leave no session behind; a reset request costs the same work whether or not
the account exists."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from app.audit_models import AuditEntry
from app.auth.passwords import hash_password
from app.costsharing import services as svc
from app.db import TenantContext
from tests.costsharing_fixtures import make_scene

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"
PASSWORD = "Cabeceras-seguras-2026"


async def test_a_page_gets_a_policy_that_allows_only_the_apps_own_scripts_and_no_framing(client):
    response = await client.get("/ingresar")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    problem = await client.get("/api/v1/admin/usuarios")  # errors too
    assert problem.headers["x-content-type-options"] == "nosniff"
    missing = await client.get("/no-existe")  # the router's own 404 page
    assert "frame-ancestors 'none'" in missing.headers["content-security-policy"]


def test_no_template_carries_an_inline_script_or_event_handler():
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text) \
                or "javascript:" in text or "<style" in text:
            offenders.append(template.name)
    assert offenders == []


async def test_an_uploaded_html_support_is_downloaded_as_bytes_never_rendered(client, tenants):
    scene = await make_scene(tenants, password_hash=hash_password(PASSWORD))
    period = await svc.open_period(scene.coordinator, scene.admin.centre.id, scene.year, 6)
    item = await svc.add_item(scene.coordinator, period.id, svc.ItemInput(
        "agua", "Recibo", "10.00", attachment=("recibo.html", "text/html", b"<script>alert(1)</script>")))
    response = await client.login(scene.admin.users["coordinador_centro"].email, PASSWORD)
    assert response.status_code in (302, 303)
    download = await client.get(f"/costos/costos/{item.id}/sustento")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in download.headers["content-security-policy"]


async def test_anonymous_visits_create_no_session(client, owner_url):
    def sessions() -> int:
        with psycopg.connect(owner_url) as conn:
            return conn.execute("SELECT count(*) FROM web_sessions").fetchone()[0]

    before = sessions()
    for _ in range(20):
        response = await client.get("/health")
        assert "mac_sesion" not in response.headers.get("set-cookie", "")
    await client.get("/ingresar")
    await client.get("/verificar/")
    assert sessions() == before


async def test_a_reset_request_for_an_unknown_address_does_the_same_work(client, tenants, db):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(PASSWORD))

    async def audited(label: str) -> int:
        async with db.transaction(TenantContext.system()) as s:
            return await s.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "restablecimiento_solicitado", AuditEntry.actor_label == label))

    known, unknown = t.users["finanzas"].email, "nadie-registrado@ejemplo.pe"
    pages = [await client.submit("/restablecer", {"correo": email}) for email in (known, unknown)]
    assert pages[0].status_code == pages[1].status_code == 200
    assert (await audited(known), await audited(unknown)) == (1, 1)
