"""ANS tables: events (tickets, clock-ins, surveys, interruptions), the rules they are measured with
(limits, calendar, module assignments, ANS targets), the daily rollups, alerts, incumplimientos and reports.

Every figure is derived from the events; the rollups are a cache rebuilt from them (``mac sla rebuild``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.adhesion import models as _adhesion_models  # noqa: F401  (sla_ans.adhesion_id references adhesions)
from app.db import Base, TimestampMixin, new_id

OUTCOME_CHECK = "outcome IN ('attended', 'abandoned', 'transferred')"
INDICATOR_CHECK = ("indicator IN ('espera', 'atencion', 'abandono', 'puntualidad', 'ocupabilidad', "
                   "'satisfaccion', 'interrupcion')")


# ------------------------------------------------------------------------------------------- calendar ---


class NonWorkingDay(Base):
    """A *día no laborable* declared by decree for the public sector (data, kept by the administrator)."""

    __tablename__ = "sla_non_working_days"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    day: Mapped[date] = mapped_column(Date, unique=True)
    description: Mapped[str] = mapped_column(String(200))


class CentreClosure(TimestampMixin, Base):
    """A day a centre does not open (works, an event, an emergency): it is not a working day there."""

    __tablename__ = "sla_centre_closures"
    __table_args__ = (UniqueConstraint("centre_id", "day"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))


# ------------------------------------------------------------------------------------- limits and ANS ---


class ServiceLimitRow(TimestampMixin, Base):
    """Maximum wait and attention of an entity's service at a centre, from ``valid_from`` on."""

    __tablename__ = "sla_service_limits"
    __table_args__ = (
        UniqueConstraint("centre_id", "entity_id", "service_code", "valid_from"),
        CheckConstraint("max_wait_minutes BETWEEN 0 AND 120", name="max_wait"),
        CheckConstraint("max_attention_minutes BETWEEN 0 AND 180", name="max_attention"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    service_code: Mapped[str] = mapped_column(String(30))
    max_wait_minutes: Mapped[int] = mapped_column(SmallInteger)
    max_attention_minutes: Mapped[int] = mapped_column(SmallInteger)
    counts: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_from: Mapped[date] = mapped_column(Date)


class ModuleAssignment(TimestampMixin, Base):
    """A module of a centre assigned to an entity from ``valid_from`` (until ``valid_to`` when it ends)."""

    __tablename__ = "sla_module_assignments"
    __table_args__ = (UniqueConstraint("centre_id", "module_code", "valid_from"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    module_code: Mapped[str] = mapped_column(String(20))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class Ans(TimestampMixin, Base):
    """The ANS annex of an entity's adhesion to a centre: proposed by the coordinator, binding once the
    entity's manager accepts it. A newer accepted ANS for the same pair supersedes the previous one.

    It is keyed by the (entity, centre) pair that the adhesion is about, and points to the adhesion itself
    (``adhesion_id``) when one exists for the pair when the ANS is proposed."""

    __tablename__ = "sla_ans"
    __table_args__ = (
        CheckConstraint("state IN ('propuesto', 'aceptado', 'reemplazado', 'retirado')", name="state"),
        CheckConstraint("tolerance_minutes BETWEEN 0 AND 120", name="tolerance"),
        Index("ix_sla_ans_pair", "centre_id", "entity_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    adhesion_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("adhesions.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="propuesto")
    valid_from: Mapped[date] = mapped_column(Date)
    tolerance_minutes: Mapped[int] = mapped_column(SmallInteger, default=15)
    proposed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str] = mapped_column(Text, default="")


class AnsTarget(Base):
    """One indicator of an ANS: its target, the comparison and the minimum sample for a verdict."""

    __tablename__ = "sla_ans_targets"
    __table_args__ = (
        UniqueConstraint("ans_id", "indicator"),
        CheckConstraint(INDICATOR_CHECK, name="indicator"),
        CheckConstraint("comparison IN ('>=', '<=', '>', '<')", name="comparison"),
        CheckConstraint("min_sample >= 0", name="min_sample"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    ans_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sla_ans.id", ondelete="CASCADE"))
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    indicator: Mapped[str] = mapped_column(String(20))
    comparison: Mapped[str] = mapped_column(String(2))
    target: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    min_sample: Mapped[int] = mapped_column(Integer, default=0)


# --------------------------------------------------------------------------------------------- events ---


class TicketSegment(Base):
    """One segment of a queue ticket (the whole ticket, or the part served by one service after a transfer).

    The key is the queue system's own: (centre, ticket id, segment). ``called_at`` is the last call.
    """

    __tablename__ = "sla_tickets"
    __table_args__ = (
        CheckConstraint(OUTCOME_CHECK, name="outcome"),
        CheckConstraint("segment BETWEEN 1 AND 99", name="segment"),
        Index("ix_sla_tickets_centre_issued", "centre_id", "issued_at"),
    )

    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    segment: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    service_code: Mapped[str] = mapped_column(String(30))
    module_code: Mapped[str | None] = mapped_column(String(20))
    advisor: Mapped[str | None] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    called_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(12))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ClockInRow(Base):
    """An advisor's clock-in at a module (the queue system's or the attendance system's record)."""

    __tablename__ = "sla_clock_ins"
    __table_args__ = (
        UniqueConstraint("centre_id", "module_code", "advisor", "at"),
        Index("ix_sla_clock_ins_centre_at", "centre_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    module_code: Mapped[str] = mapped_column(String(20))
    advisor: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SurveyAnswer(Base):
    """A citizen's satisfaction answer (1–5) about a service, keyed by the survey system's id."""

    __tablename__ = "sla_survey_answers"
    __table_args__ = (
        UniqueConstraint("centre_id", "survey_id"),
        CheckConstraint("score BETWEEN 1 AND 5", name="score"),
        Index("ix_sla_survey_answers_centre_at", "centre_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    service_code: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    score: Mapped[int] = mapped_column(SmallInteger)


class InterruptionRow(TimestampMixin, Base):
    """A period without service. ``entity_id`` empty: the whole centre. The entity may ask that it be
    attributed to the administering entity (``claim_*``); the coordinator resolves the claim."""

    __tablename__ = "sla_interruptions"
    __table_args__ = (
        UniqueConstraint("centre_id", "external_id"),
        CheckConstraint("attributable_to IN ('entidad', 'administradora')", name="attributable_to"),
        CheckConstraint("ended_at > started_at", name="ends_after_start"),
        CheckConstraint("attributable_to = 'administradora' OR entity_id IS NOT NULL", name="entity_needed"),
        CheckConstraint("claim_state IS NULL OR claim_state IN ('pendiente', 'aceptado', 'rechazado')",
                        name="claim_state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cause: Mapped[str] = mapped_column(String(300))
    attributable_to: Mapped[str] = mapped_column(String(14))
    claim_state: Mapped[str | None] = mapped_column(String(10))
    claim_text: Mapped[str | None] = mapped_column(Text)
    claim_evidence_name: Mapped[str | None] = mapped_column(String(200))
    claim_evidence: Mapped[bytes | None] = mapped_column(LargeBinary)


class ImportBatch(TimestampMixin, Base):
    """One ingest (API batch, CSV upload or file import) and its row-by-row report."""

    __tablename__ = "sla_import_batches"
    __table_args__ = (
        CheckConstraint("source IN ('api', 'csv', 'archivo')", name="source"),
        Index("ix_sla_import_batches_centre", "centre_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"), index=True)  # who sent it
    source: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(200))
    total: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSONB, default=list)  # [{"linea", "campo", "motivo"}]
    # A source format's result (app.sla.sources): {"conteos": {"leidos", "importados", ...}, "avisos": [...]}.
    summary: Mapped[dict | None] = mapped_column(JSONB)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    client_id: Mapped[str | None] = mapped_column(String(64))


# ----------------------------------------------------------------------------------------- advisors ---


class Advisor(TimestampMixin, Base):
    """An advisor (asesor) of an entity at a centre; ``code`` is the attendance system's employee code."""

    __tablename__ = "sla_advisors"
    __table_args__ = (UniqueConstraint("centre_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class AdvisorAssignment(TimestampMixin, Base):
    """An advisor assigned to a module from ``valid_from`` (until ``valid_to``, inclusive, when set): *fijo*,
    or *itinerante* (covering a module for some days; it wins over fixed assignments on its days)."""

    __tablename__ = "sla_advisor_assignments"
    __table_args__ = (
        UniqueConstraint("advisor_id", "kind", "valid_from"),
        CheckConstraint("kind IN ('fijo', 'itinerante')", name="kind"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        Index("ix_sla_advisor_assignments_centre", "centre_id", "module_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    advisor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sla_advisors.id", ondelete="CASCADE"), index=True)
    module_code: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


# --------------------------------------------------------------------------------------- MAC Express ---


class ExpressAttention(Base):
    """A MAC Express attention (no queue): registered, the entity and service selected, the citizen served in
    the entity's digital service and back. Keyed by the MAC Express system's own id."""

    __tablename__ = "sla_express_attentions"
    __table_args__ = (
        CheckConstraint("state IN ('REGISTRADA', 'EN_SELECCION', 'EN_SERVICIO')", name="state"),
        Index("ix_sla_express_attentions_centre_registered", "centre_id", "registered_at"),
    )

    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"), primary_key=True)
    attention_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"), index=True)
    service_code: Mapped[str | None] = mapped_column(String(30))
    advisor: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    entity_selected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    service_selected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_for_service_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# -------------------------------------------------------------------------------------------- rollups ---


class DailyServiceRollup(Base):
    """Counts of one entity × centre × service × working day (app.sla.indicators.ServiceDay)."""

    __tablename__ = "sla_daily_service"
    # A centre's month (the national ranking, the centre's reports) without scanning the centre's whole history.
    __table_args__ = (Index("ix_sla_daily_service_centre_day", "centre_id", "day"),)

    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"), primary_key=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), primary_key=True, index=True)
    service_code: Mapped[str] = mapped_column(String(30), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    issued: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    waits: Mapped[int] = mapped_column(Integer, default=0)
    waits_ok: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handled_ok: Mapped[int] = mapped_column(Integer, default=0)
    surveys: Mapped[int] = mapped_column(Integer, default=0)
    surveys_ok: Mapped[int] = mapped_column(Integer, default=0)
    excluded: Mapped[int] = mapped_column(Integer, default=0)
    wait_histogram: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class DailyEntityRollup(Base):
    """Counts of one entity × centre × working day (app.sla.indicators.EntityDay)."""

    __tablename__ = "sla_daily_entity"
    __table_args__ = (Index("ix_sla_daily_entity_centre_day", "centre_id", "day"),)

    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"), primary_key=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), primary_key=True, index=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    module_days: Mapped[int] = mapped_column(Integer, default=0)
    module_days_occupied: Mapped[int] = mapped_column(Integer, default=0)
    module_days_checked: Mapped[int] = mapped_column(Integer, default=0)
    module_days_punctual: Mapped[int] = mapped_column(Integer, default=0)
    interruption_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    interruptions: Mapped[int] = mapped_column(Integer, default=0)


# --------------------------------------------------------------------------- alerts and incumplimientos ---


class Alert(TimestampMixin, Base):
    """A breach (``no_cumple``) or a projected breach (``en_riesgo``): at most one per indicator and day."""

    __tablename__ = "sla_alerts"
    __table_args__ = (
        UniqueConstraint("centre_id", "entity_id", "indicator", "day"),
        CheckConstraint(INDICATOR_CHECK, name="indicator"),
        CheckConstraint("status IN ('no_cumple', 'en_riesgo')", name="status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    indicator: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    value: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    projected: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    target: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    comparison: Mapped[str] = mapped_column(String(2))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Incumplimiento(TimestampMixin, Base):
    """A recorded breach and its review: abierto → descargo → observado → corregido | validado."""

    __tablename__ = "sla_incumplimientos"
    __table_args__ = (
        CheckConstraint("state IN ('abierto', 'descargo', 'observado', 'corregido', 'validado')", name="state"),
        CheckConstraint(f"indicator IS NULL OR {INDICATOR_CHECK}", name="indicator"),
        Index("ix_sla_incumplimientos_centre", "centre_id", "period"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    indicator: Mapped[str | None] = mapped_column(String(20))
    period: Mapped[date] = mapped_column(Date)  # first day of the month
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="abierto")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IncumplimientoStep(TimestampMixin, Base):
    """One step of an incumplimiento's review: who moved it, to which state, with what text and attachment."""

    __tablename__ = "sla_incumplimiento_steps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    incumplimiento_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sla_incumplimientos.id", ondelete="CASCADE"),
                                                         index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(10))
    to_state: Mapped[str] = mapped_column(String(10))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text, default="")
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_type: Mapped[str | None] = mapped_column(String(100))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)


class SupervisionReport(TimestampMixin, Base):
    """The monthly supervision report of a centre (``entity_id`` empty) or of one entity at a centre."""

    __tablename__ = "sla_reports"
    __table_args__ = (UniqueConstraint("centre_id", "period", "scope"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"), index=True)
    scope: Mapped[str] = mapped_column(String(40))  # "centro" or the entity's id
    period: Mapped[date] = mapped_column(Date)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    csv: Mapped[str] = mapped_column(Text)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
