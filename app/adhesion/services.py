"""Adhesion use cases: one function per thing a person (or the scheduler) does, each owning its transaction.

Routes (web and API), the CLI, the demo loader and the scheduled jobs all call these functions; the state
machine (:mod:`app.adhesion.states`) decides what is allowed, row-level security decides what is visible.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import audit, offload
from app.adhesion import states
from app.adhesion.evidence import EvidenceData, EvidenceEvent, EvidenceRevision, render_evidence
from app.adhesion.models import Adhesion, AdhesionAttachment, AdhesionEvent, ClauseTemplate
from app.adhesion.pdf import (
    FIELD_ADMINISTRADORA,
    FIELD_ENTIDAD,
    SIGNATURE_BOXES,
    AnsTarget,
    ClauseData,
    Party,
    fill_template,
    placeholder_values,
    render_clause,
    unknown_placeholders,
)
from app.adhesion.schemas import AdhesionCreate, AdhesionUpdate
from app.auth.actor import Actor
from app.auth.reauth import Reauthentication, is_recent
from app.config import get_settings
from app.db import ROLE_ADMIN, TenantContext, get_database
from app.documents import signing, verification
from app.documents.models import DocumentRevision, RegisteredDocument
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.tenants.models import Centre, CentreService, Entity, User

LIMA = ZoneInfo("America/Lima")
CODE_PREFIX = "ADH"
DOCUMENT_KIND = "clausula_adhesion"
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
ATTACHMENT_TYPES = {"application/pdf": b"%PDF-", "image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8\xff"}
MAX_SIGNED_PDF_BYTES = 20 * 1024 * 1024
EVALUATION_CHECKLIST = (
    ("servicios", "Los servicios solicitados corresponden a la entidad y al canal"),
    ("espacio", "Hay módulos y área disponibles en el centro"),
    ("ans", "Las metas de ANS son coherentes con los estándares del centro"),
    ("financiamiento", "Las condiciones de financiamiento siguen la metodología vigente"),
    ("firma", "La cláusula está firmada por quien representa a la entidad"),
)
DEFAULT_COFINANCING = ("Según la metodología de distribución de costos comunes aprobada por la SGP y vigente "
                       "para el centro (clave por área, módulos, asesores o atenciones).")
# Who must act after a transition leads into a state (e-mail notifications).
NEXT_PARTIES: dict[str, tuple[str, ...]] = {
    states.PRESENTADA: (states.ADMINISTRADORA,),
    states.OBSERVADA: (states.ENTIDAD,),
    states.PENDIENTE_OPINION_SGP: (states.SGP,),
    states.OPINION_FAVORABLE: (states.ADMINISTRADORA,),
    states.OPINION_DESFAVORABLE: (states.ADMINISTRADORA,),
    states.RECHAZADA: (states.ENTIDAD,),
    states.ACEPTADA: (states.ENTIDAD,),
    states.VIGENTE: (states.ENTIDAD, states.ADMINISTRADORA),
    states.SUSPENDIDA: (states.ENTIDAD,),
    states.TERMINACION_EN_TRAMITE: (states.SGP, states.ENTIDAD),
    states.TERMINADA: (states.ENTIDAD, states.ADMINISTRADORA),
    states.VENCIDA: (states.ENTIDAD, states.ADMINISTRADORA),
}

SYSTEM_ACTOR = Actor(role="sistema", entity_id=None, full_name="Plataforma MAC (proceso programado)",
                     auth_method="sistema")


@dataclass(frozen=True)
class Caller:
    """Who acts, and from where (kept as evidence on every step)."""

    actor: Actor
    ip: str | None = None
    user_agent: str | None = None

    def ctx(self) -> TenantContext:
        return self.actor.context(self.ip)


SYSTEM = Caller(SYSTEM_ACTOR)


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    content: bytes


@dataclass
class AdhesionView:
    adhesion: Adhesion
    centre: Centre
    participant: Entity
    administrator: Entity
    template: ClauseTemplate
    party: str | None
    actions: list[states.Transition]
    events: list[AdhesionEvent] = field(default_factory=list)
    attachments: list[AdhesionAttachment] = field(default_factory=list)
    documents: list[RegisteredDocument] = field(default_factory=list)
    revisions: list[DocumentRevision] = field(default_factory=list)

    @property
    def state_label(self) -> str:
        return states.STATE_LABELS[self.adhesion.state]

    @property
    def can_edit(self) -> bool:
        return self.party == states.ENTIDAD and self.adhesion.state in (states.BORRADOR, states.OBSERVADA)

    @property
    def can_sign(self) -> str | None:
        """The field this caller may sign now, if any."""
        if self.party == states.ENTIDAD and self.adhesion.state in (states.BORRADOR, states.OBSERVADA):
            return FIELD_ENTIDAD
        if self.party == states.ADMINISTRADORA and self.adhesion.state == states.OPINION_FAVORABLE:
            return FIELD_ADMINISTRADORA
        return None


def today_lima() -> date:
    return datetime.now(LIMA).date()


def add_months(start: date, months: int) -> date:
    """The last day of a term of ``months`` months starting on ``start``."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30,
                          31, 31, 30, 31, 30, 31][month - 1])
    return date(year, month, day) - timedelta(days=1)


# --- Reading ------------------------------------------------------------------------------------------------


