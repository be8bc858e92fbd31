"""Clause templates, adhesions, their timeline, attachments and expiry reminders."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.adhesion.states import STATES
from app.db import Base, TimestampMixin, new_id

_STATE_LIST = ", ".join(f"'{s}'" for s in STATES)


class ClauseTemplate(TimestampMixin, Base):
    """A version of the clause text: borrador → publicada (immutable) → retirada."""

    __tablename__ = "clause_templates"
    __table_args__ = (CheckConstraint("status IN ('borrador', 'publicada', 'retirada')", name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="borrador")
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Adhesion(TimestampMixin, Base):
    """A participating entity's adhesion to one centre (per domain brief §3)."""

    __tablename__ = "adhesions"
    __table_args__ = (
        CheckConstraint(f"state IN ({_STATE_LIST})", name="state"),
        CheckConstraint("modules >= 0 AND area_m2 >= 0 AND monthly_fee >= 0", name="non_negative"),
        CheckConstraint("term_months BETWEEN 1 AND 120", name="term"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    template_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clause_templates.id"))
    previous_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("adhesions.id"))
    state: Mapped[str] = mapped_column(String(30), default="borrador")
    services: Mapped[list] = mapped_column(JSONB, default=list)  # [{"code", "name"}]
    ans: Mapped[list] = mapped_column(JSONB, default=list)  # [{"service", "max_wait", "max_attention", "target"}]
    modules: Mapped[int] = mapped_column(Integer, default=1)
    area_m2: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0"))
    monthly_fee: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    cofinancing: Mapped[str] = mapped_column(Text, default="")
    term_months: Mapped[int] = mapped_column(Integer, default=24)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    # The code the next document will carry (reserved when the draft opens) and the current signed document.
    draft_code: Mapped[str] = mapped_column(String(24), unique=True)
    document_code: Mapped[str | None] = mapped_column(String(24))
    document_version: Mapped[int] = mapped_column(Integer, default=0)
    state_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now())


class AdhesionEvent(Base):
    """One step of the timeline: who, when, from where, how they authenticated, why, and what changed."""

    __tablename__ = "adhesion_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    adhesion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("adhesions.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))  # the participant (tenant)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str | None] = mapped_column(String(30))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_dni: Mapped[str | None] = mapped_column(String(8))
    actor_role: Mapped[str] = mapped_column(String(30))
    actor_entity_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_entity_name: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(400))
    auth_method: Mapped[str | None] = mapped_column(String(30))
    acr: Mapped[str | None] = mapped_column(String(120))
    comment: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSONB, default=dict)


class AdhesionAttachment(TimestampMixin, Base):
    """A file attached to a step (observations, opinions, reasons): type and size checked on upload."""

    __tablename__ = "adhesion_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    adhesion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("adhesions.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("adhesion_events.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class AdhesionReminder(Base):
    """An expiry reminder already sent (days before the end date): the scheduled job's memory."""

    __tablename__ = "adhesion_reminders"
    __table_args__ = (UniqueConstraint("adhesion_id", "days_before", "end_date"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    adhesion_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("adhesions.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    days_before: Mapped[int] = mapped_column(Integer)
    end_date: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
