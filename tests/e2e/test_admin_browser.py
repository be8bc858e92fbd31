"""In a real browser, the platform administrator registers an entity (after a wrong RUC is pointed out in
Spanish next to its field), finds it listed, creates a person's account and grants them a role."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import Page, expect

from app.tenants.schemas import RUC_MESSAGE
from tests.e2e.conftest import ADMIN_PASSWORD
from tests.factories import valid_ruc

pytestmark = pytest.mark.e2e


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.goto("/ingresar")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(password)
    await page.get_by_role("button", name="Ingresar").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Hola")


async def test_the_administrator_registers_an_entity_and_gives_a_person_a_role_in_it(browser_page, platform_admin):
    page = browser_page
    tag = "X" + uuid.uuid4().hex[:6].upper()  # letters: searched as a name, never as a RUC
    ruc = valid_ruc()
    wrong_ruc = ruc[:-1] + str((int(ruc[-1]) + 1) % 10)
    name, short_name = f"Autoridad Nacional de Prueba {tag}", f"ANP-{tag}"

    await sign_in(page, platform_admin.email, ADMIN_PASSWORD)

    # A wrong RUC: the Spanish message sits next to the field, and what was typed is still there.
    await page.get_by_role("navigation", name="Navegación principal").get_by_role("link", name="Entidades").click()
    await page.get_by_role("link", name="Registrar entidad").click()
    await page.get_by_label("RUC", exact=True).fill(wrong_ruc)
    await page.get_by_label("Nombre o razón social").fill(name)
    await page.get_by_label("Sigla o nombre corto").fill(short_name)
    await page.get_by_label("Tipo de entidad").select_option(label="Pública")
    await page.get_by_label("Nivel de gobierno").select_option(label="Nacional")
    await page.get_by_role("button", name="Registrar entidad").click()

    ruc_field = page.get_by_label("RUC", exact=True)
    await expect(page.locator("#entidad-ruc-error")).to_have_text(RUC_MESSAGE)
    await expect(ruc_field).to_have_attribute("aria-invalid", "true")
    await expect(ruc_field).to_have_attribute("aria-describedby", "entidad-ruc-ayuda entidad-ruc-error")
    await expect(ruc_field).to_have_value(wrong_ruc)
    await expect(page.get_by_label("Nombre o razón social")).to_have_value(name)

    # Corrected, it is registered and listed.
    await ruc_field.fill(ruc)
    await page.get_by_role("button", name="Registrar entidad").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Se registró la entidad {short_name} (RUC {ruc})")
    await expect(page.get_by_role("row").filter(has_text=ruc)).to_contain_text(short_name)

    # Search as you type narrows the list without reloading the page.
    await page.get_by_label("Buscar por RUC o nombre").fill(tag)
    await expect(page.locator("#resultados")).to_contain_text("1 entidad encontrada")
    await expect(page.get_by_role("row").filter(has_text=ruc)).to_be_visible()
    await expect(page).to_have_url(re.compile(rf"/admin/entidades\?.*q={tag}"))  # the search can be bookmarked

    # A person's account, then a role in the new entity.
    await page.get_by_role("link", name="Usuarios y roles").click()
    await page.get_by_role("link", name="Crear usuario").click()
    email = f"rosa.huaman.{tag.lower()}@anp.gob.pe"
    await page.get_by_label("Nombres y apellidos").fill("Rosa Huamán")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_role("button", name="Crear usuario").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Rosa Huamán")
    await expect(page.get_by_role("status")).to_contain_text(f"Se envió a {email} un enlace")

    await page.get_by_label("Entidad", exact=True).select_option(label=f"{short_name} — {name}")
    await page.get_by_label("Rol", exact=True).select_option(label="Gestor(a) de entidad")
    await page.get_by_role("button", name="Otorgar rol").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Se otorgó el rol Gestor(a) de entidad en {short_name}")
    granted = page.locator("#tabla-roles").get_by_role("row").filter(has_text=short_name)
    await expect(granted).to_contain_text("Gestor(a) de entidad")
    await expect(granted).to_contain_text("Vigente")
