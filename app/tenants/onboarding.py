"""Onboarding use cases: a public registration request, its review by the SGP, and the entity's legal profile.

Each function is one thing a person does and owns its transaction. The public steps run with
``TenantContext.anonymous(ip)`` and reach the one request whose link token they hold (``app.onboarding_token``,
see migration 0002); the steps that cross tenants go through the SECURITY DEFINER functions of that migration.

Confirming the e-mail is a POST (the «Confirmar mi correo» button of the page the link opens): opening the
link only shows the request, so a mail scanner that prefetches links confirms nothing. Each time the request
reaches the SGP (confirmed, or corrected and sent again) a worker job (app.tenants.jobs) tells the supervisors.

Enumeration: the public form answers the same whatever the RUC or the e-mail, and does the same work (it never
looks the RUC up). The RUC is checked when the applicant opens the link of the confirmation e-mail, i.e. only
for someone who reads that mailbox, and the answer names no account: it says whom to contact.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.localtime import now_utc
from app.auth.passwords import check_new_password, hash_password
from app.config import get_settings
from app.db import ROLE_GESTOR, ROLE_SUPERVISOR_SGP, TenantContext, get_database
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.tenants.models import Centre, Entity, User
from app.tenants.onboarding_models import (
    EntityProfileVersion,
    OnboardingDocument,
    ProfileChangeRequest,
    RegistrationEvent,
    RegistrationRequest,
)
from app.tenants.onboarding_schemas import (
    APPLICANT,
    CONFIRMATION_HOURS,
    CONTACT_MESSAGE,
    SGP,
    STATE_LABELS,
    CheckedDocument,
    ProfileChangeCreate,
    RegistrationCorrection,
    RegistrationCreate,
    check_transition,
    mailbox_ticket,
    registration_token,
    token_hash,
)

RECORD = "solicitud_registro"


# ------------------------------------------------------------------------------------------ helpers ---


def _secret() -> str:
    return get_settings().resolved_secret_key()


def demo_mailbox_enabled() -> bool:
    """The demo mailbox exists only while mail is written to files (no SMTP server configured)."""
    return not get_settings().smtp_url


def ticket_for(address: str, token: str) -> str | None:
    """A demo mailbox ticket for the mails to ``address`` carrying ``token``'s link (None with SMTP)."""
    return mailbox_ticket(_secret(), address, token_hash(token)) if demo_mailbox_enabled() else None


async def _use_token(session: AsyncSession, token_digest: str) -> None:
    """Let this transaction reach the request of this link (and only it): see migration 0002."""
    await session.execute(text("SELECT set_config('app.onboarding_token', :h, true)"), {"h": token_digest})


async def _mail(session: AsyncSession, *, to: str, subject: str, body: str, entity_id: uuid.UUID | None = None) -> None:
    from app.worker.mail import queue_email

    await queue_email(session, to=to, subject=subject, body=body, entity_id=entity_id)


def _link(request: RegistrationRequest) -> str:
    token = registration_token(_secret(), request.id, request.token_salt)
    return f"{get_settings().base_url}/registro/solicitud/{token}"


def _signature() -> str:
    return "\n--\nPlataforma MAC · Secretaría de Gestión Pública (PCM)\nEste es un mensaje automático.\n"


def _document(doc: CheckedDocument, *, purpose: str, registration_id: uuid.UUID | None = None,
              entity_id: uuid.UUID | None = None, uploaded_by: uuid.UUID | None = None) -> OnboardingDocument:
    return OnboardingDocument(registration_id=registration_id, entity_id=entity_id, purpose=purpose,
                              filename=doc.filename, content_type=doc.content_type, size_bytes=doc.size,
                              sha256=doc.sha256, content=doc.content, uploaded_by=uploaded_by)


def _event(request: RegistrationRequest, target: str, ctx: TenantContext, *, label: str,
           reason: str | None = None, from_state: str | None = None) -> RegistrationEvent:
    return RegistrationEvent(registration_id=request.id, from_state=from_state, to_state=target,
                             actor_role=APPLICANT if ctx.user_id is None else ctx.role, actor_user_id=ctx.user_id,
                             actor_label=label[:200], reason=reason)


# ----------------------------------------------------------------------------- public registration ---


@dataclass(frozen=True)
class RegistrationReceipt:
    email: str
    mailbox_ticket: str | None  # only while the demo mailbox exists


