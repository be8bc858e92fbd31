"""What the platform administrator does with entities, centres, people and roles: one function per action.

Each function takes the caller's :class:`~app.db.TenantContext`, owns its transaction (so the web, the API
and the CLI get the same unit of work), writes an audit entry in that same transaction, and speaks in
Spanish domain errors. Row-level security is the last word on who may write (only ``app_is_privileged()``
writes entities, users and memberships); :func:`_require_admin` only gives a clear message earlier.

Uniqueness is enforced by the database: an ``IntegrityError`` is translated by constraint name into a
:class:`~app.errors.Conflict`, raised after the transaction has rolled back, so nothing partial is stored.
A few duplicates are also looked up first where the constraint cannot say it well (e-mail addresses are
compared case-insensitively; opening hours name the weekday that clashes).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.passwords import token_hash
from app.config import get_settings
from app.db import (
    ROLE_ADMIN,
    ROLE_COORDINADOR,
    ROLE_LABELS,
    ROLE_SISTEMA,
    ROLE_SUPERVISOR_SGP,
    TenantContext,
    get_database,
)
from app.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from app.tenants.models import Centre, CentreModule, CentreOpeningHours, CentreService, Entity, Membership, User
from app.tenants.schemas import (
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
    OpeningHoursRead,
    OpeningHoursSet,
    ServiceCreate,
    ServiceRead,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
    parse,
)
from app.worker.outbox import enqueue_in_transaction

LIMA = ZoneInfo("America/Lima")
# A new account's link to choose a password: longer than a reset link (2 h), people may read it the next day.
SET_PASSWORD_LINK_HOURS = 72
# Roles that only make sense in the rector entity (PCM, through the SGP).
RECTOR_ONLY_ROLES = (ROLE_SUPERVISOR_SGP, ROLE_ADMIN)
MAX_PAGE_SIZE = 200

# What a centre change means for other domains is theirs to decide: this domain only queues the fact through
# the outbox, in the transaction of the change, under a job name that the domain acting on it registers
# (``app.sla.jobs`` recomputes the ANS rollups from that date). Arguments: centre id, first day affected.
OPENING_HOURS_CHANGED = "centre_opening_hours_changed"


# ------------------------------------------------------------------------------------ plumbing ---


def _require_admin(ctx: TenantContext) -> None:
    if ctx.role not in (ROLE_ADMIN, ROLE_SISTEMA):
        raise Forbidden("Solo el(la) administrador(a) de la plataforma puede gestionar entidades, centros y usuarios.")


@asynccontextmanager
async def _unit_of_work(ctx: TenantContext, conflicts: dict[str, tuple[str | None, str]] | None = None
                        ) -> AsyncIterator[AsyncSession]:
    """The admin's transaction. A unique-constraint violation becomes the Conflict named in ``conflicts``
    (constraint name -> (field, Spanish message)), raised once the transaction has rolled back."""
    _require_admin(ctx)
    try:
        async with get_database().transaction(ctx) as session:
            yield session
    except IntegrityError as exc:
        name = _constraint_name(exc)
        if conflicts and name in conflicts:
            field, message = conflicts[name]
            raise Conflict(message, field=field) from None
        raise


def _constraint_name(exc: IntegrityError) -> str:
    """The violated constraint, from the driver's exception (asyncpg puts it on the cause)."""
    for candidate in (exc.orig, getattr(exc.orig, "__cause__", None)):
        name = getattr(candidate, "constraint_name", None)
        if name:
            return name
    match = re.search(r'constraint "([^"]+)"', str(exc.orig))
    return match.group(1) if match else ""


