"""Browser journeys: the application served for real (uvicorn, in its own process) and headless Chromium.

``live_server`` is the base URL of the app running against the test session's database; ``browser_page`` is
a fresh Playwright page (async API, one browser context per test, so no cookies are shared) whose relative
URLs resolve against it. The server runs in a separate process because the test session's database pool is
bound to the test event loop; the process inherits the test settings through the environment that the
``settings`` fixture prepared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.tenants.models import Entity
from tests.net import served_app

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
START_TIMEOUT_SECONDS = 120  # migrations are done; a loaded machine still takes a while to import and start
ADMIN_PASSWORD = "Navegador-seguro-2026"


@pytest.fixture(scope="session")
def live_server(settings) -> Iterator[str]:
    """The app served by uvicorn on a free port; yields its base URL (no trailing slash)."""
    with served_app(PROJECT_ROOT, start_timeout=START_TIMEOUT_SECONDS) as base_url:
        yield base_url


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator:
    """One headless Chromium for the session (the system's, as in production-like CI images)."""
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"No se encontró Chromium en {CHROMIUM}: instálelo con `apt-get install -y chromium` "
                    "(el script de instalación del proyecto lo hace en máquinas nuevas).")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def browser_page(browser, live_server) -> AsyncIterator:
    """A fresh page (own cookies) in Spanish (Peru), Lima time; ``page.goto("/ingresar")`` works."""
    context = await browser.new_context(base_url=live_server, locale="es-PE", timezone_id="America/Lima")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)  # a loaded CI machine is slower than the default 5 s
    yield page
    await context.close()


@pytest.fixture
async def platform_admin(tenants, db):
    """A platform administrator of the rector entity who signs in with ``ADMIN_PASSWORD``."""
    tenant = await tenants.create(roles=("administrador_plataforma",), password_hash=hash_password(ADMIN_PASSWORD))
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(Entity, tenant.entity.id)).is_rector = True
    return tenant.users["administrador_plataforma"]