async def _load(session: AsyncSession, adhesion_id: uuid.UUID, *, lock: bool = False):  # noqa: ANN202
    participant, administrator = aliased(Entity), aliased(Entity)
    query = (select(Adhesion, Centre, participant, administrator, ClauseTemplate)
             .join(Centre, Centre.id == Adhesion.centre_id)
             .join(participant, participant.id == Adhesion.entity_id)
             .join(administrator, administrator.id == Centre.administering_entity_id)
             .join(ClauseTemplate, ClauseTemplate.id == Adhesion.template_id)
             .where(Adhesion.id == adhesion_id))
    if lock:
        query = query.with_for_update(of=Adhesion)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("La adhesión no existe o no tiene acceso a ella.")
    return row


def _party(caller: Caller, adhesion: Adhesion, centre: Centre) -> str | None:
    return states.party_of(role=caller.actor.role, entity_id=caller.actor.entity_id,
                           participant_id=adhesion.entity_id, administering_id=centre.administering_entity_id)


async def get_adhesion(caller: Caller, adhesion_id: uuid.UUID) -> AdhesionView:
    async with get_database().transaction(caller.ctx()) as s:
        adhesion, centre, participant, administrator, template = await _load(s, adhesion_id)
        party = _party(caller, adhesion, centre)
        view = AdhesionView(adhesion, centre, participant, administrator, template, party,
                            states.available(adhesion.state, party))
        view.events = list((await s.scalars(select(AdhesionEvent).where(AdhesionEvent.adhesion_id == adhesion_id)
                                            .order_by(AdhesionEvent.at, AdhesionEvent.id))).all())
        view.attachments = list((await s.scalars(
            select(AdhesionAttachment).where(AdhesionAttachment.adhesion_id == adhesion_id)
            .order_by(AdhesionAttachment.created_at))).all())
        view.documents = list((await s.scalars(
            select(RegisteredDocument).where(RegisteredDocument.subject_type == "adhesion",
                                             RegisteredDocument.subject_id == adhesion_id)
            .order_by(RegisteredDocument.created_at))).all())
        if view.documents:
            view.revisions = list((await s.scalars(
                select(DocumentRevision).where(DocumentRevision.document_id.in_([d.id for d in view.documents]))
                .order_by(DocumentRevision.created_at, DocumentRevision.number))).all())
    return view


@dataclass(frozen=True)
class ListedAdhesion:
    id: uuid.UUID
    state: str
    state_label: str
    entity: str
    centre: str
    centre_id: uuid.UUID
    end_date: date | None
    updated_at: datetime


async def list_adhesions(caller: Caller, *, state: str | None = None, centre_id: uuid.UUID | None = None,
                         entity_query: str | None = None, limit: int = 500) -> list[ListedAdhesion]:
    """What the caller may see (row-level security decides), with optional filters."""
    async with get_database().transaction(caller.ctx()) as s:
        query = (select(Adhesion.id, Adhesion.state, Entity.short_name, Centre.name, Centre.id, Adhesion.end_date,
                        Adhesion.updated_at)
                 .join(Entity, Entity.id == Adhesion.entity_id).join(Centre, Centre.id == Adhesion.centre_id)
                 .order_by(Adhesion.updated_at.desc()).limit(limit))
        if state:
            query = query.where(Adhesion.state == state)
        if centre_id:
            query = query.where(Adhesion.centre_id == centre_id)
        if entity_query:
            like = f"%{entity_query.strip()}%"
            query = query.where(Entity.name.ilike(like) | Entity.short_name.ilike(like) | Entity.ruc.ilike(like))
        rows = (await s.execute(query)).all()
    return [ListedAdhesion(r[0], r[1], states.STATE_LABELS[r[1]], r[2], r[3], r[4], r[5], r[6]) for r in rows]


async def centres_for_new_adhesion(caller: Caller) -> list[tuple[Centre, Entity, list[CentreService]]]:
    async with get_database().transaction(caller.ctx()) as s:
        rows = (await s.execute(select(Centre, Entity).join(Entity, Entity.id == Centre.administering_entity_id)
                                .where(Centre.is_active).order_by(Centre.name))).all()
        services = (await s.scalars(select(CentreService).where(CentreService.entity_id == caller.actor.entity_id,
                                                                CentreService.is_active)
                                    .order_by(CentreService.code))).all()
    by_centre: dict[uuid.UUID, list[CentreService]] = {}
    for service in services:
        by_centre.setdefault(service.centre_id, []).append(service)
    return [(c, e, by_centre.get(c.id, [])) for c, e in rows]


# --- Recording a step -----------------------------------------------------------------------------------------


