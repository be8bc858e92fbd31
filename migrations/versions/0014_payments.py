"""payments: transfers and deposits reported and confirmed, reversals, payment terms, reminders, constancias

Revision ID: 0014
Revises: 0013

Statements get a due date. Payments (with the statements they name), their reversals, each centre's payment
terms, the reminders already sent and the constancias de no adeudo, under row-level security: a participant
reads its own entity's rows and reports its own payments (only as ``reportado``); the centre's coordinator
reads and manages its centres'; the SGP reads everything; the worker (system) writes reminders. A confirmed
payment is never changed or deleted (trigger): a reversal corrects it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import (
    enable_rls,
    managed_by_centre_administrator,
    managed_by_privileged,
    policy,
    readable_by_all_authenticated,
)

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("payments", "payment_targets", "payment_reversals", "centre_payment_terms", "payment_reminders",
          "no_debt_certificates")
OWN = "app_role() IN ('finanzas', 'gestor_entidad') AND entity_id = app_entity_id()"
FINANCE = "app_role() = 'finanzas' AND entity_id = app_entity_id()"


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def upgrade() -> None:
    op.add_column("statements", sa.Column("due_on", sa.Date(), nullable=True))

    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=80), nullable=True),
        sa.Column("siaf_expediente", sa.String(length=20), nullable=True),
        sa.Column("fiscal_year", sa.Integer(), nullable=True),
        sa.Column("bank_operation", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("reported_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("support_filename", sa.String(length=200), nullable=True),
        sa.Column("support_sha256", sa.String(length=64), nullable=True),
        sa.Column("support_pdf", sa.LargeBinary(), nullable=True),
        _created(),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint("method IN ('transferencia', 'deposito')", name=op.f("ck_payments_method")),
        sa.CheckConstraint("state IN ('reportado', 'confirmado', 'rechazado')", name=op.f("ck_payments_state")),
        sa.CheckConstraint("source IN ('reportado', 'registrado', 'importado')", name=op.f("ck_payments_source")),
        sa.CheckConstraint("method <> 'transferencia' OR (resolution IS NOT NULL AND siaf_expediente IS NOT NULL "
                           "AND fiscal_year IS NOT NULL)", name=op.f("ck_payments_transfer_identified")),
        sa.CheckConstraint("method <> 'deposito' OR bank_operation IS NOT NULL",
                           name=op.f("ck_payments_deposit_identified")),
        sa.CheckConstraint("state <> 'rechazado' OR rejection_reason IS NOT NULL",
                           name=op.f("ck_payments_rejection_has_reason")),
        _fk("payments", "entity_id", "entities"), _fk("payments", "centre_id", "centres"),
        _fk("payments", "reported_by_id", "users"), _fk("payments", "decided_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("number", name=op.f("uq_payments_number")),
    )
    op.create_index(op.f("ix_payments_entity_id"), "payments", ["entity_id"])
    op.create_index(op.f("ix_payments_centre_id"), "payments", ["centre_id"])

    op.create_table(
        "payment_targets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        _fk("payment_targets", "payment_id", "payments"), _fk("payment_targets", "statement_id", "statements"),
        _fk("payment_targets", "entity_id", "entities"), _fk("payment_targets", "centre_id", "centres"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_targets")),
        sa.UniqueConstraint("payment_id", "statement_id", name=op.f("uq_payment_targets_payment_id_statement_id")),
        sa.UniqueConstraint("payment_id", "position", name=op.f("uq_payment_targets_payment_id_position")),
    )
    for column in ("payment_id", "statement_id", "entity_id", "centre_id"):
        op.create_index(op.f(f"ix_payment_targets_{column}"), "payment_targets", [column])

    op.create_table(
        "payment_reversals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        _created(),
        _fk("payment_reversals", "payment_id", "payments"), _fk("payment_reversals", "entity_id", "entities"),
        _fk("payment_reversals", "centre_id", "centres"), _fk("payment_reversals", "created_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reversals")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_reversals_payment_id")),
    )
    op.create_index(op.f("ix_payment_reversals_entity_id"), "payment_reversals", ["entity_id"])
    op.create_index(op.f("ix_payment_reversals_centre_id"), "payment_reversals", ["centre_id"])

    op.create_table(
        "centre_payment_terms",
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("due_days", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        _created(),
        sa.CheckConstraint("due_days BETWEEN 1 AND 365", name=op.f("ck_centre_payment_terms_due_days_range")),
        _fk("centre_payment_terms", "centre_id", "centres"), _fk("centre_payment_terms", "updated_by_id", "users"),
        sa.PrimaryKeyConstraint("centre_id", name=op.f("pk_centre_payment_terms")),
    )

    op.create_table(
        "payment_reminders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("outstanding", sa.Numeric(precision=14, scale=2), nullable=False),
        _created(),
        sa.CheckConstraint("stage IN ('por_vencer', 'vencido')", name=op.f("ck_payment_reminders_stage")),
        _fk("payment_reminders", "statement_id", "statements"), _fk("payment_reminders", "entity_id", "entities"),
        _fk("payment_reminders", "centre_id", "centres"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reminders")),
        sa.UniqueConstraint("statement_id", "stage", name=op.f("uq_payment_reminders_statement_id_stage")),
    )
    for column in ("statement_id", "entity_id", "centre_id"):
        op.create_index(op.f(f"ix_payment_reminders_{column}"), "payment_reminders", [column])

    op.create_table(
        "no_debt_certificates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("administering_entity_id", sa.Uuid(), nullable=False),
        sa.Column("verification_code", sa.String(length=24), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("charged", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("paid", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("credit", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("issued_by_id", sa.Uuid(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("signature_level", sa.String(length=40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        _created(),
        _fk("no_debt_certificates", "entity_id", "entities"), _fk("no_debt_certificates", "centre_id", "centres"),
        sa.ForeignKeyConstraint(["administering_entity_id"], ["entities.id"],
                                name=op.f("fk_no_debt_certificates_administering_entity_id_entities")),
        _fk("no_debt_certificates", "issued_by_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_no_debt_certificates")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_no_debt_certificates_verification_code")),
    )
    op.create_index(op.f("ix_no_debt_certificates_entity_id"), "no_debt_certificates", ["entity_id"])
    op.create_index(op.f("ix_no_debt_certificates_centre_id"), "no_debt_certificates", ["centre_id"])

    _immutable_confirmed_payments()
    _row_level_security()


def _immutable_confirmed_payments() -> None:
    op.execute("""
    CREATE FUNCTION payments_confirmed_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.state = 'confirmado' THEN
        RAISE EXCEPTION 'Un pago confirmado no se modifica ni se elimina: regístrese una reversión'
          USING ERRCODE = 'check_violation';
      END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$;
    """)
    op.execute("CREATE TRIGGER payments_confirmed_immutable BEFORE UPDATE OR DELETE ON payments "
               "FOR EACH ROW EXECUTE FUNCTION payments_confirmed_immutable()")
    # Reversals and the statements a payment names are entries: appended, never changed.
    op.execute("""
    CREATE FUNCTION payment_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'Las reversiones y aplicaciones de pagos no se modifican ni se eliminan'
        USING ERRCODE = 'check_violation';
    END $$;
    """)
    for table in ("payment_reversals", "payment_targets"):
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION payment_entries_append_only()")


def _row_level_security() -> None:
    for table in TABLES:
        enable_rls(table)
        managed_by_privileged(table)
        policy(table, f"{table}_sgp", command="SELECT", using="app_is_sgp()")
    # The centre's coordinator manages its centres' payments, reversals and terms, and reads the rest.
    for table in ("payments", "payment_targets", "payment_reversals", "centre_payment_terms"):
        managed_by_centre_administrator(table)
    for table in ("payment_reminders", "no_debt_certificates"):
        policy(table, f"{table}_centre_admin", command="SELECT", using="app_administers_centre(centre_id)")
    # Everyone signed in may read a centre's payment terms (the due date is on every statement).
    readable_by_all_authenticated("centre_payment_terms")
    # A participant reads its own entity's rows, never another entity's.
    for table in ("payments", "payment_targets", "payment_reversals", "payment_reminders", "no_debt_certificates"):
        policy(table, f"{table}_participant", command="SELECT", using=OWN)
    # Its finance officer reports its payments (never confirmed by itself) and issues its constancias.
    policy("payments", "payments_report", command="INSERT", check=f"{FINANCE} AND state = 'reportado'")
    policy("payment_targets", "payment_targets_report", command="INSERT", check=FINANCE)
    policy("no_debt_certificates", "no_debt_certificates_issue", command="INSERT", check=FINANCE)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    op.execute("DROP FUNCTION payments_confirmed_immutable()")
    op.execute("DROP FUNCTION payment_entries_append_only()")
    op.drop_column("statements", "due_on")
