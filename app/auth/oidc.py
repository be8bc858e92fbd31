"""Sign-in with an external OpenID Connect provider (ID GOB.PE or a compatible one).

Authorization code flow with PKCE (S256), ``state`` and ``nonce``, as ID GOB.PE requires of its relying
parties. The provider proves *who* the person is (``sub``, their DNI in ``doc``, the level of assurance in
``acr``, and the RUC when they act for an organisation); the platform then decides *what* they may do from its
own users and memberships: the provider never creates accounts here.

Everything the provider answers is checked before it is believed: the discovery document must name the
configured issuer, the ID token must be signed by a key of the provider's JWKS with an asymmetric algorithm, be
addressed to our client, be unexpired and carry the nonce of this browser's attempt; userinfo must speak of
the same ``sub``. Settings are read at call time (never at import), so a changed configuration (or the test
suite's provider on a random port) takes effect without a restart.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from authlib.common.security import generate_token, is_secure_transport
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from sqlalchemy import select, text
from stdnum.pe import ruc as ruc_number

from app import audit
from app.config import Settings, get_settings
from app.db import ROLE_USUARIO, TenantContext, get_database
from app.errors import DomainError
from app.tenants.models import Entity

log = structlog.get_logger()

PROVIDER_LABEL = "ID GOB.PE"
CALLBACK_PATH = "/ingresar/oidc/retorno"
# How long discovery and JWKS documents are trusted before they are fetched again.
METADATA_TTL_SECONDS = 3600
# Clock skew tolerated between the provider and us when checking exp / iat.
CLOCK_LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10.0
UNKNOWN_KEY = "clave_desconocida"
# Only asymmetric signatures: "none" proves nothing and HS* would make our client secret a signing key.
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
                         "Ed25519")


class OidcError(DomainError):
    """A sign-in through the provider that cannot go on; ``code`` says why (for the audit), the message is
    what the person reads."""

    status_code = 400
    code = "oidc"
    title = "No se pudo completar el ingreso"


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and the secrets that must come back (kept server-side, in the session)."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class OidcIdentity:
    """What the provider asserted about the person, already checked and normalised."""

    subject: str
    dni: str | None
    ruc: str | None
    acr: str | None
    name: str | None = None
    email: str | None = None
    # When the person authenticated at the provider (epoch seconds), if the ID token says so.
    auth_time: int | None = None

    @property
    def label(self) -> str:
        """How the person appears in the audit trail."""
        if self.dni:
            return f"DNI {self.dni}"
        return f"oidc:{self.subject}"[:200]


def is_configured(settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def callback_url(settings: Settings | None = None) -> str:
    """The redirect URI registered with the provider: built from the public base URL, not from request headers
    (behind a proxy the request's host is not the one the provider knows)."""
    settings = settings or get_settings()
    return settings.base_url.rstrip("/") + CALLBACK_PATH


# --- Provider metadata (discovery and keys), cached -------------------------------------------------------

_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def clear_cache() -> None:
    """Forget discovery and JWKS documents (tests; a provider that rotated everything)."""
    _cache.clear()


async def _get_json(url: str, *, what: str) -> dict[str, Any]:
    if not is_secure_transport(url):
        raise OidcError(f"La dirección de {PROVIDER_LABEL} debe usar HTTPS.", code="proveedor_inseguro")
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("oidc_documento_no_disponible", url=url, documento=what, error=str(exc))
        raise _unavailable() from exc
    if not isinstance(document, dict):
        raise _unavailable()
    return document


def _unavailable() -> OidcError:
    error = OidcError(f"No fue posible comunicarse con {PROVIDER_LABEL}. Intente nuevamente en unos minutos.",
                      code="proveedor_no_disponible")
    error.status_code = 502
    return error


async def _cached(key: str, url: str, *, what: str, refresh: bool) -> dict[str, Any]:
    hit = _cache.get(key)
    if hit and not refresh and hit[0] > time.monotonic():
        return hit[1]
    document = await _get_json(url, what=what)
    _cache[key] = (time.monotonic() + METADATA_TTL_SECONDS, document)
    return document


async def provider_metadata(*, refresh: bool = False) -> dict[str, Any]:
    """The provider's discovery document (OpenID Connect Discovery 1.0), checked to name our issuer."""
    settings = get_settings()
    if not is_configured(settings):
        raise OidcError(f"El ingreso con {PROVIDER_LABEL} no está habilitado en esta instalación.",
                        code="oidc_no_configurado")
    issuer = settings.oidc_issuer.rstrip("/")
    metadata = await _cached(f"discovery:{issuer}", issuer + "/.well-known/openid-configuration",
                             what="discovery", refresh=refresh)
    # Discovery §4.3: the issuer in the document must be exactly the one we asked (no impersonation).
    if str(metadata.get("issuer", "")).rstrip("/") != issuer:
        _cache.pop(f"discovery:{issuer}", None)
        log.warning("oidc_emisor_distinto", esperado=issuer, recibido=metadata.get("issuer"))
        raise _unavailable()
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not metadata.get(field):
            raise _unavailable()
    # Codes, secrets and tokens travel to these endpoints: never over plain HTTP (loopback aside, for tests).
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        if metadata.get(field) and not is_secure_transport(str(metadata[field])):
            raise OidcError(f"La dirección de {PROVIDER_LABEL} debe usar HTTPS.", code="proveedor_inseguro")
    return metadata


async def provider_jwks(jwks_uri: str, *, refresh: bool = False) -> dict[str, Any]:
    return await _cached(f"jwks:{jwks_uri}", jwks_uri, what="jwks", refresh=refresh)


# --- The flow -------------------------------------------------------------------------------------------

async def build_authorization_request(redirect_uri: str, *, force_login: bool = False) -> AuthorizationRequest:
    """A fresh state, nonce and PKCE verifier, and the provider URL that carries their public halves.

    ``force_login`` (step-up re-authentication) asks the provider to authenticate the person again even if it
    has a session for them (``prompt=login``, ``max_age=0``), and so to state ``auth_time`` in the ID token.
    """
    settings = get_settings()
    metadata = await provider_metadata()
    state, nonce, verifier = generate_token(40), generate_token(40), generate_token(64)
    extra = {"prompt": "login", "max_age": "0"} if force_login else {}
    async with _oauth_client(settings, metadata, redirect_uri) as client:
        url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=state, nonce=nonce,
                                                 code_verifier=verifier, **extra)
    return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)


