"""Statement tables: statements and their versions, the generated files with their SHA-256, and batches.

* A statement is one participant's account of one centre's period. Its versions are rows of their own: a
  corrected statement (or the definitive one once the period closes) is a new row that references the one it
  replaces, with the reason; the old row stays, marked ``replaced``.
* Files are written once per statement and format and never regenerated in place (unique per statement and
  format; the generation job refuses to touch a statement whose files exist).
* A batch is the coordinator's request to generate a period's statements. Its state lives here: one item per
  statement with its own state, attempts and the reason of the last failure, so the progress (n of N) and what
  failed survive the worker or the broker dying.

Isolation (migration 0006): a participant's finance officer reads only its own entity's statements and files;
the centre's coordinator (administering entity) reads and manages its centre's; the SGP reads everything; the
worker (system) writes.
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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, new_id

STATEMENT_STATES = ("pendiente", "generado", "fallido")
STATUSES = ("preliminar", "definitivo")
FORMATS = ("pdf", "csv", "xlsx")
BATCH_STATES = ("en_curso", "completado", "con_fallos")
ITEM_STATES = ("pendiente", "generado", "fallido")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Statement(TimestampMixin, Base):
    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("period_id", "entity_id", "version"),
        CheckConstraint(_in("state", STATEMENT_STATES), name="state"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("version = 1 OR (replaces_id IS NOT NULL AND replacement_reason IS NOT NULL)",
                        name="correction_has_reason"),
        # At most one current statement per participant and period.
        Index("uq_statements_current", "period_id", "entity_id", unique=True,
              postgresql_where=text("is_current")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    administering_entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    period_start: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(12))  # preliminar (period published) | definitivo (closed)
    number: Mapped[str] = mapped_column(String(80), unique=True)
    verification_code: Mapped[str] = mapped_column(String(24), unique=True)
    state: Mapped[str] = mapped_column(String(12), default="pendiente")
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    replaces_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("statements.id"))
    replacement_reason: Mapped[str | None] = mapped_column(Text)
    replaced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_on: Mapped[date | None] = mapped_column(Date)
    # When it must be paid (the centre's payment terms from the issue date); set with the issue date.
    due_on: Mapped[date | None] = mapped_column(Date)
    # The figures, filled when generated (the documents carry the same).
    common_costs: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    fee: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    adjustments: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    data: Mapped[dict | None] = mapped_column(JSONB)  # the StatementData the documents were made from
    data_hash: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the statement's data (canonical)
    # SHA-256 of the allocation lines the statement was requested for: a recomputation changes it.
    source_hash: Mapped[str] = mapped_column(String(64))
    signer: Mapped[str | None] = mapped_column(String(250))
    signature_level: Mapped[str | None] = mapped_column(String(40))
    generated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StatementFile(TimestampMixin, Base):
    __tablename__ = "statement_files"
    __table_args__ = (
        UniqueConstraint("statement_id", "format"),
        CheckConstraint(_in("format", FORMATS), name="format"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    format: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(120))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class StatementBatch(TimestampMixin, Base):
    __tablename__ = "statement_batches"
    __table_args__ = (CheckConstraint(_in("state", BATCH_STATES), name="state"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    period_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cost_periods.id"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(12), default="en_curso")
    total: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the progress page last asked the worker to reconcile this batch's overdue statements.
    reconcile_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StatementBatchItem(Base):
    __tablename__ = "statement_batch_items"
    __table_args__ = (
        UniqueConstraint("batch_id", "statement_id"),
        CheckConstraint(_in("state", ITEM_STATES), name="state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("statement_batches.id", ondelete="CASCADE"), index=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="pendiente")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
