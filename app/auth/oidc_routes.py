"""Sign-in with ID GOB.PE (OpenID Connect): send the browser to the provider, and take it back.

The attempt's secrets (state, nonce, PKCE verifier) stay in the server-side session of the browser that
started it, so a callback with a state this browser did not start (login CSRF, a replayed link) is refused.
Every outcome, good or bad, is written to the audit trail.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect

from app.auth import oidc, reauth
from app.auth.actor import SESSION_METHOD, SESSION_OIDC_SUBJECT, SESSION_USER, client_ip, get_actor
from app.auth.routes import begin_session, continue_after_login, safe_next
from app.config import get_settings
from app.web.responses import error_page

SESSION_OIDC = "oidc_pendiente"
# A sign-in must come back within this time (the person types their credentials at the provider).
ATTEMPT_TTL_SECONDS = 600
# Attempts kept per browser (a person may open the sign-in in two tabs).
MAX_PENDING_ATTEMPTS = 3

NO_ACCOUNT_MESSAGE = ("Su identidad fue verificada, pero no tiene una cuenta en la Plataforma MAC. "
                      "Pida a su entidad una invitación.")
INVALID_STATE_MESSAGE = ("La solicitud de ingreso no es válida o ya venció. Vuelva a intentarlo desde la página "
                         "de ingreso.")
REAUTH_TITLE = "No se pudo confirmar su identidad"
REAUTH_NOT_OIDC_MESSAGE = (f"Usted no ingresó con {oidc.PROVIDER_LABEL}: confirme su identidad con su contraseña.")
REAUTH_OTHER_PERSON_MESSAGE = (f"La persona que se identificó en {oidc.PROVIDER_LABEL} no es la que tiene la sesión "
                               "abierta en la plataforma. No se confirmó la identidad y su sesión sigue igual.")
REAUTH_STALE_MESSAGE = (f"{oidc.PROVIDER_LABEL} no confirmó una autenticación reciente (de los últimos 5 minutos). "
                        "Vuelva a intentarlo.")
REAUTH_DONE_MESSAGE = (f"Identidad confirmada con {oidc.PROVIDER_LABEL}. Tiene 5 minutos para firmar; la "
                       "confirmación sirve para una sola firma.")
CANCELLED_MESSAGE = (f"Se canceló el ingreso con {oidc.PROVIDER_LABEL}. Puede intentarlo de nuevo o ingresar con "
                     "su correo y contraseña.")


def _take_attempt(request: Request, state: str | None) -> dict[str, Any] | None:
    """Remove and return this browser's pending attempt for ``state``: each one is usable once."""
    pending = dict(request.session.get(SESSION_OIDC) or {})
    attempt = pending.pop(state, None) if state else None
    if pending:
        request.session[SESSION_OIDC] = pending
    else:
        request.session.pop(SESSION_OIDC, None)
    if not isinstance(attempt, dict) or time.time() - float(attempt.get("t", 0)) > ATTEMPT_TTL_SECONDS:
        return None
    return attempt