async def _dni(session: AsyncSession, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    return await session.scalar(select(User.dni).where(User.id == user_id))


async def _record(session: AsyncSession, caller: Caller, adhesion: Adhesion, *, action: str,
                  from_state: str | None, to_state: str | None, comment: str | None = None,
                  details: dict | None = None, actor: Actor | None = None) -> AdhesionEvent:
    actor = actor or caller.actor
    event = AdhesionEvent(
        adhesion_id=adhesion.id, entity_id=adhesion.entity_id, action=action, from_state=from_state,
        to_state=to_state, actor_user_id=actor.user_id, actor_name=actor.full_name or actor.role,
        actor_dni=await _dni(session, actor.user_id), actor_role=actor.role, actor_entity_id=actor.entity_id,
        actor_entity_name=actor.entity_name or None, ip=caller.ip if actor is caller.actor else None,
        user_agent=(caller.user_agent or "")[:400] or None if actor is caller.actor else None,
        auth_method=actor.auth_method, acr=actor.acr, comment=comment, details=details or {},
        at=datetime.now(UTC))
    session.add(event)
    await session.flush()
    await audit.record(session, caller.ctx(), action=f"adhesion.{action}", record_type="adhesion",
                       record_id=adhesion.id, actor_label=actor.email or actor.full_name or actor.role,
                       before={"estado": from_state} if from_state else None,
                       after={"estado": to_state, "motivo": comment, **(details or {})})
    return event


async def _notify(session: AsyncSession, caller: Caller, adhesion: Adhesion, centre: Centre,
                  participant: Entity, state: str, note: str | None = None) -> None:
    from sqlalchemy import text

    from app.worker.mail import queue_email

    settings = get_settings()
    link = f"{settings.base_url}/adhesiones/{adhesion.id}"
    for party in NEXT_PARTIES.get(state, ()):
        rows = (await session.execute(text("SELECT * FROM adhesion_recipients(:a, :p)"),
                                      {"a": adhesion.id, "p": party})).all()
        for email, name in rows:
            body = (f"Estimado(a) {name}:\n\nLa adhesión de {participant.name} al {centre.name} pasó al estado "
                    f"«{states.STATE_LABELS[state]}».\n")
            if note:
                body += f"\nDetalle: {note}\n"
            body += f"\nRevísela en: {link}\n\nPlataforma MAC · Este es un mensaje automático."
            await queue_email(session, to=email, subject=f"Adhesión {participant.short_name} · {centre.name}: "
                                                         f"{states.STATE_LABELS[state]}",
                              body=body, entity_id=caller.ctx().entity_id)


async def _set_state(session: AsyncSession, caller: Caller, row, transition: states.Transition, *,  # noqa: ANN001
                     comment: str | None = None, details: dict | None = None,
                     actor: Actor | None = None) -> AdhesionEvent:
    adhesion, centre, participant, _administrator, _template = row
    before = adhesion.state
    adhesion.state = transition.target
    # The reason shown with the state: why it was observed, suspended, rejected or is being terminated.
    adhesion.state_reason = comment if transition.needs_reason and transition.party != states.SGP else None
    if transition.target in (states.RECHAZADA, states.TERMINADA, states.OPINION_DESFAVORABLE):
        adhesion.state_reason = comment
    try:
        await session.flush()
    except DBAPIError as exc:  # the database's own gate (trigger) refused it
        raise Conflict(f"La base de datos rechazó el cambio de estado: {exc.orig}", code="puerta_sgp") from exc
    event = await _record(session, caller, adhesion, action=transition.action, from_state=before,
                          to_state=transition.target, comment=comment, details=details, actor=actor)
    await verification.set_subject_state(session, subject_type="adhesion", subject_id=adhesion.id,
                                         state=transition.target, label=states.STATE_LABELS[transition.target])
    await _notify(session, caller, adhesion, centre, participant, transition.target, comment)
    return event


# --- Creating and editing the draft ------------------------------------------------------------------------


async def current_template(session: AsyncSession) -> ClauseTemplate:
    template = (await session.scalars(select(ClauseTemplate).where(ClauseTemplate.status == "publicada")
                                      .order_by(ClauseTemplate.version.desc()).limit(1))).first()
    if template is None:
        raise Conflict("No hay una plantilla de cláusula publicada: pida al administrador que publique una.")
    return template


def _apply_data(adhesion: Adhesion, data: AdhesionCreate) -> None:
    adhesion.services = [s.model_dump() for s in data.services]
    adhesion.ans = [{**a.model_dump(), "target": str(a.target)} for a in data.ans]
    adhesion.modules = data.modules
    adhesion.area_m2 = data.area_m2
    adhesion.monthly_fee = data.monthly_fee
    adhesion.cofinancing = data.cofinancing.strip() or DEFAULT_COFINANCING
    adhesion.term_months = data.term_months
    adhesion.contact_name = data.contact_name
    adhesion.contact_email = data.contact_email


async def create_adhesion(caller: Caller, data: AdhesionCreate, *, previous_id: uuid.UUID | None = None) -> uuid.UUID:
    if caller.actor.role != "gestor_entidad":
        raise Forbidden("Solo el gestor de la entidad participante inicia una adhesión.")
    async with get_database().transaction(caller.ctx()) as s:
        centre = await s.get(Centre, data.centre_id)
        if centre is None or not centre.is_active:
            raise ValidationFailed("Elija un centro activo.", field="centre_id")
        open_states = [st for st in states.STATES if st not in states.FINAL]
        query = select(Adhesion.id).where(Adhesion.entity_id == caller.actor.entity_id,
                                          Adhesion.centre_id == centre.id, Adhesion.state.in_(open_states))
        if previous_id is not None:
            query = query.where(Adhesion.id != previous_id)
        if await s.scalar(query.limit(1)):
            raise Conflict("La entidad ya tiene una adhesión en curso o vigente en este centro.",
                           code="adhesion_duplicada")
        template = await current_template(s)
        adhesion = Adhesion(entity_id=caller.actor.entity_id, centre_id=centre.id, template_id=template.id,
                            state=states.BORRADOR, draft_code=verification.new_code(CODE_PREFIX),
                            previous_id=previous_id, document_version=0)
        _apply_data(adhesion, data)
        s.add(adhesion)
        await s.flush()
        await _record(s, caller, adhesion, action="crear", from_state=None, to_state=states.BORRADOR,
                      details={"plantilla_version": template.version, "renovacion_de": str(previous_id)
                               if previous_id else None})
        return adhesion.id


async def update_adhesion(caller: Caller, adhesion_id: uuid.UUID, data: AdhesionUpdate) -> None:
    async with get_database().transaction(caller.ctx()) as s:
        row = await _load(s, adhesion_id, lock=True)
        adhesion, centre = row[0], row[1]
        if _party(caller, adhesion, centre) != states.ENTIDAD:
            raise Forbidden("Solo el gestor de la entidad participante edita su solicitud.")
        if adhesion.state not in (states.BORRADOR, states.OBSERVADA):
            raise Conflict(f"Una adhesión en estado «{states.STATE_LABELS[adhesion.state]}» ya no se edita.")
        _apply_data(adhesion, data)
        if await s.scalar(select(RegisteredDocument.id).where(RegisteredDocument.code == adhesion.draft_code)):
            # A document was already issued for signature with the old data: the new data gets a new document.
            new_code = verification.new_code(CODE_PREFIX)
            await verification.supersede(s, code=adhesion.draft_code, by=new_code)
            adhesion.draft_code = new_code
        await _record(s, caller, adhesion, action="editar", from_state=adhesion.state, to_state=adhesion.state)


async def request_renewal(caller: Caller, adhesion_id: uuid.UUID) -> uuid.UUID:
    """A new draft that continues a vigente (or expired) adhesion with the same data."""
    view = await get_adhesion(caller, adhesion_id)
    if view.party != states.ENTIDAD:
        raise Forbidden("Solo el gestor de la entidad participante solicita la renovación.")
    if view.adhesion.state not in (states.VIGENTE, states.VENCIDA, states.SUSPENDIDA):
        raise Conflict("Solo se renueva una adhesión vigente, suspendida o vencida.")
    a = view.adhesion
    data = AdhesionCreate(centre_id=a.centre_id, services=a.services, ans=a.ans, modules=a.modules,
                          area_m2=a.area_m2, monthly_fee=a.monthly_fee, cofinancing=a.cofinancing,
                          term_months=a.term_months, contact_name=a.contact_name, contact_email=a.contact_email)
    return await create_adhesion(caller, data, previous_id=a.id)


# --- The document -----------------------------------------------------------------------------------------


def clause_data(row, code: str, issued_on: date) -> ClauseData:  # noqa: ANN001
    adhesion, centre, participant, administrator, template = row
    data = ClauseData(
        code=code, verification_url=verification.verification_url(get_settings().base_url, code),
        issued_on=issued_on, template_title=template.title, template_version=template.version, body="",
        participant=Party(participant.name, participant.ruc, "ENTIDAD PARTICIPANTE"),
        administrator=Party(administrator.name, administrator.ruc, "ENTIDAD ADMINISTRADORA"),
        centre_name=centre.name, centre_address=centre.address,
        services=tuple((s["code"], s["name"]) for s in adhesion.services), modules=adhesion.modules,
        area_m2=Decimal(adhesion.area_m2), monthly_fee=Decimal(adhesion.monthly_fee),
        cofinancing=adhesion.cofinancing, term_months=adhesion.term_months,
        ans=tuple(AnsTarget(a["service"], int(a["max_wait"]), int(a["max_attention"]), Decimal(str(a["target"])))
                  for a in adhesion.ans),
        demo=participant.is_demo or centre.is_demo or get_settings_is_demo(),
        revision_note=(f"Versión {adhesion.document_version + 1} del documento"
                       + (" · subsana las observaciones formuladas" if adhesion.state == states.OBSERVADA else "")))
    return ClauseData(**{**data.__dict__, "body": fill_template(template.body, placeholder_values(data))})


def get_settings_is_demo() -> bool:
    return signing.sealing_identity(get_settings()).is_demo


async def _issue_pdf(row, code: str, issued_on: date) -> bytes:  # noqa: ANN001
    """The document as issued: the layout plus one empty signature field per party (rendered in the pool)."""
    return await offload.run(_issued_document, clause_data(row, code, issued_on))


def _issued_document(data: ClauseData) -> bytes:
    pdf = render_clause(data)
    pages = int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])
    return signing.reserve_signature_fields(pdf, page=pages - 1, boxes=SIGNATURE_BOXES)


