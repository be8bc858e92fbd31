"""Sign-in, choosing the entity and role to act under, sign-out and password reset (Spanish UI)."""

from __future__ import annotations

import uuid

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect

from app.auth.actor import (SESSION_ACR, SESSION_MEMBERSHIP, SESSION_METHOD, SESSION_OIDC_SUBJECT, SESSION_USER,
                            client_ip, get_actor, memberships_of)
from app.auth.services import authenticate, request_password_reset, reset_password
from app.auth.session_store import ROTATE_FLAG
from app.config import get_settings
from app.errors import DomainError
from app.web.forms import Form
from app.web.page import Page


def safe_next(value: str | None) -> str:
    """Only local paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def begin_session(request: Request, user_id: uuid.UUID, *, method: str, acr: str | None = None,
                  subject: str | None = None) -> None:
    """Start a fresh session (new id) for a person who just proved who they are (``subject``: at the OIDC
    provider, kept so a later re-authentication can be checked to be the same person)."""
    request.session.clear()
    request.session.update({SESSION_USER: str(user_id), SESSION_METHOD: method, ROTATE_FLAG: True})
    if acr:
        request.session[SESSION_ACR] = acr
    if subject:
        request.session[SESSION_OIDC_SUBJECT] = subject


async def continue_after_login(request: Request, next_path: str = "/", *,
                               preferred_entity_id: uuid.UUID | None = None) -> Redirect:
    """With one membership, act under it; with several, let the person choose.

    ``preferred_entity_id`` (the entity whose RUC the identity provider asserted) narrows the choice to that
    entity's memberships when the person has any there.
    """
    choices = await memberships_of(uuid.UUID(request.session[SESSION_USER]))
    preferred = [c for c in choices if preferred_entity_id is not None and c.entity_id == preferred_entity_id]
    if preferred:
        choices = preferred
    if len(choices) == 1:
        request.session[SESSION_MEMBERSHIP] = str(choices[0].membership_id)
        return Redirect(safe_next(next_path))
    return Redirect("/cambiar-entidad")


class AuthController(Controller):
    path = "/"
    include_in_schema = False

    @get("/ingresar", name="login")
    async def login_form(self, request: Request, siguiente: FromQuery[str | None] = None) -> Page | Redirect:
        if get_actor(request):
            return Redirect("/")
        return Page("auth/login.html", context={"siguiente": safe_next(siguiente), "correo": "", "error": None,
                                                    "oidc_enabled": bool(get_settings().oidc_issuer)})

    @post("/ingresar")
    async def login(self, request: Request, data: Form) -> Page | Redirect:
        email = str(data.get("correo", "")).strip()
        password = str(data.get("contrasena", ""))
        next_path = safe_next(data.get("siguiente"))
        if not email or not password:
            error = "Ingrese su correo y su contraseña."
        else:
            try:
                user_id = await authenticate(email, password, ip=client_ip(request))
            except DomainError as exc:
                error = exc.message
            else:
                begin_session(request, user_id, method="contrasena")
                return await continue_after_login(request, next_path)
        return Page("auth/login.html", status_code=401,
                        context={"siguiente": next_path, "correo": email, "error": error,
                                 "oidc_enabled": bool(get_settings().oidc_issuer)})

    @get("/cambiar-entidad")
    async def choose_form(self, request: Request) -> Page | Redirect:
        if SESSION_USER not in request.session:
            return Redirect("/ingresar")
        choices = await memberships_of(uuid.UUID(request.session[SESSION_USER]))
        return Page("auth/choose.html", context={"choices": choices})

    @post("/cambiar-entidad")
    async def choose(self, request: Request, data: Form) -> Redirect:
        if SESSION_USER not in request.session:
            return Redirect("/ingresar")
        choices = await memberships_of(uuid.UUID(request.session[SESSION_USER]))
        chosen = next((c for c in choices if str(c.membership_id) == str(data.get("membresia"))), None)
        if chosen is None:
            flash(request, "Elija una de sus entidades y roles.", "error")
            return Redirect("/cambiar-entidad")
        request.session[SESSION_MEMBERSHIP] = str(chosen.membership_id)
        flash(request, f"Ahora actúa como {chosen.role_label} de {chosen.entity_name}.", "exito")
        return Redirect("/")

    @post("/salir")
    async def logout(self, request: Request) -> Redirect:
        request.clear_session()
        return Redirect("/ingresar")

    @get("/restablecer")
    async def reset_request_form(self) -> Page:
        return Page("auth/reset_request.html", context={"sent": False})

    @post("/restablecer")
    async def reset_request(self, request: Request, data: Form) -> Page:
        email = str(data.get("correo", "")).strip()
        if email:
            await request_password_reset(email, ip=client_ip(request))
        return Page("auth/reset_request.html", context={"sent": True})

    @get("/restablecer/{token:str}")
    async def reset_form(self, token: FromPath[str]) -> Page:
        return Page("auth/reset_form.html", context={"token": token, "error": None})

    @post("/restablecer/{token:str}")
    async def reset(self, request: Request, token: FromPath[str], data: Form) -> Page | Redirect:
        try:
            await reset_password(token, str(data.get("contrasena", "")), str(data.get("confirmacion", "")),
                                 ip=client_ip(request))
        except DomainError as exc:
            return Page("auth/reset_form.html", status_code=400, context={"token": token, "error": exc.message})
        flash(request, "Su contraseña fue actualizada. Ya puede ingresar.", "exito")
        return Redirect("/ingresar")


controllers = [AuthController]
