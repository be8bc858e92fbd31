"""REST API for adhesions under /api/v1/adhesiones: the same services and the same guards as the pages.

Errors are RFC 9457 problem+json (app.web.responses). The SGP gates are enforced by the state machine in the
service and by the database trigger, so no call here can skip them.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from app.adhesion import services
from app.adhesion.routes import ACTORS, SIGNERS, VIEWERS, caller_of, pdf_response
from app.adhesion.schemas import (
    AdhesionCreate,
    AdhesionRead,
    AdhesionSummary,
    AdhesionUpdate,
    EventRead,
    PlatformSignatureRequest,
    ServiceLine,
    TransitionRequest,
)
from app.auth.guards import requires_role
from app.db import ROLE_GESTOR
from app.errors import ValidationFailed


def to_read(view: services.AdhesionView) -> AdhesionRead:
    a = view.adhesion
    return AdhesionRead(
        id=a.id, estado=a.state, estado_texto=view.state_label, entidad=view.participant.name,
        ruc_entidad=view.participant.ruc, centro=view.centre.name, entidad_administradora=view.administrator.name,
        servicios=[ServiceLine(**s) for s in a.services], modulos=a.modules, area_m2=a.area_m2,
        importe_locacion=a.monthly_fee, plazo_meses=a.term_months, fecha_inicio=a.start_date, fecha_fin=a.end_date,
        codigo_documento=a.document_code, version_documento=a.document_version,
        acciones_disponibles=list(dict.fromkeys(t.action for t in view.actions)),
        eventos=[EventRead.model_validate(e) for e in view.events])


class AdhesionApi(Controller):
    path = "/api/v1/adhesiones"
    tags = ["adhesiones"]

    @get("/", guards=[requires_role(*VIEWERS)], summary="Adhesiones visibles para quien consulta")
    async def list_adhesions(self, request: Request, estado: FromQuery[str | None] = None,
                             centro: FromQuery[uuid.UUID | None] = None) -> list[AdhesionSummary]:
        rows = await services.list_adhesions(caller_of(request), state=estado, centre_id=centro)
        return [AdhesionSummary(id=r.id, estado=r.state, estado_texto=r.state_label, entidad=r.entity,
                                centro=r.centre, fecha_fin=r.end_date, actualizado=r.updated_at) for r in rows]

    @post("/", guards=[requires_role(ROLE_GESTOR)], status_code=HTTP_201_CREATED,
          summary="Iniciar una adhesión (borrador)")
    async def create_adhesion(self, request: Request, data: JSONBody[AdhesionCreate]) -> AdhesionRead:
        caller = caller_of(request)
        adhesion_id = await services.create_adhesion(caller, data)
        return to_read(await services.get_adhesion(caller, adhesion_id))

    @get("/{adhesion_id:uuid}", guards=[requires_role(*VIEWERS)], summary="Una adhesión con su recorrido")
    async def get_adhesion(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> AdhesionRead:
        return to_read(await services.get_adhesion(caller_of(request), adhesion_id))

    @put("/{adhesion_id:uuid}", guards=[requires_role(ROLE_GESTOR)], summary="Editar el borrador u observada")
    async def update_adhesion(self, request: Request, adhesion_id: FromPath[uuid.UUID],
                              data: JSONBody[AdhesionUpdate]) -> AdhesionRead:
        caller = caller_of(request)
        await services.update_adhesion(caller, adhesion_id, data)
        return to_read(await services.get_adhesion(caller, adhesion_id))

    @post("/{adhesion_id:uuid}/transiciones", guards=[requires_role(*ACTORS)], status_code=200,
          summary="Dar un paso de la tabla de transiciones (evaluar, observar, derivar_sgp, opinar_…)")
    async def take_transition(self, request: Request, adhesion_id: FromPath[uuid.UUID],
                              data: JSONBody[TransitionRequest]) -> AdhesionRead:
        caller = caller_of(request)
        await services.transition(caller, adhesion_id, data.accion, reason=data.motivo,
                                  checklist=data.lista_verificacion)
        return to_read(await services.get_adhesion(caller, adhesion_id))

    @post("/{adhesion_id:uuid}/transiciones/con-adjunto", guards=[requires_role(*ACTORS)], status_code=200,
          summary="Dar un paso con un documento adjunto (observaciones, opinión en PDF): multipart con "
                  "accion, motivo, lista_verificacion y adjunto")
    async def take_transition_with_attachment(
            self, request: Request, adhesion_id: FromPath[uuid.UUID],
            data: Annotated[dict, Body(media_type=RequestEncodingType.MULTI_PART)]) -> AdhesionRead:
        from app.adhesion.routes import read_upload, values

        caller = caller_of(request)
        await services.transition(caller, adhesion_id, str(data.get("accion", "")), reason=str(data.get("motivo") or ""),
                                  checklist=values(data, "lista_verificacion"),
                                  attachment=await read_upload(data.get("adjunto")))
        return to_read(await services.get_adhesion(caller, adhesion_id))

    @post("/{adhesion_id:uuid}/firma", guards=[requires_role(*SIGNERS)], status_code=200,
          summary="Firma electrónica en la plataforma (exige la contraseña de nuevo)")
    async def sign(self, request: Request, adhesion_id: FromPath[uuid.UUID],
                   data: JSONBody[PlatformSignatureRequest]) -> AdhesionRead:
        caller = caller_of(request)
        await services.sign_in_platform(caller, adhesion_id, password=data.contrasena, start_date=data.fecha_inicio,
                                        term_months=data.plazo_meses)
        return to_read(await services.get_adhesion(caller, adhesion_id))

    @post("/{adhesion_id:uuid}/firma-externa", guards=[requires_role(*SIGNERS)], status_code=200,
          request_max_body_size=services.MAX_SIGNED_PDF_BYTES + 64 * 1024,
          summary="Subir el PDF firmado con el certificado de la entidad (FAU + RUC)")
    async def upload_signed(self, request: Request, adhesion_id: FromPath[uuid.UUID],
                            data: Annotated[dict, Body(media_type=RequestEncodingType.MULTI_PART)]) -> AdhesionRead:
        caller = caller_of(request)
        file = data.get("pdf")
        if not isinstance(file, UploadFile):
            raise ValidationFailed("Adjunte el PDF firmado en el campo «pdf».", field="pdf")
        try:
            start = date.fromisoformat(str(data["fecha_inicio"])) if data.get("fecha_inicio") else None
            term = int(str(data["plazo_meses"])) if data.get("plazo_meses") else None
        except ValueError as exc:
            raise ValidationFailed("Revise la fecha de inicio (AAAA-MM-DD) y el plazo.", field="fecha_inicio") from exc
        await services.upload_signed_pdf(caller, adhesion_id, await file.read(), start_date=start, term_months=term)
        return to_read(await services.get_adhesion(caller, adhesion_id))

    @get("/{adhesion_id:uuid}/documento", guards=[requires_role(*VIEWERS)], media_type="application/pdf",
         summary="El PDF firmado vigente (última revisión)")
    async def document(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Response:
        filename, content = await services.document_pdf(caller_of(request), adhesion_id)
        return pdf_response(filename, content, inline=False)

    @get("/{adhesion_id:uuid}/para-firma", guards=[requires_role(*SIGNERS)], media_type="application/pdf",
         summary="El PDF emitido para firmar fuera de la plataforma")
    async def for_signature(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Response:
        filename, content = await services.issue_for_external_signature(caller_of(request), adhesion_id)
        return pdf_response(filename, content, inline=False)

    @get("/{adhesion_id:uuid}/constancia", guards=[requires_role(*VIEWERS)], media_type="application/pdf",
         summary="Constancia de trazabilidad sellada")
    async def evidence(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Response:
        filename, content = await services.evidence_pdf(caller_of(request), adhesion_id)
        return pdf_response(filename, content, inline=False)


controllers = [AdhesionApi]