async def preview_pdf(caller: Caller, adhesion_id: uuid.UUID) -> tuple[str, bytes]:
    """The exact document the entity would sign now (same code, same bytes as the stored original today)."""
    async with get_database().transaction(caller.ctx()) as s:
        row = await _load(s, adhesion_id)
    if row[0].state not in (states.BORRADOR, states.OBSERVADA):
        return await document_pdf(caller, adhesion_id)
    return f"clausula-{row[0].draft_code}-vista-previa.pdf", await _issue_pdf(row, row[0].draft_code, today_lima())


async def document_pdf(caller: Caller, adhesion_id: uuid.UUID, code: str | None = None) -> tuple[str, bytes]:
    """The latest stored revision of the adhesion's current (or given) document."""
    async with get_database().transaction(caller.ctx()) as s:
        adhesion = (await _load(s, adhesion_id))[0]
        code = code or adhesion.document_code
        if code is None:
            raise NotFound("La adhesión aún no tiene un documento firmado.")
        document = await s.scalar(select(RegisteredDocument).where(RegisteredDocument.code == code,
                                                                   RegisteredDocument.subject_id == adhesion.id))
        if document is None:
            raise NotFound("El documento no existe o no tiene acceso a él.")
        content = await verification.latest_content(s, document.id)
    return f"clausula-{code}.pdf", content


