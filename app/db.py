"""Engine, sessions and the tenant context.

Isolation lives in PostgreSQL (row-level security). The application's only job is to say, at the start of
every transaction, who is asking: the entity, the role and the user, set transaction-locally with
``set_config(..., true)`` so that a pooled connection can never carry a tenant into the next request.
That happens in exactly one place, :func:`_apply_tenant_context`, which refuses to run without a context.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, MetaData, event, func, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from app.config import Settings, asyncpg_url, get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Roles a person can hold in an entity (membership roles).
ROLE_GESTOR = "gestor_entidad"
ROLE_FINANZAS = "finanzas"
ROLE_COORDINADOR = "coordinador_centro"
ROLE_SUPERVISOR_SGP = "supervisor_sgp"
ROLE_ADMIN = "administrador_plataforma"
MEMBERSHIP_ROLES = (ROLE_GESTOR, ROLE_FINANZAS, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN)
# Context roles that are not memberships.
ROLE_CLIENTE = "cliente_maquina"  # a machine client (OAuth2 client credentials)
ROLE_USUARIO = "usuario"  # a person authenticated but not yet acting for an entity
ROLE_ANONIMO = "anonimo"  # public pages: login, verification
ROLE_SISTEMA = "sistema"  # worker, CLI and demo loader; never built from a web request

ROLE_LABELS = {
    ROLE_GESTOR: "Gestor(a) de entidad",
    ROLE_FINANZAS: "Finanzas",
    ROLE_COORDINADOR: "Coordinador(a) de centro",
    ROLE_SUPERVISOR_SGP: "Supervisor(a) SGP",
    ROLE_ADMIN: "Administrador(a) de plataforma",
}


@dataclass(frozen=True)
class TenantContext:
    """Who is asking, as the database sees it."""

    role: str
    entity_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    client_id: str | None = None
    ip: str | None = None

    @classmethod
    def anonymous(cls, ip: str | None = None) -> TenantContext:
        return cls(role=ROLE_ANONIMO, ip=ip)

    @classmethod
    def system(cls) -> TenantContext:
        return cls(role=ROLE_SISTEMA)


class MissingTenantContext(RuntimeError):
    pass


def _apply_tenant_context(session: Session, transaction, connection) -> None:  # noqa: ANN001
    ctx: TenantContext | None = session.info.get("tenant")
    if ctx is None:
        raise MissingTenantContext("Toda transacción necesita un contexto de entidad (TenantContext)")
    connection.execute(
        text(
            "SELECT set_config('app.role', :role, true), set_config('app.entity_id', :entity, true),"
            " set_config('app.user_id', :user, true)"
        ),
        {
            "role": ctx.role,
            "entity": str(ctx.entity_id) if ctx.entity_id else "",
            "user": str(ctx.user_id) if ctx.user_id else "",
        },
    )


event.listen(Session, "after_begin", _apply_tenant_context)


class Database:
    """The runtime engine (the role subject to RLS) and its unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.engine: AsyncEngine = create_async_engine(
            asyncpg_url(url), pool_size=pool_size, max_overflow=5, pool_pre_ping=True, echo=echo
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self, ctx: TenantContext) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends cleanly, rolls back otherwise."""
        async with self.sessionmaker(info={"tenant": ctx}) as session:
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


_database: Database | None = None


def get_database(settings: Settings | None = None) -> Database:
    global _database
    if _database is None:
        settings = settings or get_settings()
        _database = Database(settings.runtime_url())
    return _database


def set_database(database: Database | None) -> None:
    global _database
    _database = database
