"""Browser journey: from nothing to an approved entity with two people.

A person registers their entity with a designation PDF, confirms their e-mail through the demo mailbox, the SGP
observes the request once, the applicant corrects it, the SGP approves it, the new manager invites a finance
officer, who accepts the invitation from the mailbox and signs in. The real worker (``mac worker``) runs
alongside the live server and writes the mails the mailbox shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from app.auth.passwords import hash_password
from tests.factories import valid_dni, valid_ruc
from tests.onboarding_support import designation_pdf

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SGP_PASSWORD = "Supervisora-SGP-2026"
MANAGER_PASSWORD = "Gestora-Nueva-2026"
FINANCE_PASSWORD = "Finanzas-Nueva-2026"
SCREENSHOTS = os.environ.get("MAC_SCREENSHOTS")  # a folder to keep screenshots of the journey, if set


@pytest.fixture
def mail_worker(settings, live_server) -> Iterator[None]:  # noqa: ARG001
    """`mac worker` (outbox relay + dramatiq) against the test database, writing mail to the test data_dir; it
    shares the live server's BASE_URL, as a deployment's worker shares the web's, for the links it writes."""
    log = tempfile.NamedTemporaryFile(prefix="mac-worker-", suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, "-c", "from app.cli import main; raise SystemExit(main(['worker']))"],
                               cwd=PROJECT_ROOT, env={**os.environ, "BASE_URL": live_server}, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    if process.poll() is not None:
        pytest.fail(f"El worker terminó al iniciar:\n{Path(log.name).read_text()[-4000:]}")
    yield
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


async def new_page(browser, live_server):  # noqa: ANN001, ANN201
    context = await browser.new_context(base_url=live_server, locale="es-PE", timezone_id="America/Lima")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    return page


async def shot(page, name: str) -> None:  # noqa: ANN001
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


async def wait_for_mail(page, subject: str, *, timeout: float = 45.0):  # noqa: ANN001, ANN201
    """Refresh the mailbox, as a person would, until the mail arrives; returns its card."""
    deadline = time.monotonic() + timeout
    while True:
        card = page.locator("article.correo", has_text=subject).first
        if await card.count():
            return card
        if time.monotonic() > deadline:
            raise AssertionError(f"no llegó el correo «{subject}»")
        await page.wait_for_timeout(500)
        await page.reload()


async def sign_in(page, email: str, password: str) -> None:  # noqa: ANN001
    await page.goto("/ingresar")
    await page.fill("#correo", email)
    await page.fill("#contrasena", password)
    await page.get_by_role("button", name="Ingresar").click()
    await expect(page.get_by_role("button", name="Salir")).to_be_visible()


