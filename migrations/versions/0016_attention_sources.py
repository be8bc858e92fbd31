"""attention sources: advisors and their module assignments, MAC Express attentions, a source import's summary

Revision ID: 0016
Revises: 0015

``sla_advisors`` (code = the ZKTeco employee code, entity, name) and ``sla_advisor_assignments`` (fijo /
itinerante, effective-dated) turn a clock's punches into module clock-ins (app.sla.sources.zkteco);
``sla_express_attentions`` holds MAC Express records (app.sla.sources.mac_express), keyed by the MAC Express
system's id. ``sla_import_batches.summary`` keeps a source format's counts (leidos, importados, ...) and
warnings. Row-level security as for the other ANS rule and event tables: the entity, the centre's
coordinators and the SGP read; coordinators (and the platform) keep advisors; who feeds the centre writes
attentions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import enable_rls, managed_by_centre_administrator, managed_by_privileged, policy

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sla_import_batches", sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_table(
        "sla_advisors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_sla_advisors_centre_id_centres"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_sla_advisors_entity_id_entities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_advisors")),
        sa.UniqueConstraint("centre_id", "code", name=op.f("uq_sla_advisors_centre_id_code")),
    )
    op.create_index(op.f("ix_sla_advisors_entity_id"), "sla_advisors", ["entity_id"], unique=False)
    op.create_table(
        "sla_advisor_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("advisor_id", sa.Uuid(), nullable=False),
        sa.Column("module_code", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('fijo', 'itinerante')", name=op.f("ck_sla_advisor_assignments_kind")),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from",
                           name=op.f("ck_sla_advisor_assignments_valid_range")),
        sa.ForeignKeyConstraint(["advisor_id"], ["sla_advisors.id"],
                                name=op.f("fk_sla_advisor_assignments_advisor_id_sla_advisors"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"],
                                name=op.f("fk_sla_advisor_assignments_centre_id_centres"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"],
                                name=op.f("fk_sla_advisor_assignments_entity_id_entities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_advisor_assignments")),
        sa.UniqueConstraint("advisor_id", "kind", "valid_from",
                            name=op.f("uq_sla_advisor_assignments_advisor_id_kind_valid_from")),
    )
    op.create_index("ix_sla_advisor_assignments_centre", "sla_advisor_assignments", ["centre_id", "module_code"],
                    unique=False)
    op.create_index(op.f("ix_sla_advisor_assignments_advisor_id"), "sla_advisor_assignments", ["advisor_id"],
                    unique=False)
    op.create_index(op.f("ix_sla_advisor_assignments_entity_id"), "sla_advisor_assignments", ["entity_id"],
                    unique=False)
    op.create_table(
        "sla_express_attentions",
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("attention_id", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=True),
        sa.Column("service_code", sa.String(length=30), nullable=True),
        sa.Column("advisor", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entity_selected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("service_selected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_for_service_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("state IN ('REGISTRADA', 'EN_SELECCION', 'EN_SERVICIO')",
                           name=op.f("ck_sla_express_attentions_state")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"],
                                name=op.f("fk_sla_express_attentions_centre_id_centres"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"],
                                name=op.f("fk_sla_express_attentions_entity_id_entities")),
        sa.PrimaryKeyConstraint("centre_id", "attention_id", name=op.f("pk_sla_express_attentions")),
    )
    op.create_index("ix_sla_express_attentions_centre_registered", "sla_express_attentions",
                    ["centre_id", "registered_at"], unique=False)
    op.create_index(op.f("ix_sla_express_attentions_entity_id"), "sla_express_attentions", ["entity_id"],
                    unique=False)

    for table in ("sla_advisors", "sla_advisor_assignments", "sla_express_attentions"):
        enable_rls(table)
    for table in ("sla_advisors", "sla_advisor_assignments"):
        policy(table, f"{table}_read", command="SELECT", using="sla_reads(centre_id, entity_id)")
        managed_by_privileged(table)
        managed_by_centre_administrator(table)
    # An attention whose entity is not known yet (still being selected) is the centre's alone.
    entity = "coalesce(entity_id, '00000000-0000-0000-0000-000000000000'::uuid)"
    policy("sla_express_attentions", "sla_express_attentions_read", command="SELECT",
           using=f"sla_reads(centre_id, {entity}) OR sla_feeds(centre_id, {entity})")
    policy("sla_express_attentions", "sla_express_attentions_write", using=f"sla_feeds(centre_id, {entity})",
           check=f"sla_feeds(centre_id, {entity})")


def downgrade() -> None:
    op.drop_table("sla_express_attentions")
    op.drop_table("sla_advisor_assignments")
    op.drop_table("sla_advisors")
    op.drop_column("sla_import_batches", "summary")
