"""Entities (tenants), Centros MAC and the people who act for them."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Text,
    Index,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TimestampMixin, new_id

ENTITY_KINDS = ("publica", "privada")
GOVERNMENT_LEVELS = ("nacional", "regional", "local")
CHANNELS = ("centro_mac", "mac_express")
MODULE_KINDS = ("fijo", "virtual")


class Entity(TimestampMixin, Base):
    """A public or private entity identified by its RUC: every entity is a tenant."""

    __tablename__ = "entities"
    __table_args__ = (
        CheckConstraint("kind IN ('publica', 'privada')", name="kind"),
        CheckConstraint("level IS NULL OR level IN ('nacional', 'regional', 'local')", name="level"),
        CheckConstraint("ruc ~ '^(10|15|16|17|20)[0-9]{9}$'", name="ruc_format"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    ruc: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    level: Mapped[str | None] = mapped_column(String(10))
    is_rector: Mapped[bool] = mapped_column(Boolean, default=False)  # PCM-SGP
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # True when the RUC or other identifiers were made up for the demo (shown as such in the UI).
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


class Centre(TimestampMixin, Base):
    """A Centro MAC or MAC Express site, run by its administering entity."""

    __tablename__ = "centres"
    __table_args__ = (CheckConstraint("channel IN ('centro_mac', 'mac_express')", name="channel"),
                      CheckConstraint("ubigeo ~ '^[0-9]{6}$'", name="ubigeo_format"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(12))
    address: Mapped[str] = mapped_column(String(250))
    ubigeo: Mapped[str] = mapped_column(String(6))
    administering_entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    opened_on: Mapped[date | None] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    administering_entity: Mapped[Entity] = relationship(lazy="raise")


class CentreOpeningHours(Base):
    """Opening hours of a centre for one weekday, effective from a date (a later row supersedes it)."""

    __tablename__ = "centre_opening_hours"
    __table_args__ = (
        UniqueConstraint("centre_id", "weekday", "valid_from"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opens"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = lunes ... 6 = domingo
    opens_at: Mapped[time] = mapped_column(Time)
    closes_at: Mapped[time] = mapped_column(Time)
    valid_from: Mapped[date] = mapped_column(Date)


class CentreModule(Base):
    """An attention module (window) of a centre."""

    __tablename__ = "centre_modules"
    __table_args__ = (
        UniqueConstraint("centre_id", "code"),
        CheckConstraint("kind IN ('fijo', 'virtual')", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10), default="fijo")
    area_m2: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class CentreService(Base):
    """A service (procedure) that an entity offers at a centre."""

    __tablename__ = "centre_services"
    __table_args__ = (UniqueConstraint("centre_id", "entity_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(TimestampMixin, Base):
    """A person who signs in. Identity is global; what they may see comes from their memberships."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("dni IS NULL OR dni ~ '^[0-9]{8}$'", name="dni_format"),
        # Sign-in ignores case, so uniqueness must too.
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    dni: Mapped[str | None] = mapped_column(String(8), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


class Membership(TimestampMixin, Base):
    """A user acting for an entity with a role."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "entity_id", "role"),
        CheckConstraint(
            "role IN ('gestor_entidad', 'finanzas', 'coordinador_centro', 'supervisor_sgp', "
            "'administrador_plataforma')",
            name="role",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
