"""Cost sharing tables: methodologies, monthly periods of a centre, their cost pool and participants, the
stored computations with their lines, observations and adjustments.

Isolation (migration 0005): the centre's coordinator manages its periods; the SGP reads everything and manages
methodologies; a participant reads the periods it takes part in once published, the centre's items (the pool
and its totals) and only its own lines, driver values and observations — never another entity's.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, new_id

CATEGORIES = ("alquiler", "mantenimiento", "limpieza", "vigilancia", "energia", "agua", "telecomunicaciones",
              "sistema_colas", "orientacion", "otros")
CATEGORY_LABELS = {
    "alquiler": "Alquiler", "mantenimiento": "Mantenimiento", "limpieza": "Limpieza", "vigilancia": "Vigilancia",
    "energia": "Energía eléctrica", "agua": "Agua", "telecomunicaciones": "Telecomunicaciones",
    "sistema_colas": "Sistema de colas", "orientacion": "Orientación", "otros": "Otros",
}
PERIOD_STATES = ("borrador", "calculado", "publicado", "cerrado")
METHODOLOGY_STATES = ("borrador", "aprobada")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Methodology(TimestampMixin, Base):
    """A versioned distribution methodology; once approved by the SGP it is immutable and applies to the periods
    starting on or after ``effective_from`` (until a later approved version takes over)."""

    __tablename__ = "cost_methodologies"
    __table_args__ = (
        CheckConstraint(_in("state", METHODOLOGY_STATES), name="state"),
        CheckConstraint("vacancy_policy IN ('administering', 'redistribute')", name="vacancy_policy"),
        CheckConstraint("rounding = 'largest_remainder'", name="rounding"),
        CheckConstraint("state = 'borrador' OR (approved_at IS NOT NULL AND effective_from IS NOT NULL)",
                        name="approved_complete"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    criteria: Mapped[str] = mapped_column(Text, default="")  # the document's text: criteria and report formats
    rules: Mapped[dict] = mapped_column(JSONB)  # category -> rule, in the calculator's format
    vacancy_policy: Mapped[str] = mapped_column(String(20))
    rounding: Mapped[str] = mapped_column(String(30), default="largest_remainder")
    state: Mapped[str] = mapped_column(String(12), default="borrador")
    effective_from: Mapped[date | None] = mapped_column(Date)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    document_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the approved content


class CostPeriod(TimestampMixin, Base):
    """One centre's month: its cost pool, participants and drivers, computed, published and closed."""

    __tablename__ = "cost_periods"
    __table_args__ = (
        UniqueConstraint("centre_id", "starts_on"),
        CheckConstraint(_in("state", PERIOD_STATES), name="state"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("vacancy_area_m2 >= 0 AND vacancy_modules >= 0 AND vacancy_advisors >= 0",
                        name="vacancy_non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="borrador")
    # Vacant capacity (averages over the month): an explicit participant in the capacity keys.
    vacancy_area_m2: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    vacancy_modules: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(0))
    vacancy_advisors: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(0))
    observation_days: Mapped[int] = mapped_column(Integer, default=10)  # working days after publication
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    observations_until: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Of the current computation (participants read these; the computation's inputs hold others' drivers).
    methodology_version: Mapped[str | None] = mapped_column(String(40))
    input_hash: Mapped[str | None] = mapped_column(String(64))


class CostItem(TimestampMixin, Base):
    """An item of the pool: category, amount, document reference and support; an estimate or an actual."""

    __tablename__ = "cost_items"
    __table_args__ = (
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id", ondelete="CASCADE"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    category: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(300))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    document_ref: Mapped[str] = mapped_column(String(120), default="")
    is_estimate: Mapped[bool] = mapped_column(Boolean, default=False)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_type: Mapped[str | None] = mapped_column(String(100))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class CostParticipant(TimestampMixin, Base):
    """A participant of the period with its vigente dates and its driver values, as the coordinator records
    them (prefilled from vigente adhesions and ANS attention data when those domains exist)."""

    __tablename__ = "cost_participants"
    __table_args__ = (
        UniqueConstraint("period_id", "entity_id"),
        CheckConstraint("active_to IS NULL OR active_to >= active_from", name="dates"),
        CheckConstraint("area_m2 >= 0 AND modules >= 0 AND advisors >= 0 AND attentions >= 0",
                        name="drivers_non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id", ondelete="CASCADE"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    active_from: Mapped[date] = mapped_column(Date)
    active_to: Mapped[date | None] = mapped_column(Date)
    area_m2: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    modules: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(0))
    advisors: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(0))
    attentions: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual | adhesiones | ans


class Computation(TimestampMixin, Base):
    """One run of the engine: its complete inputs, the methodology version and the hashes to recompute it."""

    __tablename__ = "cost_computations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id", ondelete="CASCADE"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    methodology_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_methodologies.id"))
    methodology_version: Mapped[str] = mapped_column(String(40))
    inputs: Mapped[dict] = mapped_column(JSONB)  # the calculator's input document (canonical)
    input_hash: Mapped[str] = mapped_column(String(64))
    result_hash: Mapped[str] = mapped_column(String(64))
    item_ids: Mapped[dict] = mapped_column(JSONB)  # calculator cost id -> cost_items.id
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    computed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class AllocationLine(Base):
    """An entity's share of one item (kind ``reparto``) or of a correction (kind ``ajuste``), with its full
    derivation: key by key, the entity's quantity, the total, its share, the exact amount and the rounding."""

    __tablename__ = "cost_allocation_lines"
    __table_args__ = (
        CheckConstraint("kind IN ('reparto', 'ajuste')", name="kind"),
        Index("ix_cost_allocation_lines_period_entity", "period_id", "entity_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id", ondelete="CASCADE"))
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="reparto")
    computation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cost_computations.id", ondelete="CASCADE"),
                                                             index=True)
    adjustment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cost_adjustments.id", ondelete="CASCADE"),
                                                            index=True)
    cost_item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cost_items.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(300))
    item_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    share: Mapped[str] = mapped_column(String(400))  # exact rational "p/q"
    exact: Mapped[str] = mapped_column(String(400))  # exact amount in soles, rational "p/q"
    rounding: Mapped[Decimal] = mapped_column(Numeric(20, 12))  # amount − exact (display precision)
    extra_cent: Mapped[bool] = mapped_column(Boolean, default=False)
    derivation: Mapped[dict] = mapped_column(JSONB)