async def submit_registration(data: RegistrationCreate, document: CheckedDocument, *, password: str | None,
                              confirmation: str | None, oidc_subject: str | None = None,
                              ip: str | None = None) -> RegistrationReceipt:
    """File a request and send the confirmation link. The same answer and the same work for every RUC and
    e-mail: whether the RUC is already registered is said only after the e-mail is confirmed."""
    if oidc_subject is None or password:
        check_new_password(password or "", confirmation or "")
    password_hash = hash_password(password) if password else None
    request_id = uuid.uuid4()
    salt = secrets.token_hex(16)
    token = registration_token(_secret(), request_id, salt)
    ctx = TenantContext.anonymous(ip)
    async with get_database().transaction(ctx) as s:
        await _use_token(s, token_hash(token))
        request = RegistrationRequest(
            id=request_id, state="pendiente_verificacion_correo", ruc=data.ruc, entity_name=data.entity_name,
            short_name=data.short_name, kind=data.kind, level=data.level, address=data.address, ubigeo=data.ubigeo,
            applicant_dni=data.applicant_dni, applicant_name=data.applicant_name,
            applicant_position=data.applicant_position, applicant_email=data.applicant_email,
            password_hash=password_hash, oidc_subject=oidc_subject, token_salt=salt,
            access_token_hash=token_hash(token))
        s.add(request)
        await s.flush()
        s.add(_document(document, purpose="designacion", registration_id=request.id))
        s.add(_event(request, "pendiente_verificacion_correo", ctx, label=data.applicant_email))
        await _mail(s, to=data.applicant_email, subject="Confirme su correo: registro de entidad en la Plataforma MAC",
                    body=(f"Estimado(a) {data.applicant_name}:\n\nRecibimos la solicitud de registro de la entidad "
                          f"«{data.entity_name}» (RUC {data.ruc}) en la Plataforma MAC.\n\n"
                          "Para confirmar su correo y enviar la solicitud a la SGP, abra este enlace y pulse "
                          f"«Confirmar mi correo» (vence en {CONFIRMATION_HOURS} horas):\n\n{_link(request)}\n\n"
                          "Guarde este enlace: con él podrá seguir el estado de su solicitud.\n"
                          "Si usted no hizo esta solicitud, ignore este mensaje." + _signature()))
        await audit.record(s, ctx, action="registro_solicitado", record_type=RECORD, record_id=request.id,
                           actor_label=data.applicant_email, after={"ruc": data.ruc, "documento": document.sha256})
    return RegistrationReceipt(email=data.applicant_email, mailbox_ticket=ticket_for(data.applicant_email, token))


@dataclass
class RegistrationView:
    request: RegistrationRequest
    events: list[RegistrationEvent]
    documents: list[OnboardingDocument]
    outcome: str | None = None  # what just happened when the link was opened
    mailbox_ticket: str | None = None

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.request.state, self.request.state)

    @property
    def awaiting_confirmation(self) -> bool:
        return self.request.state == "pendiente_verificacion_correo"


async def _load_view(s: AsyncSession, request: RegistrationRequest) -> RegistrationView:
    events = list((await s.scalars(select(RegistrationEvent).where(RegistrationEvent.registration_id == request.id)
                                   .order_by(RegistrationEvent.occurred_at, RegistrationEvent.id))).all())
    documents = list((await s.scalars(select(OnboardingDocument)
                                      .where(OnboardingDocument.registration_id == request.id)
                                      .order_by(OnboardingDocument.created_at))).all())
    return RegistrationView(request=request, events=events, documents=documents)


OUTCOME_MESSAGES = {
    "enviada": "Su correo fue confirmado y la solicitud fue enviada a la SGP para su revisión.",
    "ruc_registrado": "No se puede registrar esta entidad: su RUC ya está registrado en la Plataforma MAC. "
                      + CONTACT_MESSAGE,
    "ruc_en_tramite": "No se puede registrar esta entidad: ya hay otra solicitud en trámite para este RUC. "
                      + CONTACT_MESSAGE,
}


async def _expired(s: AsyncSession, request: RegistrationRequest) -> bool:
    """An unconfirmed request whose confirmation link is older than CONFIRMATION_HOURS (the database's clock,
    as in onboarding_confirm_email)."""
    if request.state != "pendiente_verificacion_correo":
        return False
    return bool(await s.scalar(select(RegistrationRequest.created_at < func.now() - timedelta(hours=CONFIRMATION_HOURS))
                               .where(RegistrationRequest.id == request.id)))


