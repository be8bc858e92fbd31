"""OAuth2 client credentials (RFC 6749 §4.4) for machine clients, such as a centre's queue system.

A client is registered for one entity (and usually one centre) with a set of scopes; its secret is shown once
and stored only as an argon2 hash. It trades its credentials for a short-lived bearer token: a JWT signed with
HS256 under a key derived from the platform's secret (typed ``at+jwt`` as RFC 9068 asks, so no other JWT of the
platform can pass for one). Every request that presents a token re-reads the client, so deactivating it or
removing a scope takes effect at once, not when the token expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from sqlalchemy import select, text

from app import audit
from app.auth.actor import Actor
from app.auth.models import CLIENT_SCOPES, OAuthClient
from app.auth.passwords import hash_password, verify_password
from app.config import get_settings
from app.db import ROLE_CLIENTE, Database, TenantContext, get_database
from app.errors import NotFound, ValidationFailed
from app.tenants.models import Centre, CentreService, Entity

TOKEN_TYPE = "at+jwt"
ALGORITHM = "HS256"
CLOCK_LEEWAY_SECONDS = 30
CLIENT_ID_PREFIX = "mac-"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: ``error`` is the protocol code, ``description`` is for the client's developers
    (in Spanish), ``status_code`` 400 or 401."""

    def __init__(self, error: str, description: str, status_code: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _signing_key() -> OctKey:
    """A key derived from the platform secret for this one purpose, so a token can never be mistaken for a
    CSRF token or any other value signed with the same secret."""
    secret = get_settings().resolved_secret_key().encode()
    return OctKey.import_key(hmac.new(secret, b"plataforma-mac:oauth2:access-token:v1", hashlib.sha256).digest())


def _issuer() -> str:
    return get_settings().base_url.rstrip("/")


def _audience() -> str:
    return _issuer() + "/api"


def parse_scopes(value: str | Iterable[str] | None) -> list[str]:
    """Scopes as RFC 6749 §3.3 writes them (space-separated) or as a list; order kept, duplicates dropped."""
    items = value.split() if isinstance(value, str) else list(value or [])
    return list(dict.fromkeys(s.strip() for s in items if s and s.strip()))


@dataclass(frozen=True)
class _ClientRow:
    id: uuid.UUID
    secret_hash: str
    entity_id: uuid.UUID
    centre_id: uuid.UUID | None
    scopes: list[str]
    is_active: bool


async def _client_candidate(session, client_id: str) -> _ClientRow | None:  # noqa: ANN001
    row = (await session.execute(text("SELECT * FROM auth_client_candidate(:c)"), {"c": client_id})).first()
    return _ClientRow(row.id, row.secret_hash, row.entity_id, row.centre_id, list(row.scopes or []),
                      row.is_active) if row else None


def encode_access_token(claims: dict[str, Any]) -> str:
    """Sign claims as an access token. Public so tests can mint tokens with chosen claims (e.g. expired)."""
    return jwt.encode({"alg": ALGORITHM, "typ": TOKEN_TYPE}, claims, _signing_key(), algorithms=[ALGORITHM])


async def issue_access_token(client_id: str, client_secret: str, requested_scopes: str | Iterable[str] | None,
                             *, ip: str | None = None) -> dict[str, Any]:
    """RFC 6749 §4.4.3: an access token for a machine client that proves its secret.

    Grants exactly the requested scopes when all are allowed to the client (all its scopes when none is
    requested); one scope the client may not have makes the whole request fail with ``invalid_scope`` rather
    than silently narrowing it. Raises :class:`OAuthError`.
    """
    settings = get_settings()
    requested = parse_scopes(requested_scopes)
    anon = TenantContext.anonymous(ip)
    db = get_database()
    async with db.transaction(anon) as s:
        client = await _client_candidate(s, client_id) if client_id else None
        # Verify even for an unknown client: the answer takes the same time either way.
        secret_ok = verify_password(client.secret_hash if client else None, client_secret or "")
        if client is None or not secret_ok or not client.is_active:
            await audit.record(s, anon, action="token_rechazado", record_type="cliente_oauth",
                               record_id=client.id if client else None, actor_label=f"cliente:{client_id}"[:200],
                               after={"motivo": "credenciales_invalidas"})
            client = None
    if client is None:
        raise OAuthError("invalid_client", "Autenticación del cliente fallida: el client_id o el client_secret no "
                         "son válidos, o el cliente está desactivado.", 401)

    # From here on the client is known: its entity's audit trail shows what it asked for.
    ctx = TenantContext(role=ROLE_CLIENTE, entity_id=client.entity_id, client_id=client_id, ip=ip)
    not_allowed = [scope for scope in requested if scope not in client.scopes]
    granted = requested or list(client.scopes)
    now = int(time.time())
    lifetime = settings.access_token_minutes * 60
    claims = {"iss": _issuer(), "aud": _audience(), "sub": client_id, "ent": str(client.entity_id),
              "ctr": str(client.centre_id) if client.centre_id else None, "scope": " ".join(granted),
              "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex}
    async with db.transaction(ctx) as s:
        if not_allowed:
            await audit.record(s, ctx, action="token_rechazado", record_type="cliente_oauth", record_id=client.id,
                               after={"motivo": "alcance_no_permitido", "alcances": not_allowed})
        else:
            await audit.record(s, ctx, action="token_emitido", record_type="cliente_oauth", record_id=client.id,
                               after={"alcances": granted, "jti": claims["jti"]})
    if not_allowed:
        raise OAuthError("invalid_scope", "El cliente no tiene permitido el alcance solicitado: "
                         + ", ".join(not_allowed) + ".")
    token = encode_access_token(claims)
    return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": " ".join(granted)}


def _verified_claims(token: str) -> dict[str, Any] | None:
    try:
        decoded = jwt.decode(token, _signing_key(), algorithms=[ALGORITHM])
    except (JoseError, ValueError, TypeError):
        return None
    if decoded.header.get("typ") != TOKEN_TYPE:
        return None
    registry = jwt.JWTClaimsRegistry(leeway=CLOCK_LEEWAY_SECONDS, iss={"essential": True, "value": _issuer()},
                                     aud={"essential": True, "value": _audience()}, sub={"essential": True},
                                     ent={"essential": True}, exp={"essential": True}, iat={"essential": True})
    try:
        registry.validate(decoded.claims)
    except JoseError:
        return None
    return decoded.claims


async def actor_from_bearer(token: str) -> Actor | None:
    """The machine client behind a bearer token, or None (bad signature, expired, revoked, entity inactive).

    The scopes are those of the token that the client still holds: a scope removed from the client stops
    working at once, as does deactivating the client or its entity.
    """
    claims = _verified_claims(token)
    if claims is None:
        return None
    try:
        entity_id = uuid.UUID(str(claims["ent"]))
        centre_id = uuid.UUID(str(claims["ctr"])) if claims.get("ctr") else None
    except ValueError:
        return None
    client_id = str(claims["sub"])
    ctx = TenantContext(role=ROLE_CLIENTE, entity_id=entity_id, client_id=client_id)
    async with get_database().transaction(ctx) as s:
        client = await _client_candidate(s, client_id)
        if client is None or not client.is_active or client.entity_id != entity_id or client.centre_id != centre_id:
            return None
        entity = await s.get(Entity, entity_id)
    if entity is None or not entity.is_active:
        return None
    scopes = frozenset(parse_scopes(claims.get("scope"))) & frozenset(client.scopes)
    return Actor(role=ROLE_CLIENTE, entity_id=entity_id, entity_name=entity.name, client_id=client_id,
                 centre_id=centre_id, scopes=scopes, full_name=f"cliente:{client_id}", auth_method="oauth2")


# --- Registering clients (administration and CLI) --------------------------------------------------------

def _check_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = parse_scopes(scopes)
    unknown = [s for s in chosen if s not in CLIENT_SCOPES]
    if unknown:
        raise ValidationFailed("Alcances desconocidos: " + ", ".join(unknown) + ". Los válidos son: "
                               + ", ".join(sorted(CLIENT_SCOPES)) + ".", field="alcances")
    if not chosen:
        raise ValidationFailed("Indique al menos un alcance.", field="alcances")
    return chosen


async def create_client(db: Database, *, entity_id: uuid.UUID, centre_id: uuid.UUID | None, name: str,
                        scopes: Iterable[str], ctx: TenantContext | None = None) -> tuple[str, str]:
    """Register a machine client; returns ``(client_id, client_secret)``.

    The secret is returned this once and stored only as its argon2 hash: whoever loses it gets a new client.
    A client may only be tied to a centre its entity administers or offers services in. Runs as ``ctx``
    (the platform administrator from the web, the system from the CLI); RLS decides whether it may.
    """
    ctx = ctx or TenantContext.system()
    chosen = _check_scopes(scopes)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationFailed("Indique un nombre de hasta 120 caracteres para el cliente.", field="nombre")
    client_id = CLIENT_ID_PREFIX + secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    async with db.transaction(ctx) as s:
        entity = await s.get(Entity, entity_id)
        if entity is None or not entity.is_active:
            raise NotFound("La entidad no existe o está inactiva.", field="entidad")
        if centre_id is not None:
            centre = await s.get(Centre, centre_id)
            present = centre is not None and (centre.administering_entity_id == entity_id or await s.scalar(
                select(CentreService.id).where(CentreService.centre_id == centre_id,
                                               CentreService.entity_id == entity_id).limit(1)) is not None)
            if not present:
                raise ValidationFailed("El centro no existe o la entidad no lo administra ni atiende en él.",
                                       field="centro")
        client = OAuthClient(client_id=client_id, secret_hash=hash_password(secret), name=name, entity_id=entity_id,
                             centre_id=centre_id, scopes=chosen, is_active=True)
        s.add(client)
        await s.flush()
        await audit.record(s, ctx, action="cliente_creado", record_type="cliente_oauth", record_id=client.id,
                           entity_id=entity_id, after={"client_id": client_id, "nombre": name, "alcances": chosen,
                                                       "centro": str(centre_id) if centre_id else None})
    return client_id, secret


async def create_client_for_cli(db: Database, *, entity_ruc: str, name: str, scopes: Iterable[str],
                                centre_code: str | None = None) -> tuple[str, str]:
    """``mac clients create``: the same as :func:`create_client`, naming the entity by RUC and the centre by
    its code (what an operator has at hand). Runs as the system. Raises ``DomainError`` with a Spanish message."""
    async with db.transaction(TenantContext.system()) as s:
        entity_id = await s.scalar(select(Entity.id).where(Entity.ruc == entity_ruc.strip()))
        if entity_id is None:
            raise NotFound(f"No existe una entidad con RUC {entity_ruc}.", field="ruc")
        centre_id = None
        if centre_code:
            centre_id = await s.scalar(select(Centre.id).where(Centre.code == centre_code.strip()))
            if centre_id is None:
                raise NotFound(f"No existe un centro con código {centre_code}.", field="centro")
    return await create_client(db, entity_id=entity_id, centre_id=centre_id, name=name, scopes=scopes)


async def set_client_active(db: Database, client_id: str, active: bool, *,
                            ctx: TenantContext | None = None) -> None:
    """Deactivate (or reactivate) a client: its tokens stop (or start again) working on the next request."""
    ctx = ctx or TenantContext.system()
    async with db.transaction(ctx) as s:
        client = await s.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if client is None:
            raise NotFound("El cliente no existe.", field="client_id")
        before = client.is_active
        client.is_active = active
        await audit.record(s, ctx, action="cliente_activado" if active else "cliente_desactivado",
                           record_type="cliente_oauth", record_id=client.id, entity_id=client.entity_id,
                           before={"activo": before}, after={"activo": active})