async def attachment_file(caller: Caller, adhesion_id: uuid.UUID, attachment_id: uuid.UUID) -> Upload:
    async with get_database().transaction(caller.ctx()) as s:
        await _load(s, adhesion_id)
        attachment = await s.get(AdhesionAttachment, attachment_id)
        if attachment is None or attachment.adhesion_id != adhesion_id:
            raise NotFound("El adjunto no existe.")
        content = (await s.execute(select(AdhesionAttachment.content)
                                   .where(AdhesionAttachment.id == attachment_id))).scalar_one()
        return Upload(attachment.filename, attachment.content_type, content)


def check_attachment(upload: Upload) -> None:
    if len(upload.content) == 0:
        raise ValidationFailed("El adjunto está vacío.", field="adjunto")
    if len(upload.content) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed("El adjunto supera el tamaño máximo de 5 MB.", field="adjunto")
    magic = ATTACHMENT_TYPES.get(upload.content_type)
    if magic is None or not upload.content.startswith(magic):
        raise ValidationFailed("El adjunto debe ser un PDF, PNG o JPEG (y su contenido debe corresponder al tipo).",
                               field="adjunto")


# --- Transitions that need no signature ----------------------------------------------------------------------


async def transition(caller: Caller, adhesion_id: uuid.UUID, action: str, *, reason: str | None = None,
                     checklist: list[str] | None = None, attachment: Upload | None = None) -> str:
    """Take one step of the table (evaluate, observe, forward to the SGP, opinions, suspend, ...)."""
    reason = (reason or "").strip() or None
    if attachment is not None:
        check_attachment(attachment)
    async with get_database().transaction(caller.ctx()) as s:
        row = await _load(s, adhesion_id, lock=True)
        adhesion, centre = row[0], row[1]
        step = states.check(action, adhesion.state, _party(caller, adhesion, centre))
        if step.needs_signature:
            raise Conflict("Este paso se cumple firmando el documento (en la plataforma o subiendo el PDF firmado).",
                           code="requiere_firma")
        if step.needs_reason and not reason:
            raise ValidationFailed("Escriba el motivo o la fundamentación.", field="motivo")
        details: dict = {}
        if action == "derivar_sgp":
            missing = [label for key, label in EVALUATION_CHECKLIST if key not in (checklist or [])]
            if missing:
                raise ValidationFailed("Antes de derivar a la SGP verifique: " + "; ".join(missing) + ".",
                                       field="lista_verificacion")
            details["lista_verificacion"] = [key for key, _ in EVALUATION_CHECKLIST]
        if action == "observar":
            adhesion.draft_code = verification.new_code(CODE_PREFIX)  # the corrected version gets its own code
        event = await _set_state(s, caller, row, step, comment=reason, details=details)
        if attachment is not None:
            s.add(AdhesionAttachment(adhesion_id=adhesion.id, entity_id=adhesion.entity_id, event_id=event.id,
                                     filename=attachment.filename[:200], content_type=attachment.content_type,
                                     size=len(attachment.content),
                                     sha256=verification.sha256_hex(attachment.content), content=attachment.content))
        if step.target == states.VIGENTE:
            await _continue_predecessor(s, caller, adhesion)
        return step.target


async def _continue_predecessor(session: AsyncSession, caller: Caller, adhesion: Adhesion) -> None:
    """When a renewal comes into force, the adhesion it continues becomes ``renovada``."""
    if adhesion.previous_id is None:
        return
    previous_row = await _load(session, adhesion.previous_id, lock=True)
    step = states.find("renovar", previous_row[0].state)
    if step is not None:
        await _set_state(session, caller, previous_row, step, actor=SYSTEM_ACTOR,
                         details={"renovada_por": str(adhesion.id)})


# --- Signing ------------------------------------------------------------------------------------------------


async def _reauthenticate(caller: Caller, password: str) -> None:
    from app.auth.services import authenticate
    from app.errors import AuthenticationFailed

    if not password:
        raise ValidationFailed("Para firmar, ingrese su contraseña nuevamente.", field="contrasena")
    try:
        user_id = await authenticate(caller.actor.email, password, ip=caller.ip)
    except AuthenticationFailed as exc:
        hint = ""
        if caller.actor.auth_method == "oidc":
            hint = (" Usted ingresó con ID GOB.PE: para firmar en la plataforma use la contraseña de su cuenta, o "
                    "firme digitalmente con el certificado de su entidad y suba el PDF.")
        raise Forbidden(f"No se pudo confirmar su identidad: {exc.message}{hint}", code="reautenticacion") from exc
    if user_id != caller.actor.user_id:
        raise Forbidden("No se pudo confirmar su identidad.", code="reautenticacion")


def _acceptance_dates(adhesion: Adhesion, start: date | None, term_months: int | None) -> tuple[date, int]:
    if start is None:
        raise ValidationFailed("Indique la fecha de inicio de la vigencia.", field="fecha_inicio")
    if start < today_lima() - timedelta(days=30):
        raise ValidationFailed("La fecha de inicio no puede ser anterior en más de 30 días.", field="fecha_inicio")
    return start, term_months or adhesion.term_months


def _accept_step_up(caller: Caller, proof: Reauthentication) -> Caller:
    """The caller, authenticated as the fresh step-up proof says (so the evidence names that method and level).

    The proof must be this person's, by ID GOB.PE, and at most ``REAUTH_WINDOW_SECONDS`` old.
    """
    if proof.user_id != caller.actor.user_id or proof.method != "oidc" or not is_recent(proof.at):
        raise Forbidden("Su confirmación de identidad con ID GOB.PE venció (dura 5 minutos) o no le corresponde. "
                        "Vuelva a confirmar su identidad para firmar.", code="reautenticacion")
    return replace(caller, actor=replace(caller.actor, auth_method=proof.method, acr=proof.acr))