async def view_registration(token: str, *, ip: str | None = None) -> RegistrationView | None:
    """The applicant opens their link: the request as it stands, changing nothing (a mail scanner that
    prefetches the link confirms nothing). None when the link is not valid (or expired unconfirmed)."""
    digest = token_hash(token)
    async with get_database().transaction(TenantContext.anonymous(ip)) as s:
        await _use_token(s, digest)
        request = (await s.scalars(select(RegistrationRequest).where(RegistrationRequest.access_token_hash == digest)
                                   )).one_or_none()
        if request is None or await _expired(s, request):
            return None
        view = await _load_view(s, request)
    view.mailbox_ticket = ticket_for(request.applicant_email, token)
    return view


async def _submission_number(s: AsyncSession, request_id: uuid.UUID) -> int:
    """How many times the request was sent to the SGP (1 on confirmation, 2 after the first correction, ...)."""
    return int(await s.scalar(select(func.count()).select_from(RegistrationEvent).where(
        RegistrationEvent.registration_id == request_id, RegistrationEvent.to_state == "enviada")) or 0)


async def _notify_supervisors(s: AsyncSession, request_id: uuid.UUID) -> None:
    """Queue, in this transaction, the worker job that tells the SGP supervisors (whose addresses this
    anonymous transaction may not read) that the request arrived."""
    from app.tenants.jobs import notify_supervisors
    from app.worker.outbox import enqueue_in_transaction

    await enqueue_in_transaction(s, notify_supervisors, str(request_id), await _submission_number(s, request_id))


async def confirm_registration(token: str, *, ip: str | None = None) -> RegistrationView | None:
    """The applicant presses «Confirmar mi correo» (a POST): the first time it confirms the e-mail (and only
    then is the RUC checked); afterwards it just shows the request. None when the link is not valid (or
    expired unconfirmed)."""
    digest = token_hash(token)
    ctx = TenantContext.anonymous(ip)
    async with get_database().transaction(ctx) as s:
        outcome = (await s.execute(text("SELECT onboarding_confirm_email(:h, :hours)"),
                                   {"h": digest, "hours": CONFIRMATION_HOURS})).scalar()
        if outcome in ("invalido", "vencida"):
            return None
        await _use_token(s, digest)
        request = (await s.scalars(select(RegistrationRequest).where(RegistrationRequest.access_token_hash == digest)
                                   )).one()
        if outcome == "enviada":
            await _mail(s, to=request.applicant_email, subject="Solicitud de registro enviada a la SGP",
                        body=(f"Estimado(a) {request.applicant_name}:\n\nSu correo fue confirmado y la solicitud de "
                              f"registro de «{request.entity_name}» (RUC {request.ruc}) fue enviada a la Secretaría "
                              "de Gestión Pública para su revisión. Le escribiremos en cada paso.\n\n"
                              f"Siga su solicitud aquí:\n{_link(request)}\n" + _signature()))
            await _notify_supervisors(s, request.id)
        if outcome != "ya_confirmada":
            await audit.record(s, ctx, action=f"registro_{outcome}", record_type=RECORD, record_id=request.id,
                               actor_label=request.applicant_email)
        view = await _load_view(s, request)
    view.outcome = None if outcome == "ya_confirmada" else outcome
    view.mailbox_ticket = ticket_for(request.applicant_email, token)
    return view