def _snapshot(row: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only what changed, for an audit entry that says what the edit did."""
    changed = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _page(page: int, page_size: int) -> tuple[int, int]:
    page_size = min(max(1, page_size), MAX_PAGE_SIZE)
    return max(1, page), page_size


async def _paginate(session: AsyncSession, stmt: Select, page: int, page_size: int) -> tuple[int, list]:
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = (await session.execute(stmt.offset((page - 1) * page_size).limit(page_size))).all()
    return total or 0, rows


def today_in_lima() -> date:
    return datetime.now(LIMA).date()


async def _active_entity(session: AsyncSession, entity_id: uuid.UUID, field: str) -> Entity:
    entity = await session.get(Entity, entity_id)
    if entity is None or not entity.is_active:
        raise ValidationFailed("Elija una entidad activa.", field=field)
    return entity


# ------------------------------------------------------------------------------------ entities ---

ENTITY_FIELDS = ("ruc", "name", "short_name", "kind", "level")


def _entity_conflicts(ruc: str | None) -> dict[str, tuple[str | None, str]]:
    return {"uq_entities_ruc": ("ruc", f"Ya existe una entidad con el RUC {ruc}.")}


def _centres_administered():  # noqa: ANN202
    return (select(func.count()).where(Centre.administering_entity_id == Entity.id, Centre.is_active)
            .correlate(Entity).scalar_subquery())


async def _entity_read(session: AsyncSession, entity: Entity) -> EntityRead:
    count = await session.scalar(select(func.count()).where(Centre.administering_entity_id == entity.id,
                                                            Centre.is_active))
    return EntityRead.model_validate(entity).model_copy(update={"centres_administered": count or 0})


async def list_entities(ctx: TenantContext, *, q: str | None = None, kind: str | None = None,
                        level: str | None = None, active: bool | None = True, page: int = 1,
                        page_size: int = 50) -> Listing[EntityRead]:
    """Search by RUC (digits) or by name and short name; filter by kind, level of government and state."""
    _require_admin(ctx)
    page, page_size = _page(page, page_size)
    stmt = select(Entity, _centres_administered()).order_by(Entity.short_name, Entity.name)
    if q and q.strip():
        term = q.strip()
        conditions = [Entity.name.ilike(_like(term), escape="\\"), Entity.short_name.ilike(_like(term), escape="\\")]
        digits = re.sub(r"[\s.-]", "", term)
        if digits.isdigit():  # a RUC, or part of one; letters mean a name, not a RUC
            conditions.append(Entity.ruc.contains(digits, autoescape=True))
        stmt = stmt.where(or_(*conditions))
    if kind:
        stmt = stmt.where(Entity.kind == kind)
    if level:
        stmt = stmt.where(Entity.level == level)
    if active is not None:
        stmt = stmt.where(Entity.is_active.is_(active))
    async with get_database().transaction(ctx) as s:
        total, rows = await _paginate(s, stmt, page, page_size)
    items = [EntityRead.model_validate(e).model_copy(update={"centres_administered": n}) for e, n in rows]
    return Listing[EntityRead](items=items, total=total, page=page, page_size=page_size)


async def get_entity(ctx: TenantContext, entity_id: uuid.UUID) -> EntityRead:
    _require_admin(ctx)
    async with get_database().transaction(ctx) as s:
        entity = await s.get(Entity, entity_id)
        if entity is None:
            raise NotFound("La entidad no existe.")
        return await _entity_read(s, entity)


async def entity_choices(ctx: TenantContext) -> list[tuple[uuid.UUID, str, bool]]:
    """Active entities for a select: (id, "SIGLA — Nombre", is_rector)."""
    _require_admin(ctx)
    async with get_database().transaction(ctx) as s:
        rows = (await s.execute(select(Entity.id, Entity.short_name, Entity.name, Entity.is_rector)
                                .where(Entity.is_active).order_by(Entity.short_name, Entity.name))).all()
    return [(id_, f"{short} — {name}", rector) for id_, short, name, rector in rows]


async def create_entity(ctx: TenantContext, data: EntityCreate) -> EntityRead:
    async with _unit_of_work(ctx, _entity_conflicts(data.ruc)) as s:
        entity = Entity(**data.model_dump(), is_rector=False, is_active=True, is_demo=False)
        s.add(entity)
        await s.flush()
        await s.refresh(entity)
        await audit.record(s, ctx, action="entidad_creada", record_type="entidad", record_id=entity.id,
                           after=_snapshot(entity, ENTITY_FIELDS), entity_id=entity.id)
        return await _entity_read(s, entity)


async def update_entity(ctx: TenantContext, entity_id: uuid.UUID, data: EntityUpdate) -> EntityRead:
    """Change only the fields sent; the entity that results must pass the same rules as a new one."""
    changes = data.model_dump(exclude_unset=True)
    async with _unit_of_work(ctx, _entity_conflicts(changes.get("ruc"))) as s:
        entity = await s.get(Entity, entity_id, with_for_update=True)
        if entity is None:
            raise NotFound("La entidad no existe.")
        before = _snapshot(entity, ENTITY_FIELDS)
        merged = parse(EntityCreate, {**before, **changes})
        for name, value in merged.model_dump().items():
            setattr(entity, name, value)
        await s.flush()
        old, new = _changes(before, _snapshot(entity, ENTITY_FIELDS))
        if new:
            await audit.record(s, ctx, action="entidad_actualizada", record_type="entidad", record_id=entity.id,
                               before=old, after=new, entity_id=entity.id)
        return await _entity_read(s, entity)


async def deactivate_entity(ctx: TenantContext, entity_id: uuid.UUID) -> EntityRead:
    """An inactive entity keeps its history; its people can no longer act for it (sessions end at once)."""
    async with _unit_of_work(ctx) as s:
        entity = await s.get(Entity, entity_id, with_for_update=True)
        if entity is None:
            raise NotFound("La entidad no existe.")
        if entity.is_rector:
            raise Conflict("La entidad rectora (PCM) no puede desactivarse.")
        centres = await s.scalar(select(func.count()).where(Centre.administering_entity_id == entity.id,
                                                             Centre.is_active))
        if centres:
            raise Conflict(f"La entidad administra {centres} centro(s) activo(s): asigne otra entidad "
                           "administradora antes de desactivarla.")
        if entity.is_active:
            entity.is_active = False
            await audit.record(s, ctx, action="entidad_desactivada", record_type="entidad", record_id=entity.id,
                               before={"is_active": True}, after={"is_active": False}, entity_id=entity.id)
        await s.flush()
        return await _entity_read(s, entity)


async def reactivate_entity(ctx: TenantContext, entity_id: uuid.UUID) -> EntityRead:
    async with _unit_of_work(ctx) as s:
        entity = await s.get(Entity, entity_id, with_for_update=True)
        if entity is None:
            raise NotFound("La entidad no existe.")
        if not entity.is_active:
            entity.is_active = True
            await audit.record(s, ctx, action="entidad_reactivada", record_type="entidad", record_id=entity.id,
                               before={"is_active": False}, after={"is_active": True}, entity_id=entity.id)
        await s.flush()
        return await _entity_read(s, entity)


# ------------------------------------------------------------------------------------- centres ---

CENTRE_FIELDS = ("name", "code", "channel", "address", "ubigeo", "administering_entity_id", "opened_on")


def _centre_conflicts(code: str | None) -> dict[str, tuple[str | None, str]]:
    return {"uq_centres_code": ("code", f"Ya existe un centro con el código {code}.")}


def classify_hours(rows: Iterable[Any], on: date) -> dict[Any, str]:
    """Each row's state on ``on``: the latest row per weekday that has started is ``vigente``; later ones are
    ``programado``; earlier ones ``reemplazado`` (kept, because past indicators were measured against them)."""
    rows = list(rows)
    in_force: dict[int, Any] = {}
    for row in rows:
        current = in_force.get(row.weekday)
        if row.valid_from <= on and (current is None or row.valid_from > current.valid_from):
            in_force[row.weekday] = row
    return {row.id: "vigente" if in_force.get(row.weekday) is row
            else "programado" if row.valid_from > on else "reemplazado" for row in rows}


async def _centre_detail(session: AsyncSession, centre: Centre) -> CentreDetail:
    admin_name = await session.scalar(select(Entity.short_name).where(Entity.id == centre.administering_entity_id))
    hours = (await session.scalars(select(CentreOpeningHours).where(CentreOpeningHours.centre_id == centre.id)
                                   .order_by(CentreOpeningHours.weekday, CentreOpeningHours.valid_from.desc()))).all()
    status = classify_hours(hours, today_in_lima())
    modules = (await session.scalars(select(CentreModule).where(CentreModule.centre_id == centre.id)
                                     .order_by(CentreModule.kind, CentreModule.code))).all()
    services = (await session.execute(
        select(CentreService, Entity.short_name).join(Entity, Entity.id == CentreService.entity_id)
        .where(CentreService.centre_id == centre.id).order_by(Entity.short_name, CentreService.code))).all()
    return CentreDetail.model_validate(centre).model_copy(update={
        "administering_entity_name": admin_name or "",
        "hours": [OpeningHoursRead.model_validate(h).model_copy(update={"status": status[h.id]}) for h in hours],
        "modules": [ModuleRead.model_validate(m) for m in modules],
        "services": [ServiceRead.model_validate(sv).model_copy(update={"entity_name": name})
                     for sv, name in services],
    })


async def _locked_centre(session: AsyncSession, centre_id: uuid.UUID) -> Centre:
    centre = await session.get(Centre, centre_id, with_for_update=True)
    if centre is None:
        raise NotFound("El centro no existe.")
    return centre


async def list_centres(ctx: TenantContext, *, q: str | None = None, channel: str | None = None,
                       entity_id: uuid.UUID | None = None, active: bool | None = True, page: int = 1,
                       page_size: int = 50) -> Listing[CentreRead]:
    _require_admin(ctx)
    page, page_size = _page(page, page_size)
    stmt = (select(Centre, Entity.short_name).join(Entity, Entity.id == Centre.administering_entity_id)
            .order_by(Centre.channel, Centre.name))
    if q and q.strip():
        like = _like(q.strip())
        stmt = stmt.where(or_(Centre.name.ilike(like, escape="\\"), Centre.code.ilike(like, escape="\\"),
                              Centre.address.ilike(like, escape="\\"), Centre.ubigeo.startswith(q.strip(), autoescape=True)))
    if channel:
        stmt = stmt.where(Centre.channel == channel)
    if entity_id:
        stmt = stmt.where(Centre.administering_entity_id == entity_id)
    if active is not None:
        stmt = stmt.where(Centre.is_active.is_(active))
    async with get_database().transaction(ctx) as s:
        total, rows = await _paginate(s, stmt, page, page_size)
    items = [CentreRead.model_validate(c).model_copy(update={"administering_entity_name": n}) for c, n in rows]
    return Listing[CentreRead](items=items, total=total, page=page, page_size=page_size)


async def get_centre(ctx: TenantContext, centre_id: uuid.UUID) -> CentreDetail:
    _require_admin(ctx)
    async with get_database().transaction(ctx) as s:
        centre = await s.get(Centre, centre_id)
        if centre is None:
            raise NotFound("El centro no existe.")
        return await _centre_detail(s, centre)


async def create_centre(ctx: TenantContext, data: CentreCreate) -> CentreDetail:
    async with _unit_of_work(ctx, _centre_conflicts(data.code)) as s:
        await _active_entity(s, data.administering_entity_id, "administering_entity_id")
        centre = Centre(**data.model_dump(), is_active=True, is_demo=False)
        s.add(centre)
        await s.flush()
        await s.refresh(centre)
        await audit.record(s, ctx, action="centro_creado", record_type="centro", record_id=centre.id,
                           after=_snapshot(centre, CENTRE_FIELDS), entity_id=centre.administering_entity_id)
        return await _centre_detail(s, centre)


async def update_centre(ctx: TenantContext, centre_id: uuid.UUID, data: CentreUpdate) -> CentreDetail:
    changes = data.model_dump(exclude_unset=True)
    async with _unit_of_work(ctx, _centre_conflicts(changes.get("code"))) as s:
        centre = await _locked_centre(s, centre_id)
        before = _snapshot(centre, CENTRE_FIELDS)
        merged = parse(CentreCreate, {**before, **changes})
        if merged.administering_entity_id != centre.administering_entity_id:
            await _active_entity(s, merged.administering_entity_id, "administering_entity_id")
        for name, value in merged.model_dump().items():
            setattr(centre, name, value)
        await s.flush()
        old, new = _changes(before, _snapshot(centre, CENTRE_FIELDS))
        if new:
            await audit.record(s, ctx, action="centro_actualizado", record_type="centro", record_id=centre.id,
                               before=old, after=new, entity_id=centre.administering_entity_id)
        return await _centre_detail(s, centre)


async def set_opening_hours(ctx: TenantContext, centre_id: uuid.UUID, data: OpeningHoursSet) -> CentreDetail:
    """New hours from a date: a new row per weekday that supersedes the earlier ones from that date on.
    Nothing is overwritten, so indicators of past months keep the hours they were measured against; figures
    from ``valid_from`` on are recomputed by the worker (:data:`OPENING_HOURS_CHANGED`, queued here)."""
    async with _unit_of_work(ctx, {"uq_centre_opening_hours_centre_id_weekday_valid_from": (
            "valid_from", "Ya hay un horario para ese día desde esa fecha; elija otra fecha de inicio.")}) as s:
        centre = await _locked_centre(s, centre_id)
        clashing = (await s.scalars(select(CentreOpeningHours.weekday).where(
            CentreOpeningHours.centre_id == centre.id, CentreOpeningHours.valid_from == data.valid_from,
            CentreOpeningHours.weekday.in_(data.weekdays)).order_by(CentreOpeningHours.weekday))).all()
        if clashing:
            days = ", ".join(WEEKDAYS[d] for d in clashing)
            raise Conflict(f"Ya hay un horario desde el {data.valid_from:%d/%m/%Y} para: {days}. Elija otra fecha "
                           "de inicio de vigencia.", field="valid_from")
        rows = [CentreOpeningHours(centre_id=centre.id, weekday=day, opens_at=data.opens_at,
                                   closes_at=data.closes_at, valid_from=data.valid_from) for day in data.weekdays]
        s.add_all(rows)
        await s.flush()
        await audit.record(s, ctx, action="horario_definido", record_type="centro", record_id=centre.id,
                           after=data.model_dump(mode="json"), entity_id=centre.administering_entity_id)
        await enqueue_in_transaction(s, OPENING_HOURS_CHANGED, str(centre.id), data.valid_from.isoformat(),
                                     entity_id=centre.administering_entity_id)
        return await _centre_detail(s, centre)


async def add_module(ctx: TenantContext, centre_id: uuid.UUID, data: ModuleCreate) -> ModuleRead:
    async with _unit_of_work(ctx, {"uq_centre_modules_centre_id_code": (
            "code", f"El centro ya tiene un módulo con el código {data.code}.")}) as s:
        centre = await _locked_centre(s, centre_id)
        module = CentreModule(centre_id=centre.id, **data.model_dump(), is_active=True)
        s.add(module)
        await s.flush()
        await audit.record(s, ctx, action="modulo_agregado", record_type="centro", record_id=centre.id,
                           after={"module_id": module.id, **data.model_dump()},
                           entity_id=centre.administering_entity_id)
        return ModuleRead.model_validate(module)


async def add_service(ctx: TenantContext, centre_id: uuid.UUID, data: ServiceCreate) -> ServiceRead:
    async with _unit_of_work(ctx, {"uq_centre_services_centre_id_entity_id_code": (
            "code", f"La entidad ya ofrece en este centro un servicio con el código {data.code}.")}) as s:
        centre = await _locked_centre(s, centre_id)
        entity = await _active_entity(s, data.entity_id, "entity_id")
        service = CentreService(centre_id=centre.id, **data.model_dump(), is_active=True)
        s.add(service)
        await s.flush()
        await audit.record(s, ctx, action="servicio_agregado", record_type="centro", record_id=centre.id,
                           after={"service_id": service.id, **data.model_dump()}, entity_id=entity.id)
        return ServiceRead.model_validate(service).model_copy(update={"entity_name": entity.short_name})


# ------------------------------------------------------------------------------ people and roles ---

USER_FIELDS = ("email", "full_name", "dni")


def _user_conflicts(email: str | None, dni: str | None) -> dict[str, tuple[str | None, str]]:
    return {"uq_users_email": ("email", f"Ya existe un usuario con el correo {email}."),
            "uq_users_dni": ("dni", f"Ya existe un usuario con el DNI {dni}.")}


async def _email_taken(session: AsyncSession, email: str, *, other_than: uuid.UUID | None = None) -> None:
    """Sign-in compares e-mails case-insensitively, so two accounts must not differ only in case."""
    stmt = select(User.id).where(func.lower(User.email) == email.lower())
    if other_than is not None:
        stmt = stmt.where(User.id != other_than)
    if await session.scalar(stmt.limit(1)):
        raise Conflict(f"Ya existe un usuario con el correo {email}.", field="email")


async def _memberships_by_user(session: AsyncSession, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[MembershipRead]]:
    result: dict[uuid.UUID, list[MembershipRead]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return result
    rows = (await session.execute(
        select(Membership, Entity.short_name).join(Entity, Entity.id == Membership.entity_id)
        .where(Membership.user_id.in_(user_ids))
        .order_by(Membership.is_active.desc(), Entity.short_name, Membership.role))).all()
    for membership, entity_name in rows:
        result[membership.user_id].append(
            MembershipRead.model_validate(membership).model_copy(update={"entity_name": entity_name}))
    return result


async def _user_read(session: AsyncSession, user: User) -> UserRead:
    memberships = await _memberships_by_user(session, [user.id])
    return UserRead.model_validate(user).model_copy(update={"memberships": memberships[user.id]})


async def _locked_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("El usuario no existe.")
    return user


async def list_users(ctx: TenantContext, *, q: str | None = None, entity_id: uuid.UUID | None = None,
                     role: str | None = None, active: bool | None = True, page: int = 1,
                     page_size: int = 50) -> Listing[UserRead]:
    """People with all their memberships; search by name, e-mail or DNI; filter by entity and role held."""
    _require_admin(ctx)
    page, page_size = _page(page, page_size)
    stmt = select(User).order_by(User.full_name, User.email)
    if q and q.strip():
        like = _like(q.strip())
        stmt = stmt.where(or_(User.full_name.ilike(like, escape="\\"), User.email.ilike(like, escape="\\"),
                              User.dni.startswith(q.strip(), autoescape=True)))
    if entity_id or role:
        held = select(Membership.user_id).where(Membership.is_active)
        if entity_id:
            held = held.where(Membership.entity_id == entity_id)
        if role:
            held = held.where(Membership.role == role)
        stmt = stmt.where(User.id.in_(held))
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    async with get_database().transaction(ctx) as s:
        total, rows = await _paginate(s, stmt, page, page_size)
        users = [row[0] for row in rows]
        memberships = await _memberships_by_user(s, [u.id for u in users])
    items = [UserRead.model_validate(u).model_copy(update={"memberships": memberships[u.id]}) for u in users]
    return Listing[UserRead](items=items, total=total, page=page, page_size=page_size)


async def get_user(ctx: TenantContext, user_id: uuid.UUID) -> UserRead:
    _require_admin(ctx)
    async with get_database().transaction(ctx) as s:
        user = await s.get(User, user_id)
        if user is None:
            raise NotFound("El usuario no existe.")
        return await _user_read(s, user)


async def create_user(ctx: TenantContext, data: UserCreate) -> UserCreated:
    """A new account without a password: its owner chooses one through a one-time link.

    The link is e-mailed (queued in this transaction, so no mail leaves for an account that was not
    created) and also returned, so the administrator can hand it over when mail is not configured. No one,
    not even the administrator, ever knows the person's password.
    """
    from app.worker.mail import queue_email

    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=SET_PASSWORD_LINK_HOURS)
    link = f"{get_settings().base_url}/restablecer/{token}"
    async with _unit_of_work(ctx, _user_conflicts(data.email, data.dni)) as s:
        await _email_taken(s, data.email)
        user = User(**data.model_dump(), password_hash=None, is_active=True, is_demo=False, failed_logins=0)
        s.add(user)
        await s.flush()
        await s.refresh(user)
        issued = (await s.execute(text("SELECT user_id FROM auth_create_reset_token(:e, :h, :x)"),
                                  {"e": user.email, "h": token_hash(token), "x": expires})).first()
        if issued is None or issued.user_id != user.id:  # the definer function did not see the new account
            raise DomainError("No se pudo preparar el enlace para definir la contraseña.")
        await queue_email(
            s, to=user.email, subject="Su cuenta en la Plataforma MAC",
            body=(f"Estimado(a) {user.full_name}:\n\nSe creó su cuenta en la Plataforma MAC. Para elegir su "
                  f"contraseña, abra este enlace (vence en {SET_PASSWORD_LINK_HOURS} horas y sirve una sola vez):"
                  f"\n\n{link}\n\nLuego ingrese con su correo {user.email}. Si no esperaba este mensaje, "
                  "comuníquese con la Secretaría de Gestión Pública.\n"),
        )
        await audit.record(s, ctx, action="usuario_creado", record_type="usuario", record_id=user.id,
                           after=_snapshot(user, USER_FIELDS))
        read = await _user_read(s, user)
    return UserCreated(user=read, set_password_url=link, link_expires_hours=SET_PASSWORD_LINK_HOURS)


async def update_user(ctx: TenantContext, user_id: uuid.UUID, data: UserUpdate) -> UserRead:
    changes = data.model_dump(exclude_unset=True)
    async with _unit_of_work(ctx, _user_conflicts(changes.get("email"), changes.get("dni"))) as s:
        user = await _locked_user(s, user_id)
        before = _snapshot(user, USER_FIELDS)
        merged = parse(UserCreate, {**before, **changes})
        if merged.email != user.email.lower():
            await _email_taken(s, merged.email, other_than=user.id)
        for name, value in merged.model_dump().items():
            setattr(user, name, value)
        await s.flush()
        old, new = _changes(before, _snapshot(user, USER_FIELDS))
        if new:
            await audit.record(s, ctx, action="usuario_actualizado", record_type="usuario", record_id=user.id,
                               before=old, after=new)
        return await _user_read(s, user)


async def deactivate_user(ctx: TenantContext, user_id: uuid.UUID) -> UserRead:
    """The account stops working at once (its sessions end on their next request); the person, their
    memberships and everything they did stay on record."""
    async with _unit_of_work(ctx) as s:
        user = await _locked_user(s, user_id)
        if user.id == ctx.user_id:
            raise Conflict("No puede desactivar su propia cuenta: pida a otro(a) administrador(a) que lo haga.")
        if user.is_active:
            user.is_active = False
            await audit.record(s, ctx, action="usuario_desactivado", record_type="usuario", record_id=user.id,
                               before={"is_active": True}, after={"is_active": False})
        await s.flush()
        return await _user_read(s, user)


async def reactivate_user(ctx: TenantContext, user_id: uuid.UUID) -> UserRead:
    async with _unit_of_work(ctx) as s:
        user = await _locked_user(s, user_id)
        if not user.is_active:
            user.is_active = True
            await audit.record(s, ctx, action="usuario_reactivado", record_type="usuario", record_id=user.id,
                               before={"is_active": False}, after={"is_active": True})
        await s.flush()
        return await _user_read(s, user)


async def grant_membership(ctx: TenantContext, data: MembershipCreate) -> MembershipRead:
    """Let a person act for an entity with a role.

    The SGP supervisor and the platform administrator act for the rector (PCM): granting them elsewhere would
    hand cross-tenant powers to another entity. A centre coordinator works for an administering entity, so
    the entity must run at least one active centre. A revoked membership is reactivated, not duplicated.
    """
    label = ROLE_LABELS[data.role]
    async with _unit_of_work(ctx) as s:
        user = await _locked_user(s, data.user_id)
        if not user.is_active:
            raise Conflict("El usuario está desactivado: reactívelo antes de otorgarle un rol.", field="user_id")
        entity = await _active_entity(s, data.entity_id, "entity_id")
        if data.role in RECTOR_ONLY_ROLES and not entity.is_rector:
            raise ValidationFailed(f"El rol {label} solo puede otorgarse en la entidad rectora (PCM).", field="role")
        if data.role == ROLE_COORDINADOR:
            centres = await s.scalar(select(func.count()).where(Centre.administering_entity_id == entity.id,
                                                                 Centre.is_active))
            if not centres:
                raise ValidationFailed(f"El rol {label} solo puede otorgarse en una entidad que administra al menos"
                                       " un centro.", field="role")
        membership = await s.scalar(select(Membership).where(
            Membership.user_id == user.id, Membership.entity_id == entity.id, Membership.role == data.role
        ).with_for_update())
        if membership is not None and membership.is_active:
            raise Conflict(f"{user.full_name} ya tiene el rol {label} en {entity.short_name}.", field="role")
        if membership is None:
            membership = Membership(user_id=user.id, entity_id=entity.id, role=data.role, is_active=True)
            s.add(membership)
            before = None
        else:
            membership.is_active = True
            before = {"is_active": False}
        await s.flush()
        await s.refresh(membership)
        await audit.record(s, ctx, action="rol_otorgado", record_type="membresia", record_id=membership.id,
                           before=before, after={"user_id": user.id, "entity_id": entity.id, "role": data.role,
                                                 "is_active": True}, entity_id=entity.id)
        return MembershipRead.model_validate(membership).model_copy(update={"entity_name": entity.short_name})


async def revoke_membership(ctx: TenantContext, membership_id: uuid.UUID, *,
                            user_id: uuid.UUID | None = None) -> MembershipRead:
    """The membership stays (inactive) as the record of who could do what, and when."""
    async with _unit_of_work(ctx) as s:
        row = (await s.execute(select(Membership, Entity.short_name).join(Entity, Entity.id == Membership.entity_id)
                               .where(Membership.id == membership_id).with_for_update(of=Membership))).first()
        if row is None or (user_id is not None and row[0].user_id != user_id):
            raise NotFound("El rol indicado no existe.")
        membership, entity_name = row
        if membership.user_id == ctx.user_id and membership.role == ROLE_ADMIN:
            raise Conflict("No puede retirarse a sí mismo(a) el rol de administrador(a): pida a otro(a) "
                           "administrador(a) que lo haga.")
        if not membership.is_active:
            raise Conflict("Ese rol ya estaba retirado.")
        membership.is_active = False
        await s.flush()
        await audit.record(s, ctx, action="rol_retirado", record_type="membresia", record_id=membership.id,
                           before={"is_active": True}, after={"is_active": False, "role": membership.role,
                                                              "user_id": membership.user_id},
                           entity_id=membership.entity_id)
        return MembershipRead.model_validate(membership).model_copy(update={"entity_name": entity_name})
