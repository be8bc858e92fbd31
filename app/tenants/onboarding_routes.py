"""Onboarding pages: public registration and its follow-up link, the SGP's review queue, the entity manager's
people and profile, accepting an invitation, and the demo mailbox.

Thin handlers: parse the form, call one service, render. Public pages (``/registro``, ``/invitacion``) are
throttled by the app's rate limit (POST) and carry no session requirement; every other page names its roles.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect
from markupsafe import Markup, escape

from app.auth.actor import client_ip, get_actor, request_context
from app.auth.guards import requires_role
from app.config import get_settings
from app.db import ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_GESTOR, ROLE_LABELS, ROLE_SUPERVISOR_SGP
from app.errors import DomainError, ValidationFailed
from app.tenants import invitations as people
from app.tenants import onboarding as services
from app.tenants.onboarding_schemas import (
    CHANGE_STATE_LABELS,
    INVITATION_STATE_LABELS,
    KIND_LABELS,
    LEVEL_LABELS,
    MAX_DOCUMENT_BYTES,
    STATE_LABELS,
    InvitationAccept,
    InvitationCreate,
    ProfileChangeCreate,
    RegistrationCorrection,
    RegistrationCreate,
    check_pdf,
    mail_markers,
    parse,
    read_mailbox_ticket,
)
from app.web.forms import Form
from app.web.page import Page

Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]

LABELS = {"estados": STATE_LABELS, "tipos": KIND_LABELS, "niveles": LEVEL_LABELS, "roles": ROLE_LABELS,
          "estados_cambio": CHANGE_STATE_LABELS, "estados_invitacion": INVITATION_STATE_LABELS,
          "max_mb": MAX_DOCUMENT_BYTES // (1024 * 1024)}


def _page(template: str, status_code: int = 200, **context: Any) -> Page:
    return Page(f"onboarding/{template}", context={**LABELS, **context}, status_code=status_code)


def _text(data: dict[str, Any], *names: str) -> dict[str, str]:
    return {n: str(data.get(n) or "") for n in names if not isinstance(data.get(n), UploadFile)}


def _errors(exc: DomainError) -> dict[str, str]:
    found = {e["campo"]: e["mensaje"] for e in exc.errors if e.get("campo")}
    return found or {"general": exc.message}


async def _upload(data: dict[str, Any], *, required: bool) -> Any:
    """The uploaded PDF, checked (type by its first bytes and declared type, size); None if optional and absent."""
    upload = data.get("documento")
    if isinstance(upload, list):
        upload = upload[0] if upload else None
    if not isinstance(upload, UploadFile) or not upload.filename:
        if required:
            raise ValidationFailed("Adjunte el documento de designación (resolución o carta) en PDF.",
                                   field="documento")
        return None
    content = await upload.read(MAX_DOCUMENT_BYTES + 1)
    return check_pdf(upload.filename, upload.content_type, content)


async def _parse_with_document(model: type, data: dict[str, Any], fields: tuple[str, ...], *, required: bool,
                               extra=None):  # noqa: ANN001, ANN202
    """Every problem of the form at once: the fields, the document and (when given) an extra check."""
    errors: dict[str, str] = {}
    parsed = document = None
    try:
        parsed = parse(model, _text(data, *fields))
    except DomainError as exc:
        errors.update(_errors(exc))
    try:
        document = await _upload(data, required=required)
    except DomainError as exc:
        errors.update(_errors(exc))
    if extra is not None:
        try:
            extra()
        except DomainError as exc:
            errors.update(_errors(exc))
    return parsed, document, errors


def _download(doc) -> Response:  # noqa: ANN001
    return Response(content=doc.content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{doc.filename}"',
                             "X-Content-Type-Options": "nosniff"})


def _roles(data: dict[str, Any]) -> set[str]:
    value = data.get("roles") or []
    return {str(v) for v in (value if isinstance(value, list) else [value])}


REGISTRATION_FIELDS = ("ruc", "entity_name", "short_name", "kind", "level", "address", "ubigeo", "applicant_dni",
                       "applicant_name", "applicant_position", "applicant_email")

# Registration through ID GOB.PE: the attempt (state, nonce, PKCE) and then the verified identity live in the
# browser's server-side session; the identity pre-fills the form (DNI, name, e-mail, RUC when asserted).
SESSION_OIDC_ATTEMPT = "registro_oidc"
SESSION_OIDC_IDENTITY = "registro_identidad"
OIDC_CALLBACK_PATH = "/registro/oidc/retorno"
OIDC_IDENTITY_TTL_SECONDS = 1800


def _oidc_identity(request: Request) -> dict[str, Any] | None:
    identity = request.session.get(SESSION_OIDC_IDENTITY) if request.scope.get("session") else None
    if not isinstance(identity, dict) or time.time() - float(identity.get("t", 0)) > OIDC_IDENTITY_TTL_SECONDS:
        return None
    return identity


def _prefill(identity: dict[str, Any] | None) -> dict[str, str]:
    if not identity:
        return {}
    values = {"applicant_dni": identity.get("dni") or "", "applicant_name": identity.get("name") or "",
              "applicant_email": identity.get("email") or "", "ruc": identity.get("ruc") or ""}
    return {k: v for k, v in values.items() if v}


def _registration_page(request: Request, values: dict[str, str], errors: dict[str, str],
                       status_code: int = 200) -> Page:
    from app.auth import oidc

    identity = _oidc_identity(request)
    return _page("registro_form.html", status_code=status_code, values={**_prefill(identity), **values},
                 errors=errors, identity=identity, oidc_enabled=oidc.is_configured())


# -------------------------------------------------------------------------------------------- public ---


class RegistrationController(Controller):
    path = "/registro"
    include_in_schema = False

    @get("/", name="registration_form")
    async def form(self, request: Request) -> Page:
        return _registration_page(request, {}, {})

    @post("/")
    async def submit(self, request: Request, data: Multipart) -> Page:
        from app.auth.passwords import check_new_password

        identity = _oidc_identity(request)
        raw = dict(data)
        if identity and identity.get("dni"):
            raw["applicant_dni"] = identity["dni"]  # proven by ID GOB.PE: not editable
        password, confirmation = str(data.get("contrasena") or ""), str(data.get("confirmacion") or "")

        def password_rules() -> None:
            if identity is None or password:  # with ID GOB.PE a password is optional
                check_new_password(password, confirmation)

        parsed, document, errors = await _parse_with_document(RegistrationCreate, raw, REGISTRATION_FIELDS,
                                                              required=True, extra=password_rules)
        if errors:
            return _registration_page(request, _text(raw, *REGISTRATION_FIELDS), errors, status_code=422)
        receipt = await services.submit_registration(parsed, document, password=password or None,
                                                     confirmation=confirmation,
                                                     oidc_subject=identity.get("sub") if identity else None,
                                                     ip=client_ip(request))
        if identity:
            request.session.pop(SESSION_OIDC_IDENTITY, None)
        return _page("registro_enviado.html", receipt=receipt)

    @get("/oidc")
    async def oidc_start(self, request: Request) -> Page | Redirect:
        """Verify the person with ID GOB.PE to pre-fill the form (DNI, name, e-mail and the RUC if asserted)."""
        return await _start_oidc(request)

    @get("/oidc/retorno")
    async def oidc_callback(self, request: Request) -> Page | Redirect:
        from app.auth import oidc

        attempt = request.session.pop(SESSION_OIDC_ATTEMPT, None) if request.scope.get("session") else None
        query = request.query_params
        if (not isinstance(attempt, dict) or attempt.get("state") != query.get("state")
                or time.time() - float(attempt.get("t", 0)) > 600):
            return _page("enlace_invalido.html", status_code=400,
                         message="La verificación con ID GOB.PE no es válida o venció. Vuelva a intentarlo desde el "
                                 "formulario de registro.")
        if query.get("error") or not query.get("code"):
            flash(request, f"No se completó la verificación con {oidc.PROVIDER_LABEL}. Puede llenar el formulario "
                           "sin ella.", "error")
            return Redirect("/registro")
        try:
            identity = await oidc.complete_login(code=query["code"], code_verifier=attempt["verificador"],
                                                 nonce=attempt["nonce"],
                                                 redirect_uri=get_settings().base_url.rstrip("/") + OIDC_CALLBACK_PATH)
        except oidc.OidcError as exc:
            await oidc.record_failure(exc.code, ip=client_ip(request))
            return _page("enlace_invalido.html", status_code=exc.status_code, message=exc.message)
        if attempt.get("invitacion"):
            return await self._accept_invitation(request, attempt["invitacion"], identity)
        request.session[SESSION_OIDC_IDENTITY] = {"sub": identity.subject, "dni": identity.dni, "ruc": identity.ruc,
                                                  "name": identity.name, "email": identity.email, "t": time.time()}
        flash(request, f"Identidad verificada con {oidc.PROVIDER_LABEL}: completamos sus datos.", "exito")
        return Redirect("/registro")

    @staticmethod
    async def _accept_invitation(request: Request, token: str, identity) -> Page | Redirect:  # noqa: ANN001
        lookup = await people.lookup_invitation(token, ip=client_ip(request))
        data = InvitationAccept(full_name=identity.name or (lookup.email or "").split("@")[0], dni=identity.dni)
        try:
            await people.accept_invitation(token, data, None, None, oidc_subject=identity.subject,
                                           ip=client_ip(request))
        except DomainError as exc:
            lookup = await people.lookup_invitation(token, ip=client_ip(request))
            return _page("invitacion.html", status_code=409, lookup=lookup, token=token, values={},
                         errors={"general": exc.message}, refusal=exc.message)
        flash(request, f"Invitación aceptada: ingrese con ID GOB.PE ({lookup.email}).", "exito")
        return Redirect("/ingresar")

    @get("/solicitud/{token:str}")
    async def follow(self, request: Request, token: FromPath[str]) -> Page:
        """Opening the link changes nothing: an unconfirmed request shows the «Confirmar mi correo» button."""
        view = await services.view_registration(token, ip=client_ip(request))
        if view is None:
            return _invalid_link()
        return _page("seguimiento.html", view=view, token=token, message=None, values={}, errors={})

    @post("/solicitud/{token:str}/confirmar")
    async def confirm(self, request: Request, token: FromPath[str]) -> Page:
        view = await services.confirm_registration(token, ip=client_ip(request))
        if view is None:
            return _invalid_link()
        return _page("seguimiento.html", view=view, token=token, message=services.OUTCOME_MESSAGES.get(view.outcome),
                     values={}, errors={})

    @post("/solicitud/{token:str}")
    async def correct(self, request: Request, token: FromPath[str], data: Multipart) -> Page:
        parsed, document, errors = await _parse_with_document(RegistrationCorrection, data, REGISTRATION_FIELDS,
                                                              required=False)
        if not errors:
            try:
                view = await services.resubmit_registration(token, parsed, document, ip=client_ip(request))
            except DomainError as exc:
                errors = _errors(exc)
            else:
                return _page("seguimiento.html", view=view, token=token, values={}, errors={},
                             message="Su solicitud corregida fue enviada nuevamente a la SGP.")
        view = await services.view_registration(token, ip=client_ip(request))
        if view is None:
            raise NotFoundException()
        return _page("seguimiento.html", status_code=422, view=view, token=token, message=None,
                     values=_text(data, *REGISTRATION_FIELDS), errors=errors)

    @get("/solicitud/{token:str}/documentos/{document_id:uuid}")
    async def document(self, request: Request, token: FromPath[str], document_id: FromPath[uuid.UUID]) -> Response:
        return _download(await services.applicant_document(token, document_id, ip=client_ip(request)))


def _invalid_link() -> Page:
    return _page("enlace_invalido.html", status_code=404,
                 message="El enlace no es válido o venció sin que se confirmara el correo. Si aún necesita "
                         "registrar su entidad, vuelva a llenar el formulario de registro.")


async def _start_oidc(request: Request, **purpose: str) -> Page | Redirect:
    """Send the browser to ID GOB.PE; the callback (``OIDC_CALLBACK_PATH``) knows what it was for."""
    from app.auth import oidc

    if not oidc.is_configured():
        return _page("enlace_invalido.html", status_code=404,
                     message=f"{oidc.PROVIDER_LABEL} no está habilitado en esta instalación.")
    try:
        attempt = await oidc.build_authorization_request(get_settings().base_url.rstrip("/") + OIDC_CALLBACK_PATH)
    except oidc.OidcError as exc:
        return _page("enlace_invalido.html", status_code=exc.status_code, message=exc.message)
    request.session[SESSION_OIDC_ATTEMPT] = {"state": attempt.state, "nonce": attempt.nonce,
                                             "verificador": attempt.code_verifier, "t": time.time(), **purpose}
    return Redirect(attempt.url)


class InvitationController(Controller):
    path = "/invitacion"
    include_in_schema = False

    @get("/{token:str}")
    async def show(self, request: Request, token: FromPath[str]) -> Page:
        from app.auth import oidc

        lookup = await people.lookup_invitation(token, ip=client_ip(request))
        status = 404 if lookup.status == "invalida" else 200
        return _page("invitacion.html", status_code=status, lookup=lookup, token=token, values={}, errors={},
                     refusal=None if lookup.status == "vigente" else people.ACCEPT_REFUSALS[lookup.status],
                     oidc_enabled=oidc.is_configured())

    @get("/{token:str}/oidc")
    async def accept_with_oidc(self, request: Request, token: FromPath[str]) -> Page | Redirect:
        """Accept by proving one's identity with ID GOB.PE instead of choosing a password (the identity is then
        linked to the account, so the person signs in with ID GOB.PE)."""
        lookup = await people.lookup_invitation(token, ip=client_ip(request))
        if lookup.status != "vigente":
            return _page("invitacion.html", status_code=404 if lookup.status == "invalida" else 200, lookup=lookup,
                         token=token, values={}, errors={}, refusal=people.ACCEPT_REFUSALS[lookup.status])
        return await _start_oidc(request, invitacion=token)

    @post("/{token:str}")
    async def accept(self, request: Request, token: FromPath[str], data: Form) -> Page | Redirect:
        lookup = await people.lookup_invitation(token, ip=client_ip(request))
        values = _text(data, "full_name", "dni")
        errors: dict[str, str] = {}
        parsed = None
        if lookup.status == "vigente" and not lookup.has_account:
            try:
                parsed = parse(InvitationAccept, values)
            except DomainError as exc:
                errors = _errors(exc)
        if not errors:
            try:
                await people.accept_invitation(token, parsed, str(data.get("contrasena") or ""),
                                               str(data.get("confirmacion") or ""), ip=client_ip(request))
            except DomainError as exc:
                errors = _errors(exc)
            else:
                flash(request, f"Invitación aceptada: ya puede ingresar con {lookup.email}.", "exito")
                return Redirect("/ingresar")
        lookup = await people.lookup_invitation(token, ip=client_ip(request))
        return _page("invitacion.html", status_code=422, lookup=lookup, token=token, values=values, errors=errors,
                     refusal=None if lookup.status == "vigente" else people.ACCEPT_REFUSALS[lookup.status])


# ------------------------------------------------------------------------------------------------ SGP ---


class SgpRegistrationController(Controller):
    path = "/sgp/registros"
    guards = [requires_role(ROLE_SUPERVISOR_SGP)]
    include_in_schema = False

    @get("/")
    async def queue(self, request: Request, estado: FromQuery[str | None] = None) -> Page:
        ctx = request_context(request)
        rows = await services.list_registrations(ctx, state=estado if estado in STATE_LABELS else None)
        return _page("sgp_lista.html", rows=rows, estado=estado)

    @get("/{registration_id:uuid}")
    async def detail(self, request: Request, registration_id: FromPath[uuid.UUID]) -> Page:
        view = await services.get_registration(request_context(request), registration_id)
        return _page("sgp_detalle.html", view=view)

    @get("/{registration_id:uuid}/documentos/{document_id:uuid}")
    async def document(self, request: Request, registration_id: FromPath[uuid.UUID],
                       document_id: FromPath[uuid.UUID]) -> Response:
        ctx = request_context(request)
        return _download(await services.registration_document(ctx, registration_id, document_id))

    @post("/{registration_id:uuid}/{accion:str}")
    async def decide(self, request: Request, registration_id: FromPath[uuid.UUID], accion: FromPath[str],
                     data: Form) -> Redirect:
        ctx = request_context(request)
        reason = str(data.get("motivo") or "").strip() or None
        try:
            if accion == "revisar":
                await services.start_review(ctx, registration_id)
                flash(request, "La solicitud pasó a revisión.", "exito")
            elif accion == "observar":
                await services.observe_registration(ctx, registration_id, reason)
                flash(request, "La solicitud fue observada y el solicitante fue notificado.", "exito")
            elif accion == "aprobar":
                await services.approve_registration(ctx, registration_id, reason)
                flash(request, "Solicitud aprobada: se creó la entidad y su gestor(a).", "exito")
            elif accion == "rechazar":
                await services.reject_registration(ctx, registration_id, reason)
                flash(request, "La solicitud fue rechazada y el solicitante fue notificado.", "exito")
            else:
                raise NotFoundException()
        except DomainError as exc:
            flash(request, exc.message, "error")
        return Redirect(f"/sgp/registros/{registration_id}")


class SgpProfileChangeController(Controller):
    path = "/sgp/cambios-entidad"
    guards = [requires_role(ROLE_SUPERVISOR_SGP)]
    include_in_schema = False

    @get("/")
    async def queue(self, request: Request) -> Page:
        rows = await services.list_profile_changes(request_context(request))
        return _page("sgp_cambios.html", rows=rows)

    @get("/{change_id:uuid}/documento")
    async def document(self, request: Request, change_id: FromPath[uuid.UUID]) -> Response:
        ctx = request_context(request)
        return _download(await services.profile_change_document(ctx, change_id))

    @post("/{change_id:uuid}/{accion:str}")
    async def decide(self, request: Request, change_id: FromPath[uuid.UUID], accion: FromPath[str],
                     data: Form) -> Redirect:
        ctx = request_context(request)
        reason = str(data.get("motivo") or "").strip() or None
        try:
            if accion == "aprobar":
                await services.approve_profile_change(ctx, change_id, reason)
                flash(request, "Cambio aprobado: la entidad tiene una nueva versión de sus datos.", "exito")
            elif accion == "rechazar":
                await services.reject_profile_change(ctx, change_id, reason)
                flash(request, "Cambio rechazado.", "exito")
            else:
                raise NotFoundException()
        except DomainError as exc:
            flash(request, exc.message, "error")
        return Redirect("/sgp/cambios-entidad")


# --------------------------------------------------------------------------------- entity manager ---


class EntityPeopleController(Controller):
    path = "/entidad"
    guards = [requires_role(ROLE_GESTOR)]
    include_in_schema = False

    @get("/usuarios")
    async def people_page(self, request: Request, buzon: FromQuery[str | None] = None) -> Page:
        ctx = request_context(request)
        return _page("entidad_usuarios.html", people=await people.list_people(ctx), buzon=buzon,
                     state_of=people.invitation_state, values={}, errors={})

    @post("/invitaciones")
    async def invite(self, request: Request, data: Form) -> Redirect:
        ctx = request_context(request)
        try:
            sent = await people.invite(ctx, parse(InvitationCreate, _text(data, "email", "role")))
        except DomainError as exc:
            flash(request, "; ".join(_errors(exc).values()), "error")
            return Redirect("/entidad/usuarios")
        flash(request, f"Invitación enviada a {sent.email}. Vence en 72 horas.", "exito")
        return Redirect("/entidad/usuarios" + (f"?buzon={sent.mailbox_ticket}" if sent.mailbox_ticket else ""))

    @post("/invitaciones/{invitation_id:uuid}/{accion:str}")
    async def invitation_action(self, request: Request, invitation_id: FromPath[uuid.UUID],
                                accion: FromPath[str]) -> Redirect:
        ctx = request_context(request)
        target = "/entidad/usuarios"
        try:
            if accion == "reenviar":
                sent = await people.resend_invitation(ctx, invitation_id)
                flash(request, f"Invitación reenviada a {sent.email} con un enlace nuevo.", "exito")
                target += f"?buzon={sent.mailbox_ticket}" if sent.mailbox_ticket else ""
            elif accion == "revocar":
                await people.revoke_invitation(ctx, invitation_id)
                flash(request, "Invitación revocada: su enlace ya no sirve.", "exito")
            else:
                raise NotFoundException()
        except DomainError as exc:
            flash(request, exc.message, "error")
        return Redirect(target)

    @post("/usuarios/{user_id:uuid}/roles")
    async def roles(self, request: Request, user_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        try:
            await people.change_roles(request_context(request), user_id, _roles(data))
            flash(request, "Roles actualizados.", "exito")
        except DomainError as exc:
            flash(request, exc.message, "error")
        return Redirect("/entidad/usuarios")

    @post("/usuarios/{user_id:uuid}/desactivar")
    async def deactivate(self, request: Request, user_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            await people.deactivate_person(request_context(request), user_id)
            flash(request, "La persona fue desactivada en su entidad; su historial se conserva.", "exito")
        except DomainError as exc:
            flash(request, exc.message, "error")
        return Redirect("/entidad/usuarios")

    @get("/traspaso")
    async def handover_form(self, request: Request) -> Page:
        ctx = request_context(request)
        listing = await people.list_people(ctx)
        candidates = [m for m in listing.members if m.is_active and m.user.id != ctx.user_id]
        return _page("entidad_traspaso.html", candidates=candidates, errors={})

    @post("/traspaso")
    async def handover(self, request: Request, data: Multipart) -> Page | Redirect:
        ctx = request_context(request)
        try:
            document = await _upload(data, required=True)
            user_id = uuid.UUID(str(data.get("usuario") or ""))
        except (DomainError, ValueError) as exc:
            message = exc.message if isinstance(exc, DomainError) else "Elija a la persona que recibirá la gestión."
            flash(request, message, "error")
            return Redirect("/entidad/traspaso")
        try:
            change_id = await people.hand_over(ctx, user_id, document, position=str(data.get("cargo") or "") or None)
        except DomainError as exc:
            flash(request, exc.message, "error")
            return Redirect("/entidad/traspaso")
        request.session.clear()  # the manager role ended: sign in again (a new session id) for other roles
        flash(request, "Gestión traspasada. " + ("El cambio de representante fue enviado a la SGP. " if change_id else "")
              + "Su rol de gestor(a) terminó: vuelva a ingresar para continuar con sus otros roles.", "exito")
        return Redirect("/ingresar")

    @get("/documentos/{document_id:uuid}")
    async def document(self, request: Request, document_id: FromPath[uuid.UUID]) -> Response:
        return _download(await people.entity_document(request_context(request), document_id))


class EntityProfileController(Controller):
    path = "/entidad/perfil"
    include_in_schema = False

    @get("/", guards=[requires_role(ROLE_GESTOR, ROLE_FINANZAS, ROLE_COORDINADOR)])
    async def profile(self, request: Request) -> Page:
        profile = await services.get_profile(request_context(request))
        return _page("entidad_perfil.html", profile=profile, values={}, errors={})

    @post("/cambios", guards=[requires_role(ROLE_GESTOR)])
    async def request_change(self, request: Request, data: Multipart) -> Page | Redirect:
        ctx = request_context(request)
        fields = ("name", "short_name", "address", "ubigeo", "representative_name", "representative_dni",
                  "representative_position", "justification")
        parsed, document, errors = await _parse_with_document(ProfileChangeCreate, data, fields, required=False)
        if not errors:
            try:
                await services.request_profile_change(ctx, parsed, document)
            except DomainError as exc:
                errors = _errors(exc)
            else:
                flash(request, "Pedido de cambio enviado a la SGP.", "exito")
                return Redirect("/entidad/perfil")
        profile = await services.get_profile(ctx)
        return _page("entidad_perfil.html", status_code=422, profile=profile, values=_text(data, *fields),
                     errors=errors)


# ------------------------------------------------------------------------------------ demo mailbox ---


@dataclass(frozen=True)
class MailView:
    to: str
    subject: str
    date: datetime | None
    body: Markup


def _linkify(body: str) -> Markup:
    """The body as safe HTML, with this installation's own links clickable (and nothing else)."""
    import re

    base = re.escape(get_settings().base_url.rstrip("/"))
    escaped = str(escape(body))
    return Markup(re.sub(rf"({base}/[A-Za-z0-9_\-/?=.&;%]+)", r'<a href="\1">\1</a>', escaped))


