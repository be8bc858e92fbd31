"""onboarding notices: which submissions of a registration request the SGP supervisors were told about

Revision ID: 0009
Revises: 0008

Written and read only by the worker (the system): the job that mails the supervisors records here, in the
same transaction as the mails, that it did so, and a second run of the same message finds the row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import enable_rls, policy

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "onboarding_notices",
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("submission", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["registration_id"], ["registration_requests.id"], ondelete="CASCADE",
                                name=op.f("fk_onboarding_notices_registration_id_registration_requests")),
        sa.PrimaryKeyConstraint("registration_id", "submission", name=op.f("pk_onboarding_notices")),
    )
    enable_rls("onboarding_notices")
    policy("onboarding_notices", "onboarding_notices_system", using="app_role() = 'sistema'",
           check="app_role() = 'sistema'")


def downgrade() -> None:
    op.drop_table("onboarding_notices")