async def sign_in_platform(caller: Caller, adhesion_id: uuid.UUID, *, password: str = "",
                           reauthentication: Reauthentication | None = None, start_date: date | None = None,
                           term_months: int | None = None, skip_reauthentication: bool = False) -> str:
    """Electronic signature: the person confirms who they are, the platform seals with its certificate.

    The confirmation is the password, or (``reauthentication``) a fresh step-up proof from ID GOB.PE taken from
    the session by the caller, which then must not be used again. ``skip_reauthentication`` exists only for the
    demo loader (which acts for demo users without their password); no route passes it.
    """
    async with get_database().transaction(caller.ctx()) as s:  # refuse early, before asking the password check
        row = await _load(s, adhesion_id)
        party = _party(caller, row[0], row[1])
        states.check("presentar" if party == states.ENTIDAD else "aceptar", row[0].state, party)
    if reauthentication is not None:
        caller = _accept_step_up(caller, reauthentication)
    elif not skip_reauthentication:
        await _reauthenticate(caller, password)
    return await _sign(caller, adhesion_id, external=None, start_date=start_date, term_months=term_months)


async def upload_signed_pdf(caller: Caller, adhesion_id: uuid.UUID, pdf: bytes, *, start_date: date | None = None,
                            term_months: int | None = None) -> str:
    """Digital signature made outside the platform (FIRMA PERÚ): validated, then stored as the next revision."""
    if len(pdf) > MAX_SIGNED_PDF_BYTES:
        raise ValidationFailed("El PDF supera el tamaño máximo de 20 MB.", field="pdf")
    if not pdf.startswith(b"%PDF-"):
        raise ValidationFailed("El archivo no es un PDF.", field="pdf")
    return await _sign(caller, adhesion_id, external=pdf, start_date=start_date, term_months=term_months)


async def _sign(caller: Caller, adhesion_id: uuid.UUID, *, external: bytes | None, start_date: date | None,
                term_months: int | None) -> str:
    settings = get_settings()
    async with get_database().transaction(caller.ctx()) as s:
        row = await _load(s, adhesion_id, lock=True)
        adhesion, centre, participant, administrator, _template = row
        party = _party(caller, adhesion, centre)
        action = "presentar" if party == states.ENTIDAD else "aceptar"
        step = states.check(action, adhesion.state, party)
        field_name = FIELD_ENTIDAD if party == states.ENTIDAD else FIELD_ADMINISTRADORA
        signer_entity = participant if party == states.ENTIDAD else administrator
        if action == "aceptar":
            start_date, term_months = _acceptance_dates(adhesion, start_date, term_months)
        # The document to sign: a fresh issue for the entity, the stored signed one for the countersignature.
        if action == "presentar":
            code = adhesion.draft_code
            # Already issued for signature (downloaded for FIRMA PERÚ)? Then that exact document is signed.
            document = await s.scalar(select(RegisteredDocument).where(RegisteredDocument.code == code))
            base = await verification.latest_content(s, document.id) if document else \
                await _issue_pdf(row, code, today_lima())
        else:
            code = adhesion.document_code
            document = await s.scalar(select(RegisteredDocument).where(RegisteredDocument.code == code))
            base = await verification.latest_content(s, document.id)
        dni = await _dni(s, caller.actor.user_id)
        if external is None:
            method = {"contrasena": "contraseña", "oidc": "ID GOB.PE (OIDC)"}.get(caller.actor.auth_method,
                                                                                  caller.actor.auth_method)
            sealed = await offload.run_async(
                signing.seal, base, field_name=field_name, identity=signing.sealing_identity(settings),
                stamp_lines=["Firmado electrónicamente por:",
                             caller.actor.full_name[:48] + (f" (DNI {dni})" if dni else ""),
                             f"por {signer_entity.short_name[:30]} (RUC {signer_entity.ruc})",
                             f"Autenticación: {method}", "Sello: Plataforma MAC (PAdES)"],
                signer_name=f"{caller.actor.full_name} ({signer_entity.short_name})",
                reason="Presentación de la Cláusula de Adhesión" if action == "presentar"
                else "Aceptación y contrafirma de la Cláusula de Adhesión",
                tsa_url=settings.tsa_url, level=settings.sealing_level)
            signed, level, signed_at = sealed.pdf, sealed.level, sealed.signed_at
            kind, signer = "sello_plataforma", f"{caller.actor.full_name} · {signer_entity.short_name}"
            label = ("Firma electrónica de la entidad participante" if party == states.ENTIDAD
                     else "Contrafirma electrónica de la entidad administradora") + " (sello de la plataforma)"
            details = {"firma": "electronica_con_sello", "nivel": level, "autenticacion": caller.actor.auth_method,
                       "acr": caller.actor.acr, "dni": dni, "sello": signing.sealing_identity(settings).label}
        else:
            if action == "presentar":
                # An upload must sign the document issued for this version: the one the entity downloaded.
                base = await _issued_original_for_upload(s, caller, row, external)
            result = await offload.run_async(
                signing.validate_external_signature, external, base, field_name=field_name, expected_ruc=signer_entity.ruc,
                trust_roots=signing.load_trust_roots(settings.signature_trust_roots))
            signed, level, signed_at = external, result.summary.level, result.summary.signed_at
            kind, signer = "firma_digital", result.summary.signer
            label = ("Firma digital de la entidad participante" if party == states.ENTIDAD
                     else "Contrafirma digital de la entidad administradora") + " (certificado de la entidad)"
            details = {"firma": "digital", "nivel": level, "certificado": result.certificate_subject,
                       "emisor": result.certificate_issuer, "serie": result.certificate_serial}
        if action == "presentar" and document is None:
            document = await s.scalar(select(RegisteredDocument).where(RegisteredDocument.code == code))
            if document is None:
                if adhesion.document_code:
                    await verification.supersede(s, code=adhesion.document_code, by=code)
                document = await verification.register_document(
                    s, code=code, kind=DOCUMENT_KIND, title=f"Cláusula de Adhesión de {participant.short_name} al "
                                                            f"{centre.name}",
                    subject_type="adhesion", subject_id=adhesion.id, subject_state=adhesion.state,
                    subject_state_label=states.STATE_LABELS[adhesion.state], entity_id=participant.id,
                    counterpart_entity_id=administrator.id, is_demo=participant.is_demo or centre.is_demo)
                await verification.add_revision(s, document, base, kind="original",
                                                label="Documento emitido por la plataforma (campos de firma vacíos)")
        revision = await verification.add_revision(s, document, signed, kind=kind, label=label, signer=signer,
                                                   signed_at=signed_at, level=level)
        details |= {"documento": code, "revision": revision.number, "sha256": revision.sha256}
        if action == "presentar":
            adhesion.document_code = code
            adhesion.document_version += 1
        else:
            adhesion.start_date = start_date
            adhesion.term_months = term_months
            adhesion.end_date = add_months(start_date, term_months)
            details |= {"fecha_inicio": start_date.isoformat(), "fecha_fin": adhesion.end_date.isoformat()}
        await _set_state(s, caller, row, step, details=details)
        if step.target == states.ACEPTADA and start_date <= today_lima():
            await _set_state(s, caller, row, states.find("iniciar_vigencia", states.ACEPTADA), actor=SYSTEM_ACTOR,
                             details={"fecha_inicio": start_date.isoformat()})
            await _continue_predecessor(s, caller, adhesion)
        return adhesion.state


