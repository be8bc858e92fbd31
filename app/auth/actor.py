"""Who is making a request: a person acting for an entity with a role, or a machine client.

The actor is resolved once per request by :class:`ActorMiddleware` (from the server-side session, or from a
bearer token on the API) and re-checked against the database each time, so a revoked membership or a
deactivated user stops working at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import select

from app.db import ROLE_LABELS, ROLE_USUARIO, TenantContext, get_database
from app.tenants.models import Entity, Membership, User

SESSION_USER = "uid"
SESSION_MEMBERSHIP = "mid"
SESSION_METHOD = "metodo"
SESSION_ACR = "acr"
# The provider's subject of a person signed in with OpenID Connect (a re-authentication must be the same one).
SESSION_OIDC_SUBJECT = "oidc_sub"


@dataclass(frozen=True)
class Actor:
    role: str
    entity_id: uuid.UUID | None
    entity_name: str = ""
    entity_is_rector: bool = False
    user_id: uuid.UUID | None = None
    full_name: str = ""
    email: str = ""
    membership_id: uuid.UUID | None = None
    auth_method: str = "contrasena"
    acr: str | None = None
    client_id: str | None = None
    centre_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def is_machine(self) -> bool:
        return self.client_id is not None

    def context(self, ip: str | None = None) -> TenantContext:
        return TenantContext(role=self.role, entity_id=self.entity_id, user_id=self.user_id,
                             client_id=self.client_id, ip=ip)


@dataclass(frozen=True)
class MembershipChoice:
    membership_id: uuid.UUID
    role: str
    entity_id: uuid.UUID
    entity_name: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


async def memberships_of(user_id: uuid.UUID) -> list[MembershipChoice]:
    """The active memberships a person can act under (read with the person's own context)."""
    db = get_database()
    async with db.transaction(TenantContext(role=ROLE_USUARIO, user_id=user_id)) as s:
        rows = (await s.execute(
            select(Membership.id, Membership.role, Entity.id, Entity.short_name)
            .join(Entity, Entity.id == Membership.entity_id)
            .where(Membership.user_id == user_id, Membership.is_active, Entity.is_active)
            .order_by(Entity.short_name, Membership.role)
        )).all()
    return [MembershipChoice(*row) for row in rows]


async def load_person(session: dict[str, Any]) -> Actor | None:
    try:
        user_id = uuid.UUID(session[SESSION_USER])
        membership_id = uuid.UUID(session[SESSION_MEMBERSHIP])
    except (KeyError, ValueError, TypeError):
        return None
    db = get_database()
    async with db.transaction(TenantContext(role=ROLE_USUARIO, user_id=user_id)) as s:
        row = (await s.execute(
            select(User, Membership, Entity)
            .join(Membership, Membership.user_id == User.id)
            .join(Entity, Entity.id == Membership.entity_id)
            .where(User.id == user_id, Membership.id == membership_id, User.is_active, Membership.is_active,
                   Entity.is_active)
        )).first()
    if row is None:
        return None
    user, membership, entity = row
    return Actor(role=membership.role, entity_id=entity.id, entity_name=entity.name,
                 entity_is_rector=entity.is_rector, user_id=user.id, full_name=user.full_name, email=user.email,
                 membership_id=membership.id, auth_method=session.get(SESSION_METHOD, "contrasena"),
                 acr=session.get(SESSION_ACR))


def client_ip(connection: ASGIConnection) -> str | None:
    return connection.client.host if connection.client else None


def bearer_token(connection: ASGIConnection) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None without one.

    A request that has one is judged by that token alone: the session cookie is never consulted, so the request
    carries no ambient credential (which is why the CSRF check skips it, see :mod:`app.auth.csrf`).
    """
    auth = connection.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def get_actor(connection: ASGIConnection) -> Actor | None:
    return connection.scope.get("state", {}).get("actor")


def request_context(connection: ASGIConnection) -> TenantContext:
    """The database context of a guarded request: its actor, seen from its address."""
    return get_actor(connection).context(client_ip(connection))


class ActorMiddleware(ASGIMiddleware):
    """Puts the request's actor (or None) in ``scope['state']['actor']`` (HTTP requests only).

    Registered as an instance (``ActorMiddleware()``); it keeps no per-request state on ``self``.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        connection = ASGIConnection(scope)
        actor = None
        token = bearer_token(connection)
        if token is not None:
            from app.auth.tokens import actor_from_bearer

            actor = await actor_from_bearer(token)
        elif scope.get("session") and SESSION_MEMBERSHIP in scope["session"]:
            actor = await load_person(scope["session"])
            if actor is None:  # revoked or deactivated: the session ends here
                scope["session"].clear()
        scope.setdefault("state", {})["actor"] = actor
        await next_app(scope, receive, send)
