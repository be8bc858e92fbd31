"""The API as its OpenAPI document describes it, fuzzed by schemathesis on a real server process: as an entity
manager and as the platform administrator, reads and writes, every answer is no server error and matches the
document (status, content type, body schema)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.checks import not_a_server_error

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.tenants.models import Entity
from tests.net import served_app

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Esquema-verdadero-2026"
# Bounded so the whole run stays a few minutes in CI; FUZZ_EXAMPLES raises it for a deeper local run.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def signed_in(base_url: str, email: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base_url}/ingresar", timeout=30)
    response = session.post(f"{base_url}/ingresar", timeout=30, allow_redirects=False,
                            data={"_csrf_token": session.cookies["mac_csrf"], "correo": email, "contrasena": PASSWORD})
    assert response.status_code in (302, 303), response.text[:300]
    session.headers["X-CSRFToken"] = session.cookies["mac_csrf"]
    return session


@pytest.fixture
async def people(tenants, db):
    manager = await tenants.create(roles=("gestor_entidad",), password_hash=hash_password(PASSWORD))
    admin = await tenants.create(roles=("administrador_plataforma",), password_hash=hash_password(PASSWORD))
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(Entity, admin.entity.id)).is_rector = True
    return {"gestor_entidad": manager.users["gestor_entidad"].email,
            "administrador_plataforma": admin.users["administrador_plataforma"].email}


def fuzz(schema, base_url: str, session: requests.Session) -> list[str]:  # noqa: ANN001
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                             phases=[Phase.explicit, Phase.generate],
                             suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # noqa: ANN001
            response = case.call(base_url=base_url, session=session, timeout=60)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except BaseException as exc:  # noqa: BLE001 - every operation is tried; all failures are reported together
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    return failures


def test_the_api_matches_its_document_for_a_manager_and_the_administrator(app, people, settings):
    schema = schemathesis.openapi.from_dict(app.openapi_schema.to_schema())
    with served_app(PROJECT_ROOT, LOGIN_RATE_LIMIT_PER_MINUTE="100000") as base_url:
        failures = []
        for role, email in people.items():
            failures += [f"[{role}] {f}" for f in fuzz(schema, base_url, signed_in(base_url, email))]
    assert not failures, "\n\n".join(failures)
