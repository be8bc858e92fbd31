"""In a real browser, with a real worker: the coordinator publishes the period, starts the statements batch and
watches its progress reach 100 %; the finance officer of a participating entity opens its statement and
downloads the PDF, the CSV and the XLSX, whose figures are its lines of the allocation."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import expect

from app.auth.passwords import hash_password
from app.costsharing import services as cs
from tests.costsharing_fixtures import make_scene
from tests.statements_fixtures import (  # noqa: F401
    clean_outbox,
    pdf_detail_amounts,
    pdf_total,
    published_period,
    start_worker,
    stop_worker,
)
from tests.worker_fixtures import quiet_outbox  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("quiet_outbox", "clean_outbox")]
PASSWORD = "Estados-en-el-navegador-2026"


async def sign_in(page, email: str) -> None:  # noqa: ANN001
    await page.goto("/ingresar")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Ingresar").click()
    await page.wait_for_url("**/")


async def test_the_coordinator_generates_the_batch_and_the_finance_officer_downloads_its_statement(
        browser, browser_page, live_server, tenants, settings, tmp_path):
    scene = await make_scene(tenants, password_hash=hash_password(PASSWORD))
    period = await published_period(scene, publish=False)  # computed, not yet published
    worker = start_worker(settings, tmp_path)
    try:
        page = browser_page
        await sign_in(page, scene.admin.users["coordinador_centro"].email)
        await page.goto(f"/costos/periodos/{period.id}")
        await page.get_by_role("button", name="Publicar").click()
        await expect(page.locator("main")).to_contain_text("Publicado")

        await page.get_by_role("navigation", name="Navegación principal").get_by_role(
            "link", name="Estados de cuenta").click()
        await page.get_by_role("link", name="Generar estados de cuenta").click()
        await page.get_by_role("button", name=f"Generar estados de cuenta de {scene.admin.centre.name}").click()
        await page.wait_for_url("**/estados-de-cuenta/lotes/*")
        # The page polls the progress (htmx) until the worker is done.
        await expect(page.get_by_test_id("avance")).to_have_text("3 de 3", timeout=90_000)
        await expect(page.locator("#progreso")).to_contain_text("(100 %)")
        await expect(page.get_by_test_id("estado-lote")).to_have_text("Completado")
        await expect(page.get_by_role("progressbar")).to_have_attribute("value", "3")
    finally:
        stop_worker(worker)

    allocation = await cs.get_allocation(scene.coordinator, period.id)
    mine = sorted(ln.amount for ln in allocation.lines if ln.entity_id == scene.a.entity.id)

    context = await browser.new_context(base_url=live_server, locale="es-PE", timezone_id="America/Lima",
                                        accept_downloads=True)
    page = await context.new_page()
    try:
        await sign_in(page, scene.a.users["finanzas"].email)
        await page.get_by_role("navigation", name="Navegación principal").get_by_role(
            "link", name="Estados de cuenta").click()
        links = page.get_by_role("link", name=f"EC-{period.starts_on:%Y-%m}-")
        await expect(links).to_have_count(1)  # its own statement only
        await links.click()
        await expect(page.locator("h1")).to_contain_text("Estado de cuenta EC-")
        await expect(page.locator("main")).to_contain_text(f"S/ {sum(mine):,.2f}")

        contents = {}
        for fmt in ("PDF", "CSV", "XLSX"):
            async with page.expect_download() as info:
                await page.get_by_role("link", name=f"{fmt} ·").click()
            download = await info.value
            target = Path(tmp_path) / download.suggested_filename
            await download.save_as(target)
            contents[fmt] = target.read_bytes()
    finally:
        await context.close()

    assert contents["PDF"].startswith(b"%PDF") and sorted(pdf_detail_amounts(contents["PDF"])) == mine
    assert pdf_total(contents["PDF"]) == sum(mine)
    rows = list(csv.reader(io.StringIO(contents["CSV"].decode("utf-8-sig"))))
    col = rows[0].index("Importe (S/)")
    assert sorted(Decimal(r[col]) for r in rows[1:-1]) == mine and Decimal(rows[-1][col]) == sum(mine)
    sheet = list(load_workbook(io.BytesIO(contents["XLSX"]))["Detalle"].iter_rows(values_only=True))
    assert sorted(Decimal(str(r[col])) for r in sheet[1:-1]) == mine
