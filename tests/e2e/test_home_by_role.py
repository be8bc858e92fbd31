"""In a real browser, each kind of user signs in through the Spanish form and lands on the home of their role."""

from __future__ import annotations

import pytest

from app.auth.passwords import hash_password

pytestmark = pytest.mark.e2e
PASSWORD = "Navegador-por-rol-2026"

EXPECTED = {
    "gestor_entidad": ("Gestor(a) de entidad", "Centros donde atiende", False),
    "finanzas": ("Finanzas", "Centros donde atiende", False),
    "coordinador_centro": ("Coordinador(a) de centro", "Centros que administra su entidad", False),
    "supervisor_sgp": ("Supervisor(a) SGP", "Centros y entidades administradoras", False),
    "administrador_plataforma": ("Administrador(a) de plataforma", "Centros y entidades administradoras", True),
}


@pytest.mark.parametrize("role", list(EXPECTED))
async def test_each_role_signs_in_and_sees_its_own_home(browser_page, tenants, role):
    page = browser_page
    t = await tenants.create(roles=(role,), with_centre=(role == "coordinador_centro"),
                             password_hash=hash_password(PASSWORD))
    label, section, sees_admin = EXPECTED[role]

    await page.goto("/")
    assert page.url.endswith("/ingresar")  # not signed in: sent to the form
    await page.get_by_label("Correo electrónico").fill(t.users[role].email)
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_role("button", name="Ingresar").click()

    await page.wait_for_url("**/")
    body = page.locator("main")
    assert label in await body.inner_text()
    assert section in await body.inner_text()
    assert t.entity.name in await page.locator("header").inner_text()
    nav = page.get_by_role("navigation", name="Navegación principal")
    assert await nav.get_by_role("link", name="Usuarios y roles").count() == (1 if sees_admin else 0)

    await page.get_by_role("button", name="Salir").click()
    await page.wait_for_url("**/ingresar")
    await page.goto("/auditoria")
    assert "/ingresar" in page.url


async def test_a_wrong_password_shows_the_spanish_message_next_to_the_form(browser_page, tenants):
    page = browser_page
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(PASSWORD))
    await page.goto("/ingresar")
    await page.get_by_label("Correo electrónico").fill(t.users["finanzas"].email)
    await page.get_by_label("Contraseña").fill("no-es-la-clave-1")
    await page.get_by_role("button", name="Ingresar").click()
    alert = page.get_by_role("alert")
    assert "Correo o contraseña incorrectos." in await alert.inner_text()
    assert await page.get_by_label("Correo electrónico").input_value() == t.users["finanzas"].email
