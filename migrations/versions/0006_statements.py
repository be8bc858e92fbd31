"""statements

Revision ID: 0006
Revises: 0005

Statements (with versions), their files (SHA-256, written once) and generation batches, under row-level
security: the worker (system) writes; the centre's coordinator manages its centre's statements and batches;
the SGP reads everything; a participant (finance officer, entity manager) reads only its own entity's
statements and files.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import enable_rls, managed_by_centre_administrator, managed_by_privileged, policy

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("statements", "statement_files", "statement_batches", "statement_batch_items")
PARTICIPANT = "app_role() IN ('finanzas', 'gestor_entidad') AND entity_id = app_entity_id()"


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("period_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("administering_entity_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("verification_code", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("replaces_id", sa.Uuid(), nullable=True),
        sa.Column("replacement_reason", sa.Text(), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("common_costs", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("fee", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("adjustments", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("data_hash", sa.String(length=64), nullable=True),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=250), nullable=True),
        sa.Column("signature_level", sa.String(length=40), nullable=True),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("state IN ('pendiente', 'generado', 'fallido')", name=op.f("ck_statements_state")),
        sa.CheckConstraint("status IN ('preliminar', 'definitivo')", name=op.f("ck_statements_status")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_statements_version_positive")),
        sa.CheckConstraint("version = 1 OR (replaces_id IS NOT NULL AND replacement_reason IS NOT NULL)",
                           name=op.f("ck_statements_correction_has_reason")),
        sa.ForeignKeyConstraint(["administering_entity_id"], ["entities.id"],
                                name=op.f("fk_statements_administering_entity_id_entities")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_statements_centre_id_centres")),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_statements_entity_id_entities")),
        sa.ForeignKeyConstraint(["period_id"], ["cost_periods.id"],
                                name=op.f("fk_statements_period_id_cost_periods")),
        sa.ForeignKeyConstraint(["replaces_id"], ["statements.id"],
                                name=op.f("fk_statements_replaces_id_statements")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
        sa.UniqueConstraint("number", name=op.f("uq_statements_number")),
        sa.UniqueConstraint("period_id", "entity_id", "version", name=op.f("uq_statements_period_id_entity_id_version")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_statements_verification_code")),
    )
    op.create_index(op.f("ix_statements_centre_id"), "statements", ["centre_id"])
    op.create_index(op.f("ix_statements_entity_id"), "statements", ["entity_id"])
    op.create_index(op.f("ix_statements_period_id"), "statements", ["period_id"])
    op.create_index("uq_statements_current", "statements", ["period_id", "entity_id"], unique=True,
                    postgresql_where=sa.text("is_current"))

    op.create_table(
        "statement_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=120), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("format IN ('pdf', 'csv', 'xlsx')", name=op.f("ck_statement_files_format")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_statement_files_centre_id_centres")),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_statement_files_entity_id_entities")),
        sa.ForeignKeyConstraint(["statement_id"], ["statements.id"], ondelete="CASCADE",
                                name=op.f("fk_statement_files_statement_id_statements")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_files")),
        sa.UniqueConstraint("statement_id", "format", name=op.f("uq_statement_files_statement_id_format")),
    )
    op.create_index(op.f("ix_statement_files_centre_id"), "statement_files", ["centre_id"])
    op.create_index(op.f("ix_statement_files_entity_id"), "statement_files", ["entity_id"])
    op.create_index(op.f("ix_statement_files_sha256"), "statement_files", ["sha256"])
    op.create_index(op.f("ix_statement_files_statement_id"), "statement_files", ["statement_id"])

    op.create_table(
        "statement_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("period_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconcile_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("state IN ('en_curso', 'completado', 'con_fallos')",
                           name=op.f("ck_statement_batches_state")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_statement_batches_centre_id_centres")),
        sa.ForeignKeyConstraint(["period_id"], ["cost_periods.id"],
                                name=op.f("fk_statement_batches_period_id_cost_periods")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"],
                                name=op.f("fk_statement_batches_requested_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_batches")),
    )
    op.create_index(op.f("ix_statement_batches_centre_id"), "statement_batches", ["centre_id"])
    op.create_index(op.f("ix_statement_batches_period_id"), "statement_batches", ["period_id"])

    op.create_table(
        "statement_batch_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pendiente', 'generado', 'fallido')",
                           name=op.f("ck_statement_batch_items_state")),
        sa.ForeignKeyConstraint(["batch_id"], ["statement_batches.id"], ondelete="CASCADE",
                                name=op.f("fk_statement_batch_items_batch_id_statement_batches")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"],
                                name=op.f("fk_statement_batch_items_centre_id_centres")),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"],
                                name=op.f("fk_statement_batch_items_entity_id_entities")),
        sa.ForeignKeyConstraint(["statement_id"], ["statements.id"], ondelete="CASCADE",
                                name=op.f("fk_statement_batch_items_statement_id_statements")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_batch_items")),
        sa.UniqueConstraint("batch_id", "statement_id", name=op.f("uq_statement_batch_items_batch_id_statement_id")),
    )
    op.create_index(op.f("ix_statement_batch_items_batch_id"), "statement_batch_items", ["batch_id"])
    op.create_index(op.f("ix_statement_batch_items_centre_id"), "statement_batch_items", ["centre_id"])
    op.create_index(op.f("ix_statement_batch_items_entity_id"), "statement_batch_items", ["entity_id"])
    op.create_index(op.f("ix_statement_batch_items_statement_id"), "statement_batch_items", ["statement_id"])

    _row_level_security()


def _row_level_security() -> None:
    for table in TABLES:
        enable_rls(table)
        managed_by_privileged(table)  # the worker writes the documents
        policy(table, f"{table}_sgp", command="SELECT", using="app_is_sgp()")
    # The centre's coordinator requests batches and corrections, and reads its centre's documents; only the
    # worker writes files.
    for table in ("statements", "statement_batches", "statement_batch_items"):
        managed_by_centre_administrator(table)
    policy("statement_files", "statement_files_centre_admin", command="SELECT",
           using="app_administers_centre(centre_id)")
    # A participant reads its own entity's statements and files, never another entity's.
    for table in ("statements", "statement_files"):
        policy(table, f"{table}_participant", command="SELECT", using=PARTICIPANT)
    # Its e-mail receipt is recorded by the coordinator's request (UPDATE through the centre policy).


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