def _oauth_client(settings: Settings, metadata: dict[str, Any], redirect_uri: str) -> AsyncOAuth2Client:
    supported = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post"
    return AsyncOAuth2Client(client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
                             token_endpoint_auth_method=method, scope=settings.oidc_scopes,
                             redirect_uri=redirect_uri, code_challenge_method="S256",
                             timeout=HTTP_TIMEOUT_SECONDS)


async def complete_login(*, code: str, code_verifier: str, nonce: str, redirect_uri: str) -> OidcIdentity:
    """Exchange the code, verify the ID token, read userinfo when the ID token lacks the document."""
    settings = get_settings()
    metadata = await provider_metadata()
    try:
        async with _oauth_client(settings, metadata, redirect_uri) as client:
            token = await client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code",
                                             code=code, code_verifier=code_verifier)
    except OAuthError as exc:
        log.warning("oidc_codigo_rechazado", error=exc.error, detalle=exc.description)
        raise OidcError(f"{PROVIDER_LABEL} no aceptó la autorización (puede haber vencido). Vuelva a intentarlo.",
                        code="codigo_rechazado") from exc
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("oidc_token_no_disponible", error=str(exc))
        raise _unavailable() from exc
    id_token = token.get("id_token")
    if not id_token:
        raise OidcError(f"{PROVIDER_LABEL} no envió la identificación de la persona.", code="sin_id_token")

    algorithms = [a for a in metadata.get("id_token_signing_alg_values_supported", ["RS256"])
                  if a in ASYMMETRIC_ALGORITHMS] or ["RS256"]
    jwks = await provider_jwks(metadata["jwks_uri"])
    try:
        claims = validate_id_token(id_token, jwks=jwks, issuer=metadata["issuer"],
                                   client_id=settings.oidc_client_id, nonce=nonce, algorithms=algorithms)
    except OidcError as exc:
        if exc.code != UNKNOWN_KEY:
            raise
        # The provider rotated its keys since we cached them: fetch once more, then decide.
        jwks = await provider_jwks(metadata["jwks_uri"], refresh=True)
        claims = validate_id_token(id_token, jwks=jwks, issuer=metadata["issuer"],
                                   client_id=settings.oidc_client_id, nonce=nonce, algorithms=algorithms)

    userinfo = None
    if not claims.get("doc") and metadata.get("userinfo_endpoint") and token.get("access_token"):
        userinfo = await _userinfo(metadata["userinfo_endpoint"], token["access_token"])
    return identity_from_claims(claims, userinfo)


