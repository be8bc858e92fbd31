"""The home page each role lands on, the public directory of centres, the audit trail, health and readiness."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, get
from litestar.response import Redirect, Response
from app.web.page import Page
from sqlalchemy import func, select, text

from app.audit_models import AuditEntry
from app.edge import PageNumber
from app.auth.actor import client_ip, get_actor
from app.auth.guards import requires_login
from app.db import ROLE_ADMIN, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, get_database
from app.tenants.models import Centre, CentreModule, CentreService, Entity, Membership, User


class HomeController(Controller):
    path = "/"
    include_in_schema = False

    @get("/")
    async def home(self, request: Request) -> Page | Redirect:
        actor = get_actor(request)
        if actor is None:
            return Redirect("/ingresar")
        if actor.is_machine:
            return Redirect("/schema")
        ctx = actor.context(client_ip(request))
        data: dict = {}
        async with get_database().transaction(ctx) as s:
            if actor.role in (ROLE_SUPERVISOR_SGP, ROLE_ADMIN):
                data["centres"] = await s.scalar(select(func.count()).select_from(Centre))
                data["entities"] = await s.scalar(select(func.count()).select_from(Entity))
                data["users"] = await s.scalar(select(func.count()).select_from(User))
                data["centre_rows"] = (await s.execute(
                    select(Centre.name, Centre.channel, Entity.short_name, Centre.is_demo)
                    .join(Entity, Entity.id == Centre.administering_entity_id).order_by(Centre.name))).all()
            elif actor.role == ROLE_COORDINADOR:
                data["my_centres"] = (await s.execute(
                    select(Centre, func.count(func.distinct(CentreModule.id)), func.count(func.distinct(CentreService.entity_id)))
                    .outerjoin(CentreModule, CentreModule.centre_id == Centre.id)
                    .outerjoin(CentreService, CentreService.centre_id == Centre.id)
                    .where(Centre.administering_entity_id == actor.entity_id)
                    .group_by(Centre.id).order_by(Centre.name))).all()
            else:
                data["present_in"] = (await s.execute(
                    select(Centre.name, func.count(CentreService.id))
                    .join(CentreService, CentreService.centre_id == Centre.id)
                    .where(CentreService.entity_id == actor.entity_id, CentreService.is_active)
                    .group_by(Centre.name).order_by(Centre.name))).all()
                data["colleagues"] = await s.scalar(
                    select(func.count(func.distinct(Membership.user_id))).where(Membership.entity_id == actor.entity_id))
            data["entity"] = await s.get(Entity, actor.entity_id)
            data["recent"] = (await s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(8))).all()
        return Page("home/home.html", context={"data": data})

    @get("/centros", guards=[requires_login])
    async def centres(self, request: Request) -> Page:
        actor = get_actor(request)
        async with get_database().transaction(actor.context(client_ip(request))) as s:
            rows = (await s.execute(
                select(Centre, Entity.name).join(Entity, Entity.id == Centre.administering_entity_id)
                .where(Centre.is_active).order_by(Centre.channel, Centre.name))).all()
        return Page("home/centres.html", context={"rows": rows})

    @get("/auditoria", guards=[requires_login])
    async def audit_trail(self, request: Request, pagina: PageNumber = 1) -> Page:
        """What the actor may see of the audit log (RLS decides: own entity; everything for SGP and admin)."""
        actor = get_actor(request)
        page = max(1, pagina)
        async with get_database().transaction(actor.context(client_ip(request))) as s:
            entries = (await s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())
                                       .offset((page - 1) * 50).limit(51))).all()
        return Page("home/audit.html", context={"entries": entries[:50], "page": page,
                                                    "has_more": len(entries) > 50})

    @get("/health", media_type=MediaType.JSON, include_in_schema=True, tags=["operación"])
    async def health(self) -> dict:
        """Liveness: the process answers."""
        return {"estado": "ok"}

    @get("/ready", media_type=MediaType.JSON, include_in_schema=True, tags=["operación"])
    async def ready(self) -> Response:
        """Readiness: the database answers and the schema is migrated, and the broker answers."""
        import asyncio

        from app.config import get_settings
        from app.worker.broker import check_broker

        settings = get_settings()
        body: dict = {"estado": "listo"}
        try:
            async with get_database().engine.connect() as conn:
                body["migracion"] = await conn.scalar(text("SELECT version_num FROM alembic_version"))
                if not settings.broker_url:  # the PostgreSQL broker: its schema in this database
                    await conn.execute(text("SELECT 1 FROM dramatiq.queue LIMIT 0"))
            body["base_de_datos"] = "ok"
        except Exception as exc:  # noqa: BLE001
            body.update(estado="no_listo", base_de_datos=type(exc).__name__, detalle=type(exc).__name__)
        kind, problem = await asyncio.to_thread(check_broker, settings)
        body["broker"] = {"tipo": kind, "estado": problem or "ok"}
        if problem:
            body["estado"] = "no_listo"
            body.setdefault("detalle", f"broker: {problem}")
        return Response(body, status_code=200 if body["estado"] == "listo" else 503)
