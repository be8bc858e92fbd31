"""Route guards: every route says which roles may call it."""

from __future__ import annotations

from collections.abc import Callable

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.auth.actor import get_actor

Guard = Callable[[ASGIConnection, BaseRouteHandler], None]


def requires_role(*roles: str) -> Guard:
    """Only a person (or machine client) acting with one of these roles."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        actor = get_actor(connection)
        if actor is None:
            raise NotAuthorizedException("Inicie sesión para continuar.")
        if actor.role not in roles:
            raise PermissionDeniedException("Su rol no permite esta acción.")

    guard.__name__ = f"requires_role({', '.join(roles)})"
    guard.roles = frozenset(roles)  # read by the authorisation matrix test
    return guard


def requires_login(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    actor = get_actor(connection)
    if actor is None or actor.is_machine:
        raise NotAuthorizedException("Inicie sesión para continuar.")


def requires_scope(scope: str) -> Guard:
    """A machine client holding this OAuth2 scope."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        actor = get_actor(connection)
        if actor is None:
            raise NotAuthorizedException("Se requiere un token de acceso válido.")
        if not actor.is_machine or scope not in actor.scopes:
            raise PermissionDeniedException(f"El token no tiene el alcance «{scope}».")

    guard.__name__ = f"requires_scope({scope})"
    return guard
