"""Every route, called by every role of another tenant, answers 401/403/404 or its own data, never the victim's.

The routes are enumerated from the application itself, so a new route is in the matrix the day it is added.
"""

from __future__ import annotations

import re
import uuid

import pytest
from litestar.handlers import HTTPRouteHandler

from app.auth.passwords import hash_password
from app.db import MEMBERSHIP_ROLES, TenantContext
from app.tenants.models import Membership, User

PASSWORD = "Matriz-de-roles-2026"
# Public by design: sign-in, reset, health, static files, the OpenAPI document, public verification, and the
# onboarding pages reached by link (registration, its follow-up link, invitations).
PUBLIC = re.compile(r"^/(ingresar|restablecer|salir|cambiar-entidad|health|ready|static|schema|verificar|oauth/token"
                    r"|registro|invitacion)")


def all_routes(app) -> list[tuple[str, str, HTTPRouteHandler]]:
    routes = []
    for route in app.routes:
        for method, handler in getattr(route, "route_handler_map", {}).items():
            if isinstance(handler, tuple):
                handler = handler[0]
            if method in ("HEAD", "OPTIONS") or not isinstance(handler, HTTPRouteHandler):
                continue
            routes.append((method, route.path, handler))
    return routes


def allowed_roles(handler: HTTPRouteHandler) -> frozenset[str] | None:
    roles = None
    for layer in handler.ownership_layers:
        for guard in getattr(layer, "guards", None) or []:
            if hasattr(guard, "roles"):
                roles = guard.roles if roles is None else roles & guard.roles
    return roles


def fill_path(path: str, victim_ids: dict[str, str]) -> str:
    """Path parameters get the victim's identifiers: the attacker aims at the other tenant's records."""
    def value(match: re.Match) -> str:
        name, kind = match.group(1), (match.group(2) or "str")
        if kind == "uuid":
            return victim_ids.get(name, victim_ids["default"])
        if kind == "int":
            return "1"
        return victim_ids.get(name, victim_ids["default"])
    return re.sub(r"\{(\w+)(?::(\w+))?\}", value, path)


@pytest.fixture
async def victim(tenants, db):
    """A tenant with a centre, one person per role, and a trail of its own in the audit log."""
    from app import audit

    t = await tenants.create(roles=MEMBERSHIP_ROLES, with_centre=True)
    ctx = t.ctx("gestor_entidad")
    async with db.transaction(ctx) as s:
        for user in t.users.values():
            await audit.record(s, ctx, action="dato_privado", record_type="usuario", record_id=user.id,
                               actor_label=user.email)
    return t


@pytest.fixture
async def attacker(tenants, db):
    """One person per role in a second tenant (the SGP and admin roles are tested by their own suites)."""
    return await tenants.create(roles=MEMBERSHIP_ROLES, password_hash=hash_password(PASSWORD))


@pytest.mark.parametrize("role", ["gestor_entidad", "finanzas", "coordinador_centro"])
async def test_no_route_gives_another_tenants_private_data(app, client, victim, attacker, role):
    victim_ids = {"default": str(victim.entity.id), "centre_id": str(victim.centre.id),
                  "user_id": str(victim.users["gestor_entidad"].id), "entity_id": str(victim.entity.id)}
    secrets = [u.email for u in victim.users.values()]
    response = await client.login(attacker.users[role].email, PASSWORD)
    assert response.status_code in (302, 303)
    checked = 0
    for method, path, handler in all_routes(app):
        if PUBLIC.match(path):
            continue
        url = fill_path(path, victim_ids)
        if method == "GET":
            r = await client.get(url)
        else:
            r = await client.http.request(method, url, data={"_csrf_token": await client.csrf()},
                                          headers={"x-csrftoken": await client.csrf()})
        checked += 1
        assert r.status_code < 500, f"{method} {url} → {r.status_code}"
        roles = allowed_roles(handler)
        if roles is not None and role not in roles:
            assert r.status_code in (401, 403), f"{method} {url} as {role} → {r.status_code}"
        for secret in secrets:
            assert secret not in r.text, f"{method} {url} as {role} leaked {secret}"
    assert checked > 0


async def test_without_a_session_every_private_page_asks_to_sign_in(app, client, victim):
    victim_ids = {"default": str(victim.entity.id)}
    for method, path, _ in all_routes(app):
        if PUBLIC.match(path) or method != "GET":
            continue
        r = await client.get(fill_path(path, victim_ids))
        assert r.status_code in (302, 303, 401), f"GET {path} → {r.status_code}"
        if r.status_code in (302, 303):
            assert r.headers["location"].startswith("/ingresar")
