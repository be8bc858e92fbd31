"""Which statements a period needs, in one place for the web (the coordinator's batch), the worker (the
reconciler) and the CLI.

:func:`plan` is pure: given the period, the entities that have lines in it (with the hash of those lines) and
each entity's current statement, it says which statements to create (a first version, or a new version that
replaces the current one, with the reason) and which existing ones still need generating. The callers add the
rows in their own unit of work (an ``AsyncSession`` in the web, a ``Session`` in the worker: ``add`` is the
same call on both).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from app.billing_reports.generation import desired_status, statement_number
from app.billing_reports.models import Statement
from app.costsharing.models import CostPeriod
from app.documents.verification import new_code

REASON_CLOSED = "Cierre del periodo: versión definitiva del estado de cuenta"
REASON_RECOMPUTED = "El reparto del periodo se volvió a calcular"


def new_verification_code() -> str:
    """EC-XXXX-XXXX, in the platform's verification alphabet (app.documents.verification): printed with its
    QR on every page and looked up by the public page /verificar/{code}."""
    return new_code("EC")


@dataclass(frozen=True)
class Participant:
    entity_id: uuid.UUID
    ruc: str
    source_hash: str


@dataclass
class Plan:
    new: list[Statement] = field(default_factory=list)  # rows to add (after marking replaced ones)
    replaced: list[Statement] = field(default_factory=list)  # current rows that a new version replaces
    to_generate: list[Statement] = field(default_factory=list)  # existing rows not generated yet
    done: list[Statement] = field(default_factory=list)  # existing rows already generated and up to date

    @property
    def statements(self) -> list[Statement]:
        return [*self.new, *self.to_generate, *self.done]


def plan(period: CostPeriod, centre_code: str, administering_entity_id: uuid.UUID,
         participants: list[Participant], current: dict[uuid.UUID, Statement], *,
         only_missing: bool = False) -> Plan:
    """What the period's statements need. ``only_missing``: leave existing statements alone except to replace
    a preliminary one once the period is closed (the reconciler)."""
    status = desired_status(period)
    out = Plan()
    for p in participants:
        st = current.get(p.entity_id)
        reason = None
        if st is None:
            version = 1
        elif st.status != status:
            reason, version = REASON_CLOSED, st.version + 1
        elif st.source_hash != p.source_hash and st.status == "preliminar" and not only_missing:
            reason, version = REASON_RECOMPUTED, st.version + 1
        else:
            (out.done if st.state == "generado" else out.to_generate).append(st)
            continue
        if st is not None:
            out.replaced.append(st)
        out.new.append(Statement(
            id=uuid.uuid4(), period_id=period.id, centre_id=period.centre_id, entity_id=p.entity_id,
            administering_entity_id=administering_entity_id, period_start=period.starts_on, version=version,
            status=status, number=statement_number(period.starts_on, centre_code, p.ruc, version),
            verification_code=new_verification_code(), state="pendiente", is_current=True,
            replaces_id=st.id if st is not None else None, replacement_reason=reason, source_hash=p.source_hash,
            attempts=0))
    return out


def mark_replaced(statements: list[Statement]) -> None:
    now = datetime.now(UTC)
    for st in statements:
        st.is_current, st.replaced_at = False, now


def enqueue_sync(session: Session, job, *args, entity_id: uuid.UUID | None = None) -> uuid.UUID:  # noqa: ANN001
    """The worker's counterpart of :func:`app.worker.outbox.enqueue_in_transaction` (which needs an
    ``AsyncSession``): the message goes to the outbox in this transaction, and the relay is woken on commit."""
    from app.worker.models import OutboxMessage
    from app.worker.outbox import RELAY_CHANNEL, build_message, message_to_json

    message_id = uuid.uuid4()
    message = build_message(job, args, {}, message_id=message_id)
    session.execute(insert(OutboxMessage).values(
        id=message_id, entity_id=entity_id, queue_name=message.queue_name, actor_name=message.actor_name,
        message=message_to_json(message), attempts=0))
    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": RELAY_CHANNEL})
    return message_id
