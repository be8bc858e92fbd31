"""The platform administrator's screens and JSON API for entities, centres, people and roles.

Thin on purpose: parse (:func:`app.tenants.schemas.parse`), call one service, render. The HTML pages
re-render a refused form with what was typed and one Spanish message next to each field (422, or 409 for a
duplicate), and redirect with a flash message on success. The API under ``/api/v1/admin`` answers the same
services with JSON; its errors are problem+json through the application's single error handler.

API bodies are read as raw JSON and validated by :func:`parse` rather than declared as typed ``data``:
Litestar's own body validation would answer 400 with pydantic's English messages, and the contract here is
422 with one Spanish message per field. Writes must be ``application/json`` (415 otherwise), which also
keeps cookie-authenticated API calls out of reach of cross-site HTML forms (the API is exempt from CSRF).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.response import Redirect
from pydantic import BaseModel

from app.auth.actor import request_context
from app.edge import PageNumber, PageSize
from app.auth.guards import requires_role
from app.db import MEMBERSHIP_ROLES, ROLE_ADMIN, ROLE_LABELS
from app.errors import Conflict, DomainError, ValidationFailed
from app.tenants import services
from app.tenants.models import CHANNELS, ENTITY_KINDS, GOVERNMENT_LEVELS
from app.tenants.schemas import (
    CHANNEL_LABELS,
    KIND_LABELS,
    LEVEL_LABELS,
    MODULE_KIND_LABELS,
    WEEKDAYS,
    CentreCreate,
    CentreDetail,
    CentreRead,
    CentreUpdate,
    EntityCreate,
    EntityRead,
    EntityUpdate,
    Listing,
    MembershipCreate,
    MembershipRead,
    ModuleCreate,
    ModuleRead,
    OpeningHoursSet,
    ServiceCreate,
    ServiceRead,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
    parse,
)
from app.web.forms import Form
from app.web.page import Page

ADMIN_ONLY = [requires_role(ROLE_ADMIN)]
STATES = {"activas": True, "inactivas": False, "todas": None}


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "tipo_de_contenido"
    title = "Tipo de contenido no admitido"


# --------------------------------------------------------------------------------------- helpers ---


def _is_htmx(request: Request) -> bool:
    """An htmx request for a fragment (search-as-you-type), not a boosted page load."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def _see_other(path: str) -> Redirect:
    return Redirect(path, status_code=303)


