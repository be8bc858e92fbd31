"""Stored statements and payments as the inputs of :mod:`app.billing_reports.balances`: the one adapter the
web, the worker and ``mac costs saldos --exportar`` share, so every balance anywhere comes from the same rows
through the same rules.

What counts: generated statements (all versions: the rules supersede the replaced ones) and confirmed
payments not reversed on or before the cut-off (a reversal takes the payment out from its date on; earlier
cut-offs still see it, as they saw it then). Identifiers are the documents' numbers (statement
``EC-2026-10-MAC-CALLAO-20295613620-v2``, payment ``PAG-…``) and the centre's code, as people read them.

Row-level security applies: whatever the caller may not see is simply not loaded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased, defer

from app.billing_reports.balances import PaymentIn, StatementIn
from app.billing_reports.models import Statement
from app.billing_reports.payment_models import (
    DEFAULT_DUE_DAYS,
    CentrePaymentTerms,
    Payment,
    PaymentReversal,
    PaymentTarget,
)
from app.billing_reports.statement import periodo_code
from app.tenants.models import Centre, Entity


@dataclass
class Ledger:
    """The inputs, and the stored rows behind each identifier (for pages and documents)."""

    statements: list[StatementIn] = field(default_factory=list)
    payments: list[PaymentIn] = field(default_factory=list)
    statement_rows: dict[str, Statement] = field(default_factory=dict)
    payment_rows: dict[str, Payment] = field(default_factory=dict)
    reversals: dict[str, PaymentReversal] = field(default_factory=dict)  # by payment number
    entities: dict[str, Entity] = field(default_factory=dict)  # by RUC
    centres: dict[str, Centre] = field(default_factory=dict)  # by code


def statements_query(*, centre_id: uuid.UUID | None = None, entity_id: uuid.UUID | None = None) -> Select:
    old = aliased(Statement)
    q = (select(Statement, Entity, Centre, old.number, CentrePaymentTerms.due_days)
         .join(Entity, Entity.id == Statement.entity_id).join(Centre, Centre.id == Statement.centre_id)
         .outerjoin(old, old.id == Statement.replaces_id)
         .outerjoin(CentrePaymentTerms, CentrePaymentTerms.centre_id == Statement.centre_id)
         .where(Statement.state == "generado", Statement.issued_on.is_not(None))
         .options(defer(Statement.data)))  # the documents' data is not needed for balances
    if centre_id:
        q = q.where(Statement.centre_id == centre_id)
    if entity_id:
        q = q.where(Statement.entity_id == entity_id)
    return q.order_by(Statement.number)


def payments_query(*, centre_id: uuid.UUID | None = None, entity_id: uuid.UUID | None = None) -> Select:
    q = (select(Payment, Entity, Centre, PaymentReversal).join(Entity, Entity.id == Payment.entity_id)
         .join(Centre, Centre.id == Payment.centre_id)
         .outerjoin(PaymentReversal, PaymentReversal.payment_id == Payment.id)
         .where(Payment.state == "confirmado"))
    if centre_id:
        q = q.where(Payment.centre_id == centre_id)
    if entity_id:
        q = q.where(Payment.entity_id == entity_id)
    return q.order_by(Payment.number)


def targets_query(payment_ids: list[uuid.UUID]) -> Select:
    return (select(PaymentTarget.payment_id, Statement.number).join(Statement, Statement.id == PaymentTarget.statement_id)
            .where(PaymentTarget.payment_id.in_(payment_ids)).order_by(PaymentTarget.payment_id, PaymentTarget.position))


def due_date(st: Statement, due_days: int | None) -> date:
    """The stored due date; statements issued before due dates existed get the centre's terms from issue."""
    return st.due_on or st.issued_on + timedelta(days=due_days or DEFAULT_DUE_DAYS)


def build(statement_rows, payment_rows, target_rows, as_of: date | None) -> Ledger:  # noqa: ANN001
    """The ledger from the three queries' rows; payments reversed on or before ``as_of`` are left out."""
    ledger = Ledger()
    for st, entity, centre, replaces, due_days in statement_rows:
        ledger.entities[entity.ruc], ledger.centres[centre.code] = entity, centre
        ledger.statement_rows[st.number] = st
        ledger.statements.append(StatementIn(
            id=st.number, entity_ruc=entity.ruc, centre=centre.code, period=periodo_code(st.period_start),
            issued_on=st.issued_on, due_on=due_date(st, due_days), amount=st.total or Decimal("0.00"),
            replaces=replaces))
    # A replaced version that is not loaded (never generated, or hidden) cannot be named.
    ledger.statements = [s if s.replaces is None or s.replaces in ledger.statement_rows
                         else StatementIn(s.id, s.entity_ruc, s.centre, s.period, s.issued_on, s.due_on, s.amount)
                         for s in ledger.statements]
    targets: dict[uuid.UUID, list[str]] = {}
    for payment_id, number in target_rows:
        targets.setdefault(payment_id, []).append(number)
    for p, entity, centre, reversal in payment_rows:
        ledger.entities[entity.ruc], ledger.centres[centre.code] = entity, centre
        ledger.payment_rows[p.number] = p
        if reversal is not None:
            ledger.reversals[p.number] = reversal
            if as_of is None or reversal.reversed_on <= as_of:
                continue
        # A named statement the caller cannot see (or not generated) is not an input; the rules then apply the
        # payment to the account's oldest outstanding statements.
        named = tuple(n for n in targets.get(p.id, []) if n in ledger.statement_rows)
        ledger.payments.append(PaymentIn(
            id=p.number, entity_ruc=entity.ruc, centre=centre.code, received_on=p.received_on, amount=p.amount,
            applies_to=named, reference=p.resolution or p.bank_operation, siaf_expediente=p.siaf_expediente))
    return ledger


async def load(session, *, as_of: date | None, centre_id: uuid.UUID | None = None,  # noqa: ANN001
               entity_id: uuid.UUID | None = None) -> Ledger:
    statement_rows = (await session.execute(statements_query(centre_id=centre_id, entity_id=entity_id))).all()
    payment_rows = (await session.execute(payments_query(centre_id=centre_id, entity_id=entity_id))).all()
    ids = [row[0].id for row in payment_rows]
    target_rows = (await session.execute(targets_query(ids))).all() if ids else []
    return build(statement_rows, payment_rows, target_rows, as_of)


def load_sync(session, *, as_of: date | None, centre_id: uuid.UUID | None = None,  # noqa: ANN001
              entity_id: uuid.UUID | None = None) -> Ledger:
    statement_rows = session.execute(statements_query(centre_id=centre_id, entity_id=entity_id)).all()
    payment_rows = session.execute(payments_query(centre_id=centre_id, entity_id=entity_id)).all()
    ids = [row[0].id for row in payment_rows]
    target_rows = session.execute(targets_query(ids)).all() if ids else []
    return build(statement_rows, payment_rows, target_rows, as_of)
