"""The transactional outbox and outgoing mail."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, new_id


class OutboxMessage(TimestampMixin, Base):
    """A dramatiq message written in the same transaction as the work it follows; a relay enqueues it.

    States: pending (``sent_at`` and ``failed_at`` empty: the relay will enqueue it once ``available_at`` is
    due), sent (``sent_at``: on the broker, its job running or done) and failed (``failed_at``: every attempt
    allowed by ``OUTBOX_MAX_ATTEMPTS`` failed; ``last_error`` says why; only ``mac outbox reintentar`` brings it
    back). ``attempts`` counts the runs of the job (and relay attempts at a message that cannot even be
    built); ``refusals`` counts the enqueues in a row that the broker refused, which never exhaust the attempts:
    a broker that is down is not the message's fault, so the row just waits (back-off up to 5 minutes).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The relay's claim reads only pending rows: sent and failed ones (most of the table) are never scanned.
        Index("ix_outbox_pending", "created_at", postgresql_where=text("sent_at IS NULL AND failed_at IS NULL")),
        Index("ix_outbox_failed_at", "failed_at", postgresql_where=text("failed_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entity_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    queue_name: Mapped[str] = mapped_column(String(60))
    actor_name: Mapped[str] = mapped_column(String(120))
    message: Mapped[dict] = mapped_column(JSONB)  # dramatiq's Message.asdict()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    refusals: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutgoingEmail(TimestampMixin, Base):
    """An e-mail to send; the worker delivers it (SMTP, or a file in data_dir/mail for the embedded run)."""

    __tablename__ = "outgoing_emails"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entity_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(250))
    body_text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class ScheduledRun(Base):
    """When a periodic job was last sent: the claim that keeps several workers from sending it twice."""

    __tablename__ = "worker_schedule"

    job_name: Mapped[str] = mapped_column(String(120), primary_key=True)
    last_sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