async def _issued_original_for_upload(session: AsyncSession, caller: Caller, row, upload: bytes) -> bytes:  # noqa: ANN001
    """The original the entity downloaded and signed outside: issued (and registered) at download time."""
    adhesion = row[0]
    document = await session.scalar(select(RegisteredDocument).where(RegisteredDocument.code == adhesion.draft_code))
    if document is None:
        raise signing.SignatureRejected(
            "El PDF no corresponde al documento emitido por la plataforma: descargue primero el documento para firma "
            "desde la página de la adhesión y fírmelo sin modificarlo.", code="documento_distinto")
    first = (await session.execute(select(DocumentRevision.content).where(DocumentRevision.document_id == document.id,
                                                                          DocumentRevision.number == 0))).scalar_one()
    return first


async def issue_for_external_signature(caller: Caller, adhesion_id: uuid.UUID) -> tuple[str, bytes]:
    """Issue (once per version) and register the document the entity will sign with its own certificate."""
    async with get_database().transaction(caller.ctx()) as s:
        row = await _load(s, adhesion_id, lock=True)
        adhesion, centre, participant, administrator, _ = row
        party = _party(caller, adhesion, centre)
        if party == states.ADMINISTRADORA and adhesion.state == states.OPINION_FAVORABLE:
            document = await s.scalar(select(RegisteredDocument).where(RegisteredDocument.code == adhesion.document_code))
            return f"clausula-{adhesion.document_code}-para-contrafirma.pdf", \
                await verification.latest_content(s, document.id)
        states.check("presentar", adhesion.state, party)
        code = adhesion.draft_code
        document = await s.scalar(select(RegisteredDocument).where(RegisteredDocument.code == code))
        if document is None:
            content = await _issue_pdf(row, code, today_lima())
            if adhesion.document_code:
                await verification.supersede(s, code=adhesion.document_code, by=code)
            document = await verification.register_document(
                s, code=code, kind=DOCUMENT_KIND,
                title=f"Cláusula de Adhesión de {participant.short_name} al {centre.name}", subject_type="adhesion",
                subject_id=adhesion.id, subject_state=adhesion.state,
                subject_state_label=states.STATE_LABELS[adhesion.state], entity_id=participant.id,
                counterpart_entity_id=administrator.id, is_demo=participant.is_demo or centre.is_demo)
            await verification.add_revision(s, document, content, kind="original",
                                            label="Documento emitido por la plataforma (campos de firma vacíos)")
            await _record(s, caller, adhesion, action="emitir_para_firma", from_state=adhesion.state,
                          to_state=adhesion.state, details={"documento": code,
                                                            "sha256": verification.sha256_hex(content)})
        else:
            content = (await s.execute(select(DocumentRevision.content).where(
                DocumentRevision.document_id == document.id, DocumentRevision.number == 0))).scalar_one()
        return f"clausula-{code}-para-firma.pdf", content


# --- The sealed evidence record -------------------------------------------------------------------------------