def _choice(value: str | None, options: tuple[str, ...] | dict) -> str | None:
    return value if value in options else None


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def form_values(data: dict[str, Any], model: type[BaseModel], *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """The model's fields from a submitted form. A blank field is absent from the form and means None; the
    rest of the form (the CSRF token, buttons) is not the model's business."""
    values: dict[str, Any] = {}
    for name in model.model_fields:
        value = data.get(name)
        if name in lists:
            value = [] if value is None else value if isinstance(value, list) else [value]
        values[name] = value
    return values


@dataclass
class FormState:
    """What a form shows: the values typed, one error per field, and a message on top."""

    prefix: str
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    @classmethod
    def refused(cls, prefix: str, values: dict[str, Any], exc: DomainError) -> FormState:
        errors = {e["campo"]: e["mensaje"] for e in exc.errors if e.get("campo")}
        return cls(prefix, dict(values), errors, exc.message)

    def id(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def value(self, name: str) -> Any:
        value = self.values.get(name)
        return "" if value is None else value

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def has(self, name: str, option: Any) -> bool:
        value = self.values.get(name)
        chosen = value if isinstance(value, list) else [value]
        return str(option) in {str(v) for v in chosen if v is not None}


def _page_links(base: str, params: dict[str, Any], listing: Listing) -> dict[str, str | None]:
    def url(page: int) -> str:
        query = {k: v for k, v in {**params, "pagina": page}.items() if v not in (None, "")}
        return f"{base}?{urlencode(query)}"

    return {"previous": url(listing.page - 1) if listing.page > 1 else None,
            "next": url(listing.page + 1) if listing.page < listing.pages else None}


# How the forms name each field, for the error summary at the top of a refused form.
FIELD_LABELS = {
    "ruc": "RUC", "name": "Nombre", "short_name": "Sigla o nombre corto", "kind": "Tipo", "level": "Nivel de gobierno",
    "code": "Código", "channel": "Canal", "address": "Dirección", "ubigeo": "Ubigeo",
    "administering_entity_id": "Entidad administradora", "opened_on": "Fecha de inauguración", "weekdays": "Días",
    "opens_at": "Hora de apertura", "closes_at": "Hora de cierre", "valid_from": "Vigente desde", "area_m2": "Área",
    "entity_id": "Entidad", "email": "Correo electrónico", "full_name": "Nombres y apellidos", "dni": "DNI",
    "role": "Rol", "user_id": "Usuario",
}
COMMON = {
    "field_labels": FIELD_LABELS, "kind_labels": KIND_LABELS, "level_labels": LEVEL_LABELS,
    "channel_labels": CHANNEL_LABELS, "module_kind_labels": MODULE_KIND_LABELS, "role_labels": ROLE_LABELS,
    "day_options": [(i, day.capitalize()) for i, day in enumerate(WEEKDAYS)],
    "role_options": [(role, ROLE_LABELS[role]) for role in MEMBERSHIP_ROLES],
}


def _page(template: str, status: int = 200, **context: Any) -> Page:
    return Page(template, context={**COMMON, **context}, status_code=status)


async def _json(request: Request) -> dict[str, Any]:
    if request.content_type[0] != "application/json":
        raise UnsupportedMediaType("Envíe el cuerpo como JSON (Content-Type: application/json).")
    try:
        body = await request.json()
    except Exception:  # noqa: BLE001 - any decoding problem is the client's
        raise ValidationFailed("El cuerpo de la solicitud no es JSON válido.") from None
    if not isinstance(body, dict):
        raise ValidationFailed("El cuerpo de la solicitud debe ser un objeto JSON.")
    return body


# ---------------------------------------------------------------------------------- HTML: entities ---


class EntityPages(Controller):
    path = "/admin/entidades"
    guards = ADMIN_ONLY
    include_in_schema = False

    @get("/")
    async def index(self, request: Request, q: FromQuery[str | None] = None, tipo: FromQuery[str | None] = None,
                    nivel: FromQuery[str | None] = None, estado: FromQuery[str] = "activas",
                    pagina: PageNumber = 1) -> Page:
        params = {"q": q or "", "tipo": _choice(tipo, ENTITY_KINDS), "nivel": _choice(nivel, GOVERNMENT_LEVELS),
                  "estado": estado if estado in STATES else "activas"}
        listing = await services.list_entities(request_context(request), q=q, kind=params["tipo"], level=params["nivel"],
                                               active=STATES[params["estado"]], page=pagina)
        template = "admin/_entities_table.html" if _is_htmx(request) else "admin/entities.html"
        return _page(template, listing=listing, params=params,
                     links=_page_links("/admin/entidades", params, listing))

    @get("/nueva")
    async def new(self) -> Page:
        return _page("admin/entity_form.html", form=FormState("entidad"), entity=None)

    @post("/")
    async def create(self, request: Request, data: Form) -> Page | Redirect:
        try:
            entity = await services.create_entity(request_context(request), parse(EntityCreate, form_values(data, EntityCreate)))
        except (ValidationFailed, Conflict) as exc:
            return _page("admin/entity_form.html", exc.status_code,
                         form=FormState.refused("entidad", data, exc), entity=None)
        flash(request, f"Se registró la entidad {entity.short_name} (RUC {entity.ruc}).", "exito")
        return _see_other("/admin/entidades")

    @get("/{entity_id:uuid}")
    async def show(self, request: Request, entity_id: FromPath[uuid.UUID]) -> Page:
        entity = await services.get_entity(request_context(request), entity_id)
        return _page("admin/entity_form.html", form=FormState("entidad", entity.model_dump()), entity=entity)

    @post("/{entity_id:uuid}")
    async def update(self, request: Request, entity_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        ctx = request_context(request)
        try:
            entity = await services.update_entity(ctx, entity_id, parse(EntityUpdate, form_values(data, EntityUpdate)))
        except (ValidationFailed, Conflict) as exc:
            entity = await services.get_entity(ctx, entity_id)
            return _page("admin/entity_form.html", exc.status_code,
                         form=FormState.refused("entidad", data, exc), entity=entity)
        flash(request, f"Se guardaron los cambios de {entity.short_name}.", "exito")
        return _see_other(f"/admin/entidades/{entity.id}")

    @post("/{entity_id:uuid}/desactivar")
    async def deactivate(self, request: Request, entity_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            entity = await services.deactivate_entity(request_context(request), entity_id)
        except Conflict as exc:
            flash(request, exc.message, "error")
        else:
            flash(request, f"La entidad {entity.short_name} quedó desactivada; su historial se conserva.", "exito")
        return _see_other(f"/admin/entidades/{entity_id}")

    @post("/{entity_id:uuid}/reactivar")
    async def reactivate(self, request: Request, entity_id: FromPath[uuid.UUID]) -> Redirect:
        entity = await services.reactivate_entity(request_context(request), entity_id)
        flash(request, f"La entidad {entity.short_name} está activa nuevamente.", "exito")
        return _see_other(f"/admin/entidades/{entity_id}")


# ----------------------------------------------------------------------------------- HTML: centres ---


class CentrePages(Controller):
    path = "/admin/centros"
    guards = ADMIN_ONLY
    include_in_schema = False

    @get("/")
    async def index(self, request: Request, q: FromQuery[str | None] = None, canal: FromQuery[str | None] = None,
                    entidad: FromQuery[str | None] = None, estado: FromQuery[str] = "activas",
                    pagina: PageNumber = 1) -> Page:
        ctx = request_context(request)
        entity_id = _uuid(entidad)
        params = {"q": q or "", "canal": _choice(canal, CHANNELS), "entidad": str(entity_id) if entity_id else "",
                  "estado": estado if estado in STATES else "activas"}
        listing = await services.list_centres(ctx, q=q, channel=params["canal"], entity_id=entity_id,
                                              active=STATES[params["estado"]], page=pagina)
        if _is_htmx(request):
            return _page("admin/_centres_table.html", listing=listing, params=params,
                         links=_page_links("/admin/centros", params, listing))
        return _page("admin/centres.html", listing=listing, params=params, entities=await services.entity_choices(ctx),
                     links=_page_links("/admin/centros", params, listing))

    @get("/nuevo")
    async def new(self, request: Request) -> Page:
        return _page("admin/centre_form.html", form=FormState("centro"),
                     entities=await services.entity_choices(request_context(request)))

    @post("/")
    async def create(self, request: Request, data: Form) -> Page | Redirect:
        ctx = request_context(request)
        try:
            centre = await services.create_centre(ctx, parse(CentreCreate, form_values(data, CentreCreate)))
        except (ValidationFailed, Conflict) as exc:
            return _page("admin/centre_form.html", exc.status_code, form=FormState.refused("centro", data, exc),
                         entities=await services.entity_choices(ctx))
        flash(request, f"Se registró el centro {centre.name}. Defina ahora su horario, módulos y servicios.", "exito")
        return _see_other(f"/admin/centros/{centre.id}")

    async def _detail(self, request: Request, centre_id: uuid.UUID, status: int = 200, **forms: FormState) -> Page:
        ctx = request_context(request)
        centre = await services.get_centre(ctx, centre_id)
        defaults = {
            "centre_form": FormState("centro", centre.model_dump()),
            "hours_form": FormState("horario", {"weekdays": [0, 1, 2, 3, 4], "opens_at": "08:00",
                                                "closes_at": "16:45", "valid_from": services.today_in_lima()}),
            "module_form": FormState("modulo", {"kind": "fijo"}),
            "service_form": FormState("servicio"),
        }
        return _page("admin/centre_detail.html", status, centre=centre, entities=await services.entity_choices(ctx),
                     **{**defaults, **forms})

    @get("/{centre_id:uuid}")
    async def show(self, request: Request, centre_id: FromPath[uuid.UUID]) -> Page:
        return await self._detail(request, centre_id)

    @post("/{centre_id:uuid}")
    async def update(self, request: Request, centre_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        try:
            centre = await services.update_centre(request_context(request), centre_id,
                                                  parse(CentreUpdate, form_values(data, CentreUpdate)))
        except (ValidationFailed, Conflict) as exc:
            return await self._detail(request, centre_id, exc.status_code,
                                      centre_form=FormState.refused("centro", data, exc))
        flash(request, f"Se guardaron los datos del centro {centre.name}.", "exito")
        return _see_other(f"/admin/centros/{centre_id}")

    @post("/{centre_id:uuid}/horarios")
    async def set_hours(self, request: Request, centre_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        values = form_values(data, OpeningHoursSet, lists=("weekdays",))
        try:
            await services.set_opening_hours(request_context(request), centre_id, parse(OpeningHoursSet, values))
        except (ValidationFailed, Conflict) as exc:
            return await self._detail(request, centre_id, exc.status_code,
                                      hours_form=FormState.refused("horario", values, exc))
        flash(request, "Se registró el horario. Los horarios anteriores se conservan en el historial.", "exito")
        return _see_other(f"/admin/centros/{centre_id}#horario")

    @post("/{centre_id:uuid}/modulos")
    async def add_module(self, request: Request, centre_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        try:
            module = await services.add_module(request_context(request), centre_id, parse(ModuleCreate, form_values(data, ModuleCreate)))
        except (ValidationFailed, Conflict) as exc:
            return await self._detail(request, centre_id, exc.status_code,
                                      module_form=FormState.refused("modulo", data, exc))
        flash(request, f"Se agregó el módulo {module.code}.", "exito")
        return _see_other(f"/admin/centros/{centre_id}#modulos")

    @post("/{centre_id:uuid}/servicios")
    async def add_service(self, request: Request, centre_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        try:
            service = await services.add_service(request_context(request), centre_id,
                                                 parse(ServiceCreate, form_values(data, ServiceCreate)))
        except (ValidationFailed, Conflict) as exc:
            return await self._detail(request, centre_id, exc.status_code,
                                      service_form=FormState.refused("servicio", data, exc))
        flash(request, f"Se agregó el servicio «{service.name}» de {service.entity_name}.", "exito")
        return _see_other(f"/admin/centros/{centre_id}#servicios")


# ------------------------------------------------------------------------------------- HTML: people ---


class UserPages(Controller):
    path = "/admin/usuarios"
    guards = ADMIN_ONLY
    include_in_schema = False

    @get("/")
    async def index(self, request: Request, q: FromQuery[str | None] = None, entidad: FromQuery[str | None] = None,
                    rol: FromQuery[str | None] = None, estado: FromQuery[str] = "activas",
                    pagina: PageNumber = 1) -> Page:
        ctx = request_context(request)
        entity_id = _uuid(entidad)
        params = {"q": q or "", "entidad": str(entity_id) if entity_id else "", "rol": _choice(rol, MEMBERSHIP_ROLES),
                  "estado": estado if estado in STATES else "activas"}
        listing = await services.list_users(ctx, q=q, entity_id=entity_id, role=params["rol"],
                                            active=STATES[params["estado"]], page=pagina)
        links = _page_links("/admin/usuarios", params, listing)
        if _is_htmx(request):
            return _page("admin/_users_table.html", listing=listing, params=params, links=links)
        return _page("admin/users.html", listing=listing, params=params, links=links,
                     entities=await services.entity_choices(ctx))

    @get("/nuevo")
    async def new(self) -> Page:
        return _page("admin/user_form.html", form=FormState("usuario"))

    @post("/")
    async def create(self, request: Request, data: Form) -> Page | Redirect:
        try:
            created = await services.create_user(request_context(request), parse(UserCreate, form_values(data, UserCreate)))
        except (ValidationFailed, Conflict) as exc:
            return _page("admin/user_form.html", exc.status_code, form=FormState.refused("usuario", data, exc))
        user = created.user
        flash(request, f"Se creó la cuenta de {user.full_name}. Se envió a {user.email} un enlace para definir su "
                       f"contraseña (vence en {created.link_expires_hours} horas y sirve una sola vez). Si el correo "
                       f"no llega, entréguele este enlace: {created.set_password_url}", "exito")
        return _see_other(f"/admin/usuarios/{user.id}")

    async def _detail(self, request: Request, user_id: uuid.UUID, status: int = 200, **forms: FormState) -> Page:
        ctx = request_context(request)
        user = await services.get_user(ctx, user_id)
        defaults = {"user_form": FormState("usuario", user.model_dump()), "grant_form": FormState("rol")}
        return _page("admin/user_detail.html", status, user=user, entities=await services.entity_choices(ctx),
                     **{**defaults, **forms})

    @get("/{user_id:uuid}")
    async def show(self, request: Request, user_id: FromPath[uuid.UUID]) -> Page:
        return await self._detail(request, user_id)

    @post("/{user_id:uuid}")
    async def update(self, request: Request, user_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        try:
            user = await services.update_user(request_context(request), user_id, parse(UserUpdate, form_values(data, UserUpdate)))
        except (ValidationFailed, Conflict) as exc:
            return await self._detail(request, user_id, exc.status_code,
                                      user_form=FormState.refused("usuario", data, exc))
        flash(request, f"Se guardaron los datos de {user.full_name}.", "exito")
        return _see_other(f"/admin/usuarios/{user_id}")

    @post("/{user_id:uuid}/desactivar")
    async def deactivate(self, request: Request, user_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            user = await services.deactivate_user(request_context(request), user_id)
        except Conflict as exc:
            flash(request, exc.message, "error")
        else:
            flash(request, f"La cuenta de {user.full_name} quedó desactivada; sus sesiones terminaron y su "
                           "historial se conserva.", "exito")
        return _see_other(f"/admin/usuarios/{user_id}")

    @post("/{user_id:uuid}/reactivar")
    async def reactivate(self, request: Request, user_id: FromPath[uuid.UUID]) -> Redirect:
        user = await services.reactivate_user(request_context(request), user_id)
        flash(request, f"La cuenta de {user.full_name} está activa nuevamente.", "exito")
        return _see_other(f"/admin/usuarios/{user_id}")

    @post("/{user_id:uuid}/roles")
    async def grant(self, request: Request, user_id: FromPath[uuid.UUID], data: Form) -> Page | Redirect:
        values = {**form_values(data, MembershipCreate), "user_id": str(user_id)}
        try:
            membership = await services.grant_membership(request_context(request), parse(MembershipCreate, values))
        except (ValidationFailed, Conflict) as exc:
            return await self._detail(request, user_id, exc.status_code,
                                      grant_form=FormState.refused("rol", values, exc))
        flash(request, f"Se otorgó el rol {membership.role_label} en {membership.entity_name}.", "exito")
        return _see_other(f"/admin/usuarios/{user_id}#roles")

    @post("/{user_id:uuid}/roles/{membership_id:uuid}/retirar")
    async def revoke(self, request: Request, user_id: FromPath[uuid.UUID],
                     membership_id: FromPath[uuid.UUID]) -> Redirect:
        try:
            membership = await services.revoke_membership(request_context(request), membership_id, user_id=user_id)
        except Conflict as exc:
            flash(request, exc.message, "error")
        else:
            flash(request, f"Se retiró el rol {membership.role_label} en {membership.entity_name}; queda en el "
                           "historial.", "exito")
        return _see_other(f"/admin/usuarios/{user_id}#roles")


# ------------------------------------------------------------------------------------------- API ---


def _active_filter(active: str | None) -> bool | None:
    """``active``: true (default), false, or all."""
    if active in (None, "", "true", "1"):
        return True
    if active in ("false", "0"):
        return False
    if active in ("all", "todas"):
        return None
    raise ValidationFailed("Use true, false o all.", field="active")


def _api_choice(value: str | None, options: tuple[str, ...], name: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in options:
        raise ValidationFailed(f"Elija una opción válida ({', '.join(options)}).", field=name)
    return value


class EntityApi(Controller):
    """Entities (tenants) identified by their RUC."""

    path = "/api/v1/admin/entidades"
    guards = ADMIN_ONLY
    tags = ["administración: entidades"]

    @get("/", summary="Buscar entidades por RUC o nombre")
    async def list_entities(self, request: Request, q: FromQuery[str | None] = None, kind: FromQuery[str | None] = None,
                            level: FromQuery[str | None] = None, active: FromQuery[str | None] = None,
                            page: PageNumber = 1, page_size: PageSize = 50) -> Listing[EntityRead]:
        return await services.list_entities(
            request_context(request), q=q, kind=_api_choice(kind, ENTITY_KINDS, "kind"),
            level=_api_choice(level, GOVERNMENT_LEVELS, "level"), active=_active_filter(active),
            page=page, page_size=page_size)

    @get("/{entity_id:uuid}", summary="Ver una entidad")
    async def get_entity(self, request: Request, entity_id: FromPath[uuid.UUID]) -> EntityRead:
        return await services.get_entity(request_context(request), entity_id)

    @post("/", summary="Registrar una entidad", description="Cuerpo: EntityCreate (ruc, name, short_name, kind, level).")
    async def create_entity(self, request: Request) -> EntityRead:
        return await services.create_entity(request_context(request), parse(EntityCreate, await _json(request)))

    @patch("/{entity_id:uuid}", summary="Modificar una entidad", description="Cuerpo: EntityUpdate (solo los campos que cambian).")
    async def update_entity(self, request: Request, entity_id: FromPath[uuid.UUID]) -> EntityRead:
        return await services.update_entity(request_context(request), entity_id, parse(EntityUpdate, await _json(request)))

    @post("/{entity_id:uuid}/desactivar", status_code=200, summary="Desactivar una entidad (conserva su historial)")
    async def deactivate_entity(self, request: Request, entity_id: FromPath[uuid.UUID]) -> EntityRead:
        return await services.deactivate_entity(request_context(request), entity_id)

    @post("/{entity_id:uuid}/reactivar", status_code=200, summary="Reactivar una entidad")
    async def reactivate_entity(self, request: Request, entity_id: FromPath[uuid.UUID]) -> EntityRead:
        return await services.reactivate_entity(request_context(request), entity_id)


class CentreApi(Controller):
    """Centros MAC and MAC Express sites with their hours, modules and services."""

    path = "/api/v1/admin/centros"
    guards = ADMIN_ONLY
    tags = ["administración: centros"]

    @get("/", summary="Buscar centros")
    async def list_centres(self, request: Request, q: FromQuery[str | None] = None,
                           channel: FromQuery[str | None] = None, entity_id: FromQuery[uuid.UUID | None] = None,
                           active: FromQuery[str | None] = None, page: PageNumber = 1,
                           page_size: PageSize = 50) -> Listing[CentreRead]:
        return await services.list_centres(request_context(request), q=q, channel=_api_choice(channel, CHANNELS, "channel"),
                                           entity_id=entity_id, active=_active_filter(active), page=page,
                                           page_size=page_size)

    @get("/{centre_id:uuid}", summary="Ver un centro con su horario (e historial), módulos y servicios")
    async def get_centre(self, request: Request, centre_id: FromPath[uuid.UUID]) -> CentreDetail:
        return await services.get_centre(request_context(request), centre_id)

    @post("/", summary="Registrar un centro", description="Cuerpo: CentreCreate.")
    async def create_centre(self, request: Request) -> CentreDetail:
        return await services.create_centre(request_context(request), parse(CentreCreate, await _json(request)))

    @patch("/{centre_id:uuid}", summary="Modificar un centro", description="Cuerpo: CentreUpdate.")
    async def update_centre(self, request: Request, centre_id: FromPath[uuid.UUID]) -> CentreDetail:
        return await services.update_centre(request_context(request), centre_id, parse(CentreUpdate, await _json(request)))

    @post("/{centre_id:uuid}/horarios", summary="Definir el horario desde una fecha (el anterior queda en el historial)",
          description="Cuerpo: OpeningHoursSet (weekdays 0=lunes … 6=domingo, opens_at, closes_at, valid_from).")
    async def set_hours(self, request: Request, centre_id: FromPath[uuid.UUID]) -> CentreDetail:
        return await services.set_opening_hours(request_context(request), centre_id, parse(OpeningHoursSet, await _json(request)))

    @post("/{centre_id:uuid}/modulos", summary="Agregar un módulo de atención", description="Cuerpo: ModuleCreate.")
    async def add_module(self, request: Request, centre_id: FromPath[uuid.UUID]) -> ModuleRead:
        return await services.add_module(request_context(request), centre_id, parse(ModuleCreate, await _json(request)))

    @post("/{centre_id:uuid}/servicios", summary="Agregar un servicio de una entidad", description="Cuerpo: ServiceCreate.")
    async def add_service(self, request: Request, centre_id: FromPath[uuid.UUID]) -> ServiceRead:
        return await services.add_service(request_context(request), centre_id, parse(ServiceCreate, await _json(request)))


class UserApi(Controller):
    """People, and the roles (memberships) with which they act for entities."""

    path = "/api/v1/admin/usuarios"
    guards = ADMIN_ONLY
    tags = ["administración: usuarios"]

    @get("/", summary="Buscar usuarios con sus roles")
    async def list_users(self, request: Request, q: FromQuery[str | None] = None,
                         entity_id: FromQuery[uuid.UUID | None] = None, role: FromQuery[str | None] = None,
                         active: FromQuery[str | None] = None, page: PageNumber = 1,
                         page_size: PageSize = 50) -> Listing[UserRead]:
        return await services.list_users(request_context(request), q=q, entity_id=entity_id,
                                         role=_api_choice(role, MEMBERSHIP_ROLES, "role"),
                                         active=_active_filter(active), page=page, page_size=page_size)

    @get("/{user_id:uuid}", summary="Ver un usuario con sus roles (vigentes y retirados)")
    async def get_user(self, request: Request, user_id: FromPath[uuid.UUID]) -> UserRead:
        return await services.get_user(request_context(request), user_id)

    @post("/", summary="Crear una cuenta", description="Cuerpo: UserCreate. Devuelve el enlace de un solo uso "
          "para que la persona defina su contraseña (también se le envía por correo).")
    async def create_user(self, request: Request) -> UserCreated:
        return await services.create_user(request_context(request), parse(UserCreate, await _json(request)))

    @patch("/{user_id:uuid}", summary="Modificar una cuenta", description="Cuerpo: UserUpdate.")
    async def update_user(self, request: Request, user_id: FromPath[uuid.UUID]) -> UserRead:
        return await services.update_user(request_context(request), user_id, parse(UserUpdate, await _json(request)))

    @post("/{user_id:uuid}/desactivar", status_code=200, summary="Desactivar una cuenta (termina sus sesiones)")
    async def deactivate_user(self, request: Request, user_id: FromPath[uuid.UUID]) -> UserRead:
        return await services.deactivate_user(request_context(request), user_id)

    @post("/{user_id:uuid}/reactivar", status_code=200, summary="Reactivar una cuenta")
    async def reactivate_user(self, request: Request, user_id: FromPath[uuid.UUID]) -> UserRead:
        return await services.reactivate_user(request_context(request), user_id)

    @post("/{user_id:uuid}/membresias", summary="Otorgar un rol en una entidad",
          description="Cuerpo: entity_id y role.")
    async def grant_membership(self, request: Request, user_id: FromPath[uuid.UUID]) -> MembershipRead:
        body = await _json(request)
        return await services.grant_membership(request_context(request), parse(MembershipCreate, {**body, "user_id": str(user_id)}))

    @delete("/{user_id:uuid}/membresias/{membership_id:uuid}", status_code=204,
            summary="Retirar un rol (la membresía se conserva inactiva en el historial)")
    async def revoke_membership(self, request: Request, user_id: FromPath[uuid.UUID],
                                membership_id: FromPath[uuid.UUID]) -> None:
        await services.revoke_membership(request_context(request), membership_id, user_id=user_id)


controllers = [EntityPages, CentrePages, UserPages, EntityApi, CentreApi, UserApi]
