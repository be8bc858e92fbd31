"""Adhesion pages (Spanish UI). Thin: parse, authorise (guards + the state machine in the service), call a
service, render. The public verification page lives in :mod:`app.documents.verification_routes`."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect
from pydantic import ValidationError

from app.adhesion import services, states
from app.adhesion.pdf import PLACEHOLDERS
from app.adhesion.schemas import MAX_SERVICES, AdhesionCreate, AdhesionUpdate
from app.auth import oidc, reauth
from app.auth.actor import SESSION_OIDC_SUBJECT, client_ip, get_actor
from app.auth.guards import requires_role
from app.db import ROLE_ADMIN, ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_GESTOR, ROLE_SUPERVISOR_SGP
from app.documents.verification_routes import VerificationController
from app.errors import DomainError, Forbidden, ValidationFailed
from app.web.forms import Form
from app.web.page import Page

Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
VIEWERS = (ROLE_GESTOR, ROLE_FINANZAS, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN)
ACTORS = (ROLE_GESTOR, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP)
SIGNERS = (ROLE_GESTOR, ROLE_COORDINADOR)


def _step_up_context(request: Request) -> dict[str, Any]:
    """What the signing page offers a person who signed in with ID GOB.PE: to confirm there, or (already
    confirmed, and still fresh) to sign with that confirmation."""
    actor = get_actor(request)
    offered = bool(actor and actor.auth_method == "oidc" and request.session.get(SESSION_OIDC_SUBJECT)
                   and oidc.is_configured())
    proof = reauth.peek(request.session)
    ready = bool(proof and actor and proof.user_id == actor.user_id and reauth.is_recent(proof.at))
    return {"oidc_step_up": offered, "oidc_confirmed": ready, "oidc_acr": proof.acr if ready and proof else None}


def caller_of(request: Request) -> services.Caller:
    return services.Caller(get_actor(request), client_ip(request), request.headers.get("user-agent"))


def pdf_response(filename: str, content: bytes, *, inline: bool = True) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"',
                             "Cache-Control": "no-store"})


def values(data: dict, key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _decimal(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value or "0").replace(",", ".").strip())
    except InvalidOperation as exc:
        raise ValidationFailed("Ingrese un número válido.", field=field) from exc


def parse_services(text: str) -> list[dict[str, str]]:
    """One service per line: ``CÓDIGO | Nombre del servicio``."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if len(lines) == MAX_SERVICES:
            raise ValidationFailed(f"Una adhesión admite como máximo {MAX_SERVICES} servicios.", field="servicios")
        code, sep, name = line.partition("|")
        if not sep:
            raise ValidationFailed(f"Línea {number} de servicios: use «CÓDIGO | Nombre del servicio».",
                                   field="servicios")
        lines.append({"code": code.strip().upper(), "name": name.strip()})
    return lines