class Unallocated(Base):
    """An item no key could split (``no_distribuido``), kept visible with the reason until someone decides."""

    __tablename__ = "cost_unallocated"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    computation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_computations.id", ondelete="CASCADE"),
                                                      index=True)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id", ondelete="CASCADE"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    cost_item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cost_items.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(String(30))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reason: Mapped[str] = mapped_column(Text)


class Observation(TimestampMixin, Base):
    """A participant's observation on a published period, and the coordinator's answer."""

    __tablename__ = "cost_observations"
    __table_args__ = (
        CheckConstraint("state IN ('presentada', 'aceptada', 'rechazada')", name="state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id", ondelete="CASCADE"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_type: Mapped[str | None] = mapped_column(String(100))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    state: Mapped[str] = mapped_column(String(12), default="presentada")
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Adjustment(TimestampMixin, Base):
    """A correction of a closed period, carried by a later open period: an actual replacing an estimate (split
    with the original basis) or an accepted observation (an amount for one entity)."""

    __tablename__ = "cost_adjustments"
    __table_args__ = (
        CheckConstraint("kind IN ('real_reemplaza_estimado', 'observacion_aceptada')", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id", ondelete="CASCADE"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    corrects_period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id"))
    corrects_item_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cost_items.id"))
    observation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cost_observations.id"))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"))  # one entity's correction
    kind: Mapped[str] = mapped_column(String(30))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # the delta (may be negative)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