class OidcController(Controller):
    path = "/ingresar/oidc"
    include_in_schema = False

    @get("/", name="oidc_login")
    async def start(self, request: Request, siguiente: FromQuery[str | None] = None) -> Response:
        """Redirect to the provider with a fresh state, nonce and PKCE challenge."""
        if not oidc.is_configured(get_settings()):
            return error_page(request, 404,
                              f"El ingreso con {oidc.PROVIDER_LABEL} no está habilitado en esta instalación.")
        if get_actor(request):
            return Redirect("/")
        try:
            attempt = await oidc.build_authorization_request(oidc.callback_url())
        except oidc.OidcError as exc:
            await oidc.record_failure(exc.code, ip=client_ip(request))
            return error_page(request, exc.status_code, exc.message, exc.title)
        pending = dict(request.session.get(SESSION_OIDC) or {})
        pending[attempt.state] = {"nonce": attempt.nonce, "verificador": attempt.code_verifier,
                                  "siguiente": safe_next(siguiente), "t": time.time()}
        request.session[SESSION_OIDC] = dict(list(pending.items())[-MAX_PENDING_ATTEMPTS:])
        return Redirect(attempt.url)

    @get("/reautenticar", name="oidc_reauthenticate")
    async def start_reauthentication(self, request: Request, siguiente: FromQuery[str | None] = None) -> Response:
        """Step-up: a person signed in with the provider proves again, now, who they are (before signing).

        Same PKCE/state/nonce handling as the sign-in; the stored attempt says it is a re-authentication, for
        which user and where to come back to.
        """
        if not oidc.is_configured(get_settings()):
            return error_page(request, 404,
                              f"El ingreso con {oidc.PROVIDER_LABEL} no está habilitado en esta instalación.")
        actor = get_actor(request)
        if actor is None or actor.user_id is None:
            return Redirect("/ingresar")
        if request.session.get(SESSION_METHOD) != "oidc" or not request.session.get(SESSION_OIDC_SUBJECT):
            return error_page(request, 403, REAUTH_NOT_OIDC_MESSAGE, REAUTH_TITLE)
        try:
            attempt = await oidc.build_authorization_request(oidc.callback_url(), force_login=True)
        except oidc.OidcError as exc:
            await oidc.record_failure(exc.code, ip=client_ip(request))
            return error_page(request, exc.status_code, exc.message, exc.title)
        pending = dict(request.session.get(SESSION_OIDC) or {})
        pending[attempt.state] = {"nonce": attempt.nonce, "verificador": attempt.code_verifier,
                                  "siguiente": safe_next(siguiente), "t": time.time(),
                                  "reautenticar": str(actor.user_id)}
        request.session[SESSION_OIDC] = dict(list(pending.items())[-MAX_PENDING_ATTEMPTS:])
        return Redirect(attempt.url)

    @get("/retorno", name="oidc_callback")
    async def callback(self, request: Request) -> Response:
        """The provider sends the browser back here with a code (or an error) and our state."""
        # Read from the query directly: "state" is a reserved handler parameter name in Litestar.
        query = request.query_params
        code, state, iss = query.get("code"), query.get("state"), query.get("iss")
        error, error_description = query.get("error"), query.get("error_description")
        ip = client_ip(request)
        attempt = _take_attempt(request, state)
        if attempt is None:
            await oidc.record_failure("estado_invalido", ip=ip)
            return error_page(request, 400, INVALID_STATE_MESSAGE, oidc.OidcError.title)
        settings = get_settings()
        # RFC 9207: when the provider names itself in the response, it must be the one we sent the person to.
        if iss is not None and iss.rstrip("/") != (settings.oidc_issuer or "").rstrip("/"):
            await oidc.record_failure("emisor_incorrecto", ip=ip, detail={"iss": iss[:200]})
            return error_page(request, 400, INVALID_STATE_MESSAGE, oidc.OidcError.title)
        if error or not code:
            reason = (error or "sin_codigo")[:60]
            await oidc.record_failure(reason, ip=ip, detail={"descripcion": (error_description or "")[:200]})
            message = CANCELLED_MESSAGE if error == "access_denied" else (
                f"{oidc.PROVIDER_LABEL} no completó el ingreso. Vuelva a intentarlo en unos minutos.")
            return error_page(request, 400, message, oidc.OidcError.title)
        try:
            identity = await oidc.complete_login(code=code, code_verifier=attempt["verificador"],
                                                 nonce=attempt["nonce"], redirect_uri=oidc.callback_url(settings))
        except oidc.OidcError as exc:
            await oidc.record_failure(exc.code, ip=ip)
            return error_page(request, exc.status_code, exc.message, exc.title)

        if attempt.get("reautenticar"):
            return await _finish_reauthentication(request, attempt, identity, ip=ip)
        user_id = await oidc.find_user(identity, ip=ip)
        if user_id is None:
            # A proven identity with no account here: whoever was signed in in this browser is not anymore.
            request.session.clear()
            return error_page(request, 403, NO_ACCOUNT_MESSAGE, "Cuenta no encontrada")
        begin_session(request, user_id, method="oidc", acr=identity.acr, subject=identity.subject)
        preferred = await oidc.entity_for_ruc(user_id, identity.ruc) if identity.ruc else None
        return await continue_after_login(request, attempt.get("siguiente") or "/", preferred_entity_id=preferred)


async def _finish_reauthentication(request: Request, attempt: dict[str, Any], identity: oidc.OidcIdentity, *,
                                   ip: str | None) -> Response:
    """Accept the provider's fresh proof only for the person whose session this is; never touch the session
    otherwise (a refused step-up neither signs anyone out nor signs anyone else in)."""
    try:
        user_id = uuid.UUID(str(request.session.get(SESSION_USER)))
    except ValueError:
        user_id = None
    if user_id is None or str(user_id) != attempt["reautenticar"] or request.session.get(SESSION_METHOD) != "oidc":
        await oidc.record_failure("reautenticacion_sin_sesion", ip=ip)
        return error_page(request, 400, INVALID_STATE_MESSAGE, REAUTH_TITLE)
    if identity.subject != request.session.get(SESSION_OIDC_SUBJECT):
        await oidc.record_reauthentication(user_id, identity, ip=ip, refused="otra_persona")
        return error_page(request, 403, REAUTH_OTHER_PERSON_MESSAGE, REAUTH_TITLE)
    if not reauth.is_recent(identity.auth_time):
        await oidc.record_reauthentication(user_id, identity, ip=ip, refused="autenticacion_no_reciente")
        return error_page(request, 403, REAUTH_STALE_MESSAGE, REAUTH_TITLE)
    reauth.remember(request.session, reauth.Reauthentication(user_id=user_id, method="oidc", acr=identity.acr,
                                                             at=time.time()))
    await oidc.record_reauthentication(user_id, identity, ip=ip)
    flash(request, REAUTH_DONE_MESSAGE, "exito")
    return Redirect(attempt.get("siguiente") or "/")


controllers = [OidcController]
