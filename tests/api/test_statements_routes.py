"""Statement pages through HTTP: a finance officer downloads its own statement and cannot reach another
entity's by guessing its id or URL; the coordinator starts a batch and follows its progress; the SGP exports the
consolidated statement."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.auth.passwords import hash_password
from app.billing_reports.jobs import generate_statement_job
from app.billing_reports.models import StatementBatchItem
from app.db import TenantContext
from tests.costsharing_fixtures import make_scene
from tests.statements_fixtures import (  # noqa: F401
    clean_outbox,
    current_statements,
    files_of,
    pdf_text,
    published_period,
)
from tests.worker_fixtures import runtime, worker_settings  # noqa: F401

PASSWORD = "Estados-de-cuenta-2026"


@pytest.fixture
async def world(db, tenants, runtime):  # noqa: F811
    scene = await make_scene(tenants, password_hash=hash_password(PASSWORD))
    period = await published_period(scene)
    return scene, period

pytestmark = pytest.mark.usefixtures("clean_outbox")


async def run_pending(db, runtime, period_id):  # noqa: F811
    async with db.transaction(TenantContext.system()) as s:
        ids = (await s.scalars(select(StatementBatchItem.statement_id).where(
            StatementBatchItem.state == "pendiente"))).all()
    for statement_id in ids:
        await asyncio.to_thread(generate_statement_job, runtime, str(statement_id))


async def test_the_coordinator_starts_a_batch_and_follows_its_progress(client, db, runtime, world):  # noqa: F811
    scene, period = world
    await client.login(scene.admin.users["coordinador_centro"].email, PASSWORD)
    page = await client.get("/estados-de-cuenta/lotes")
    assert page.status_code == 200 and "Generar estados de cuenta" in page.text and str(period.id) in page.text
    r = await client.submit("/estados-de-cuenta/lotes", {"periodo": str(period.id)})
    assert r.status_code in (302, 303)
    batch_url = r.headers["location"]
    first = await client.get(batch_url + "/progreso")
    assert "0 de 3" in first.text and 'hx-trigger="every 1s"' in first.text
    await run_pending(db, runtime, period.id)
    done = await client.get(batch_url + "/progreso")
    assert "3 de 3" in done.text and "(100 %)" in done.text and "hx-trigger" not in done.text
    assert "Enviar por correo" in done.text


async def test_a_finance_officer_downloads_its_statement_and_never_another_entitys(client, db, runtime, world):  # noqa: F811
    scene, period = world
    from app.billing_reports import services as svc

    await svc.start_batch(scene.coordinator, period.id)
    await run_pending(db, runtime, period.id)
    statements = {st.entity_id: st for st in await current_statements(db, period.id)}
    mine, theirs = statements[scene.a.entity.id], statements[scene.b.entity.id]
    files = await files_of(db, mine.id)

    await client.login(scene.a.users["finanzas"].email, PASSWORD)
    listing = await client.get("/estados-de-cuenta")
    assert mine.number in listing.text and theirs.number not in listing.text
    for fmt, media in (("pdf", "application/pdf"), ("csv", "text/csv"), ("xlsx", "spreadsheetml")):
        r = await client.get(f"/estados-de-cuenta/{mine.id}/{fmt}")
        assert r.status_code == 200 and media in r.headers["content-type"]
        assert r.content == files[fmt].content
        assert "attachment" in r.headers["content-disposition"]
    detail = await client.get(f"/estados-de-cuenta/{mine.id}")
    assert detail.status_code == 200 and f"S/ {mine.total:,.2f}" in detail.text

    # Another entity's statement, by its real id, and an id that does not exist: the same 404.
    for url in (f"/estados-de-cuenta/{theirs.id}", f"/estados-de-cuenta/{theirs.id}/pdf",
                f"/estados-de-cuenta/{theirs.id}/csv", f"/estados-de-cuenta/{theirs.id}/xlsx",
                f"/estados-de-cuenta/{uuid.uuid4()}/pdf"):
        r = await client.get(url)
        assert r.status_code == 404, url
        assert theirs.number not in r.text
    # Nor through the consolidated export, whatever entity it asks for.
    r = await client.get(f"/estados-de-cuenta/consolidado?anio={scene.year}&formato=csv"
                         f"&entidad={scene.b.entity.id}")
    assert r.status_code == 200 and scene.b.entity.ruc not in r.text
    # Anyone holding the statement can verify it on the public page, by its code or by uploading the file.
    anonymous = client.http.__class__(transport=client.http._transport, base_url=str(client.http.base_url))
    async with anonymous:
        public = await anonymous.get(f"/verificar/{mine.verification_code}")
        assert public.status_code == 200 and mine.number in public.text
    check = await client.http.post("/verificar", data={"_csrf_token": await client.csrf()},
                                   files={"pdf": ("estado.pdf", files["pdf"].content, "application/pdf")})
    assert check.status_code == 200 and "es idéntico" in check.text
    # The finance officer cannot start batches.
    r = await client.submit("/estados-de-cuenta/lotes", {"periodo": str(period.id)})
    assert r.status_code == 403


async def test_the_sgp_exports_the_consolidated_statement_across_entities(client, db, runtime, world):  # noqa: F811
    scene, period = world
    from app.billing_reports import services as svc

    await svc.start_batch(scene.coordinator, period.id)
    await run_pending(db, runtime, period.id)
    await client.login(scene.sgp.users["supervisor_sgp"].email, PASSWORD)
    page = await client.get(f"/estados-de-cuenta/consolidado?anio={scene.year}&centro={scene.admin.centre.id}")
    assert page.status_code == 200 and "S/ 12,700.35" in page.text
    for entity in (scene.a.entity, scene.b.entity, scene.admin.entity):  # the SGP can narrow it to one entity
        assert f'<option value="{entity.id}"' in page.text
    only_b = await client.get(f"/estados-de-cuenta/consolidado?anio={scene.year}&entidad={scene.b.entity.id}")
    assert scene.b.entity.name in only_b.text and scene.a.entity.ruc not in only_b.text
    r = await client.get(f"/estados-de-cuenta/consolidado?anio={scene.year}&mes=3&centro={scene.admin.centre.id}"
                         "&formato=csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    col = rows[0].index("Importe (S/)")
    assert {row[0] for row in rows[1:-1]} == {scene.a.entity.ruc, scene.b.entity.ruc, scene.admin.entity.ruc}
    assert sum(Decimal(row[col]) for row in rows[1:-1]) == Decimal(rows[-1][col]) == Decimal("12700.35")
    pdf = await client.get(f"/estados-de-cuenta/consolidado?anio={scene.year}&centro={scene.admin.centre.id}"
                           "&formato=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "S/ 12,700.35" in pdf_text(pdf.content)