async def test_from_nothing_to_an_approved_entity_with_two_people(browser, live_server, mail_worker, tenants,
                                                                   tmp_path):
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=hash_password(SGP_PASSWORD))
    tag = uuid.uuid4().hex[:6]
    ruc, email, entity = valid_ruc(), f"gestora.{tag}@muni-ejemplo.gob.pe", f"Municipalidad Distrital Ejemplo {tag}"
    finance_email = f"finanzas.{tag}@muni-ejemplo.gob.pe"
    letter, signed_letter = tmp_path / "designacion.pdf", tmp_path / "designacion-firmada.pdf"
    letter.write_bytes(designation_pdf("Carta de designación"))
    signed_letter.write_bytes(designation_pdf("Carta de designación firmada"))

    # 1. The applicant fills the public form with the designation letter.
    applicant = await new_page(browser, live_server)
    await applicant.goto("/registro")
    await applicant.fill("#ruc", ruc)
    await applicant.fill("#entity_name", entity)
    await applicant.fill("#short_name", f"MDE{tag[:3]}")
    await applicant.select_option("#kind", "publica")
    await applicant.select_option("#level", "local")
    await applicant.fill("#address", "Jr. Bolognesi 120")
    await applicant.fill("#ubigeo", "070101")
    await applicant.fill("#applicant_dni", valid_dni())
    await applicant.fill("#applicant_name", "Carmen Rojas Huamán")
    await applicant.fill("#applicant_position", "Gerente municipal")
    await applicant.fill("#applicant_email", email)
    await applicant.fill("#contrasena", MANAGER_PASSWORD)
    await applicant.fill("#confirmacion", MANAGER_PASSWORD)
    await applicant.set_input_files("#documento", str(letter))
    await shot(applicant, "01-registro")
    await applicant.get_by_role("button", name="Enviar solicitud").click()
    await expect(applicant.locator("#registro-recibido")).to_contain_text(email)

    # 2. The confirmation arrives in the demo mailbox; its link opens the request, and only the button
    #    «Confirmar mi correo» confirms the e-mail (a link prefetched by a mail scanner confirms nothing).
    await applicant.click("#abrir-buzon")
    card = await wait_for_mail(applicant, "Confirme su correo")
    await shot(applicant, "02-buzon")
    await card.locator("a[href*='/registro/solicitud/']").first.click()
    await expect(applicant.locator("#estado")).to_have_text("Pendiente de verificación del correo")
    follow_url = applicant.url
    await applicant.get_by_role("button", name="Confirmar mi correo").click()
    await expect(applicant.locator("#resultado")).to_contain_text("Su correo fue confirmado")
    await expect(applicant.locator("#estado")).to_have_text("Enviada")
    await expect(applicant.get_by_role("button", name="Confirmar mi correo")).to_have_count(0)

    # 3. The SGP supervisor is told by e-mail, follows its link, reads the document and observes the request.
    supervisor = await new_page(browser, live_server)
    await sign_in(supervisor, sgp.users["supervisor_sgp"].email, SGP_PASSWORD)
    await supervisor.goto("/buzon")
    notice = await wait_for_mail(supervisor, f"Solicitud de registro nueva: {entity}")
    await notice.locator("a[href*='/sgp/registros/']").first.click()
    await expect(supervisor.get_by_role("heading", level=1)).to_contain_text(entity)
    await expect(supervisor.get_by_role("link", name="designacion.pdf")).to_be_visible()
    await supervisor.get_by_role("button", name="Iniciar la revisión").click()
    await expect(supervisor.locator("#estado")).to_have_text("En revisión")
    await supervisor.fill("#motivo", "La carta no está firmada por el titular de la entidad.")
    await supervisor.get_by_role("button", name="Observar").click()
    await expect(supervisor.locator("#estado")).to_have_text("Observada")

    # 4. The applicant reads the observation in the mailbox, corrects and sends again.
    await applicant.goto(follow_url)
    await applicant.get_by_role("link", name="ver los correos de esta solicitud").click()
    card = await wait_for_mail(applicant, "tiene observaciones")
    await expect(card).to_contain_text("La carta no está firmada")
    await card.locator("a[href*='/registro/solicitud/']").first.click()
    await expect(applicant.locator("#estado")).to_have_text("Observada")
    await applicant.fill("#applicant_position", "Alcaldesa")
    await applicant.set_input_files("#documento", str(signed_letter))
    await applicant.get_by_role("button", name="Enviar corrección").click()
    await expect(applicant.locator("#estado")).to_have_text("Enviada")

    # 5. The SGP reviews again and approves: the entity and its manager exist.
    await supervisor.reload()
    await supervisor.get_by_role("button", name="Iniciar la revisión").click()
    await supervisor.fill("#motivo", "Documentación conforme.")
    await supervisor.get_by_role("button", name="Aprobar y crear la entidad").click()
    await expect(supervisor.locator("#estado")).to_have_text("Aprobada")
    await expect(supervisor.get_by_text("Solicitud aprobada: se creó la entidad y su gestor(a).")).to_be_visible()
    await shot(supervisor, "03-aprobada")

    # 6. The new manager signs in and invites a finance officer.
    manager = await new_page(browser, live_server)
    await sign_in(manager, email, MANAGER_PASSWORD)
    await manager.get_by_role("link", name="Usuarios de la entidad").click()
    await manager.fill("#email", finance_email)
    await manager.select_option("#role", "finanzas")
    await manager.get_by_role("button", name="Enviar invitación").click()
    await expect(manager.get_by_text(f"Invitación enviada a {finance_email}")).to_be_visible()
    await manager.click("#buzon-invitacion")
    card = await wait_for_mail(manager, "Invitación a la Plataforma MAC")
    invitation_link = await card.locator("a[href*='/invitacion/']").first.get_attribute("href")

    # 7. The finance officer accepts (their own browser), sets a password and signs in.
    finance = await new_page(browser, live_server)
    await finance.goto(invitation_link)
    await expect(finance.get_by_text(entity)).to_be_visible()
    await finance.fill("#full_name", "Jorge Salas Pinto")
    await finance.fill("#contrasena", FINANCE_PASSWORD)
    await finance.fill("#confirmacion", FINANCE_PASSWORD)
    await finance.get_by_role("button", name="Aceptar la invitación").click()
    await expect(finance.get_by_text("Invitación aceptada")).to_be_visible()
    await sign_in(finance, finance_email, FINANCE_PASSWORD)
    await expect(finance.locator("header")).to_contain_text("Finanzas")
    await expect(finance.locator("header")).to_contain_text(entity)

    # The link served once; the entity now has two people.
    await finance.goto(invitation_link)
    await expect(finance.locator("#invitacion-estado")).to_have_text("Esta invitación ya fue usada.")
    await manager.goto("/entidad/usuarios")
    people = manager.get_by_role("table").first
    await expect(people.get_by_role("row").filter(has_text=finance_email)).to_contain_text("Jorge Salas Pinto")
    await expect(people.get_by_role("row").filter(has_text=email)).to_contain_text("Carmen Rojas Huamán")
    await expect(people.locator("tbody tr")).to_have_count(2)
    await shot(manager, "04-usuarios")
