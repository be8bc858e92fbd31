"""Screens of the source registry for the centre's coordinators and the platform administrator: a centre's
sources and their health, one source (settings, connection test, service mapping, unmapped services, sync
history) and one sync's result. Thin: parse the form, one use case, render; a refused form comes back with
what was typed and the message next to the field."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath
from litestar.plugins.flash import flash
from litestar.response import Redirect

from app.auth.actor import client_ip, get_actor
from app.auth.guards import requires_role
from app.db import ROLE_ADMIN, ROLE_COORDINADOR, get_database
from app.errors import DomainError
from app.sla.sources import registry
from app.sla.sources.novosga import STATUS_LABELS
from app.tenants.routes import FormState
from app.web.page import Page

COORDINATION = (ROLE_COORDINADOR, ROLE_ADMIN)
HEALTH_LABELS = {"al_dia": "Al día", "atrasada": "Atrasada", "con_error": "Con error",
                 "sin_sincronizar": "Sin sincronizar", "desactivada": "Desactivada"}
TRIGGER_LABELS = {"trabajador": "Automática", "consola": "Consola", "manual": "Manual", "importacion": "Importación"}
KIND_LABELS = {"novosga": "Novo SGA", "detalle_atenciones": "Detalle de atenciones (exportación nacional)"}
FIELD_LABELS = {"nombre": "Nombre", "version": "Versión", "host": "Servidor", "puerto": "Puerto", "base": "Base de datos",
                "usuario": "Usuario", "clave": "Contraseña", "unidad": "Unidad de Novo",
                "zona_horaria": "Zona horaria", "dias_relectura": "Días de relectura",
                "servicio_novo": "Servicio de Novo", "ruc": "RUC", "servicio": "Servicio de la entidad",
                "desde": "Vigente desde"}
HELPERS = {"health_labels": HEALTH_LABELS, "trigger_labels": TRIGGER_LABELS, "kind_labels": KIND_LABELS,
           "field_labels": FIELD_LABELS, "status_labels": STATUS_LABELS}
SOURCE_FIELDS = ("nombre", "version", "host", "puerto", "base", "usuario", "unidad", "zona_horaria",
                 "dias_relectura", "activa")


def page(template: str, status_code: int = 200, **context: Any) -> Page:
    return Page(f"sla/sources/{template}", context={**HELPERS, **context}, status_code=status_code)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _source_values(source) -> dict[str, Any]:  # noqa: ANN001
    return {"nombre": source.name, "version": str(source.version), "host": source.host, "puerto": str(source.port),
            "base": source.database, "usuario": source.username, "unidad": source.unidade_id or "",
            "zona_horaria": source.time_zone, "dias_relectura": str(source.reread_days),
            "activa": "on" if source.enabled else ""}


class SourcesController(Controller):
    path = "/ans"
    include_in_schema = False

    async def _list(self, request: Request, centre_id: uuid.UUID, form: FormState, status_code: int = 200) -> Page:
        listing = await registry.list_sources(get_database(), get_actor(request), ip=client_ip(request),
                                              centre_id=centre_id)
        return page("list.html", status_code, centre=listing.centre, sources=listing.sources, runs=listing.runs,
                    form=form)

    @get("/centros/{centre_id:uuid}/fuentes", guards=[requires_role(*COORDINATION)])
    async def sources(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Page:
        return await self._list(request, centre_id, FormState("fuente", {"version": "1", "puerto": "3306",
                                                                         "zona_horaria": "America/Lima",
                                                                         "dias_relectura": "3", "activa": "on"}))

    @post("/centros/{centre_id:uuid}/fuentes", guards=[requires_role(*COORDINATION)])
    async def register(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Page | Redirect:
        values = await _form(request)
        try:
            source_id = await registry.register_source(get_database(), get_actor(request), ip=client_ip(request),
                                                       centre_id=centre_id, form=values)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            kept = {k: v for k, v in values.items() if k != "clave"}
            return await self._list(request, centre_id, FormState.refused("fuente", kept, exc), exc.status_code)
        flash(request, "Fuente registrada. Pruebe la conexión y mapee sus servicios.", category="exito")
        return Redirect(f"/ans/fuentes/{source_id}", status_code=303)

    async def _detail(self, request: Request, source_id: uuid.UUID, *, settings: FormState | None = None,
                      mapping: FormState | None = None, test: registry.ConnectionTest | None = None,
                      status_code: int = 200) -> Page:
        view = await registry.source_view(get_database(), get_actor(request), ip=client_ip(request),
                                          source_id=source_id)
        return page("detail.html", status_code, view=view,
                    settings=settings or FormState("ajustes", _source_values(view.source)),
                    mapping=mapping or FormState("mapeo", {}), test=test)

    @get("/fuentes/{source_id:uuid}", guards=[requires_role(*COORDINATION)])
    async def source(self, request: Request, source_id: FromPath[uuid.UUID]) -> Page:
        return await self._detail(request, source_id)

    @post("/fuentes/{source_id:uuid}", guards=[requires_role(*COORDINATION)])
    async def update(self, request: Request, source_id: FromPath[uuid.UUID]) -> Page | Redirect:
        values = await _form(request)
        try:
            await registry.update_source(get_database(), get_actor(request), ip=client_ip(request),
                                         source_id=source_id, form=values)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            kept = {k: v for k, v in values.items() if k != "clave"}
            return await self._detail(request, source_id, settings=FormState.refused("ajustes", kept, exc),
                                      status_code=exc.status_code)
        flash(request, "Cambios guardados.", category="exito")
        return Redirect(f"/ans/fuentes/{source_id}", status_code=303)

    @post("/fuentes/{source_id:uuid}/probar", guards=[requires_role(*COORDINATION)])
    async def probe(self, request: Request, source_id: FromPath[uuid.UUID]) -> Page:
        result = await registry.probe_connection(get_database(), get_actor(request), ip=client_ip(request),
                                                source_id=source_id)
        return await self._detail(request, source_id, test=result)

    @post("/fuentes/{source_id:uuid}/mapeos", guards=[requires_role(*COORDINATION)])
    async def add_mapping(self, request: Request, source_id: FromPath[uuid.UUID]) -> Page | Redirect:
        values = await _form(request)
        try:
            await registry.add_mapping(get_database(), get_actor(request), ip=client_ip(request),
                                       source_id=source_id, form=values)
        except DomainError as exc:
            if exc.status_code == 404:
                raise
            return await self._detail(request, source_id, mapping=FormState.refused("mapeo", values, exc),
                                      status_code=exc.status_code)
        flash(request, "Mapeo registrado; se aplica desde la próxima sincronización.", category="exito")
        return Redirect(f"/ans/fuentes/{source_id}#mapeo", status_code=303)

    @post("/fuentes/{source_id:uuid}/sincronizar", guards=[requires_role(*COORDINATION)])
    async def sync_now(self, request: Request, source_id: FromPath[uuid.UUID]) -> Redirect:
        await registry.request_sync(get_database(), get_actor(request), ip=client_ip(request), source_id=source_id)
        flash(request, "Sincronización solicitada: el trabajador la hará en unos instantes.", category="exito")
        return Redirect(f"/ans/fuentes/{source_id}", status_code=303)

    @get("/sincronizaciones/{run_id:uuid}", guards=[requires_role(*COORDINATION)])
    async def run(self, request: Request, run_id: FromPath[uuid.UUID]) -> Page:
        found, centre = await registry.sync_run(get_database(), get_actor(request), ip=client_ip(request),
                                                run_id=run_id)
        return page("run.html", run=found, centre=centre)


controllers = [SourcesController]
