"""Statement pages: thin controllers (parse, authorise, call one service, render).

* ``/estados-de-cuenta``: the list (finance officer: its entity's; coordinator: its centres'; SGP: all), one
  statement, its PDF/CSV/XLSX, and the consolidated statement for a month or a year (HTML, CSV, XLSX).
* ``/estados-de-cuenta/lotes``: the coordinator's batches: start one for a published or closed period, follow
  its progress (htmx polls a fragment until it ends), retry the failed statements, e-mail them.

Row-level security decides which statements exist for the caller: guessing another entity's statement id
answers 404, exactly as an id that does not exist.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect

from app import offload
from app.auth.actor import request_context
from app.auth.guards import requires_role
from app.billing_reports import exports, services
from app.billing_reports.generation import MEDIA_TYPES
from app.billing_reports.pdf import render_consolidated
from app.db import ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_SUPERVISOR_SGP
from app.errors import DomainError, NotFound, ValidationFailed
from app.web.forms import Form
from app.web.page import LIMA, Page

READERS = [requires_role(ROLE_FINANZAS, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP)]
COORDINATOR = [requires_role(ROLE_COORDINADOR)]


def _int(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed("Indique un número.", field=field) from None


def _uuid(value: str | None, field: str) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationFailed("Identificador no válido.", field=field) from None


def _download(filename: str, media_type: str, content: bytes) -> Response:
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


class StatementsController(Controller):
    path = "/estados-de-cuenta"
    guards = READERS
    include_in_schema = False  # pages and downloads for people, not the API

    @get("/", name="statements:list")
    async def list_page(self, request: Request, centro: FromQuery[str | None] = None,
                        anio: FromQuery[str | None] = None, mes: FromQuery[str | None] = None,
                        estado: FromQuery[str | None] = None) -> Page:
        ctx = request_context(request)
        year, month = _int(anio, "anio"), _int(mes, "mes")
        status = estado if estado in ("preliminar", "definitivo") else None
        rows = await services.list_statements(ctx, centre_id=_uuid(centro, "centro"), year=year, month=month,
                                              status=status)
        centres = sorted({(r.statement.centre_id, r.centre_name) for r in
                          await services.list_statements(ctx)}, key=lambda c: c[1])
        return Page("billing_reports/list.html", context={
            "rows": rows, "centres": centres, "filters": {"centro": centro or "", "anio": anio or "",
                                                          "mes": mes or "", "estado": status or ""}})

    @get("/consolidado", name="statements:consolidated")
    async def consolidated(self, request: Request, anio: FromQuery[str | None] = None,
                           mes: FromQuery[str | None] = None, formato: FromQuery[str] = "html",
                           entidad: FromQuery[str | None] = None,
                           centro: FromQuery[str | None] = None) -> Page | Response:
        ctx = request_context(request)
        year = _int(anio, "anio") or datetime.now(LIMA).year
        month = _int(mes, "mes")
        data = await services.consolidated(ctx, year=year, month=month, entity_id=_uuid(entidad, "entidad"),
                                           centre_id=_uuid(centro, "centro"))
        stem = f"estado-de-cuenta-consolidado-{year}" + (f"-{month:02d}" if month else "")
        if formato == "csv":
            return _download(f"{stem}.csv", MEDIA_TYPES["csv"], await offload.run(exports.to_csv, data.statements))
        if formato == "xlsx":
            return _download(f"{stem}.xlsx", MEDIA_TYPES["xlsx"], await offload.run(exports.to_xlsx, data.statements))
        if formato == "pdf":
            names = sorted({s.participant.name for s in data.statements})
            pdf = await offload.run(render_consolidated, data.statements, title=", ".join(names) if len(names) <= 2 else
                                      f"{len(names)} entidades", subtitle=data.label,
                                      issued_on=datetime.now(LIMA).date())
            return _download(f"{stem}.pdf", MEDIA_TYPES["pdf"], pdf)
        if formato != "html":
            raise NotFound("Formato no disponible: use html, pdf, csv o xlsx.")
        # What the caller can filter by: the centres and entities of the statements it may see that year.
        everything = await services.list_statements(ctx, year=year, current_only=True)
        centres = sorted({(str(r.statement.centre_id), r.centre_name) for r in everything}, key=lambda c: c[1])
        entities = sorted({(str(r.statement.entity_id), r.entity_name) for r in everything}, key=lambda e: e[1])
        return Page("billing_reports/consolidated.html", context={
            "data": data, "anio": year, "mes": month or "", "entidad": entidad or "", "centro": centro or "",
            "centres": centres, "entities": entities})

    @get("/{statement_id:uuid}", name="statements:detail")
    async def detail(self, request: Request, statement_id: FromPath[uuid.UUID]) -> Page:
        ctx = request_context(request)
        view = await services.get_statement(ctx, statement_id)
        from app.billing_reports.payments import correction_effect

        return Page("billing_reports/detail.html", context={"view": view,
                                                            "effect": await correction_effect(ctx, statement_id)})

    @get("/{statement_id:uuid}/{fmt:str}", name="statements:file")
    async def download(self, request: Request, statement_id: FromPath[uuid.UUID], fmt: FromPath[str]) -> Response:
        filename, media_type, content = await services.statement_file(request_context(request), statement_id, fmt)
        return _download(filename, media_type, content)

    @post("/{statement_id:uuid}/corregir", guards=COORDINATOR, name="statements:correct")
    async def correct(self, request: Request, statement_id: FromPath[uuid.UUID], data: Form) -> Redirect:
        try:
            new = await services.correct_statement(request_context(request), statement_id, str(data.get("motivo", "")))
        except ValidationFailed as exc:
            flash(request, exc.message, category="error")
            return Redirect(f"/estados-de-cuenta/{statement_id}")
        flash(request, f"Se emitirá la versión corregida {new.number}.", category="exito")
        return Redirect(f"/estados-de-cuenta/{new.id}")


class BatchesController(Controller):
    path = "/estados-de-cuenta/lotes"
    guards = COORDINATOR
    include_in_schema = False  # pages for the coordinator, not the API

    @get("/", name="statements:batches")
    async def batches(self, request: Request) -> Page:
        ctx = request_context(request)
        return Page("billing_reports/batches.html", context={
            "periods": await services.batch_periods(ctx), "batches": await services.latest_batches(ctx)})

    @post("/", name="statements:start")
    async def start(self, request: Request, data: Form) -> Redirect:
        try:
            batch = await services.start_batch(request_context(request), _uuid(str(data.get("periodo", "")), "periodo")
                                               or uuid.UUID(int=0))
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            flash(request, exc.message, category="error")
            return Redirect("/estados-de-cuenta/lotes")
        return Redirect(f"/estados-de-cuenta/lotes/{batch.id}")

    @get("/{batch_id:uuid}", name="statements:batch")
    async def batch(self, request: Request, batch_id: FromPath[uuid.UUID]) -> Page:
        progress = await services.batch_progress(request_context(request), batch_id)
        return Page("billing_reports/batch.html", context={"p": progress})

    @get("/{batch_id:uuid}/progreso", name="statements:progress")
    async def progress(self, request: Request, batch_id: FromPath[uuid.UUID]) -> Page:
        progress = await services.batch_progress(request_context(request), batch_id)
        if not progress.finished:
            await services.nudge_overdue(request_context(request), batch_id)
        return Page("billing_reports/_progress.html", context={"p": progress})

    @post("/{batch_id:uuid}/reintentar", name="statements:retry")
    async def retry(self, request: Request, batch_id: FromPath[uuid.UUID]) -> Redirect:
        n = await services.retry_failed(request_context(request), batch_id)
        flash(request, f"Se reintentará la generación de {n} estado(s) de cuenta." if n
              else "No hay estados de cuenta fallidos en este lote.", category="exito" if n else "aviso")
        return Redirect(f"/estados-de-cuenta/lotes/{batch_id}")

    @post("/{batch_id:uuid}/enviar", name="statements:email")
    async def email(self, request: Request, batch_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            n = await services.email_batch(request_context(request), batch_id)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            flash(request, exc.message, category="aviso")
        else:
            flash(request, f"Se enviarán por correo {n} estado(s) de cuenta a los responsables de finanzas de "
                           "cada entidad.", category="exito")
        return Redirect(f"/estados-de-cuenta/lotes/{batch_id}")


from app.billing_reports import payment_routes  # noqa: E402 - payments and balances, same domain

controllers = [BatchesController, StatementsController, *payment_routes.controllers]
