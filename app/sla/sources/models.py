"""Tables of the data-source registry: a centre's Novo SGA database, the mapping of its services to the
entities' services (versioned, effective-dated), the catalogue of Novo services seen, and the sync history.

The sync history (``sla_sync_runs``) is generic: ``kind`` says which origin fed the run (a Novo SGA database,
a national «detalle de atenciones» export, ...), so every automatic or bulk feed of a centre reports the same
counts in one place.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, new_id

RUN_KINDS = ("novosga", "detalle_atenciones")


class DataSource(TimestampMixin, Base):
    """A centre's Novo SGA database, read with a read-only user. The password is stored encrypted with the
    platform's secret (app.sla.sources.secrets) and never shown back."""

    __tablename__ = "sla_data_sources"
    __table_args__ = (
        CheckConstraint("kind IN ('novosga')", name="kind"),
        CheckConstraint("version IN (1, 2)", name="version"),
        CheckConstraint("port BETWEEN 1 AND 65535", name="port"),
        CheckConstraint("reread_days BETWEEN 0 AND 31", name="reread_days"),
        UniqueConstraint("centre_id", "name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="novosga")
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(SmallInteger)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=3306)
    database: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(80))
    password_encrypted: Mapped[str] = mapped_column(Text)
    unidade_id: Mapped[int | None] = mapped_column(Integer)  # Novo's unidade; empty: every unidade
    time_zone: Mapped[str] = mapped_column(String(64), default="America/Lima")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    reread_days: Mapped[int] = mapped_column(SmallInteger, default=3)
    watermark: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # latest arrival read
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class ServiceMapping(Base):
    """A Novo service (``servicos.id``; with ``includes_children`` its ``macro_id`` children too) standing for
    an entity's service at the centre from ``valid_from`` (until ``valid_to``). A change is a new version:
    the version in force is closed the day before, never rewritten."""

    __tablename__ = "sla_source_service_maps"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
        Index("ix_sla_source_service_maps_source", "source_id", "novo_service_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sla_data_sources.id", ondelete="CASCADE"))
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    novo_service_id: Mapped[int] = mapped_column(Integer)
    includes_children: Mapped[bool] = mapped_column(Boolean, default=False)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    service_code: Mapped[str] = mapped_column(String(30))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class SourceService(Base):
    """A service of the Novo database as last read (its name and macro service), to map and to list."""

    __tablename__ = "sla_source_services"
    __table_args__ = (UniqueConstraint("source_id", "novo_service_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sla_data_sources.id", ondelete="CASCADE"))
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    novo_service_id: Mapped[int] = mapped_column(Integer)
    macro_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(250))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SyncRun(Base):
    """One run of a feed of a centre and what became of the rows it read (counts of this run's rows)."""

    __tablename__ = "sla_sync_runs"
    __table_args__ = (
        CheckConstraint("kind IN ('novosga', 'detalle_atenciones')", name="kind"),
        CheckConstraint("status IN ('exito', 'error')", name="status"),
        Index("ix_sla_sync_runs_centre", "centre_id", "started_at"),
        Index("ix_sla_sync_runs_source", "source_id", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    source_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sla_data_sources.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    trigger: Mapped[str] = mapped_column(String(16))  # trabajador, consola, manual, importacion
    status: Mapped[str] = mapped_column(String(8))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    window_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    still_open: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    unmapped: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    reasons: Mapped[list] = mapped_column(JSONB, default=list)  # [{"fila", "campo", "motivo"}]
    unmapped_services: Mapped[list] = mapped_column(JSONB, default=list)  # [{"servicio", "nombre", "filas"}]
    warnings: Mapped[list] = mapped_column(JSONB, default=list)  # [str]
    error: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
