"""outbox dead letters: a message whose every attempt failed ends failed instead of being retried forever

Revision ID: 0012
Revises: 0011

``failed_at`` marks the final state (app.worker.outbox: after ``OUTBOX_MAX_ATTEMPTS`` attempts; ``last_error``
keeps why). ``refusals`` counts the enqueues in a row the broker refused: they set the back-off but never use up
the attempts, so a broker outage leaves messages pending, not failed. The relay claims only pending rows through the partial index ``ix_outbox_pending``, so failed and
sent rows are never scanned on a relay pass; ``ix_outbox_failed_at`` serves ``mac outbox fallidos``. No new
table: the outbox keeps its row-level security (read and changed only by the system) and its grants.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("refusals", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.create_index("ix_outbox_pending", "outbox", ["created_at"], unique=False,
                    postgresql_where=sa.text("sent_at IS NULL AND failed_at IS NULL"))
    op.create_index("ix_outbox_failed_at", "outbox", ["failed_at"], unique=False,
                    postgresql_where=sa.text("failed_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_outbox_failed_at", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_column("outbox", "refusals")
    op.drop_column("outbox", "failed_at")
