"""In a real browser: the finance officer reports a transfer with its PDF; the coordinator confirms it; the
account and the account statement PDF show the new balance; once nothing is outstanding the finance officer
issues the constancia de no adeudo and anyone verifies it at /verificar, by code and by file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import expect

from app.auth.passwords import hash_password
from app.localtime import today_lima
from tests.payments_fixtures import SUPPORT_PDF, issued, payment_scene, period_of
from tests.statements_fixtures import clean_outbox, pdf_text  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_outbox")]
PASSWORD = "Pagos-en-el-navegador-2026"


async def sign_in(page, email: str) -> None:  # noqa: ANN001
    await page.goto("/ingresar")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Ingresar").click()
    await page.wait_for_url("**/")


async def download(page, link_name: str, tmp_path) -> bytes:  # noqa: ANN001
    async with page.expect_download() as info:
        await page.get_by_role("link", name=link_name, exact=True).click()
    d = await info.value
    target = Path(tmp_path) / d.suggested_filename
    await d.save_as(target)
    return target.read_bytes()


async def test_a_transfer_reported_confirmed_and_the_constancia_verified(browser, live_server, db, tenants,
                                                                        tmp_path):
    scene = await payment_scene(tenants, password_hash=hash_password(PASSWORD))
    today = today_lima()
    st = await issued(db, scene, scene.a, await period_of(scene, 5), "2650.50", today - timedelta(days=15),
                      today + timedelta(days=15))
    centre = scene.admin.centre

    async def new_page():  # noqa: ANN202
        context = await browser.new_context(base_url=live_server, locale="es-PE", timezone_id="America/Lima",
                                            accept_downloads=True)
        return context, await context.new_page()

    finance_ctx, finance = await new_page()
    coordinator_ctx, coordinator = await new_page()
    try:
        await sign_in(finance, scene.a.users["finanzas"].email)
        await finance.get_by_role("navigation", name="Navegación principal").get_by_role(
            "link", name="Mis cuentas y pagos").click()
        await finance.get_by_role("link", name=centre.name).click()
        await expect(finance.locator('[data-cifra="pendiente"]')).to_have_text("S/ 2,650.50")
        await finance.get_by_label("Fecha de recepción").fill((today - timedelta(days=1)).isoformat())
        await finance.get_by_label("Importe (S/)").fill("2650.50")
        await finance.get_by_label("Medio de pago").select_option("transferencia")
        await finance.get_by_label("N.º de resolución").fill("RES-2026-0450")
        await finance.get_by_label("Expediente SIAF").fill("98765")
        await finance.get_by_label("Año fiscal").fill(str(today.year))
        await finance.get_by_label(f"{st.number} · pendiente S/ 2,650.50").check()
        await finance.set_input_files("#sustento", files=[{"name": "resolucion.pdf", "mimeType": "application/pdf",
                                                           "buffer": SUPPORT_PDF}])
        await finance.get_by_role("button", name="Reportar pago").click()
        await expect(finance.locator("main")).to_contain_text("Contará en el saldo cuando la entidad administradora")
        await expect(finance.locator('[data-cifra="pendiente"]')).to_have_text("S/ 2,650.50")  # not yet confirmed
        await expect(finance.get_by_role("button", name="Emitir constancia de no adeudo")).to_have_count(0)

        await sign_in(coordinator, scene.admin.users["coordinador_centro"].email)
        await coordinator.goto("/cobranza")
        number = (await coordinator.get_by_role("link", name="Revisar PAG-").first.text_content()).split()[-1]
        await coordinator.get_by_role("link", name=f"Revisar {number}").click()
        await coordinator.get_by_role("button", name=f"Confirmar {number}").click()
        await expect(coordinator.locator("main")).to_contain_text(f"Se confirmó el pago {number}")
        await expect(coordinator.locator('[data-cifra="pendiente"]')).to_have_text("S/ 0.00")

        await finance.reload()
        await expect(finance.locator('[data-cifra="pendiente"]')).to_have_text("S/ 0.00")
        await expect(finance.locator("main")).to_contain_text(f"{st.number}: S/ 2,650.50")
        statement_pdf = await download(finance, "PDF sellado", tmp_path)
        text = pdf_text(statement_pdf)
        assert "SALDO POR PAGAR" in text and "S/ 0.00" in text and number in "".join(text.split())

        await finance.get_by_role("button", name="Emitir constancia de no adeudo").click()
        await expect(finance.locator("main")).to_contain_text("Se emitió la constancia de no adeudo CNA-")
        link = finance.get_by_role("link", name="Constancia CNA-")
        code = (await link.text_content()).split()[-1]
        constancia = await download(finance, f"Constancia {code}", tmp_path)
        assert constancia.startswith(b"%PDF") and code in pdf_text(constancia)
    finally:
        await finance_ctx.close()
        await coordinator_ctx.close()

    visitor_ctx, visitor = await new_page()  # anyone, without signing in
    try:
        await visitor.goto(f"/verificar/{code}")
        await expect(visitor.locator("main")).to_contain_text("Constancia de no adeudo")
        await visitor.goto("/verificar")
        await visitor.set_input_files("#pdf", files=[{"name": "constancia.pdf", "mimeType": "application/pdf",
                                                      "buffer": constancia}])
        await visitor.get_by_role("button", name="Verificar archivo").click()
        await expect(visitor.locator("[data-veredicto]")).to_have_attribute("data-veredicto", "exacto")
    finally:
        await visitor_ctx.close()
