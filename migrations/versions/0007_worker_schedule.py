"""worker schedule: the claim table for periodic jobs

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No tenant column: it only records when each periodic job was last sent.
    op.create_table(
        "worker_schedule",
        sa.Column("job_name", sa.String(length=120), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_name", name=op.f("pk_worker_schedule")),
    )


def downgrade() -> None:
    op.drop_table("worker_schedule")
