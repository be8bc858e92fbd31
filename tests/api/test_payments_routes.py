"""Payments and balances pages through HTTP: the finance officer reports a transfer with its PDF (and a bad one
is refused beside the field with what was typed kept), the coordinator confirms it, both download the account
statement; another entity's account and payment answer 404."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.auth.passwords import hash_password
from app.billing_reports.payment_models import Payment
from app.db import TenantContext
from app.localtime import today_lima
from tests.payments_fixtures import SUPPORT_PDF, issued, payment_scene, period_of
from tests.statements_fixtures import clean_outbox, pdf_text  # noqa: F401

PASSWORD = "Pagos-y-saldos-2026"
pytestmark = pytest.mark.usefixtures("clean_outbox")


@pytest.fixture
async def world(db, tenants):
    scene = await payment_scene(tenants, password_hash=hash_password(PASSWORD))
    today = today_lima()
    st = await issued(db, scene, scene.a, await period_of(scene, 4), "1500.00", today - timedelta(days=20),
                      today + timedelta(days=10))
    return scene, st


def form(**extra) -> dict:
    return {"fecha": (today_lima() - timedelta(days=1)).isoformat(), "importe": "1500.00", "medio": "transferencia",
            "resolucion": "RES-101-2026", "expediente_siaf": "4567", "anio_fiscal": str(today_lima().year), **extra}


async def report(client, scene, data: dict, pdf: bytes | None = SUPPORT_PDF):  # noqa: ANN001, ANN201
    files = {"sustento": ("resolucion.pdf", pdf, "application/pdf")} if pdf is not None else None
    return await client.post(f"/cuentas/{scene.admin.centre.id}/pagos", data={"_csrf_token": await client.csrf(), **data},
                             files=files)


async def test_finance_reports_a_transfer_and_the_coordinator_confirms_it(client, db, world):
    scene, st = world
    await client.login(scene.a.users["finanzas"].email, PASSWORD)
    page = await client.get(f"/cuentas/{scene.admin.centre.id}")
    assert page.status_code == 200 and st.number in page.text and "Reportar un pago" in page.text
    r = await report(client, scene, form(estados=str(st.id)))
    assert r.status_code in (302, 303), r.text
    async with db.transaction(TenantContext.system()) as s:
        payment = await s.scalar(select(Payment).where(Payment.entity_id == scene.a.entity.id))
    assert payment.state == "reportado" and payment.support_filename == "resolucion.pdf"
    support = await client.get(f"/cuentas/pagos/{payment.id}/sustento")
    assert support.status_code == 200 and support.content == SUPPORT_PDF

    await client.login(scene.admin.users["coordinador_centro"].email, PASSWORD)
    assert (await client.get(f"/cuentas/pagos/{payment.id}/sustento")).content == SUPPORT_PDF
    board = await client.get("/cobranza")
    assert board.status_code == 200 and payment.number in board.text and "Tendencia de cobranza" in board.text
    r = await client.submit(f"/cobranza/pagos/{payment.id}/confirmar")
    assert r.status_code in (302, 303)
    page = await client.get(f"/cobranza/{scene.admin.centre.id}/{scene.a.entity.id}")
    assert 'data-cifra="pendiente">S/ 0.00' in page.text and "Confirmado" in page.text

    csv_file = await client.get(f"/cobranza/{scene.admin.centre.id}/{scene.a.entity.id}/descargar/csv")
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert ["Saldo pendiente", "0.00"] in rows and ["Pagos aplicados", "1500.00"] in rows
    xlsx = await client.get(f"/cobranza/{scene.admin.centre.id}/{scene.a.entity.id}/descargar/xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content))["Pagos"]
    assert [c.value for c in sheet[2]][0] == payment.number

    await client.login(scene.a.users["finanzas"].email, PASSWORD)
    r = await client.submit(f"/cuentas/{scene.admin.centre.id}/constancia")
    assert r.status_code in (302, 303)
    page = await client.get(f"/cuentas/{scene.admin.centre.id}")
    href = re.search(r'href="(/cuentas/constancias/[0-9a-f-]+)"', page.text).group(1)
    assert (await client.get(href)).content.startswith(b"%PDF")
    await client.login(scene.sgp.users["supervisor_sgp"].email, PASSWORD)
    assert (await client.get(href)).content.startswith(b"%PDF")  # the SGP reads every constancia
    national = await client.get("/cobranza")
    assert national.status_code == 200 and scene.a.entity.name in national.text
    await client.login(scene.b.users["finanzas"].email, PASSWORD)
    assert (await client.get(href)).status_code == 404


async def test_a_bad_report_is_refused_beside_the_field_with_what_was_typed_kept(client, db, world):
    scene, _st = world
    await client.login(scene.a.users["finanzas"].email, PASSWORD)
    r = await report(client, scene, form(importe="1.500,00"))
    assert r.status_code == 422
    assert 'id="importe-error"' in r.text and 'value="1.500,00"' in r.text and 'value="RES-101-2026"' in r.text
    r = await report(client, scene, form(), pdf=None)
    assert r.status_code == 422 and 'id="sustento-error"' in r.text
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(Payment.id).where(Payment.entity_id == scene.a.entity.id)) is None


async def test_another_entity_cannot_reach_the_account_payment_or_its_support(client, db, world):
    scene, _st = world
    await client.login(scene.a.users["finanzas"].email, PASSWORD)
    assert (await report(client, scene, form())).status_code in (302, 303)
    async with db.transaction(TenantContext.system()) as s:
        payment = await s.scalar(select(Payment).where(Payment.entity_id == scene.a.entity.id))
    await client.login(scene.b.users["finanzas"].email, PASSWORD)
    assert (await client.get(f"/cuentas/pagos/{payment.id}/sustento")).status_code == 404
    assert (await client.get(f"/cobranza/{scene.admin.centre.id}/{scene.a.entity.id}")).status_code == 403
    own = await client.get(f"/cuentas/{scene.admin.centre.id}")
    assert own.status_code == 200 and payment.number not in own.text and scene.a.entity.name not in own.text
    r = await client.submit(f"/cobranza/pagos/{payment.id}/confirmar")
    assert r.status_code == 403
    # JSON clients get RFC 9457 problem+json.
    r = await client.get(f"/cuentas/pagos/{payment.id}/sustento", headers={"accept": "application/json"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


async def test_the_account_statement_pdf_is_sealed_and_shows_the_balance(client, db, world):
    scene, st = world
    await client.login(scene.a.users["finanzas"].email, PASSWORD)
    r = await client.get(f"/cuentas/{scene.admin.centre.id}/descargar/pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content)
    assert "ESTADO DE CUENTA CORRIENTE" in text and "S/ 1,500.00" in text
    assert st.number in "".join(text.split())  # the number may wrap in its cell
    assert b"/ByteRange" in r.content  # sealed
    code = re.search(r"Código de verificación: (CTA-[0-9A-Z]{4}-[0-9A-Z]{4})", text).group(1)
    public = await client.get(f"/verificar/{code}")
    assert public.status_code == 200 and "Estado de cuenta corriente" in public.text
    assert (await client.get(f"/cuentas/{scene.admin.centre.id}/descargar/doc")).status_code == 404