async def evidence_pdf(caller: Caller, adhesion_id: uuid.UUID) -> tuple[str, bytes]:
    """The constancia: every step with who, when, where from and how they authenticated, plus the SHA-256 of
    the original and of each signed revision; sealed by the platform."""
    view = await get_adhesion(caller, adhesion_id)
    a = view.adhesion
    data = EvidenceData(
        title=f"Constancia de trazabilidad · Adhesión de {view.participant.short_name} al {view.centre.name}",
        adhesion_id=str(a.id), participant=f"{view.participant.name} (RUC {view.participant.ruc})",
        administrator=f"{view.administrator.name} (RUC {view.administrator.ruc})", centre=view.centre.name,
        state=view.state_label, generated_at=datetime.now(UTC),
        events=tuple(EvidenceEvent(at=e.at, action=e.action, from_state=e.from_state, to_state=e.to_state,
                                   actor=e.actor_name, dni=e.actor_dni, role=e.actor_role,
                                   entity=e.actor_entity_name, ip=str(e.ip) if e.ip else None,
                                   user_agent=e.user_agent, auth_method=e.auth_method, acr=e.acr,
                                   comment=e.comment) for e in view.events),
        revisions=tuple(EvidenceRevision(code=next(d.code for d in view.documents if d.id == r.document_id),
                                         number=r.number, label=r.label, sha256=r.sha256, size=r.size,
                                         at=r.created_at, level=r.level) for r in view.revisions),
        demo=signing.sealing_identity(get_settings()).is_demo)
    pdf = await offload.run(render_evidence, data)
    sealed = await offload.run_async(signing.seal_new_field, pdf, field_name="SelloConstancia",
                                          identity=signing.sealing_identity(get_settings()),
                                          reason="Constancia de trazabilidad de la adhesión",
                                          tsa_url=get_settings().tsa_url, level=get_settings().sealing_level)
    return f"constancia-adhesion-{a.id}.pdf", sealed.pdf


# --- Clause templates (platform administrator) ----------------------------------------------------------------


def _require_admin(caller: Caller) -> None:
    if caller.actor.role != ROLE_ADMIN:
        raise Forbidden("Solo el administrador de la plataforma gestiona las plantillas.")


async def list_templates(caller: Caller) -> list[ClauseTemplate]:
    async with get_database().transaction(caller.ctx()) as s:
        return list((await s.scalars(select(ClauseTemplate).order_by(ClauseTemplate.version.desc()))).all())


async def get_template(caller: Caller, template_id: uuid.UUID) -> ClauseTemplate:
    async with get_database().transaction(caller.ctx()) as s:
        template = await s.get(ClauseTemplate, template_id)
        if template is None:
            raise NotFound("La plantilla no existe.")
        return template


async def create_template_draft(caller: Caller) -> uuid.UUID:
    """A new draft version, starting from the latest version's text."""
    _require_admin(caller)
    async with get_database().transaction(caller.ctx()) as s:
        top = await s.scalar(select(func.max(ClauseTemplate.version))) or 0
        # The text starts from the version in use (the published one), else from the latest version.
        base = (await s.scalars(select(ClauseTemplate)
                                .order_by((ClauseTemplate.status == "publicada").desc(), ClauseTemplate.version.desc())
                                .limit(1))).first()
        template = ClauseTemplate(version=top + 1, title=base.title if base else "Cláusula de Adhesión",
                                  body=base.body if base else "", status="borrador")
        s.add(template)
        await s.flush()
        await audit.record(s, caller.ctx(), action="plantilla.crear", record_type="plantilla_clausula",
                           record_id=template.id, after={"version": template.version})
        return template.id


async def update_template(caller: Caller, template_id: uuid.UUID, *, title: str, body: str) -> None:
    _require_admin(caller)
    unknown = unknown_placeholders(body)
    if unknown:
        raise ValidationFailed(f"Marcadores desconocidos: {', '.join(unknown)}.", field="cuerpo")
    if len(title.strip()) < 5 or len(body.strip()) < 50:
        raise ValidationFailed("El título y el texto de la cláusula son obligatorios.", field="cuerpo")
    async with get_database().transaction(caller.ctx()) as s:
        template = await s.get(ClauseTemplate, template_id, with_for_update=True)
        if template is None:
            raise NotFound("La plantilla no existe.")
        if template.status != "borrador":
            raise Conflict("Una versión publicada o retirada no se modifica: cree una nueva versión.")
        template.title, template.body = title.strip(), body
        await audit.record(s, caller.ctx(), action="plantilla.editar", record_type="plantilla_clausula",
                           record_id=template.id, after={"version": template.version})


async def publish_template(caller: Caller, template_id: uuid.UUID) -> None:
    """Publish a draft; the previously published version is retired (adhesions keep the version they used)."""
    _require_admin(caller)
    async with get_database().transaction(caller.ctx()) as s:
        template = await s.get(ClauseTemplate, template_id, with_for_update=True)
        if template is None:
            raise NotFound("La plantilla no existe.")
        if template.status != "borrador":
            raise Conflict("Solo se publica una versión en borrador.")
        now = datetime.now(UTC)
        for other in (await s.scalars(select(ClauseTemplate).where(ClauseTemplate.status == "publicada"))).all():
            other.status, other.retired_at = "retirada", now
        template.status, template.published_at = "publicada", now
        await audit.record(s, caller.ctx(), action="plantilla.publicar", record_type="plantilla_clausula",
                           record_id=template.id, after={"version": template.version})


async def retire_template(caller: Caller, template_id: uuid.UUID) -> None:
    _require_admin(caller)
    async with get_database().transaction(caller.ctx()) as s:
        template = await s.get(ClauseTemplate, template_id, with_for_update=True)
        if template is None:
            raise NotFound("La plantilla no existe.")
        if template.status != "publicada":
            raise Conflict("Solo se retira una versión publicada.")
        template.status, template.retired_at = "retirada", datetime.now(UTC)
        await audit.record(s, caller.ctx(), action="plantilla.retirar", record_type="plantilla_clausula",
                           record_id=template.id, after={"version": template.version})
