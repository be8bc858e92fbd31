"""ANS data screens: the centre's advisors and their module assignments, the upload of a real source's file
(national export, ZKTeco clock, MAC Express), the auditor's export and the MAC Express board. Thin: parse,
call one service, render."""

from __future__ import annotations

import json
import uuid
from datetime import date

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Response

from app.auth.actor import client_ip, get_actor
from app.auth.guards import requires_role, requires_scope
from app.db import ROLE_ADMIN, ROLE_COORDINADOR, ROLE_GESTOR, ROLE_SUPERVISOR_SGP, get_database
from app.errors import ValidationFailed
from app.localtime import today_lima
from app.sla import advisors, express, services
from app.sla.export import export_case
from app.sla.routes import _form, _uuid, page
from app.sla.sources import mac_express

COORDINATION = (ROLE_COORDINADOR, ROLE_ADMIN)
EXPORTERS = (ROLE_SUPERVISOR_SGP, ROLE_ADMIN, ROLE_COORDINADOR)
WATCHERS = (ROLE_GESTOR, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN)


def _day(value: str | None, name: str, label: str) -> date:
    try:
        return date.fromisoformat(str(value or ""))
    except ValueError:
        raise ValidationFailed(f"{label}: use una fecha AAAA-MM-DD (se recibió «{value or ''}»).",
                               field=name) from None


class SlaDataController(Controller):
    path = "/ans"
    include_in_schema = False

    # ------------------------------------------------------------------------------------ advisors ---

    @get("/centros/{centre_id:uuid}/asesores", guards=[requires_role(*COORDINATION)])
    async def advisors(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Response:
        view = await advisors.advisors_view(get_database(), get_actor(request), ip=client_ip(request),
                                            centre_id=centre_id)
        return page("advisors.html", view=view, centre=view.centre, kinds=advisors.KINDS,
                    today=today_lima().isoformat())

    @post("/centros/{centre_id:uuid}/asesores", guards=[requires_role(*COORDINATION)])
    async def add_advisor(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        await advisors.add_advisor(get_database(), get_actor(request), ip=client_ip(request), centre_id=centre_id,
                                   form=values)
        flash(request, "Asesor registrado.", category="exito")
        return Redirect(f"/ans/centros/{centre_id}/asesores", status_code=303)

    @post("/centros/{centre_id:uuid}/asesores/asignaciones", guards=[requires_role(*COORDINATION)])
    async def assign_advisor(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        await advisors.assign_advisor(get_database(), get_actor(request), ip=client_ip(request), centre_id=centre_id,
                                      form=values)
        flash(request, "Asignación registrada.", category="exito")
        return Redirect(f"/ans/centros/{centre_id}/asesores", status_code=303)

    # -------------------------------------------------------------------------------------- export ---

    @get("/exportar", guards=[requires_role(*EXPORTERS)])
    async def export_form(self, request: Request, centro: FromQuery[str | None] = None,
                          desde: FromQuery[str | None] = None, hasta: FromQuery[str | None] = None,
                          ruc: FromQuery[str | None] = None) -> Response:
        actor = get_actor(request)
        async with get_database().transaction(actor.context(client_ip(request))) as s:
            centres = await services.centres_for(s, actor)
        if not (centro or desde or hasta):
            today = today_lima()
            first = today.replace(day=1)
            return page("export.html", centres=centres, desde=first.isoformat(), hasta=today.isoformat(), ruc="",
                        centro="")
        centre_id = _uuid(centro)
        if centre_id is None:
            raise ValidationFailed("Elija el centro.", field="centro")
        start, end = _day(desde, "desde", "Desde"), _day(hasta, "hasta", "Hasta")
        case = await export_case(get_database(), actor, ip=client_ip(request), centre_id=centre_id, start=start,
                                 end=end, ruc=(ruc or "").strip() or None)
        name = f"ans-{case['centre']['code']}-{start:%Y%m%d}-{end:%Y%m%d}{'-' + ruc.strip() if ruc else ''}.json"
        body = json.dumps(case, ensure_ascii=False, indent=1).encode("utf-8")
        return Response(body, media_type="application/json",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    # --------------------------------------------------------------------------------- MAC Express ---

    @get("/express", guards=[requires_role(*WATCHERS)])
    async def express_board(self, request: Request, centro: FromQuery[str | None] = None,
                            mes: FromQuery[str | None] = None) -> Response:
        actor = get_actor(request)
        month = services.parse_month(mes)
        board = await express.express_board(get_database(), actor, ip=client_ip(request), centre_id=_uuid(centro),
                                             month=month)
        centres = await express.express_centres(get_database(), actor, ip=client_ip(request))
        return page("express.html", board=board, centres=centres, mes=month.strftime("%Y-%m"),
                    labels={k: label for k, (_a, _b, label) in mac_express.INDICATORS.items()},
                    state_labels=express.STATE_LABELS)


class ExpressApiController(Controller):
    path = "/api/v1/mac-express"
    tags = ["atenciones"]

    @post("/atenciones", guards=[requires_scope("atenciones:escribir")],
          summary="Enviar atenciones de un punto MAC Express", security=[{"BearerToken": []}], status_code=200)
    async def receive(self, request: Request) -> Response:
        """Body (JSON): ``{"centro": "<uuid, opcional: el del cliente>", "atenciones": [...]}``, at most 10,000.
        Each attention has ``atencion`` (the MAC Express system's id), ``estado`` (``REGISTRADA``,
        ``EN_SELECCION``, ``EN_SERVICIO``), ``ruc_entidad``, ``servicio``, ``asesor`` and the moments
        ``fecha_registro``, ``fecha_inicio_atencion``, ``fecha_seleccion_entidad``, ``fecha_seleccion_servicio``,
        ``fecha_salida_servicio``, ``fecha_retorno_servicio``, ``fecha_fin_atencion`` (ISO-8601; without an offset,
        Lima time). The answer has the counts and each rejected attention by position, field and reason.
        Re-sending the same attentions changes nothing."""
        try:
            body = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValidationFailed("El cuerpo debe ser JSON.", field="cuerpo") from None
        if not isinstance(body, dict) or not isinstance(body.get("atenciones"), list):
            raise ValidationFailed("Envíe un objeto con la lista «atenciones».", field="atenciones")
        centre_id = None
        if body.get("centro"):
            try:
                centre_id = uuid.UUID(str(body["centro"]))
            except ValueError:
                raise ValidationFailed("«centro» debe ser un UUID.", field="centro") from None
        result = await express.receive_express(get_database(), get_actor(request), ip=client_ip(request),
                                               centre_id=centre_id, records=body["atenciones"])
        return Response({**result.counts, "lote": str(result.batch_id),
                         "errores": [e.as_dict() for e in result.errors]})


controllers = [SlaDataController, ExpressApiController]
