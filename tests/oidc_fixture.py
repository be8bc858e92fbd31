"""A real OpenID Connect provider for the test session (node-oidc-provider in tests/oidc_provider).

Started once per session on a free port, only when a test asks for ``oidc_provider``; the session's settings
point the app at it (the app reads settings at request time) and are restored afterwards. Tests add accounts
with the claims they need and drive the whole authorization code flow over HTTP with :meth:`sign_in`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.net import free_port

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
START_TIMEOUT_SECONDS = 60  # node starts slowly on a loaded machine


@dataclass
class OidcTestProvider:
    issuer: str
    client_id: str
    client_secret: str
    callback_url: str

    async def add_account(self, *, doc: str | None = None, ruc: str | None = None, acr: str | None = "nivel-2",
                          name: str = "Persona de Prueba", email: str | None = None,
                          subject: str | None = None) -> str:
        """Register a person at the provider; returns the account id (which is also its ``sub``)."""
        subject = subject or f"ciudadano-{uuid.uuid4().hex}"
        claims: dict = {"name": name, "email": email or f"{subject}@correo.pe", "email_verified": True}
        if doc is not None:
            claims["doc"] = doc
        if ruc is not None:
            claims["ruc"] = ruc
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{self.issuer}/pruebas/cuentas",
                                        json={"id": subject, "acr": acr, "claims": claims})
            response.raise_for_status()
        return subject

    async def authorize(self, authorization_url: str, account: str | None, *, cancel: bool = False) -> str:
        """Play the browser at the provider: follow its redirects, log ``account`` in, consent; returns the
        callback URL (with code and state) the provider sends the browser back to."""
        url = authorization_url
        async with httpx.AsyncClient(follow_redirects=False) as browser:
            for _ in range(12):
                if url.startswith(self.callback_url):
                    return url
                if urlsplit(url).path.startswith("/interaction/"):
                    params = {"cancelar": "1"} if cancel else {"cuenta": account}
                    response = await browser.get(url, params=params)
                else:
                    response = await browser.get(url)
                if response.status_code not in (302, 303):
                    raise AssertionError(f"el proveedor respondió {response.status_code} en {url}: {response.text}")
                url = urljoin(url, response.headers["location"])
        raise AssertionError("demasiadas redirecciones en el proveedor")

    async def sign_in(self, client, account: str | None, *, siguiente: str | None = None,  # noqa: ANN001
                      cancel: bool = False) -> httpx.Response:
        """The whole flow from the app's sign-in button to the app's answer to the callback."""
        start = await client.get("/ingresar/oidc", params={"siguiente": siguiente} if siguiente else None)
        assert start.status_code in (302, 303), start.text
        callback = await self.authorize(start.headers["location"], account, cancel=cancel)
        parts = urlsplit(callback)
        return await client.get(f"{parts.path}?{parts.query}")

    async def reauthenticate(self, client, account: str | None, *, siguiente: str) -> httpx.Response:  # noqa: ANN001
        """Step-up from the app's "Confirmar con ID GOB.PE" to the app's answer to the callback."""
        start = await client.get("/ingresar/oidc/reautenticar", params={"siguiente": siguiente})
        assert start.status_code in (302, 303), start.text
        callback = await self.authorize(start.headers["location"], account)
        parts = urlsplit(callback)
        return await client.get(f"{parts.path}?{parts.query}")


def _wait_until_ready(process: subprocess.Popen, issuer: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"El proveedor OIDC de pruebas terminó al iniciar:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"El proveedor OIDC de pruebas no respondió en {START_TIMEOUT_SECONDS} s:\n{log_path.read_text()}")


@contextmanager
def running_provider(settings, *, client_id: str, redirect_uris: list[str]):  # noqa: ANN001, ANN201
    """node-oidc-provider on a free loopback port with one client; the app's settings point at it while the
    block runs, and are restored afterwards (so fixtures for different redirect URIs can nest)."""
    from app.auth import oidc

    node = shutil.which("node")
    if node is None:
        pytest.fail("Se necesita Node.js (node) para el proveedor OIDC de pruebas.")
    if not (PROVIDER_DIR / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True)

    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    client_secret = uuid.uuid4().hex
    env = {**os.environ, "OIDC_CLIENT_ID": client_id, "OIDC_CLIENT_SECRET": client_secret,
           "OIDC_REDIRECT_URIS": ",".join(redirect_uris)}
    log_path = Path(tempfile.mkdtemp(prefix="mac-oidc-")) / "provider.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([node, "provider.mjs", str(port)], cwd=PROVIDER_DIR, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    saved = (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
    try:
        _wait_until_ready(process, issuer, log_path)
        settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret = issuer, client_id, client_secret
        oidc.clear_cache()
        yield issuer, client_secret
    finally:
        settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret = saved
        oidc.clear_cache()
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def oidc_provider(settings):
    """Start node-oidc-provider, point the app's settings at it, yield it; stop it and restore settings."""
    from app.auth import oidc

    client_id = "plataforma-mac-pruebas"
    callback_url = settings.base_url.rstrip("/") + oidc.CALLBACK_PATH
    with running_provider(settings, client_id=client_id, redirect_uris=[callback_url]) as (issuer, secret):
        yield OidcTestProvider(issuer=issuer, client_id=client_id, client_secret=secret, callback_url=callback_url)