def parse_ans(text: str) -> list[dict[str, Any]]:
    """One line per service: ``Servicio | espera máx. | atención máx. | meta %``."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4:
            raise ValidationFailed(f"Línea {number} de ANS: use «Servicio | espera | atención | meta %».",
                                   field="ans")
        try:
            rows.append({"service": parts[0], "max_wait": int(parts[1]), "max_attention": int(parts[2]),
                         "target": Decimal(parts[3].replace(",", "."))})
        except (ValueError, InvalidOperation) as exc:
            raise ValidationFailed(f"Línea {number} de ANS: los minutos y la meta deben ser números.",
                                   field="ans") from exc
    return rows


def form_to_schema(data: dict, schema: type[AdhesionCreate]) -> AdhesionCreate:
    raw = {
        "centre_id": data.get("centro") or None,
        "services": parse_services(str(data.get("servicios", ""))),
        "ans": parse_ans(str(data.get("ans", ""))),
        "modules": data.get("modulos") or 0,
        "area_m2": _decimal(data.get("area_m2"), "area_m2"),
        "monthly_fee": _decimal(data.get("importe_locacion"), "importe_locacion"),
        "cofinancing": str(data.get("cofinanciamiento", "")),
        "term_months": data.get("plazo_meses") or 24,
        "contact_name": str(data.get("contacto_nombre", "")),
        "contact_email": str(data.get("contacto_correo", "")),
    }
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        names = {"centre_id": "centro", "services": "servicios", "ans": "ans", "modules": "módulos",
                 "area_m2": "área", "monthly_fee": "importe por uso de locación", "term_months": "plazo"}
        errors = [{"campo": names.get(str(e["loc"][0]), str(e["loc"][0])), "mensaje": e["msg"]} for e in exc.errors()]
        raise ValidationFailed("Revise los datos: " + "; ".join(f"{e['campo']}: {e['mensaje']}" for e in errors),
                               errors=errors) from exc


def form_defaults(adhesion=None) -> dict[str, str]:  # noqa: ANN001
    if adhesion is None:
        return {"servicios": "", "ans": "", "modulos": "1", "area_m2": "6.00", "importe_locacion": "0.00",
                "cofinanciamiento": services.DEFAULT_COFINANCING, "plazo_meses": "24", "contacto_nombre": "",
                "contacto_correo": "", "centro": ""}
    return {"servicios": "\n".join(f"{s['code']} | {s['name']}" for s in adhesion.services),
            "ans": "\n".join(f"{a['service']} | {a['max_wait']} | {a['max_attention']} | {a['target']}"
                             for a in adhesion.ans),
            "modulos": str(adhesion.modules), "area_m2": f"{adhesion.area_m2:.2f}",
            "importe_locacion": f"{adhesion.monthly_fee:.2f}", "cofinanciamiento": adhesion.cofinancing,
            "plazo_meses": str(adhesion.term_months), "contacto_nombre": adhesion.contact_name,
            "contacto_correo": adhesion.contact_email, "centro": str(adhesion.centre_id)}


async def read_upload(value: Any) -> services.Upload | None:
    if isinstance(value, UploadFile):
        content = await value.read()
        if not content:
            return None
        return services.Upload(value.filename or "adjunto", value.content_type or "", content)
    return None


class AdhesionController(Controller):
    path = "/adhesiones"
    include_in_schema = False

    @get("/", guards=[requires_role(*VIEWERS)])
    async def index(self, request: Request, estado: FromQuery[str | None] = None,
                    centro: FromQuery[uuid.UUID | None] = None, entidad: FromQuery[str | None] = None) -> Page:
        caller = caller_of(request)
        rows = await services.list_adhesions(caller, state=estado if estado in states.STATES else None,
                                             centre_id=centro, entity_query=entidad)
        centres = {r.centre_id: r.centre for r in rows}
        return Page("adhesion/list.html", context={"rows": rows, "estado": estado, "centro": centro,
                                                   "entidad": entidad or "", "labels": states.STATE_LABELS,
                                                   "centres": sorted(centres.items(), key=lambda c: c[1])})

    @get("/nueva", guards=[requires_role(ROLE_GESTOR)])
    async def new_form(self, request: Request) -> Page:
        centres = await services.centres_for_new_adhesion(caller_of(request))
        return Page("adhesion/form.html", context={"centres": centres, "form": form_defaults(), "error": None,
                                                   "adhesion": None})

    @post("/nueva", guards=[requires_role(ROLE_GESTOR)])
    async def create(self, request: Request, data: Form) -> Page | Redirect:
        caller = caller_of(request)
        try:
            adhesion_id = await services.create_adhesion(caller, form_to_schema(data, AdhesionCreate))
        except DomainError as exc:
            centres = await services.centres_for_new_adhesion(caller)
            return Page("adhesion/form.html", status_code=exc.status_code,
                        context={"centres": centres, "form": {**form_defaults(), **data}, "error": exc.message,
                                 "adhesion": None})
        flash(request, "Se creó el borrador. Revise la vista previa del documento y fírmelo para presentarlo.",
              "exito")
        return Redirect(f"/adhesiones/{adhesion_id}")

    @get("/{adhesion_id:uuid}", guards=[requires_role(*VIEWERS)])
    async def detail(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Page:
        view = await services.get_adhesion(caller_of(request), adhesion_id)
        return Page("adhesion/detail.html", context={"v": view, "labels": states.STATE_LABELS,
                                                     "party_labels": states.PARTY_LABELS,
                                                     "checklist": services.EVALUATION_CHECKLIST})

    @get("/{adhesion_id:uuid}/editar", guards=[requires_role(ROLE_GESTOR)])
    async def edit_form(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Page:
        view = await services.get_adhesion(caller_of(request), adhesion_id)
        return Page("adhesion/form.html", context={"centres": [], "form": form_defaults(view.adhesion),
                                                   "error": None, "adhesion": view})

    @post("/{adhesion_id:uuid}/editar", guards=[requires_role(ROLE_GESTOR)])
    async def edit(self, request: Request, adhesion_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        caller = caller_of(request)
        try:
            await services.update_adhesion(caller, adhesion_id, form_to_schema(data, AdhesionUpdate))
        except ValidationFailed as exc:
            view = await services.get_adhesion(caller, adhesion_id)
            return Page("adhesion/form.html", status_code=exc.status_code,
                        context={"centres": [], "form": {**form_defaults(view.adhesion), **data},
                                 "error": exc.message, "adhesion": view})
        flash(request, "Se guardaron los cambios.", "exito")
        return Redirect(f"/adhesiones/{adhesion_id}")

    @post("/{adhesion_id:uuid}/acciones", guards=[requires_role(*ACTORS)])
    async def act(self, request: Request, adhesion_id: FromPath[uuid.UUID], data: Multipart) -> Redirect:
        try:
            target = await services.transition(caller_of(request), adhesion_id, str(data.get("accion", "")),
                                               reason=str(data.get("motivo", "") or ""),
                                               checklist=values(data, "lista_verificacion"),
                                               attachment=await read_upload(data.get("adjunto")))
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            flash(request, exc.message, "error")
        else:
            flash(request, f"Listo: la adhesión quedó «{states.STATE_LABELS[target]}».", "exito")
        return Redirect(f"/adhesiones/{adhesion_id}")

    @get("/{adhesion_id:uuid}/vista-previa.pdf", guards=[requires_role(*VIEWERS)], media_type="application/pdf")
    async def preview(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Response:
        filename, content = await services.preview_pdf(caller_of(request), adhesion_id)
        return pdf_response(filename, content)

    @get("/{adhesion_id:uuid}/documento.pdf", guards=[requires_role(*VIEWERS)], media_type="application/pdf")
    async def document(self, request: Request, adhesion_id: FromPath[uuid.UUID],
                       codigo: FromQuery[str | None] = None) -> Response:
        filename, content = await services.document_pdf(caller_of(request), adhesion_id, codigo)
        return pdf_response(filename, content, inline=False)

    @get("/{adhesion_id:uuid}/para-firma.pdf", guards=[requires_role(*SIGNERS)], media_type="application/pdf")
    async def for_external_signature(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Response:
        filename, content = await services.issue_for_external_signature(caller_of(request), adhesion_id)
        return pdf_response(filename, content, inline=False)

    @get("/{adhesion_id:uuid}/constancia.pdf", guards=[requires_role(*VIEWERS)], media_type="application/pdf")
    async def evidence(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Response:
        filename, content = await services.evidence_pdf(caller_of(request), adhesion_id)
        return pdf_response(filename, content, inline=False)

    @get("/{adhesion_id:uuid}/adjuntos/{attachment_id:uuid}", guards=[requires_role(*VIEWERS)])
    async def attachment(self, request: Request, adhesion_id: FromPath[uuid.UUID],
                         attachment_id: FromPath[uuid.UUID]) -> Response:
        upload = await services.attachment_file(caller_of(request), adhesion_id, attachment_id)
        return Response(upload.content, media_type=upload.content_type,
                        headers={"Content-Disposition": f'attachment; filename="{upload.filename}"',
                                 "X-Content-Type-Options": "nosniff"})

    @get("/{adhesion_id:uuid}/firmar", guards=[requires_role(*SIGNERS)])
    async def sign_form(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Page:
        view = await services.get_adhesion(caller_of(request), adhesion_id)
        return Page("adhesion/sign.html", context={"v": view, "error": None, "hoy": services.today_lima(),
                                                   **_step_up_context(request)})

    @post("/{adhesion_id:uuid}/firmar", guards=[requires_role(*SIGNERS)])
    async def sign(self, request: Request, adhesion_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        caller = caller_of(request)
        try:
            if data.get("confirmo") != "si":
                raise ValidationFailed("Confirme que leyó el documento y que firma en representación de su entidad.",
                                       field="confirmo")
            start = date.fromisoformat(data["fecha_inicio"]) if data.get("fecha_inicio") else None
            term = int(data["plazo_meses"]) if data.get("plazo_meses") else None
            if data.get("metodo") == "oidc":
                # The step-up proof is consumed here, whatever happens next: it serves one signature only.
                proof = reauth.take(request.session)
                if proof is None:
                    raise Forbidden("Confirme su identidad con ID GOB.PE antes de firmar (la confirmación dura 5 "
                                    "minutos y sirve para una sola firma).", code="reautenticacion")
                state = await services.sign_in_platform(caller, adhesion_id, reauthentication=proof,
                                                        start_date=start, term_months=term)
            else:
                state = await services.sign_in_platform(caller, adhesion_id,
                                                        password=str(data.get("contrasena", "")),
                                                        start_date=start, term_months=term)
        except (DomainError, ValueError) as exc:
            if isinstance(exc, DomainError) and exc.status_code == 404:
                raise
            view = await services.get_adhesion(caller, adhesion_id)
            message = exc.message if isinstance(exc, DomainError) else "Revise la fecha y el plazo."
            return Page("adhesion/sign.html", status_code=getattr(exc, "status_code", 422),
                        context={"v": view, "error": message, "hoy": services.today_lima(),
                                 **_step_up_context(request)})
        flash(request, f"Documento firmado. La adhesión quedó «{states.STATE_LABELS[state]}».", "exito")
        return Redirect(f"/adhesiones/{adhesion_id}")

    @post("/{adhesion_id:uuid}/firma-externa", guards=[requires_role(*SIGNERS)],
          request_max_body_size=services.MAX_SIGNED_PDF_BYTES + 64 * 1024)
    async def upload_signed(self, request: Request, adhesion_id: FromPath[uuid.UUID],
                            data: Multipart) -> Page | Redirect:
        caller = caller_of(request)
        try:
            upload = await read_upload(data.get("pdf"))
            if upload is None:
                raise ValidationFailed("Adjunte el PDF firmado.", field="pdf")
            start = date.fromisoformat(str(data["fecha_inicio"])) if data.get("fecha_inicio") else None
            term = int(str(data["plazo_meses"])) if data.get("plazo_meses") else None
            state = await services.upload_signed_pdf(caller, adhesion_id, upload.content, start_date=start,
                                                     term_months=term)
        except (DomainError, ValueError) as exc:
            if isinstance(exc, DomainError) and exc.status_code == 404:
                raise
            view = await services.get_adhesion(caller, adhesion_id)
            message = exc.message if isinstance(exc, DomainError) else "Revise la fecha y el plazo."
            return Page("adhesion/sign.html", status_code=getattr(exc, "status_code", 422),
                        context={"v": view, "error": message, "hoy": services.today_lima(),
                                 **_step_up_context(request)})
        flash(request, f"Firma digital validada. La adhesión quedó «{states.STATE_LABELS[state]}».", "exito")
        return Redirect(f"/adhesiones/{adhesion_id}")

    @post("/{adhesion_id:uuid}/renovar", guards=[requires_role(ROLE_GESTOR)])
    async def renew(self, request: Request, adhesion_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            new_id = await services.request_renewal(caller_of(request), adhesion_id)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            flash(request, exc.message, "error")
            return Redirect(f"/adhesiones/{adhesion_id}")
        flash(request, "Se creó el borrador de renovación con los datos actuales.", "exito")
        return Redirect(f"/adhesiones/{new_id}")


class TemplateController(Controller):
    path = "/adhesiones/plantillas"
    include_in_schema = False
    guards = [requires_role(ROLE_ADMIN)]

    @get("/")
    async def index(self, request: Request) -> Page:
        return Page("adhesion/templates.html",
                    context={"templates": await services.list_templates(caller_of(request))})

    @post("/")
    async def create(self, request: Request) -> Redirect:
        template_id = await services.create_template_draft(caller_of(request))
        return Redirect(f"/adhesiones/plantillas/{template_id}")

    @get("/{template_id:uuid}")
    async def edit_form(self, request: Request, template_id: FromPath[uuid.UUID]) -> Page:
        template = await services.get_template(caller_of(request), template_id)
        return Page("adhesion/template_edit.html", context={"t": template, "error": None,
                                                            "placeholders": PLACEHOLDERS})

    @post("/{template_id:uuid}")
    async def edit(self, request: Request, template_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        caller = caller_of(request)
        try:
            await services.update_template(caller, template_id, title=str(data.get("titulo", "")),
                                           body=str(data.get("cuerpo", "")))
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            template = await services.get_template(caller, template_id)
            return Page("adhesion/template_edit.html", status_code=exc.status_code,
                        context={"t": template, "error": exc.message, "placeholders": PLACEHOLDERS})
        flash(request, "Plantilla guardada.", "exito")
        return Redirect(f"/adhesiones/plantillas/{template_id}")

    @post("/{template_id:uuid}/publicar")
    async def publish(self, request: Request, template_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            await services.publish_template(caller_of(request), template_id)
            flash(request, "Versión publicada: las nuevas adhesiones la usarán.", "exito")
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            flash(request, exc.message, "error")
        return Redirect("/adhesiones/plantillas")

    @post("/{template_id:uuid}/retirar")
    async def retire(self, request: Request, template_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            await services.retire_template(caller_of(request), template_id)
            flash(request, "Versión retirada.", "exito")
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            flash(request, exc.message, "error")
        return Redirect("/adhesiones/plantillas")


controllers = [AdhesionController, TemplateController, VerificationController]
