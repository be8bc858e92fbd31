"""ANS screens: the coordinator's calendar, limits, ANS proposals, uploads and incumplimientos; the entity
manager's live dashboard, alerts, ANS acceptance, descargos and interruption claims; the SGP's ranking and
monthly reports. Thin: parse, call one service, render."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect, Response
from markupsafe import Markup

from app.localtime import today_lima
from app.auth.actor import client_ip, get_actor
from app.auth.guards import requires_role
from app.db import ROLE_ADMIN, ROLE_COORDINADOR, ROLE_GESTOR, ROLE_SUPERVISOR_SGP, get_database
from app.errors import NotFound, ValidationFailed
from app.sla import charts, reports, services
from app.sla.calendar import WEEKDAY_NAMES
from app.sla.ingest import MAX_CSV_BYTES
from app.sla.indicators import COMPARISONS, INDICATOR_HELP, INDICATOR_LABELS, INDICATORS, RATIO_INDICATORS
from app.web.page import Page

WATCHERS = (ROLE_GESTOR, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN)
SUPERVISORS = (ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN)
COORDINATION = (ROLE_COORDINADOR, ROLE_ADMIN)
STATUS_LABELS = {"cumple": "Cumple", "no_cumple": "No cumple", "en_riesgo": "En riesgo", "sin_datos": "Sin datos",
                 "sin_meta": "Sin meta"}
KIND_LABELS = {"atenciones": "Atenciones (tickets)", "marcaciones": "Marcaciones de asesores",
               "encuestas": "Encuestas de satisfacción", "interrupciones": "Interrupciones",
               "detalle": "Detalle de atenciones (nacional)", "zkteco": "Marcaciones ZKTeco",
               "mac_express": "Atenciones MAC Express"}
POLL_SECONDS = 10


def pct(value: Decimal | None, indicator: str = "espera") -> str:
    if value is None:
        return "—"
    if indicator == "interrupcion":
        return f"{value.normalize():f} min" if value == value.to_integral() else f"{value} min"
    return f"{(value * 100).quantize(Decimal('0.1'))} %"


HELPERS = {"pct": pct, "status_labels": STATUS_LABELS, "indicator_labels": INDICATOR_LABELS,
           "indicator_help": INDICATOR_HELP, "indicators": INDICATORS, "comparisons": COMPARISONS,
           "weekday_names": WEEKDAY_NAMES, "kind_labels": KIND_LABELS, "ratio_indicators": RATIO_INDICATORS,
           "state_labels": services.STATE_LABELS, "month_label": reports.month_label}


def page(template: str, **context: Any) -> Page:
    return Page(f"sla/{template}", context={**HELPERS, **context})


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


async def _form(request: Request) -> tuple[dict[str, Any], dict[str, UploadFile]]:
    form = await request.form()
    values: dict[str, Any] = {}
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            files[key] = value
        else:
            values[key] = value
    return values, files


async def _file(files: dict[str, UploadFile], name: str) -> tuple[str, str, bytes] | None:
    upload = files.get(name)
    if upload is None or not upload.filename:
        return None
    return upload.filename, upload.content_type or "application/octet-stream", await upload.read()


class SlaController(Controller):
    path = "/ans"
    include_in_schema = False

    # ------------------------------------------------------------------------------------ landing ---

    @get("/", guards=[requires_role(*WATCHERS)])
    async def home(self, request: Request) -> Page | Redirect:
        actor = get_actor(request)
        if actor.role == ROLE_GESTOR:
            return Redirect("/ans/tablero")
        if actor.role in (ROLE_SUPERVISOR_SGP,):
            return Redirect("/ans/ranking")
        db = get_database()
        async with db.transaction(actor.context(client_ip(request))) as s:
            centres = await services.centres_for(s, actor)
        return page("hub.html", centres=centres)

    # ---------------------------------------------------------------------------------- dashboard ---

    async def _dashboard(self, request: Request, centro: str | None, entidad: str | None, mes: str | None):  # noqa: ANN202
        actor = get_actor(request)
        month = services.parse_month(mes)
        return await services.dashboard(get_database(), actor, ip=client_ip(request), centre_id=_uuid(centro),
                                        entity_id=_uuid(entidad), month=month)

    def _charts(self, board: services.Dashboard) -> dict[str, Markup]:
        target = next((r.target for r in board.rows if r.indicator == "espera" and r.target), None)
        return {
            "trend": Markup(charts.trend_svg(board.trend["espera"], title="Espera dentro del máximo, por día",
                                             target=target.target if target else None)),
            "histogram": Markup(charts.histogram_svg(board.histogram, limit_minutes=board.wait_limit_minutes,
                                                     title="Distribución de los tiempos de espera (minutos)")),
        }

    @get("/tablero", guards=[requires_role(*WATCHERS)])
    async def dashboard(self, request: Request, centro: FromQuery[str | None] = None,
                        entidad: FromQuery[str | None] = None, mes: FromQuery[str | None] = None) -> Page:
        actor = get_actor(request)
        board = await self._dashboard(request, centro, entidad, mes)
        db = get_database()
        async with db.transaction(actor.context(client_ip(request))) as s:
            centres = await services.centres_for(s, actor)
            entities = await services.entities_at(s, board.centre.id) if board else []
        return page("dashboard.html", board=board, charts=self._charts(board) if board else {}, centres=centres,
                    entities=entities, poll=POLL_SECONDS, mes=(board.month if board else today_lima()).strftime("%Y-%m"))

    @get("/tablero/datos", guards=[requires_role(*WATCHERS)])
    async def dashboard_data(self, request: Request, centro: FromQuery[str | None] = None,
                             entidad: FromQuery[str | None] = None, mes: FromQuery[str | None] = None) -> Page:
        board = await self._dashboard(request, centro, entidad, mes)
        return page("_dashboard_data.html", board=board, charts=self._charts(board) if board else {},
                    poll=POLL_SECONDS)

    @get("/ranking", guards=[requires_role(*SUPERVISORS)])
    async def ranking(self, request: Request, mes: FromQuery[str | None] = None, centro: FromQuery[str | None] = None,
                      entidad: FromQuery[str | None] = None, indicador: FromQuery[str | None] = None,
                      estado: FromQuery[str | None] = None) -> Page:
        actor = get_actor(request)
        month = services.parse_month(mes)
        rows = await services.ranking(get_database(), actor, ip=client_ip(request), month=month,
                                      centre_id=_uuid(centro), entity_id=_uuid(entidad),
                                      indicator=indicador if indicador in INDICATORS else None,
                                      status=estado if estado in STATUS_LABELS else None)
        db = get_database()
        async with db.transaction(actor.context(client_ip(request))) as s:
            centres = await services.centres_for(s, actor)
        entities = sorted({(r.entity.id, r.entity.short_name) for r in rows}, key=lambda e: e[1])
        return page("ranking.html", rows=rows, centres=centres, entities=entities, mes=month.strftime("%Y-%m"),
                    filters={"centro": centro or "", "entidad": entidad or "", "indicador": indicador or "",
                             "estado": estado or ""})

    # ------------------------------------------------------------------------------------- alerts ---

    @get("/alertas", guards=[requires_role(*WATCHERS)])
    async def alerts(self, request: Request) -> Page:
        rows = await services.list_alerts(get_database(), get_actor(request), ip=client_ip(request))
        return page("alerts.html", rows=rows)

    @post("/alertas/leidas", guards=[requires_role(*WATCHERS)])
    async def alerts_read(self, request: Request) -> Redirect:
        await services.mark_alerts_read(get_database(), get_actor(request), ip=client_ip(request))
        flash(request, "Alertas marcadas como leídas.", category="exito")
        return Redirect("/ans/alertas", status_code=303)

    # ------------------------------------------------------------------------------------------ ANS ---

    @get("/acuerdos", guards=[requires_role(*WATCHERS)])
    async def agreements(self, request: Request) -> Page:
        rows = await services.list_ans(get_database(), get_actor(request), ip=client_ip(request))
        return page("agreements.html", rows=rows, centre=None)

    @post("/acuerdos/{ans_id:uuid}/aceptar", guards=[requires_role(ROLE_GESTOR)])
    async def accept(self, request: Request, ans_id: FromPath[uuid.UUID]) -> Redirect:
        await services.accept_ans(get_database(), get_actor(request), ip=client_ip(request), ans_id=ans_id)
        flash(request, "ANS aceptado: desde ahora es parte de la adhesión y se mide contra él.", category="exito")
        return Redirect("/ans/acuerdos", status_code=303)

    @get("/centros/{centre_id:uuid}/acuerdos", guards=[requires_role(*COORDINATION)])
    async def centre_agreements(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Page:
        actor = get_actor(request)
        rows = await services.list_ans(get_database(), actor, ip=client_ip(request), centre_id=centre_id)
        view = await services.limits_view(get_database(), actor, ip=client_ip(request), centre_id=centre_id)
        return page("agreements.html", rows=rows, centre=view.centre, entities=view.entities,
                    today=today_lima().replace(day=1).isoformat())

    @post("/centros/{centre_id:uuid}/acuerdos", guards=[requires_role(*COORDINATION)])
    async def propose(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        await services.propose_ans(get_database(), get_actor(request), ip=client_ip(request), centre_id=centre_id,
                                   form=values)
        flash(request, "ANS propuesto. La entidad debe aceptarlo para que sea vinculante.", category="exito")
        return Redirect(f"/ans/centros/{centre_id}/acuerdos", status_code=303)

    # ------------------------------------------------------------------------- calendar and limits ---

    @get("/centros/{centre_id:uuid}/calendario", guards=[requires_role(*COORDINATION)])
    async def calendar(self, request: Request, centre_id: FromPath[uuid.UUID],
                       anio: FromQuery[int | None] = None) -> Page:
        year = anio or today_lima().year
        view = await services.calendar_view(get_database(), get_actor(request), ip=client_ip(request),
                                            centre_id=centre_id, year=year)
        return page("calendar.html", view=view, year=year)

    @post("/centros/{centre_id:uuid}/horarios", guards=[requires_role(*COORDINATION)])
    async def add_hours(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        await services.add_opening_hours(get_database(), get_actor(request), ip=client_ip(request),
                                         centre_id=centre_id, form=values)
        flash(request, "Horario registrado; los indicadores afectados se recalcularon.", category="exito")
        return Redirect(f"/ans/centros/{centre_id}/calendario", status_code=303)

    @post("/centros/{centre_id:uuid}/cierres", guards=[requires_role(*COORDINATION)])
    async def add_closure(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        await services.add_closure(get_database(), get_actor(request), ip=client_ip(request), centre_id=centre_id,
                                   form=values)
        flash(request, "Cierre registrado; ese día no cuenta como hábil.", category="exito")
        return Redirect(f"/ans/centros/{centre_id}/calendario", status_code=303)

    @post("/centros/{centre_id:uuid}/cierres/{closure_id:uuid}/eliminar", guards=[requires_role(*COORDINATION)])
    async def remove_closure(self, request: Request, centre_id: FromPath[uuid.UUID],
                             closure_id: FromPath[uuid.UUID]) -> Redirect:
        await services.remove_closure(get_database(), get_actor(request), ip=client_ip(request),
                                      centre_id=centre_id, closure_id=closure_id)
        flash(request, "Cierre eliminado.", category="exito")
        return Redirect(f"/ans/centros/{centre_id}/calendario", status_code=303)

    @get("/dias-no-laborables", guards=[requires_role(ROLE_ADMIN)])
    async def non_working(self, request: Request) -> Page:
        from sqlalchemy import select

        from app.sla.models import NonWorkingDay

        actor = get_actor(request)
        async with get_database().transaction(actor.context(client_ip(request))) as s:
            days = list((await s.scalars(select(NonWorkingDay).order_by(NonWorkingDay.day.desc()))).all())
        return page("non_working.html", days=days)

    @post("/dias-no-laborables", guards=[requires_role(ROLE_ADMIN)])
    async def add_non_working(self, request: Request) -> Redirect:
        values, _ = await _form(request)
        await services.add_non_working_day(get_database(), get_actor(request), ip=client_ip(request), form=values)
        flash(request, "Día no laborable registrado para todos los centros.", category="exito")
        return Redirect("/ans/dias-no-laborables", status_code=303)

    @get("/centros/{centre_id:uuid}/limites", guards=[requires_role(*COORDINATION)])
    async def limits(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Page:
        view = await services.limits_view(get_database(), get_actor(request), ip=client_ip(request),
                                          centre_id=centre_id)
        return page("limits.html", view=view, today=today_lima().isoformat())

    @post("/centros/{centre_id:uuid}/limites", guards=[requires_role(*COORDINATION)])
    async def set_limit(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        await services.set_service_limit(get_database(), get_actor(request), ip=client_ip(request),
                                         centre_id=centre_id, form=values)
        flash(request, "Límite registrado; los indicadores desde esa fecha se recalcularon.", category="exito")
        return Redirect(f"/ans/centros/{centre_id}/limites", status_code=303)

    @post("/centros/{centre_id:uuid}/modulos", guards=[requires_role(*COORDINATION)])
    async def assign(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        await services.assign_module(get_database(), get_actor(request), ip=client_ip(request),
                                     centre_id=centre_id, form=values)
        flash(request, "Módulo asignado.", category="exito")
        return Redirect(f"/ans/centros/{centre_id}/limites", status_code=303)

    # ------------------------------------------------------------------------------------- uploads ---

    @get("/centros/{centre_id:uuid}/cargas", guards=[requires_role(*COORDINATION)])
    async def uploads(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Page:
        actor = get_actor(request)
        batches = await services.batches(get_database(), actor, ip=client_ip(request), centre_id=centre_id)
        view = await services.limits_view(get_database(), actor, ip=client_ip(request), centre_id=centre_id)
        from app.sla.ingest import KINDS

        from app.sla.sources.imports import FORMATS

        return page("uploads.html", centre=view.centre, batches=batches, kinds=KINDS, formats=FORMATS)

    @post("/centros/{centre_id:uuid}/cargas", guards=[requires_role(*COORDINATION)],
          request_max_body_size=MAX_CSV_BYTES + 64 * 1024)
    async def upload(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, files = await _form(request)
        upload = await _file(files, "archivo")
        if upload is None:
            raise ValidationFailed("Adjunte un archivo CSV.", field="archivo")
        kind = str(values.get("tipo") or "")
        from app.sla.sources.imports import FORMATS, upload_source

        if kind in FORMATS:  # a real source's own file (national export, clock, MAC Express)
            result = await upload_source(get_database(), get_actor(request), ip=client_ip(request),
                                         centre_id=centre_id, fmt=kind, data=upload[2], filename=upload[0])
            c = result.counts
            flash(request, f"Carga procesada: {c['importados']} importadas, {c['actualizados']} actualizadas, "
                           f"{c['sin_cambios']} sin cambios, {c['sin_mapeo']} sin mapeo, {c['rechazados']} "
                           "rechazadas.", category="exito" if not result.errors else "aviso")
            return Redirect(f"/ans/cargas/{result.batch_id}", status_code=303)
        report = await services.upload_csv(get_database(), get_actor(request), ip=client_ip(request),
                                           centre_id=centre_id, kind=kind, data=upload[2], filename=upload[0])
        category = "exito" if not report.errors else "aviso"
        flash(request, f"Carga procesada: {report.stored} guardadas, {report.unchanged} sin cambios, "
                       f"{report.rejected_lines} filas rechazadas.", category=category)
        return Redirect(f"/ans/cargas/{report.batch_id}", status_code=303)

    @get("/cargas/{batch_id:uuid}", guards=[requires_role(*COORDINATION)])
    async def batch(self, request: Request, batch_id: FromPath[uuid.UUID]) -> Page:
        found = await services.batch(get_database(), get_actor(request), ip=client_ip(request), batch_id=batch_id)
        return page("batch.html", batch=found)

    # ----------------------------------------------------------------------------- incumplimientos ---

    @get("/incumplimientos", guards=[requires_role(*WATCHERS)])
    async def breaches(self, request: Request) -> Page:
        actor = get_actor(request)
        rows = await services.list_incumplimientos(get_database(), actor, ip=client_ip(request))
        centres, entities_by_centre = [], {}
        if actor.role == ROLE_COORDINADOR:
            async with get_database().transaction(actor.context(client_ip(request))) as s:
                centres = await services.centres_for(s, actor)
                for c in centres:
                    entities_by_centre[c.id] = await services.entities_at(s, c.id)
        return page("breaches.html", rows=rows, centres=centres, entities_by_centre=entities_by_centre,
                    mes=today_lima().strftime("%Y-%m"))

    @post("/centros/{centre_id:uuid}/incumplimientos", guards=[requires_role(*COORDINATION)])
    async def record_breach(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        item_id = await services.record_incumplimiento(get_database(), get_actor(request), ip=client_ip(request),
                                                       centre_id=centre_id, form=values)
        flash(request, "Incumplimiento registrado; la entidad puede presentar su descargo.", category="exito")
        return Redirect(f"/ans/incumplimientos/{item_id}", status_code=303)

    @get("/incumplimientos/{item_id:uuid}", guards=[requires_role(*WATCHERS)])
    async def breach(self, request: Request, item_id: FromPath[uuid.UUID]) -> Page:
        actor = get_actor(request)
        item, steps, centre, entity = await services.incumplimiento(get_database(), actor, ip=client_ip(request),
                                                                    item_id=item_id)
        return page("breach.html", item=item, steps=steps, centre=centre, entity=entity,
                    moves=services.allowed_moves(item.state, actor.role))

    @post("/incumplimientos/{item_id:uuid}/pasos", guards=[requires_role(ROLE_GESTOR, ROLE_COORDINADOR)])
    async def breach_step(self, request: Request, item_id: FromPath[uuid.UUID]) -> Redirect:
        values, files = await _form(request)
        await services.move_incumplimiento(get_database(), get_actor(request), ip=client_ip(request),
                                           item_id=item_id, to_state=str(values.get("estado") or ""),
                                           text_value=str(values.get("texto") or ""),
                                           attachment=await _file(files, "adjunto"))
        flash(request, "Paso registrado.", category="exito")
        return Redirect(f"/ans/incumplimientos/{item_id}", status_code=303)

    @get("/adjuntos/{step_id:uuid}", guards=[requires_role(*WATCHERS)])
    async def attachment(self, request: Request, step_id: FromPath[uuid.UUID]) -> Response:
        name, media_type, content = await services.step_attachment(get_database(), get_actor(request),
                                                                   ip=client_ip(request), step_id=step_id)
        return Response(content, media_type=media_type,
                        headers={"content-disposition": f'attachment; filename="{_safe(name)}"'})

    # ------------------------------------------------------------------------------- interruptions ---

    @get("/interrupciones", guards=[requires_role(*WATCHERS)])
    async def interruptions(self, request: Request) -> Page:
        rows = await services.list_interruptions(get_database(), get_actor(request), ip=client_ip(request))
        return page("interruptions.html", rows=rows)

    @post("/interrupciones/{interruption_id:uuid}/reclamo", guards=[requires_role(ROLE_GESTOR)])
    async def claim(self, request: Request, interruption_id: FromPath[uuid.UUID]) -> Redirect:
        values, files = await _form(request)
        await services.claim_interruption(get_database(), get_actor(request), ip=client_ip(request),
                                          interruption_id=interruption_id, text_value=str(values.get("texto") or ""),
                                          evidence=await _file(files, "evidencia"))
        flash(request, "Reclamo presentado; el coordinador del centro lo revisará.", category="exito")
        return Redirect("/ans/interrupciones", status_code=303)

    @post("/interrupciones/{interruption_id:uuid}/resolver", guards=[requires_role(*COORDINATION)])
    async def resolve(self, request: Request, interruption_id: FromPath[uuid.UUID]) -> Redirect:
        values, _ = await _form(request)
        decision = values.get("decision")
        if decision not in ("aceptar", "rechazar"):
            raise ValidationFailed("Elija aceptar o rechazar.", field="decision")
        await services.resolve_claim(get_database(), get_actor(request), ip=client_ip(request),
                                     interruption_id=interruption_id, accept=decision == "aceptar")
        flash(request, "Reclamo resuelto; los indicadores afectados se recalcularon.", category="exito")
        return Redirect("/ans/interrupciones", status_code=303)

    @get("/interrupciones/{interruption_id:uuid}/evidencia", guards=[requires_role(*WATCHERS)])
    async def evidence(self, request: Request, interruption_id: FromPath[uuid.UUID]) -> Response:
        name, content = await services.claim_evidence(get_database(), get_actor(request), ip=client_ip(request),
                                                      interruption_id=interruption_id)
        return Response(content, media_type="application/octet-stream",
                        headers={"content-disposition": f'attachment; filename="{_safe(name)}"'})

    # ------------------------------------------------------------------------------------- reports ---

    @get("/informes", guards=[requires_role(*WATCHERS)])
    async def report_list(self, request: Request) -> Page:
        actor = get_actor(request)
        ctx = actor.context(client_ip(request))
        async with get_database().transaction(ctx) as s:
            centres = await services.centres_for(s, actor)
        rows = await reports.list_reports(get_database(), ctx)
        if actor.role == ROLE_GESTOR:
            rows = [r for r in rows if r.entity_id == actor.entity_id]
        previous = (today_lima().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        return page("reports.html", rows=rows, centres=centres if actor.role in COORDINATION else [],
                    previous=previous)

    @post("/centros/{centre_id:uuid}/informes", guards=[requires_role(*COORDINATION)])
    async def generate_report(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Redirect:
        actor = get_actor(request)
        values, _ = await _form(request)
        period = services.parse_month(str(values.get("mes") or ""))
        async with get_database().transaction(actor.context(client_ip(request))) as s:
            await services.administered_centre(s, actor, centre_id)
        await reports.generate(get_database(), actor.context(client_ip(request)), centre_id, period)
        flash(request, f"Informe de {reports.month_label(period)} generado.", category="exito")
        return Redirect("/ans/informes", status_code=303)

    @get("/informes/{report_id:uuid}/{fmt:str}", guards=[requires_role(*WATCHERS)])
    async def report_download(self, request: Request, report_id: FromPath[uuid.UUID], fmt: FromPath[str]) -> Response:
        actor = get_actor(request)
        row = await reports.report_file(get_database(), actor.context(client_ip(request)), report_id)
        if row is None or fmt not in ("pdf", "csv") or (actor.role == ROLE_GESTOR and row.entity_id != actor.entity_id):
            raise NotFound("El informe no existe.")
        name = f"supervision-ans-{row.period.strftime('%Y-%m')}-{row.scope[:8]}.{fmt}"
        if fmt == "pdf":
            return Response(row.pdf, media_type="application/pdf",
                            headers={"content-disposition": f'attachment; filename="{name}"'})
        return Response(row.csv.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}"'})


def _safe(name: str) -> str:
    return "".join(c for c in name if c.isalnum() or c in "._- ")[:120] or "archivo"


def _data_controllers() -> list:
    from app.sla.data_routes import controllers as data

    return data


controllers = [SlaController, *_data_controllers()]