async def resubmit_registration(token: str, data: RegistrationCorrection, document: CheckedDocument | None, *,
                                ip: str | None = None) -> RegistrationView:
    """After an observation, the applicant corrects the data (and may replace the document) and sends it again."""
    digest = token_hash(token)
    ctx = TenantContext.anonymous(ip)
    async with get_database().transaction(ctx) as s:
        await _use_token(s, digest)
        mine = select(RegistrationRequest).where(RegistrationRequest.access_token_hash == digest)
        request = (await s.scalars(mine)).one_or_none()
        if request is None:
            raise NotFound("El enlace no es válido.")
        check_transition(request.state, "enviada", APPLICANT)
        # Locking needs the row to be updatable by this link, i.e. observed (policy registration_requests_resubmit).
        request = (await s.scalars(mine.with_for_update())).one_or_none()
        if request is None or request.state != "observada":
            raise Conflict("La solicitud cambió de estado mientras la corregía; recargue la página.")
        before = {"estado": request.state}
        for name in ("entity_name", "short_name", "kind", "level", "address", "ubigeo", "applicant_dni",
                     "applicant_name", "applicant_position"):
            setattr(request, name, getattr(data, name))
        previous = request.state
        request.state = "enviada"
        request.submitted_at = now_utc()
        if document is not None:
            s.add(_document(document, purpose="designacion", registration_id=request.id))
        s.add(_event(request, "enviada", ctx, label=request.applicant_email, from_state=previous,
                     reason="Solicitud corregida y enviada de nuevo."))
        await s.flush()
        await _mail(s, to=request.applicant_email, subject="Solicitud de registro corregida y enviada",
                    body=(f"Estimado(a) {request.applicant_name}:\n\nRecibimos su solicitud corregida de "
                          f"«{request.entity_name}» (RUC {request.ruc}); la SGP la revisará nuevamente.\n\n"
                          f"Siga su solicitud aquí:\n{_link(request)}\n" + _signature()))
        await _notify_supervisors(s, request.id)
        await audit.record(s, ctx, action="registro_reenviado", record_type=RECORD, record_id=request.id,
                           actor_label=request.applicant_email, before=before, after={"estado": "enviada"})
        view = await _load_view(s, request)
    view.mailbox_ticket = ticket_for(request.applicant_email, token)
    return view


async def applicant_document(token: str, document_id: uuid.UUID, *, ip: str | None = None) -> OnboardingDocument:
    async with get_database().transaction(TenantContext.anonymous(ip)) as s:
        await _use_token(s, token_hash(token))
        return await _document_with_content(s, document_id)


async def _document_with_content(s: AsyncSession, document_id: uuid.UUID,
                                 **where: uuid.UUID) -> OnboardingDocument:
    stmt = select(OnboardingDocument).where(OnboardingDocument.id == document_id)
    for column, value in where.items():
        stmt = stmt.where(getattr(OnboardingDocument, column) == value)
    doc = (await s.scalars(stmt)).one_or_none()
    if doc is None:
        raise NotFound("El documento no existe o no tiene acceso a él.")
    await s.refresh(doc, ["content"])
    return doc


# ----------------------------------------------------------------------------------- SGP review ---


def _require_sgp(ctx: TenantContext) -> None:
    if ctx.role != ROLE_SUPERVISOR_SGP:
        raise Forbidden("Solo un supervisor o supervisora de la SGP revisa solicitudes de registro.")


async def list_registrations(ctx: TenantContext, *, state: str | None = None) -> list[RegistrationRequest]:
    _require_sgp(ctx)
    stmt = select(RegistrationRequest).where(RegistrationRequest.state != "pendiente_verificacion_correo")
    if state:
        stmt = stmt.where(RegistrationRequest.state == state)
    stmt = stmt.order_by(RegistrationRequest.submitted_at.desc().nullslast(), RegistrationRequest.created_at.desc())
    async with get_database().transaction(ctx) as s:
        return list((await s.scalars(stmt.limit(500))).all())


async def get_registration(ctx: TenantContext, registration_id: uuid.UUID) -> RegistrationView:
    _require_sgp(ctx)
    async with get_database().transaction(ctx) as s:
        request = await s.get(RegistrationRequest, registration_id)
        if request is None:
            raise NotFound("La solicitud de registro no existe.")
        return await _load_view(s, request)


async def registration_document(ctx: TenantContext, registration_id: uuid.UUID,
                                document_id: uuid.UUID) -> OnboardingDocument:
    _require_sgp(ctx)
    async with get_database().transaction(ctx) as s:
        return await _document_with_content(s, document_id, registration_id=registration_id)


async def _locked_request(s: AsyncSession, registration_id: uuid.UUID, target: str, reason: str | None
                          ) -> RegistrationRequest:
    """The request, once the move to ``target`` is legal, locked against a concurrent decision.

    The transition is checked before locking: FOR UPDATE only reaches rows the SGP may still update (a request
    enviada or en_revision), so a decided request would otherwise look like a missing one."""
    stmt = select(RegistrationRequest).where(RegistrationRequest.id == registration_id)
    request = (await s.scalars(stmt)).one_or_none()
    if request is None:
        raise NotFound("La solicitud de registro no existe.")
    check_transition(request.state, target, SGP, reason)
    locked = (await s.scalars(stmt.with_for_update())).one_or_none()
    if locked is None or locked.state != request.state:
        raise Conflict("La solicitud cambió de estado mientras la revisaba; recargue la página.")
    return locked


