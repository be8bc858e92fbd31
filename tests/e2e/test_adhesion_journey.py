"""Browser journey: an adhesion from borrador to vigente with three people (the entity's manager, the centre's
coordinator and the SGP supervisor), one round of observations, then the signed PDF checked on the public
verification page by someone who is not signed in."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.adhesion_world import PASSWORD, world  # noqa: F401

pytestmark = pytest.mark.e2e


async def new_page(browser, live_server):  # noqa: ANN001, ANN201
    context = await browser.new_context(base_url=live_server, locale="es-PE", timezone_id="America/Lima")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    return page


async def sign_in(page, email: str) -> None:  # noqa: ANN001
    await page.goto("/ingresar")
    await page.fill("#correo", email)
    await page.fill("#contrasena", PASSWORD)
    await page.get_by_role("button", name="Ingresar").click()
    await expect(page.get_by_role("button", name="Salir")).to_be_visible()


async def take_action(page, adhesion_url: str, action: str, *, reason: str | None = None,  # noqa: ANN001
                      check_all: bool = False) -> None:
    await page.goto(adhesion_url)
    form = page.locator(f"form:has(input[name=accion][value={action}])")
    if check_all:
        for box in await form.locator("input[type=checkbox]").all():
            await box.check()
    if reason is not None:
        await form.locator("textarea[name=motivo]").fill(reason)
    await form.locator("button[type=submit]").click()


async def sign_document(page, adhesion_url: str) -> None:  # noqa: ANN001
    await page.goto(adhesion_url + "/firmar")
    await page.fill("#contrasena", PASSWORD)
    await page.check("input[name=confirmo]")
    await page.get_by_role("button", name="Firmar", exact=True).click()


async def test_an_adhesion_from_borrador_to_vigente_and_its_pdf_verified_in_public(world, browser, live_server):
    manager = await new_page(browser, live_server)
    coordinator = await new_page(browser, live_server)
    supervisor = await new_page(browser, live_server)
    visitor = await new_page(browser, live_server)
    await sign_in(manager, world.participant.users["gestor_entidad"].email)
    await sign_in(coordinator, world.administrator.users["coordinador_centro"].email)
    await sign_in(supervisor, world.sgp.users["supervisor_sgp"].email)

    # The manager drafts the adhesion and previews the exact document.
    await manager.goto("/adhesiones")
    await manager.get_by_role("link", name="Nueva adhesión").click()
    await manager.select_option("#centro", str(world.administrator.centre.id))
    await manager.fill("#servicios", "DNI-DUP | Duplicado del DNI\nACTA | Copia certificada de acta")
    await manager.fill("#modulos", "3")
    await manager.fill("#area_m2", "18.50")
    await manager.fill("#ans", "Duplicado del DNI | 20 | 15 | 90")
    await manager.fill("#importe_locacion", "1250.00")
    await manager.get_by_role("button", name="Crear borrador").click()
    await expect(manager.locator("[data-estado]")).to_have_text("Borrador")
    adhesion_url = re.sub(r"^https?://[^/]+", "", manager.url)
    preview = await manager.request.get(adhesion_url + "/vista-previa.pdf")
    assert preview.ok and (await preview.body()).startswith(b"%PDF-")

    # It signs (password again) and presents it.
    await sign_document(manager, adhesion_url)
    await expect(manager.locator("[data-estado]")).to_have_text("Presentada")

    # The coordinator evaluates and sends it back with observations.
    await take_action(coordinator, adhesion_url, "evaluar")
    await expect(coordinator.locator("[data-estado]")).to_have_text("En evaluación")
    await take_action(coordinator, adhesion_url, "observar", reason="Precise el área del módulo biométrico")
    await expect(coordinator.locator("[data-estado]")).to_have_text("Observada")

    # The manager corrects the request and signs the new version.
    await manager.goto(adhesion_url)
    await expect(manager.get_by_text("Precise el área del módulo biométrico").first).to_be_visible()
    await manager.get_by_role("link", name="Editar la solicitud").click()
    await manager.fill("#area_m2", "21.00")
    await manager.get_by_role("button", name="Guardar cambios").click()
    await sign_document(manager, adhesion_url)
    await expect(manager.locator("[data-estado]")).to_have_text("Presentada")

    # The coordinator evaluates again and forwards it to the SGP with the checklist complete.
    await take_action(coordinator, adhesion_url, "evaluar")
    await take_action(coordinator, adhesion_url, "derivar_sgp", check_all=True)
    await expect(coordinator.locator("[data-estado]")).to_have_text("Pendiente de opinión de la SGP")
    # The coordinator has no way to accept yet.
    await expect(coordinator.get_by_role("link", name="Aceptar y contrafirmar")).to_have_count(0)

    # The SGP gives its favourable opinion.
    await supervisor.goto("/adhesiones?estado=pendiente_opinion_sgp")
    await supervisor.locator(f"a[href='{adhesion_url}']").click()
    await take_action(supervisor, adhesion_url, "opinar_favorable", reason="Conforme con los lineamientos")
    await expect(supervisor.locator("[data-estado]")).to_have_text("Con opinión favorable de la SGP")

    # The coordinator accepts and countersigns from today: the adhesion is in force.
    await coordinator.goto(adhesion_url)
    await coordinator.get_by_role("link", name="Aceptar y contrafirmar").click()
    await coordinator.fill("#contrasena", PASSWORD)
    await coordinator.check("input[name=confirmo]")
    await coordinator.get_by_role("button", name="Firmar", exact=True).click()
    await expect(coordinator.locator("[data-estado]")).to_have_text("Vigente")

    # The manager sees the whole timeline and downloads the signed PDF.
    await manager.goto(adhesion_url)
    await expect(manager.locator("[data-estado]")).to_have_text("Vigente")
    await expect(manager.locator("ol.linea-tiempo li")).to_have_count(11)  # created, signed, evaluated, observed, edited, signed, evaluated, forwarded, opinion, accepted, in force
    signed = await (await manager.request.get(adhesion_url + "/documento.pdf")).body()
    assert signed.startswith(b"%PDF-")

    # Anyone can check it without signing in: authentic, unchanged, and the adhesion is vigente.
    await visitor.goto("/verificar")
    await visitor.set_input_files("#pdf", files=[{"name": "clausula.pdf", "mimeType": "application/pdf",
                                                  "buffer": signed}])
    await visitor.get_by_role("button", name="Verificar archivo").click()
    await expect(visitor.locator("[data-veredicto]")).to_have_attribute("data-veredicto", "exacto")
    await expect(visitor.get_by_text("es auténtico y no fue modificado")).to_be_visible()
    await expect(visitor.locator("[data-estado]")).to_have_text("Vigente")
    await expect(visitor.locator("table").first).to_contain_text("sello de la plataforma")
    # A tampered copy is not.
    tampered = signed.replace(b"Duplicado del DNI", b"Duplicado del DNX", 1) if b"Duplicado del DNI" in signed \
        else signed[:-20] + b"%% alterado %%" + signed[-6:]
    await visitor.goto("/verificar")
    await visitor.set_input_files("#pdf", files=[{"name": "clausula.pdf", "mimeType": "application/pdf",
                                                  "buffer": tampered}])
    await visitor.get_by_role("button", name="Verificar archivo").click()
    await expect(visitor.locator("[data-veredicto]")).not_to_have_attribute("data-veredicto", "exacto")