async def _userinfo(url: str, access_token: str) -> dict[str, Any]:
    if not is_secure_transport(url):
        raise OidcError(f"La dirección de {PROVIDER_LABEL} debe usar HTTPS.", code="proveedor_inseguro")
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            response = await http.get(url, headers={"Authorization": f"Bearer {access_token}",
                                                    "Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("oidc_userinfo_no_disponible", error=str(exc))
        raise _unavailable() from exc
    if not isinstance(document, dict):
        raise _unavailable()
    return document


def validate_id_token(id_token: str, *, jwks: dict[str, Any], issuer: str, client_id: str, nonce: str,
                      algorithms: list[str] | tuple[str, ...] = ("RS256",), now: int | None = None) -> dict[str, Any]:
    """The ID token's claims, if and only if it is genuine, for us, current and for this attempt.

    OpenID Connect Core §3.1.3.7: signature by the provider's key, ``iss`` exact, our client in ``aud`` (and in
    ``azp`` when there are several audiences), ``exp`` in the future, ``iat`` present, and the ``nonce`` we
    generated for this browser (so a token stolen from another session cannot be replayed here).
    Raises :class:`OidcError`; its code is ``UNKNOWN_KEY`` when no key matches the token's ``kid`` (the caller
    may refresh the JWKS once: providers rotate keys).
    """
    failure = OidcError(f"La respuesta de {PROVIDER_LABEL} no pudo verificarse. Vuelva a intentarlo.",
                        code="id_token_invalido")
    allowed = [a for a in algorithms if a in ASYMMETRIC_ALGORITHMS]
    try:
        keys = KeySet.import_key_set(jwks)
        token = jwt.decode(id_token, keys, algorithms=allowed)
    except InvalidKeyIdError as exc:
        failure.code = UNKNOWN_KEY
        raise failure from exc
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        log.warning("oidc_id_token_firma_invalida", error=str(exc))
        raise failure from exc
    registry = jwt.JWTClaimsRegistry(
        now=now, leeway=CLOCK_LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    claims = token.claims
    try:
        registry.validate(claims)
    except ExpiredTokenError as exc:
        failure.code = "id_token_vencido"
        raise failure from exc
    except (MissingClaimError, InvalidClaimError) as exc:
        failure.code = "nonce_invalido" if "nonce" in str(exc) else "id_token_invalido"
        log.warning("oidc_id_token_reclamo_invalido", error=str(exc))
        raise failure from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
        raise failure
    return claims


# --- Claims -> identity ---------------------------------------------------------------------------------

_DNI = re.compile(r"^[0-9]{8}$")


def parse_dni(doc: Any) -> str | None:
    """The DNI in a ``doc`` claim: ``"DNI:12345678"`` or a plain ``"12345678"``.

    Other documents (``"CE:..."`` for a foreigner's card, passports) are not DNIs: such a person can still be
    recognised by ``sub`` once linked, but never matched by document.
    """
    if not isinstance(doc, str | int) or isinstance(doc, bool):
        return None
    value = str(doc).strip()
    if ":" in value:
        kind, _, value = value.partition(":")
        if kind.strip().upper() != "DNI":
            return None
        value = value.strip()
    return value if _DNI.match(value) else None


def parse_ruc(value: Any) -> str | None:
    """An 11-digit RUC with a valid check digit, else nothing (it only expresses a preference)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    candidate = str(value).strip()
    if len(candidate) == 11 and candidate.isdigit() and ruc_number.is_valid(candidate):
        return candidate
    return None


def identity_from_claims(id_claims: dict[str, Any], userinfo: dict[str, Any] | None = None) -> OidcIdentity:
    """The person, from the verified ID token and (when given) userinfo about the same ``sub``.

    The ID token is authoritative for ``sub`` and ``acr`` (how the person authenticated this time); userinfo
    only fills in attributes the ID token did not carry.
    """
    subject = id_claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OidcError(f"{PROVIDER_LABEL} no identificó a la persona.", code="sin_sujeto")
    merged = dict(id_claims)
    if userinfo is not None:
        # OpenID Connect Core §5.3.2: userinfo about another subject must not be used.
        if userinfo.get("sub") != subject:
            raise OidcError(f"La respuesta de {PROVIDER_LABEL} no pudo verificarse. Vuelva a intentarlo.",
                            code="userinfo_de_otro_sujeto")
        for key, value in userinfo.items():
            merged.setdefault(key, value)
    acr = id_claims.get("acr") if isinstance(id_claims.get("acr"), str) else None
    name = merged.get("name") if isinstance(merged.get("name"), str) else None
    email = merged.get("email") if isinstance(merged.get("email"), str) else None
    auth_time = id_claims.get("auth_time")
    auth_time = auth_time if isinstance(auth_time, int) and not isinstance(auth_time, bool) else None
    return OidcIdentity(subject=subject, dni=parse_dni(merged.get("doc")), ruc=parse_ruc(merged.get("ruc")),
                        acr=acr, name=name, email=email, auth_time=auth_time)


# --- The platform's side: who is this person here ----------------------------------------------------------

async def find_user(identity: OidcIdentity, *, ip: str | None) -> uuid.UUID | None:
    """The platform user for this identity (by ``sub``, else by DNI, linking ``sub`` the first time), audited.

    Runs as an anonymous context: ``auth_user_by_oidc`` is the one SECURITY DEFINER door to the users table
    before anyone is known.
    """
    anon = TenantContext.anonymous(ip)
    details = {"metodo": "oidc", "acr": identity.acr, "ruc": identity.ruc}
    async with get_database().transaction(anon) as s:
        user_id = (await s.execute(text("SELECT auth_user_by_oidc(:s, :d)"),
                                   {"s": identity.subject, "d": identity.dni})).scalar()
        if user_id is None:
            await audit.record(s, anon, action="ingreso_sin_cuenta", record_type="usuario",
                               actor_label=identity.label, after={**details, "sujeto": identity.subject})
        else:
            await audit.record(s, TenantContext(role=ROLE_USUARIO, user_id=user_id, ip=ip), action="ingreso",
                               record_type="usuario", record_id=user_id, actor_label=identity.label, after=details)
    return user_id


async def record_reauthentication(user_id: uuid.UUID, identity: OidcIdentity | None, *, ip: str | None,
                                  refused: str | None = None) -> None:
    """A step-up re-authentication of a signed-in person, accepted or (``refused`` = why) not, audited."""
    ctx = TenantContext(role=ROLE_USUARIO, user_id=user_id, ip=ip)
    after: dict[str, Any] = {"metodo": "oidc", "acr": identity.acr if identity else None}
    if refused:
        after["motivo"] = refused
    if identity is not None:
        after["sujeto"] = identity.subject
    async with get_database().transaction(ctx) as s:
        await audit.record(s, ctx, action="reautenticacion_rechazada" if refused else "reautenticacion",
                           record_type="usuario", record_id=user_id,
                           actor_label=identity.label if identity else "oidc", after=after)


async def record_failure(reason: str, *, ip: str | None, detail: dict[str, Any] | None = None) -> None:
    """A sign-in through the provider that failed before anyone was known: kept in the audit trail."""
    anon = TenantContext.anonymous(ip)
    async with get_database().transaction(anon) as s:
        await audit.record(s, anon, action="ingreso_fallido", record_type="usuario", actor_label="oidc",
                           after={"metodo": "oidc", "motivo": reason, **(detail or {})})


async def entity_for_ruc(user_id: uuid.UUID, ruc: str) -> uuid.UUID | None:
    """The active entity with this RUC (read as the person, so RLS applies), to prefer its membership."""
    async with get_database().transaction(TenantContext(role=ROLE_USUARIO, user_id=user_id)) as s:
        return await s.scalar(select(Entity.id).where(Entity.ruc == ruc, Entity.is_active))