async def _actor_label(s: AsyncSession, ctx: TenantContext) -> str:
    name = await s.scalar(select(User.full_name).where(User.id == ctx.user_id)) if ctx.user_id else None
    return name or ctx.role


async def _review_step(ctx: TenantContext, registration_id: uuid.UUID, target: str, reason: str | None,
                       *, subject: str, message: str) -> None:
    _require_sgp(ctx)
    async with get_database().transaction(ctx) as s:
        request = await _locked_request(s, registration_id, target, reason)
        previous = request.state
        request.state = target
        request.updated_at = now_utc()
        if target == "rechazada":
            request.decided_at = request.updated_at
            request.password_hash = None
        s.add(_event(request, target, ctx, label=await _actor_label(s, ctx), reason=reason, from_state=previous))
        await s.flush()
        body = f"Estimado(a) {request.applicant_name}:\n\n{message.format(r=request)}\n"
        if reason:
            body += f"\nMotivo indicado por la SGP:\n{reason}\n"
        body += f"\nSiga su solicitud aquí:\n{_link(request)}\n" + _signature()
        await _mail(s, to=request.applicant_email, subject=subject, body=body)
        await audit.record(s, ctx, action=f"registro_{target}", record_type=RECORD, record_id=request.id,
                           before={"estado": previous}, after={"estado": target, "motivo": reason})


async def start_review(ctx: TenantContext, registration_id: uuid.UUID) -> None:
    await _review_step(ctx, registration_id, "en_revision", None, subject="Su solicitud de registro está en revisión",
                       message="La SGP empezó a revisar la solicitud de registro de «{r.entity_name}» "
                               "(RUC {r.ruc}).")


async def observe_registration(ctx: TenantContext, registration_id: uuid.UUID, reason: str | None) -> None:
    await _review_step(ctx, registration_id, "observada", reason,
                       subject="Su solicitud de registro tiene observaciones",
                       message="La SGP observó la solicitud de registro de «{r.entity_name}» (RUC {r.ruc}). "
                               "Corrija lo indicado desde el enlace de su solicitud y envíela de nuevo.")


async def reject_registration(ctx: TenantContext, registration_id: uuid.UUID, reason: str | None) -> None:
    await _review_step(ctx, registration_id, "rechazada", reason, subject="Su solicitud de registro fue rechazada",
                       message="La SGP rechazó la solicitud de registro de «{r.entity_name}» (RUC {r.ruc}).")


APPROVAL_REFUSALS = {
    "inexistente": (NotFound, "La solicitud de registro no existe."),
    "ruc_registrado": (Conflict, "Ya existe una entidad con este RUC: rechace la solicitud indicando a quién acudir."),
    "dni_en_uso": (Conflict, "El DNI del solicitante ya pertenece a una cuenta con otro correo. Observe la solicitud "
                             "para que use el correo de esa cuenta."),
}


async def approve_registration(ctx: TenantContext, registration_id: uuid.UUID, reason: str | None = None
                               ) -> tuple[uuid.UUID, uuid.UUID]:
    """Create the entity (the tenant), its first manager and its profile: (entity id, user id)."""
    _require_sgp(ctx)
    async with get_database().transaction(ctx) as s:
        request = await _locked_request(s, registration_id, "aprobada", reason)
        row = (await s.execute(text("SELECT * FROM onboarding_approve_registration(:r, :why, :who)"),
                               {"r": registration_id, "why": reason, "who": await _actor_label(s, ctx)})).one()
        if row.status != "aprobada":
            error, message = APPROVAL_REFUSALS.get(row.status, (Conflict, "La solicitud ya no está en revisión."))
            raise error(message)
        await s.refresh(request)
        await _mail(s, to=request.applicant_email, subject="Su entidad fue registrada en la Plataforma MAC",
                    body=(f"Estimado(a) {request.applicant_name}:\n\nLa SGP aprobó el registro de «{request.entity_name}»"
                          f" (RUC {request.ruc}). Usted es su gestor(a) de entidad.\n\n"
                          f"Ingrese en {get_settings().base_url}/ingresar con su correo {request.applicant_email} y la "
                          "contraseña que definió al registrarse (si ya tenía una cuenta en la plataforma, con su "
                          "contraseña de siempre). Desde «Usuarios de la entidad» puede invitar a sus colegas.\n\n"
                          f"Su solicitud:\n{_link(request)}\n" + _signature()), entity_id=None)
        await audit.record(s, ctx, action="registro_aprobada", record_type=RECORD, record_id=request.id,
                           entity_id=row.new_entity_id, before={"estado": "en_revision"},
                           after={"estado": "aprobada", "entidad": str(row.new_entity_id), "ruc": request.ruc,
                                  "gestor": str(row.new_user_id), "motivo": reason})
    return row.new_entity_id, row.new_user_id


