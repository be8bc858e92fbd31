"""In a real browser: the coordinator enters the month's costs and drivers, computes and publishes; the participant's
finance officer sees its share with the derivation and files an observation; the coordinator answers it and
closes the period."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from app.auth.passwords import hash_password
from tests.costsharing_fixtures import make_scene

pytestmark = pytest.mark.e2e
PASSWORD = "Reparto-al-centimo-2026"


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/ingresar")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Ingresar").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Hola")


async def sign_out(page: Page) -> None:
    await page.get_by_role("button", name="Salir").click()
    await page.wait_for_url("**/ingresar**")


async def test_costs_are_computed_published_observed_answered_and_closed(browser_page, tenants):
    page = browser_page
    s = await make_scene(tenants, password_hash=hash_password(PASSWORD))
    coordinator = s.admin.users["coordinador_centro"].email
    finance = s.a.users["finanzas"].email

    # The coordinator opens the month and records the pool and the drivers.
    await sign_in(page, coordinator)
    await page.get_by_role("navigation", name="Navegación principal").get_by_role("link", name="Costos compartidos").click()
    await page.get_by_label("Centro").select_option(str(s.admin.centre.id))
    await page.get_by_label("Mes").select_option("3")
    await page.get_by_label("Año").fill(str(s.year))
    await page.get_by_role("button", name="Abrir periodo").click()
    await expect(page.get_by_role("status")).to_contain_text("abierto en borrador")

    await page.get_by_label("Categoría", exact=True).select_option("alquiler")
    await page.get_by_label("Descripción").fill("Alquiler del local, marzo")
    await page.get_by_label("Monto (S/)").fill("4500.00")
    await page.get_by_label("Documento (factura, orden)").fill("F001-00123")
    await page.get_by_role("button", name="Registrar costo").click()
    await expect(page.get_by_role("status")).to_contain_text("Costo registrado")

    for tenant, area in ((s.a, "60"), (s.b, "30")):
        await page.get_by_label("Entidad", exact=True).select_option(tenant.entity.ruc)
        await page.get_by_label("Área (m²)").fill(area)
        await page.get_by_label("Atenciones del mes").fill("100")
        await page.get_by_role("button", name="Guardar participante").click()
        await expect(page.get_by_role("status")).to_contain_text("Participante y valores registrados")

    await page.get_by_role("button", name="Calcular el reparto").click()
    await expect(page.locator("#estado-periodo")).to_have_text("Calculado")
    await expect(page.locator("#reparto tr").filter(has_text=s.a.entity.ruc).first).to_contain_text("S/ 3,000.00")
    await page.get_by_role("button", name="Publicar").click()
    await expect(page.locator("#estado-periodo")).to_have_text("Publicado")
    period_url = page.url.split("#")[0]
    await sign_out(page)

    # The participant's finance officer sees its share and how it was computed, and observes it.
    await sign_in(page, finance)
    await page.get_by_role("navigation", name="Navegación principal").get_by_role("link", name="Costos compartidos").click()
    await page.get_by_role("link", name="Marzo").click()
    await expect(page.locator("#mi-total")).to_have_text("S/ 3,000.00")
    await expect(page.locator("table.derivacion")).to_contain_text("área (m²): 60 / 90")
    await expect(page.get_by_role("img", name="Su parte frente al resto del centro")).to_be_visible()
    await expect(page.locator("main")).not_to_contain_text(s.b.entity.ruc)
    await page.get_by_label("Observación").fill("El área asignada a nuestra entidad es de 55 m², no de 60 m².")
    await page.get_by_role("button", name="Presentar observación").click()
    await expect(page.get_by_role("status")).to_contain_text("Observación presentada")
    await expect(page.locator("article.observacion")).to_contain_text("Pendiente de respuesta")
    await sign_out(page)

    # The coordinator answers and closes the period.
    await sign_in(page, coordinator)
    await page.goto(period_url)
    await page.get_by_label("Respuesta").fill("Según el acta de entrega del 02/01, el área es de 60 m².")
    await page.get_by_role("button", name="Responder").click()
    await expect(page.locator("article.observacion")).to_contain_text("No aceptada")
    await page.get_by_label("cerrar antes del vencimiento del plazo").check()
    await page.get_by_role("button", name="Cerrar el periodo").click()
    await expect(page.locator("#estado-periodo")).to_have_text("Cerrado")
    await expect(page.get_by_role("button", name="Calcular el reparto")).to_have_count(0)
