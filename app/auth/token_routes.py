"""The OAuth2 token endpoint for machine clients, and the first API they call with their tokens.

``POST /oauth/token`` speaks RFC 6749 exactly (form-encoded request, ``client_secret_basic`` or
``client_secret_post``, JSON errors with ``error`` codes a client library understands), because queue systems
use off-the-shelf OAuth2 libraries. The machine routes here accept only bearer tokens (a person's session cookie
does not open them); requests with a bearer token skip the CSRF check, which every cookie-borne write to
``/api/`` must pass (app/auth/csrf.py).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from urllib.parse import unquote_plus

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from sqlalchemy import select

from app.auth.actor import client_ip, get_actor
from app.auth.guards import requires_scope
from app.auth.tokens import OAuthError, issue_access_token
from app.db import get_database
from app.errors import NotFound
from app.tenants.models import Centre, CentreModule, Entity

GRANT_CLIENT_CREDENTIALS = "client_credentials"
# RFC 6749 §5.1: token responses must never be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def requires_machine_client(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Only a machine client with a valid bearer token (never a person's session)."""
    actor = get_actor(connection)
    if actor is None:
        raise NotAuthorizedException("Se requiere un token de acceso válido.")
    if not actor.is_machine:
        raise PermissionDeniedException("Esta API es para sistemas con token de acceso, no para sesiones de personas.")


@dataclass
class OAuthErrorBody:
    error: str
    error_description: str


def _oauth_error(exc: OAuthError) -> Response:
    headers = dict(NO_STORE)
    if exc.status_code == 401:
        # RFC 6749 §5.2: a failed client authentication names the scheme the client can authenticate with.
        headers["WWW-Authenticate"] = 'Basic realm="Plataforma MAC"'
    return Response(exc.as_dict(), status_code=exc.status_code, media_type=MediaType.JSON, headers=headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: Basic with the client id and secret each form-urlencoded before base64."""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "La cabecera Authorization Basic no es válida.", 401) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "La cabecera Authorization Basic no es válida.", 401)
    return unquote_plus(client_id), unquote_plus(secret)


class TokenController(Controller):
    path = "/oauth"
    tags = ["OAuth2"]

    @post("/token", status_code=200, summary="Emitir token de acceso (client credentials)",
          responses={status: ResponseSpec(OAuthErrorBody, media_type=MediaType.JSON, generate_examples=False,
                                          description=f"Error OAuth2 (RFC 6749 §5.2): {label}")
                     for status, label in ((400, "solicitud no válida"), (401, "cliente no autenticado"))})
    async def token(self, request: Request) -> Response:
        """RFC 6749 §4.4: a machine client trades its credentials for a short-lived bearer token.

        Body `application/x-www-form-urlencoded` with `grant_type=client_credentials` and optional `scope`
        (space-separated); the client authenticates with HTTP Basic or with `client_id` and `client_secret`
        in the body (one of the two, not both).
        """
        authorization = request.headers.get("authorization", "")
        basic = authorization.lower().startswith("basic ")
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return _oauth_error(OAuthError("invalid_request", "El cuerpo debe enviarse como "
                                           "application/x-www-form-urlencoded."))
        form = await request.form()
        try:
            if form.get("grant_type") != GRANT_CLIENT_CREDENTIALS:
                if not form.get("grant_type"):
                    raise OAuthError("invalid_request", "Falta el parámetro grant_type.")
                raise OAuthError("unsupported_grant_type", "Solo se admite grant_type=client_credentials.")
            if basic:
                if form.get("client_id") and form.get("client_secret"):
                    raise OAuthError("invalid_request", "Use un solo método de autenticación del cliente: "
                                     "la cabecera Basic o los parámetros del cuerpo, no ambos.")
                client_id, client_secret = _basic_credentials(authorization)
            else:
                client_id, client_secret = str(form.get("client_id") or ""), str(form.get("client_secret") or "")
                if not client_id or not client_secret:
                    raise OAuthError("invalid_client", "Faltan las credenciales del cliente (client_id y "
                                     "client_secret).", 401)
            body = await issue_access_token(client_id, client_secret, form.get("scope"), ip=client_ip(request))
        except OAuthError as exc:
            return _oauth_error(exc)
        return Response(body, status_code=200, media_type=MediaType.JSON, headers=NO_STORE)


class MachineApiController(Controller):
    path = "/api/v1"
    security = [{"BearerToken": []}]
    tags = ["API para sistemas"]

    @get("/yo", guards=[requires_machine_client], summary="Datos del cliente autenticado")
    async def me(self, request: Request) -> dict:
        """Which client the token belongs to: its entity, its centre and the scopes this token carries."""
        actor = get_actor(request)
        async with get_database().transaction(actor.context(client_ip(request))) as s:
            entity = await s.get(Entity, actor.entity_id)
            centre = await s.get(Centre, actor.centre_id) if actor.centre_id else None
        return {
            "cliente": actor.client_id,
            "entidad": {"id": str(entity.id), "ruc": entity.ruc, "nombre": entity.name},
            "centro": {"id": str(centre.id), "codigo": centre.code, "nombre": centre.name} if centre else None,
            "alcances": sorted(actor.scopes),
        }

    @get("/centros/{centre_id:uuid}", guards=[requires_scope("centros:leer")], summary="Datos de su centro")
    async def centre(self, request: Request, centre_id: FromPath[uuid.UUID]) -> dict:
        """The centre the client belongs to. Any other centre answers 404, as if it did not exist: a client
        learns nothing about centres that are not its own."""
        actor = get_actor(request)
        if actor.centre_id is None or centre_id != actor.centre_id:
            raise NotFound("El centro no existe o no corresponde a este cliente.")
        async with get_database().transaction(actor.context(client_ip(request))) as s:
            centre = await s.get(Centre, centre_id)
            if centre is None:
                raise NotFound("El centro no existe o no corresponde a este cliente.")
            modules = (await s.scalars(select(CentreModule.code).where(CentreModule.centre_id == centre_id,
                                                                       CentreModule.is_active)
                                       .order_by(CentreModule.code))).all()
        return {"id": str(centre.id), "codigo": centre.code, "nombre": centre.name, "canal": centre.channel,
                "direccion": centre.address, "ubigeo": centre.ubigeo, "activo": centre.is_active,
                "modulos": list(modules)}


controllers = [TokenController, MachineApiController]