# ------------------------------------------------------------------------------------- entity profile ---


@dataclass
class Profile:
    entity: Entity
    current: EntityProfileVersion | None
    versions: list[EntityProfileVersion]
    changes: list[ProfileChangeRequest]
    administers_centre: bool


async def administers_centre(s: AsyncSession, entity_id: uuid.UUID) -> bool:
    return bool(await s.scalar(select(Centre.id).where(Centre.administering_entity_id == entity_id).limit(1)))


async def get_profile(ctx: TenantContext) -> Profile:
    if ctx.entity_id is None:
        raise Forbidden("Actúe por una entidad para ver su perfil.")
    async with get_database().transaction(ctx) as s:
        entity = await s.get(Entity, ctx.entity_id)
        if entity is None:
            raise NotFound("La entidad no existe.")
        versions = list((await s.scalars(select(EntityProfileVersion)
                                         .where(EntityProfileVersion.entity_id == ctx.entity_id)
                                         .order_by(EntityProfileVersion.version.desc()))).all())
        changes: list[ProfileChangeRequest] = []
        if ctx.role == ROLE_GESTOR:
            changes = list((await s.scalars(select(ProfileChangeRequest)
                                            .where(ProfileChangeRequest.entity_id == ctx.entity_id)
                                            .order_by(ProfileChangeRequest.created_at.desc()))).all())
        return Profile(entity=entity, current=versions[0] if versions else None, versions=versions, changes=changes,
                       administers_centre=await administers_centre(s, ctx.entity_id))


async def profile_at(session: AsyncSession, entity_id: uuid.UUID, moment: datetime) -> EntityProfileVersion | None:
    """The legal data an entity had at ``moment`` (what a document signed then must show)."""
    return (await session.scalars(
        select(EntityProfileVersion)
        .where(EntityProfileVersion.entity_id == entity_id, EntityProfileVersion.valid_from <= moment)
        .order_by(EntityProfileVersion.version.desc()).limit(1))).one_or_none()


async def _add_profile_change(s: AsyncSession, ctx: TenantContext, data: ProfileChangeCreate,
                              document_id: uuid.UUID | None) -> ProfileChangeRequest:
    pending = await s.scalar(select(ProfileChangeRequest.id).where(ProfileChangeRequest.entity_id == ctx.entity_id,
                                                                   ProfileChangeRequest.state == "pendiente"))
    if pending:
        raise Conflict("Ya hay un pedido de cambio de datos pendiente de la SGP; espere su decisión.",
                       code="cambio_pendiente")
    change = ProfileChangeRequest(entity_id=ctx.entity_id, state="pendiente", name=data.name,
                                  short_name=data.short_name, address=data.address, ubigeo=data.ubigeo,
                                  representative_name=data.representative_name,
                                  representative_dni=data.representative_dni,
                                  representative_position=data.representative_position,
                                  justification=data.justification, document_id=document_id,
                                  requested_by=ctx.user_id)
    s.add(change)
    await s.flush()
    await audit.record(s, ctx, action="cambio_perfil_solicitado", record_type="cambio_perfil", record_id=change.id,
                       after=data.model_dump())
    return change