def read_demo_mails(*, address: str | None = None, marker: str | None = None) -> list[MailView]:
    """The mails the worker wrote to data_dir/mail that are addressed to ``address`` (and, with ``marker``,
    that carry the onboarding link whose token hashes to it), newest first."""
    from app.worker.mail import mailbox_dir

    folder = mailbox_dir(get_settings().data_dir)
    if not folder.is_dir() or not address:
        return []
    parser = BytesParser(policy=email_policy.default)
    found = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:2000]:
        message = parser.parsebytes(path.read_bytes().replace(b"\r\n", b"\n"))
        if str(message["To"] or "").strip().lower() != address.lower():
            continue
        part = message.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
        if marker is not None and marker not in mail_markers(body):
            continue
        try:
            date = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            date = None
        found.append(MailView(to=str(message["To"]), subject=str(message["Subject"] or ""), date=date,
                              body=_linkify(body)))
    return found


class DemoMailboxController(Controller):
    """Only while no SMTP server is configured (the embedded demo run): the local mailbox, shown safely.

    Whose mail: a signed-in person sees the mails addressed to their own account's e-mail (which they proved
    by signing in). Someone without an account (an applicant, an invitee) sees mails only through a ticket
    (``?ficha=``) that the platform signed with its secret key and handed out on the page right after the step
    that sent them; it names the address and the hash of the one link token the mails must carry, and expires
    in 7 days. So a ticket never opens someone else's inbox: typing another person's address in the form
    yields a ticket for the mails of *that* request only, and nothing else sent to that address (a password
    reset, an invitation) matches it.
    """

    path = "/buzon"
    include_in_schema = False

    @get("/")
    async def mailbox(self, request: Request, ficha: FromQuery[str | None] = None) -> Page | Redirect:
        settings = get_settings()
        if settings.smtp_url:
            raise NotFoundException("El buzón de demostración no existe cuando hay un servidor de correo.")
        actor = get_actor(request)
        if ficha:
            ticket = read_mailbox_ticket(settings.resolved_secret_key(), ficha)
            if ticket is None:
                return _page("enlace_invalido.html", status_code=404,
                             message="El enlace del buzón de demostración no es válido o venció.")
            address, marker = ticket
            mails = read_demo_mails(address=address, marker=marker)
            return _page("buzon.html", mails=mails, address=address, by_ticket=True)
        if actor is None or actor.is_machine or not actor.email:
            return Redirect("/ingresar?siguiente=/buzon")
        return _page("buzon.html", mails=read_demo_mails(address=actor.email), address=actor.email, by_ticket=False)


controllers = [RegistrationController, InvitationController, SgpRegistrationController, SgpProfileChangeController,
               EntityPeopleController, EntityProfileController, DemoMailboxController]
