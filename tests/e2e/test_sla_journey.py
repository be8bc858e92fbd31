"""In a real browser: the coordinator uploads a CSV with a few bad rows and reads the row report; meanwhile the
entity manager's open dashboard moves by itself (htmx polling) and shows the breach alert."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from app.auth.passwords import hash_password
from app.sla.calendar import LIMA
from tests.api.test_sla_pages import today_lines
from tests.sla_helpers import TICKET_HEADER, build_world, ticket_line

pytestmark = pytest.mark.e2e
PASSWORD = "Navegador-ANS-2026"


async def sign_in(page, email: str) -> None:  # noqa: ANN001
    await page.goto("/ingresar")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Ingresar").click()
    await page.wait_for_url("**/")


async def test_upload_with_bad_rows_then_the_managers_dashboard_moves_and_alerts(
        browser, browser_page, live_server, db, tenants, tmp_path):
    from datetime import datetime

    from app.sla.calendar import peru_national_holidays

    if datetime.now(LIMA).date() in peru_national_holidays(datetime.now(LIMA).year):
        pytest.skip("Hoy es feriado nacional: ningún ticket de hoy cuenta, el tablero no se movería.")
    # The centre opens all day, every day, so "today" is a working day and alerts may be sent now.
    world = await build_world(db, tenants, password_hash=hash_password(PASSWORD), all_week=True,
                              admin_roles=("coordinador_centro",))

    # The manager opens the dashboard first: nothing yet.
    manager_context = await browser.new_context(base_url=live_server, locale="es-PE", timezone_id="America/Lima")
    manager = await manager_context.new_page()
    manager.set_default_timeout(20_000)
    await sign_in(manager, world.reniec.users["gestor_entidad"].email)
    await manager.get_by_role("link", name="ANS y cumplimiento").click()
    espera = manager.locator('tr[data-indicador="espera"] td.valor')
    await expect(espera).to_have_text("—")
    await expect(manager.locator("#alertas")).to_contain_text("Sin alertas")

    # The coordinator uploads 3 tickets on time, 2 late and 2 bad rows.
    coordinator = browser_page
    await sign_in(coordinator, world.admin.users["coordinador_centro"].email)
    await coordinator.goto(f"/ans/centros/{world.centre_id}/cargas")
    csv_path = tmp_path / "atenciones.csv"
    bad = (ticket_line("X1", "20999999999", "2025-03-03", "09:00", "09:10")
           + f"X2,1,{world.reniec.entity.ruc},DNI,M01,A1,2025-03-03T09:00:00,,,,abandonado\n")
    csv_path.write_text(TICKET_HEADER + today_lines(world, 3, 2) + bad, encoding="utf-8")
    await coordinator.get_by_label("Tipo de archivo").select_option("atenciones")
    await coordinator.locator("#archivo").set_input_files(str(csv_path))
    await coordinator.get_by_role("button", name="Cargar").click()
    await coordinator.wait_for_url("**/ans/cargas/*")
    await expect(coordinator.locator("#resumen")).to_contain_text("5 guardadas")
    await expect(coordinator.locator("#resumen")).to_contain_text("2 rechazadas")
    errors = coordinator.locator("#errores tbody tr")
    await expect(errors).to_have_count(2)
    await expect(errors.nth(0)).to_contain_text("La entidad con RUC 20999999999 no ofrece servicios en este centro.")
    await expect(errors.nth(1)).to_contain_text("no indica la zona horaria")
    assert await errors.nth(0).locator("td").nth(0).inner_text() == "7"

    # Without reloading, the manager's dashboard shows 3 of 5 on time and the breach alert.
    await expect(espera).to_have_text("60.0 %", timeout=30_000)
    await expect(manager.locator('tr[data-indicador="espera"] .estado')).to_have_text("No cumple")
    await expect(manager.locator("#alertas .alerta")).to_have_count(1)
    await expect(manager.locator("#alertas")).to_contain_text("Tiempo de espera")
    await manager_context.close()
