"""data sources: a centre's Novo SGA database, its service mapping, the Novo services seen and the sync history

Revision ID: 0015
Revises: 0014

Who may see and change a source (its host, user and encrypted password), its mapping and its catalogue: the
coordinators of the centre's administering entity and the privileged roles (platform administrator, system).
The sync history is also read by the SGP (it audits where the figures come from). No entity manager reads
any of it: the credentials are the administering entity's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import enable_rls, managed_by_centre_administrator, managed_by_privileged, policy

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("sla_data_sources", "sla_source_service_maps", "sla_source_services", "sla_sync_runs")


def upgrade() -> None:
    op.create_table(
        "sla_data_sources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("database", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("password_encrypted", sa.Text(), nullable=False),
        sa.Column("unidade_id", sa.Integer(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("reread_days", sa.SmallInteger(), nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('novosga')", name=op.f("ck_sla_data_sources_kind")),
        sa.CheckConstraint("version IN (1, 2)", name=op.f("ck_sla_data_sources_version")),
        sa.CheckConstraint("port BETWEEN 1 AND 65535", name=op.f("ck_sla_data_sources_port")),
        sa.CheckConstraint("reread_days BETWEEN 0 AND 31", name=op.f("ck_sla_data_sources_reread_days")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_sla_data_sources_centre_id_centres"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_sla_data_sources_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_data_sources")),
        sa.UniqueConstraint("centre_id", "name", name=op.f("uq_sla_data_sources_centre_id_name")),
    )
    op.create_index(op.f("ix_sla_data_sources_centre_id"), "sla_data_sources", ["centre_id"], unique=False)
    op.create_table(
        "sla_source_service_maps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("novo_service_id", sa.Integer(), nullable=False),
        sa.Column("includes_children", sa.Boolean(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("service_code", sa.String(length=30), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from",
                           name=op.f("ck_sla_source_service_maps_period")),
        sa.ForeignKeyConstraint(["source_id"], ["sla_data_sources.id"],
                                name=op.f("fk_sla_source_service_maps_source_id_sla_data_sources"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"],
                                name=op.f("fk_sla_source_service_maps_centre_id_centres"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"],
                                name=op.f("fk_sla_source_service_maps_entity_id_entities")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_sla_source_service_maps_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_source_service_maps")),
    )
    op.create_index("ix_sla_source_service_maps_source", "sla_source_service_maps",
                    ["source_id", "novo_service_id"], unique=False)
    op.create_index(op.f("ix_sla_source_service_maps_entity_id"), "sla_source_service_maps", ["entity_id"],
                    unique=False)
    op.create_table(
        "sla_source_services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("novo_service_id", sa.Integer(), nullable=False),
        sa.Column("macro_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sla_data_sources.id"],
                                name=op.f("fk_sla_source_services_source_id_sla_data_sources"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_sla_source_services_centre_id_centres"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_source_services")),
        sa.UniqueConstraint("source_id", "novo_service_id", name=op.f("uq_sla_source_services_source_id_novo_service_id")),
    )
    op.create_table(
        "sla_sync_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("still_open", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("unmapped", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("reasons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("unmapped_services", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("warnings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint("kind IN ('novosga', 'detalle_atenciones')", name=op.f("ck_sla_sync_runs_kind")),
        sa.CheckConstraint("status IN ('exito', 'error')", name=op.f("ck_sla_sync_runs_status")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_sla_sync_runs_centre_id_centres"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_id"], ["sla_data_sources.id"],
                                name=op.f("fk_sla_sync_runs_source_id_sla_data_sources"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_sla_sync_runs_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_sync_runs")),
    )
    op.create_index("ix_sla_sync_runs_centre", "sla_sync_runs", ["centre_id", "started_at"], unique=False)
    op.create_index("ix_sla_sync_runs_source", "sla_sync_runs", ["source_id", "started_at"], unique=False)

    for table in TABLES:
        enable_rls(table)
        managed_by_privileged(table)
        managed_by_centre_administrator(table)
    policy("sla_sync_runs", "sla_sync_runs_sgp_read", command="SELECT", using="app_is_sgp()")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
