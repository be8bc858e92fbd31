"""adhesion

Clause templates, adhesions (with the SGP gate repeated as a trigger), their timeline, attachments and
reminders; the shared document registry and the narrow SECURITY DEFINER functions behind the public
verification page.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.config import get_settings
from migrations.rls import enable_rls, managed_by_privileged, policy, readable_by_all_authenticated

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("'borrador', 'presentada', 'en_evaluacion', 'observada', 'pendiente_opinion_sgp', 'opinion_favorable', "
          "'opinion_desfavorable', 'rechazada', 'aceptada', 'vigente', 'suspendida', 'vencida', 'renovada', "
          "'terminacion_en_tramite', 'terminada'")


def upgrade() -> None:
    op.create_table(
        "clause_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('borrador', 'publicada', 'retirada')", name=op.f("ck_clause_templates_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clause_templates")),
        sa.UniqueConstraint("version", name=op.f("uq_clause_templates_version")),
    )
    op.create_table(
        "adhesions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.Column("previous_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("services", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("ans", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("modules", sa.Integer(), nullable=False),
        sa.Column("area_m2", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("monthly_fee", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("cofinancing", sa.Text(), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("draft_code", sa.String(length=24), nullable=False),
        sa.Column("document_code", sa.String(length=24), nullable=True),
        sa.Column("document_version", sa.Integer(), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_adhesions_state")),
        sa.CheckConstraint("modules >= 0 AND area_m2 >= 0 AND monthly_fee >= 0", name=op.f("ck_adhesions_non_negative")),
        sa.CheckConstraint("term_months BETWEEN 1 AND 120", name=op.f("ck_adhesions_term")),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_adhesions_centre_id_centres")),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_adhesions_entity_id_entities")),
        sa.ForeignKeyConstraint(["previous_id"], ["adhesions.id"], name=op.f("fk_adhesions_previous_id_adhesions")),
        sa.ForeignKeyConstraint(["template_id"], ["clause_templates.id"],
                                name=op.f("fk_adhesions_template_id_clause_templates")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adhesions")),
        sa.UniqueConstraint("draft_code", name=op.f("uq_adhesions_draft_code")),
    )
    op.create_index(op.f("ix_adhesions_centre_id"), "adhesions", ["centre_id"], unique=False)
    op.create_index(op.f("ix_adhesions_entity_id"), "adhesions", ["entity_id"], unique=False)
    op.create_table(
        "adhesion_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("adhesion_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("from_state", sa.String(length=30), nullable=True),
        sa.Column("to_state", sa.String(length=30), nullable=True),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_dni", sa.String(length=8), nullable=True),
        sa.Column("actor_role", sa.String(length=30), nullable=False),
        sa.Column("actor_entity_id", sa.Uuid(), nullable=True),
        sa.Column("actor_entity_name", sa.String(length=200), nullable=True),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("auth_method", sa.String(length=30), nullable=True),
        sa.Column("acr", sa.String(length=120), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(["adhesion_id"], ["adhesions.id"], name=op.f("fk_adhesion_events_adhesion_id_adhesions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_adhesion_events_entity_id_entities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adhesion_events")),
    )
    op.create_index(op.f("ix_adhesion_events_adhesion_id"), "adhesion_events", ["adhesion_id"], unique=False)
    op.create_table(
        "adhesion_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("adhesion_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["adhesion_id"], ["adhesions.id"],
                                name=op.f("fk_adhesion_attachments_adhesion_id_adhesions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_adhesion_attachments_entity_id_entities")),
        sa.ForeignKeyConstraint(["event_id"], ["adhesion_events.id"],
                                name=op.f("fk_adhesion_attachments_event_id_adhesion_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adhesion_attachments")),
    )
    op.create_index(op.f("ix_adhesion_attachments_adhesion_id"), "adhesion_attachments", ["adhesion_id"],
                    unique=False)
    op.create_table(
        "adhesion_reminders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("adhesion_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("days_before", sa.Integer(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["adhesion_id"], ["adhesions.id"],
                                name=op.f("fk_adhesion_reminders_adhesion_id_adhesions"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_adhesion_reminders_entity_id_entities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adhesion_reminders")),
        sa.UniqueConstraint("adhesion_id", "days_before", "end_date",
                            name=op.f("uq_adhesion_reminders_adhesion_id_days_before_end_date")),
    )
    op.create_table(
        "registered_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=250), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("subject_state", sa.String(length=40), nullable=False),
        sa.Column("subject_state_label", sa.String(length=120), nullable=False),
        sa.Column("superseded_by", sa.String(length=24), nullable=True),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("counterpart_entity_id", sa.Uuid(), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["counterpart_entity_id"], ["entities.id"],
                                name=op.f("fk_registered_documents_counterpart_entity_id_entities")),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_registered_documents_entity_id_entities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registered_documents")),
        sa.UniqueConstraint("code", name=op.f("uq_registered_documents_code")),
    )
    op.create_index(op.f("ix_registered_documents_entity_id"), "registered_documents", ["entity_id"], unique=False)
    op.create_index(op.f("ix_registered_documents_subject_id"), "registered_documents", ["subject_id"], unique=False)
    op.create_table(
        "document_revisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("label", sa.String(length=250), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signer", sa.String(length=250), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("level", sa.String(length=40), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["registered_documents.id"],
                                name=op.f("fk_document_revisions_document_id_registered_documents"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_document_revisions_entity_id_entities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_revisions")),
        sa.UniqueConstraint("document_id", "number", name=op.f("uq_document_revisions_document_id_number")),
    )
    op.create_index(op.f("ix_document_revisions_entity_id"), "document_revisions", ["entity_id"], unique=False)
    op.create_index(op.f("ix_document_revisions_sha256"), "document_revisions", ["sha256"], unique=False)

    _first_template()
    _row_level_security()
    _sgp_gate()
    _public_verification()
    _notification_recipients()


def _notification_recipients() -> None:
    """Who must act next on an adhesion: e-mail addresses of one party's people, only for a caller who takes
    part in that same adhesion (a manager never learns other entities' addresses any other way)."""
    definer = get_settings().definer_role
    op.execute(f"GRANT SELECT ON adhesions, memberships, centres, entities TO {definer}")
    policy("adhesions", "adhesions_definer", command="SELECT", to=definer, using="true")
    policy("memberships", "memberships_adhesion_definer", command="SELECT", to=definer, using="true")
    op.execute("""
    CREATE FUNCTION adhesion_recipients(p_adhesion uuid, p_party text) RETURNS TABLE (email text, full_name text)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
      WITH a AS (
        SELECT ad.entity_id, c.administering_entity_id FROM adhesions ad JOIN centres c ON c.id = ad.centre_id
        WHERE ad.id = p_adhesion
          AND (app_is_privileged() OR app_is_sgp() OR app_entity_id() IN (ad.entity_id, c.administering_entity_id))
      )
      SELECT u.email::text, u.full_name::text FROM a
        JOIN memberships m ON m.is_active AND (
             (p_party = 'entidad' AND m.entity_id = a.entity_id AND m.role = 'gestor_entidad')
          OR (p_party = 'administradora' AND m.entity_id = a.administering_entity_id AND m.role = 'coordinador_centro')
          OR (p_party = 'sgp' AND m.role = 'supervisor_sgp'))
        JOIN users u ON u.id = m.user_id AND u.is_active
      ORDER BY u.email $$;
    """)
    op.execute(f"ALTER FUNCTION adhesion_recipients(uuid, text) OWNER TO {definer}")


def _first_template() -> None:
    from app.adhesion.template_text import BODY, TITLE

    table = sa.table("clause_templates", sa.column("id", sa.Uuid()), sa.column("version", sa.Integer()),
                     sa.column("title", sa.String()), sa.column("body", sa.Text()), sa.column("status", sa.String()),
                     sa.column("published_at", sa.DateTime(timezone=True)))
    op.bulk_insert(table, [{"id": uuid.UUID("6b1f3c52-8e0a-4a59-9a39-2f4f0c1d0a01"), "version": 1, "title": TITLE,
                            "body": BODY, "status": "publicada", "published_at": None}])
    op.execute("UPDATE clause_templates SET published_at = now() WHERE version = 1")


def _row_level_security() -> None:
    definer = get_settings().definer_role
    for table in ("clause_templates", "adhesions", "adhesion_events", "adhesion_attachments", "adhesion_reminders",
                  "registered_documents", "document_revisions"):
        enable_rls(table)
    readable_by_all_authenticated("clause_templates")
    managed_by_privileged("clause_templates")

    # Who takes part in an adhesion: any role of the participant, the coordinators of the centre's
    # administering entity, the SGP, and the system.
    op.execute("""
    CREATE FUNCTION app_adhesion_party(p_entity uuid, p_centre uuid) RETURNS boolean LANGUAGE sql STABLE AS
      $$ SELECT app_is_privileged() OR app_is_sgp() OR p_entity = app_entity_id() OR app_administers_centre(p_centre) $$;
    """)
    policy("adhesions", "adhesions_read", command="SELECT", using="app_adhesion_party(entity_id, centre_id)")
    policy("adhesions", "adhesions_create", command="INSERT",
           check="app_is_privileged() OR (app_role() = 'gestor_entidad' AND entity_id = app_entity_id())")
    cond = ("app_adhesion_party(entity_id, centre_id) AND app_role() IN "
            "('gestor_entidad', 'coordinador_centro', 'supervisor_sgp', 'sistema', 'administrador_plataforma')")
    policy("adhesions", "adhesions_update", command="UPDATE", using=cond, check=cond)
    policy("adhesions", "adhesions_delete", command="DELETE", using="app_is_privileged()")

    # Timeline and attachments: visible to whoever sees the adhesion; appended, never edited.
    visible = "EXISTS (SELECT 1 FROM adhesions a WHERE a.id = adhesion_id)"
    for table in ("adhesion_events", "adhesion_attachments"):
        policy(table, f"{table}_read", command="SELECT", using=visible)
        policy(table, f"{table}_append", command="INSERT", check=f"app_is_authenticated() AND {visible}")
    policy("adhesion_attachments", "adhesion_attachments_link", command="UPDATE",
           using=f"app_is_authenticated() AND {visible}", check=f"app_is_authenticated() AND {visible}")
    policy("adhesion_reminders", "adhesion_reminders_read", command="SELECT", using=visible)
    managed_by_privileged("adhesion_reminders")

    # Registry: the document's entity (any role), the counterpart's coordinators, the SGP and the system.
    party = ("app_is_privileged() OR app_is_sgp() OR entity_id = app_entity_id() OR "
             "(counterpart_entity_id = app_entity_id() AND app_role() = 'coordinador_centro')")
    policy("registered_documents", "registered_documents_party", using=party, check=party)
    doc_visible = "EXISTS (SELECT 1 FROM registered_documents d WHERE d.id = document_id)"
    policy("document_revisions", "document_revisions_read", command="SELECT", using=doc_visible)
    policy("document_revisions", "document_revisions_append", command="INSERT",
           check=f"app_is_authenticated() AND {doc_visible}")
    # The public verification functions (below) read through the definer role only.
    for table in ("registered_documents", "document_revisions"):
        policy(table, f"{table}_definer", command="SELECT", to=definer, using="true")
    op.execute(f"GRANT SELECT ON registered_documents, document_revisions TO {definer}")


def _sgp_gate() -> None:
    """The SGP's two gates, once more in the database: no role, route or bug can go around them."""
    op.execute("""
    CREATE FUNCTION adhesion_gate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          IF NEW.state <> 'borrador' THEN
            RAISE EXCEPTION 'Una adhesión nace en borrador' USING ERRCODE = 'check_violation';
          END IF;
          RETURN NEW;
        END IF;
        IF NEW.state IS DISTINCT FROM OLD.state THEN
          IF NEW.state IN ('opinion_favorable', 'opinion_desfavorable')
             AND NOT (app_role() = 'supervisor_sgp' AND OLD.state = 'pendiente_opinion_sgp') THEN
            RAISE EXCEPTION 'Solo la SGP emite opinión sobre una adhesión pendiente de opinión'
              USING ERRCODE = 'check_violation';
          END IF;
          IF NEW.state = 'aceptada' AND OLD.state <> 'opinion_favorable' THEN
            RAISE EXCEPTION 'Una adhesión solo se acepta con opinión favorable de la SGP'
              USING ERRCODE = 'check_violation';
          END IF;
          IF NEW.state = 'terminada'
             AND NOT (app_role() = 'supervisor_sgp' AND OLD.state = 'terminacion_en_tramite') THEN
            RAISE EXCEPTION 'Solo la SGP, con opinión favorable, cierra una terminación anticipada'
              USING ERRCODE = 'check_violation';
          END IF;
        END IF;
        RETURN NEW;
      END $$;
    CREATE TRIGGER adhesions_gate BEFORE INSERT OR UPDATE ON adhesions
      FOR EACH ROW EXECUTE FUNCTION adhesion_gate();

    -- A published (or retired) clause text never changes: adhesions point at it.
    CREATE FUNCTION clause_template_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.status <> 'borrador' AND (NEW.title IS DISTINCT FROM OLD.title OR NEW.body IS DISTINCT FROM OLD.body
                                         OR NEW.version IS DISTINCT FROM OLD.version) THEN
          RAISE EXCEPTION 'Una versión publicada de la cláusula no se modifica' USING ERRCODE = 'check_violation';
        END IF;
        IF OLD.status = 'retirada' AND NEW.status <> 'retirada' THEN
          RAISE EXCEPTION 'Una versión retirada de la cláusula no vuelve a publicarse' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
      END $$;
    CREATE TRIGGER clause_templates_frozen BEFORE UPDATE ON clause_templates
      FOR EACH ROW EXECUTE FUNCTION clause_template_frozen();
    """)


def _public_verification() -> None:
    """What the public page may know about a code or a file's hash, and nothing else."""
    definer = get_settings().definer_role
    op.execute("""
    CREATE FUNCTION document_public_by_code(p_code text)
      RETURNS TABLE (code text, kind text, title text, subject_state text, subject_state_label text,
                     superseded_by text, is_demo boolean, issued_at timestamptz, revision int, revision_kind text,
                     label text, sha256 text, size int, signer text, signed_at timestamptz, level text)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
      $$ SELECT d.code, d.kind, d.title, d.subject_state, d.subject_state_label, d.superseded_by, d.is_demo,
                d.created_at, r.number, r.kind, r.label, r.sha256, r.size, r.signer, r.signed_at, r.level
         FROM registered_documents d JOIN document_revisions r ON r.document_id = d.id
         WHERE d.code = upper(trim(p_code)) ORDER BY r.number $$;

    CREATE FUNCTION document_public_by_sha256(p_sha256 text)
      RETURNS TABLE (code text, revision int)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
      $$ SELECT d.code, r.number FROM document_revisions r JOIN registered_documents d ON d.id = r.document_id
         WHERE r.sha256 = lower(p_sha256) ORDER BY r.created_at LIMIT 1 $$;
    """)
    for fn in ("document_public_by_code(text)", "document_public_by_sha256(text)"):
        op.execute(f"ALTER FUNCTION {fn} OWNER TO {definer}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS document_public_by_code(text), document_public_by_sha256(text), "
               "adhesion_recipients(uuid, text) CASCADE")
    op.execute("DROP POLICY IF EXISTS memberships_adhesion_definer ON memberships")
    op.execute("DROP TRIGGER IF EXISTS adhesions_gate ON adhesions")
    op.execute("DROP FUNCTION IF EXISTS adhesion_gate() CASCADE")
    op.execute("DROP FUNCTION IF EXISTS clause_template_frozen() CASCADE")
    op.drop_index(op.f("ix_document_revisions_sha256"), table_name="document_revisions")
    op.drop_index(op.f("ix_document_revisions_entity_id"), table_name="document_revisions")
    op.drop_table("document_revisions")
    op.drop_index(op.f("ix_registered_documents_subject_id"), table_name="registered_documents")
    op.drop_index(op.f("ix_registered_documents_entity_id"), table_name="registered_documents")
    op.drop_table("registered_documents")
    op.drop_table("adhesion_reminders")
    op.drop_index(op.f("ix_adhesion_attachments_adhesion_id"), table_name="adhesion_attachments")
    op.drop_table("adhesion_attachments")
    op.drop_index(op.f("ix_adhesion_events_adhesion_id"), table_name="adhesion_events")
    op.drop_table("adhesion_events")
    op.drop_index(op.f("ix_adhesions_entity_id"), table_name="adhesions")
    op.drop_index(op.f("ix_adhesions_centre_id"), table_name="adhesions")
    op.drop_table("adhesions")
    op.execute("DROP FUNCTION IF EXISTS app_adhesion_party(uuid, uuid)")
    op.drop_table("clause_templates")