async def request_profile_change(ctx: TenantContext, data: ProfileChangeCreate,
                                 document: CheckedDocument | None) -> uuid.UUID:
    if ctx.role != ROLE_GESTOR or ctx.entity_id is None:
        raise Forbidden("Solo el gestor o la gestora de la entidad pide cambios de sus datos.")
    if data.representative_name and document is None:
        raise ValidationFailed("Para cambiar al representante adjunte el documento que lo designa (PDF).",
                               field="documento")
    async with get_database().transaction(ctx) as s:
        document_id = None
        if document is not None:
            doc = _document(document, purpose="cambio_perfil", entity_id=ctx.entity_id, uploaded_by=ctx.user_id)
            s.add(doc)
            await s.flush()
            document_id = doc.id
        change = await _add_profile_change(s, ctx, data, document_id)
    return change.id


async def list_profile_changes(ctx: TenantContext, *, pending_only: bool = False) -> list[tuple[ProfileChangeRequest, Entity]]:
    _require_sgp(ctx)
    stmt = select(ProfileChangeRequest, Entity).join(Entity, Entity.id == ProfileChangeRequest.entity_id)
    if pending_only:
        stmt = stmt.where(ProfileChangeRequest.state == "pendiente")
    async with get_database().transaction(ctx) as s:
        return [tuple(r) for r in (await s.execute(stmt.order_by(ProfileChangeRequest.created_at.desc()).limit(300))).all()]


async def profile_change_document(ctx: TenantContext, change_id: uuid.UUID) -> OnboardingDocument:
    _require_sgp(ctx)
    async with get_database().transaction(ctx) as s:
        change = await s.get(ProfileChangeRequest, change_id)
        if change is None or change.document_id is None:
            raise NotFound("El pedido no tiene documento.")
        return await _document_with_content(s, change.document_id)


async def approve_profile_change(ctx: TenantContext, change_id: uuid.UUID, reason: str | None = None) -> uuid.UUID:
    _require_sgp(ctx)
    async with get_database().transaction(ctx) as s:
        row = (await s.execute(text("SELECT * FROM onboarding_apply_profile_change(:c, :why)"),
                               {"c": change_id, "why": reason})).one()
        if row.status == "inexistente":
            raise NotFound("El pedido de cambio no existe.")
        if row.status != "aprobada":
            raise Conflict("El pedido de cambio ya fue decidido.")
        change = await s.get(ProfileChangeRequest, change_id)
        await audit.record(s, ctx, action="cambio_perfil_aprobado", record_type="cambio_perfil", record_id=change_id,
                           entity_id=change.entity_id, after={"version": str(row.new_version_id), "motivo": reason})
        await _tell_requester(s, change, "aprobó", reason)
    return row.new_version_id


async def _tell_requester(s: AsyncSession, change: ProfileChangeRequest, verb: str, reason: str | None) -> None:
    """The manager who asked hears the SGP's decision (the SGP reads every user: policy users_sgp)."""
    requester = await s.get(User, change.requested_by) if change.requested_by else None
    if requester is None:
        return
    await _mail(s, to=requester.email, subject=f"La SGP {verb} el cambio de datos de {change.short_name}",
                body=(f"Estimado(a) {requester.full_name}:\n\nLa Secretaría de Gestión Pública {verb} el pedido de "
                      f"cambio de datos de «{change.name}».\n" + (f"\nMotivo: {reason}\n" if reason else "")
                      + f"\nVea los datos de su entidad en {get_settings().base_url}/entidad/perfil\n" + _signature()))


async def reject_profile_change(ctx: TenantContext, change_id: uuid.UUID, reason: str | None) -> None:
    _require_sgp(ctx)
    if not (reason or "").strip():
        raise ValidationFailed("Indique el motivo del rechazo.", field="motivo")
    async with get_database().transaction(ctx) as s:
        change = (await s.scalars(select(ProfileChangeRequest).where(ProfileChangeRequest.id == change_id)
                                  .with_for_update())).one_or_none()
        if change is None:
            raise NotFound("El pedido de cambio no existe.")
        if change.state != "pendiente":
            raise Conflict("El pedido de cambio ya fue decidido.")
        await s.execute(update(ProfileChangeRequest).where(ProfileChangeRequest.id == change_id).values(
            state="rechazada", decided_by=ctx.user_id, decided_at=now_utc(), decision_reason=reason))
        await audit.record(s, ctx, action="cambio_perfil_rechazado", record_type="cambio_perfil", record_id=change_id,
                           entity_id=change.entity_id, after={"motivo": reason})
        await _tell_requester(s, change, "rechazó", reason)
