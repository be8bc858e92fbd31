"""Test session: a real PostgreSQL (the one in DATABASE_URL, else an embedded server), migrated once.

Tests talk to tenant data as the runtime role (`db`), which is subject to row-level security, never as a
superuser: a superuser bypasses RLS and isolation tests would pass even when isolation is broken.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from app.config import Settings, get_settings, psycopg_url, with_database
from app.database_setup import migrate, start_embedded_postgres
from app.db import Database, set_database

# One database per test run, so parallel runs on one server never collide.
TEST_DATABASE = f"mac_test_{os.getpid()}"


@pytest.fixture(scope="session")
def settings():
    """Settings for the test session, pointing at a freshly created database."""
    server_url = os.environ.get("DATABASE_URL")
    data_dir = Path(tempfile.mkdtemp(prefix="mac-test-"))
    if not server_url:
        server_url = start_embedded_postgres(Path(os.environ.get("MAC_TEST_PGDATA_PARENT", data_dir)))
    with psycopg.connect(psycopg_url(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEST_DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEST_DATABASE)))
    owner_url = with_database(server_url, TEST_DATABASE)
    os.environ["DATABASE_URL"] = owner_url
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.setdefault("SECRET_KEY", "clave-de-pruebas-" + "x" * 32)
    os.environ.pop("BROKER_URL", None)
    # Many sign-ins come from one address in a test run; the throttle has its own test.
    os.environ["LOGIN_RATE_LIMIT_PER_MINUTE"] = "100000"
    get_settings.cache_clear()
    s = get_settings()
    migrate(s)
    yield s
    with psycopg.connect(psycopg_url(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEST_DATABASE)))


@pytest.fixture(scope="session")
def owner_url(settings: Settings) -> str:
    assert settings.database_url
    return settings.database_url


@pytest.fixture(scope="session")
async def db(settings: Settings):
    """The runtime database (the role the app uses: no superuser, no BYPASSRLS)."""
    database = Database(settings.runtime_url(), pool_size=5)
    set_database(database)
    yield database
    await database.dispose()
    set_database(None)


pytest_plugins = ["tests.factories", "tests.oidc_fixture", "tests.mariadb"]


@pytest.fixture(scope="session")
def app(settings, db):
    from app.main import create_app

    return create_app(settings)


@pytest.fixture
async def client(app):
    """A browser-like client: keeps cookies and sends the CSRF token with every form."""
    import httpx

    # Same event loop as the test (the database pool lives in it); client address 127.0.0.1.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield WebClient(c)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WebClient:
    """A signed-in browser. Its unsafe calls to /api/ carry the X-CSRFToken header, as the pages' htmx does
    (base.html); ``.http`` is the bare client, for requests a forger could make."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self.http = client

    def __getattr__(self, name):  # noqa: ANN001
        return getattr(self.http, name)

    async def request(self, method: str, url, **kwargs):  # noqa: ANN001, ANN201
        headers = dict(kwargs.pop("headers", None) or {})
        if (method.upper() in UNSAFE_METHODS and str(url).startswith("/api/")
                and not {name.lower() for name in headers} & {"authorization", "x-csrftoken"}):
            headers["x-csrftoken"] = await self.csrf()
        return await self.http.request(method, url, headers=headers, **kwargs)

    async def post(self, url, **kwargs):  # noqa: ANN001, ANN201
        return await self.request("POST", url, **kwargs)

    async def put(self, url, **kwargs):  # noqa: ANN001, ANN201
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url, **kwargs):  # noqa: ANN001, ANN201
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url, **kwargs):  # noqa: ANN001, ANN201
        return await self.request("DELETE", url, **kwargs)

    async def csrf(self) -> str:
        if "mac_csrf" not in self.http.cookies:
            await self.http.get("/ingresar")
        return self.http.cookies["mac_csrf"]

    async def submit(self, url: str, data: dict | None = None, **kwargs):  # noqa: ANN201
        """POST a form as the browser would (with the CSRF token)."""
        form = {"_csrf_token": await self.csrf(), **(data or {})}
        return await self.http.post(url, data=form, **kwargs)

    async def login(self, email: str, password: str, membership_id=None):  # noqa: ANN001, ANN201
        response = await self.submit("/ingresar", {"correo": email, "contrasena": password})
        if membership_id is not None and response.headers.get("location") == "/cambiar-entidad":
            response = await self.submit("/cambiar-entidad", {"membresia": str(membership_id)})
        return response
