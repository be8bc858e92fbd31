"""Payment tables: what participants paid the centres, the reversals that correct a confirmed payment, each
centre's payment terms, the reminders already sent and the constancias de no adeudo issued.

* A payment is reported by the participant's finance officer (``reportado``) or registered by the centre's
  coordinator (directly or from an imported CSV of received transfers); only a ``confirmado`` payment counts
  in balances. A confirmed payment is never edited or deleted (a database trigger refuses it): a mistake is
  corrected by a :class:`PaymentReversal` that references it.
* Which statements a payment names (``payment_targets``) is kept in order; how it was applied is never stored:
  it is recomputed by :mod:`app.billing_reports.balances` from the statements and payments, so it cannot
  drift from the rules.

Isolation (migration 0014): a participant reads its own entity's rows and reports its own payments; the
centre's coordinator reads and manages its centres'; the SGP reads everything; the worker (system) writes
reminders.
"""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, new_id

METHODS = ("transferencia", "deposito")
METHOD_LABELS = {"transferencia": "Transferencia financiera", "deposito": "Depósito bancario"}
PAYMENT_STATES = ("reportado", "confirmado", "rechazado")
PAYMENT_STATE_LABELS = {"reportado": "Por confirmar", "confirmado": "Confirmado", "rechazado": "Rechazado"}
SOURCES = ("reportado", "registrado", "importado")
REMINDER_STAGES = ("por_vencer", "vencido")
DEFAULT_DUE_DAYS = 30


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Payment(TimestampMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_in("method", METHODS), name="method"),
        CheckConstraint(_in("state", PAYMENT_STATES), name="state"),
        CheckConstraint(_in("source", SOURCES), name="source"),
        CheckConstraint("method <> 'transferencia' OR (resolution IS NOT NULL AND siaf_expediente IS NOT NULL "
                        "AND fiscal_year IS NOT NULL)", name="transfer_identified"),
        CheckConstraint("method <> 'deposito' OR bank_operation IS NOT NULL", name="deposit_identified"),
        CheckConstraint("state <> 'rechazado' OR rejection_reason IS NOT NULL", name="rejection_has_reason"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # PAG-2026-7K3M-Q9TX
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    method: Mapped[str] = mapped_column(String(16))
    resolution: Mapped[str | None] = mapped_column(String(80))
    siaf_expediente: Mapped[str | None] = mapped_column(String(20))
    fiscal_year: Mapped[int | None] = mapped_column(Integer)
    bank_operation: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12), default="reportado")
    source: Mapped[str] = mapped_column(String(12), default="reportado")
    reported_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    support_filename: Mapped[str | None] = mapped_column(String(200))
    support_sha256: Mapped[str | None] = mapped_column(String(64))
    support_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class PaymentTarget(Base):
    """A statement a payment says it pays, in the order given."""

    __tablename__ = "payment_targets"
    __table_args__ = (UniqueConstraint("payment_id", "statement_id"), UniqueConstraint("payment_id", "position"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), index=True)
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("statements.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)


class PaymentReversal(TimestampMixin, Base):
    """The entry that takes a confirmed payment out of every balance from ``reversed_on`` on."""

    __tablename__ = "payment_reversals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), unique=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    reversed_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class CentrePaymentTerms(TimestampMixin, Base):
    """A centre's payment terms: calendar days from a statement's issue to its due date."""

    __tablename__ = "centre_payment_terms"
    __table_args__ = (CheckConstraint("due_days BETWEEN 1 AND 365", name="due_days_range"),)

    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), primary_key=True)
    due_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_DUE_DAYS)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class PaymentReminder(TimestampMixin, Base):
    """A reminder already sent: once per statement and stage (before the due date, overdue)."""

    __tablename__ = "payment_reminders"
    __table_args__ = (UniqueConstraint("statement_id", "stage"), CheckConstraint(_in("stage", REMINDER_STAGES),
                                                                                 name="stage"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    statement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("statements.id"), index=True)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    stage: Mapped[str] = mapped_column(String(12))
    outstanding: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class NoDebtCertificate(TimestampMixin, Base):
    """A constancia de no adeudo: the entity owed nothing at the centre on ``as_of``; sealed and registered
    under its verification code like every other document."""

    __tablename__ = "no_debt_certificates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    centre_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("centres.id"), index=True)
    administering_entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"))
    verification_code: Mapped[str] = mapped_column(String(24), unique=True)
    as_of: Mapped[date] = mapped_column(Date)
    charged: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    paid: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    credit: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    issued_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    signature_level: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
