"""onboarding: registration requests, their documents and history, invitations, the entity's versioned profile

Revision ID: 0002
Revises: 0001

Who reaches what (row-level security, FORCE on every table):
- An applicant has no account. Their link carries a token; the service puts its SHA-256 in the transaction-local
  setting ``app.onboarding_token`` and the policies below let that transaction see (and, while the request is
  ``observada``, correct) exactly the one request whose ``access_token_hash`` matches, its documents and its
  history. Creating a request is allowed to anyone, but only in state ``pendiente_verificacion_correo`` with no
  tenant attached.
- Confirming the e-mail needs to know whether the RUC is already taken, which an anonymous transaction may not
  read: ``onboarding_confirm_email`` (SECURITY DEFINER) does it for the one request of the token it is given.
- The SGP reads every request and moves it to en_revision / observada / rechazada through ordinary policies.
  Approval creates an entity, a user and a membership, which the supervisor's role may not write: rather than
  granting supervisor_sgp INSERT on entities, users and memberships (which would let it mint tenants and make
  anyone a manager at any time), ``onboarding_approve_registration`` (SECURITY DEFINER) does those writes only
  for a request that is ``en_revision``, only when app_role() = 'supervisor_sgp', in one transaction.
  ``onboarding_apply_profile_change`` does the same for an approved change of an entity's legal data.
- An entity's manager (gestor_entidad) handles its own invitations, memberships (the three entity roles, and
  coordinador_centro only when the entity administers a centre) and profile change requests.
- Accepting an invitation creates the user and the membership for a person who has no session:
  ``onboarding_accept_invitation`` (SECURITY DEFINER), given the token's hash.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings
from migrations.rls import enable_rls, managed_by_privileged, policy

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("registration_requests", "registration_events", "onboarding_documents", "invitations",
          "entity_profile_versions", "entity_profile_changes")
FUNCTIONS = ("onboarding_confirm_email(text, integer)", "onboarding_approve_registration(uuid, text, text)",
             "onboarding_invitation_lookup(text)", "onboarding_accept_invitation(text, text, text, text, text)",
             "onboarding_apply_profile_change(uuid, text)")


def upgrade() -> None:
    op.create_table('invitations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_user_id', sa.Uuid(), nullable=True),
    sa.Column('invited_by', sa.Uuid(), nullable=True),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('gestor_entidad', 'finanzas', 'coordinador_centro')", name=op.f('ck_invitations_role')),
    sa.ForeignKeyConstraint(['accepted_user_id'], ['users.id'], name=op.f('fk_invitations_accepted_user_id_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_invitations_entity_id_entities')),
    sa.ForeignKeyConstraint(['invited_by'], ['users.id'], name=op.f('fk_invitations_invited_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash'))
    )
    op.create_index(op.f('ix_invitations_entity_id'), 'invitations', ['entity_id'], unique=False)
    op.create_table('registration_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('ruc', sa.String(length=11), nullable=False),
    sa.Column('entity_name', sa.String(length=200), nullable=False),
    sa.Column('short_name', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=True),
    sa.Column('address', sa.String(length=250), nullable=False),
    sa.Column('ubigeo', sa.String(length=6), nullable=False),
    sa.Column('applicant_dni', sa.String(length=8), nullable=False),
    sa.Column('applicant_name', sa.String(length=200), nullable=False),
    sa.Column('applicant_position', sa.String(length=120), nullable=False),
    sa.Column('applicant_email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('oidc_subject', sa.String(length=255), nullable=True),
    sa.Column('token_salt', sa.String(length=64), nullable=False),
    sa.Column('access_token_hash', sa.String(length=64), nullable=False),
    sa.Column('email_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("applicant_dni ~ '^[0-9]{8}$'", name=op.f('ck_registration_requests_dni_format')),
    sa.CheckConstraint("kind IN ('publica', 'privada')", name=op.f('ck_registration_requests_kind')),
    sa.CheckConstraint("level IS NULL OR level IN ('nacional', 'regional', 'local')", name=op.f('ck_registration_requests_level')),
    sa.CheckConstraint("ruc ~ '^(10|15|16|17|20)[0-9]{9}$'", name=op.f('ck_registration_requests_ruc_format')),
    sa.CheckConstraint("state IN ('pendiente_verificacion_correo', 'enviada', 'en_revision', 'observada', 'aprobada', 'rechazada')", name=op.f('ck_registration_requests_state')),
    sa.CheckConstraint("ubigeo ~ '^[0-9]{6}$'", name=op.f('ck_registration_requests_ubigeo_format')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_registration_requests_entity_id_entities')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_registration_requests_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_requests')),
    sa.UniqueConstraint('access_token_hash', name=op.f('uq_registration_requests_access_token_hash'))
    )
    op.create_index(op.f('ix_registration_requests_entity_id'), 'registration_requests', ['entity_id'], unique=False)
    op.create_index(op.f('ix_registration_requests_ruc'), 'registration_requests', ['ruc'], unique=False)
    op.create_index('uq_registration_requests_open_ruc', 'registration_requests', ['ruc'], unique=True, postgresql_where=sa.text("state IN ('enviada', 'en_revision', 'observada')"))
    op.create_table('onboarding_documents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('registration_id', sa.Uuid(), nullable=True),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=60), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("purpose IN ('designacion', 'traspaso', 'cambio_perfil')", name=op.f('ck_onboarding_documents_purpose')),
    sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f('ck_onboarding_documents_sha256_format')),
    sa.CheckConstraint('registration_id IS NOT NULL OR entity_id IS NOT NULL', name=op.f('ck_onboarding_documents_owner')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_onboarding_documents_entity_id_entities')),
    sa.ForeignKeyConstraint(['registration_id'], ['registration_requests.id'], name=op.f('fk_onboarding_documents_registration_id_registration_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_onboarding_documents_uploaded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_onboarding_documents'))
    )
    op.create_index(op.f('ix_onboarding_documents_entity_id'), 'onboarding_documents', ['entity_id'], unique=False)
    op.create_index(op.f('ix_onboarding_documents_registration_id'), 'onboarding_documents', ['registration_id'], unique=False)
    op.create_table('registration_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('registration_id', sa.Uuid(), nullable=False),
    sa.Column('from_state', sa.String(length=30), nullable=True),
    sa.Column('to_state', sa.String(length=30), nullable=False),
    sa.Column('actor_role', sa.String(length=30), nullable=False),
    sa.Column('actor_user_id', sa.Uuid(), nullable=True),
    sa.Column('actor_label', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration_requests.id'], name=op.f('fk_registration_events_registration_id_registration_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_events'))
    )
    op.create_index(op.f('ix_registration_events_registration_id'), 'registration_events', ['registration_id'], unique=False)
    op.create_table('entity_profile_changes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('short_name', sa.String(length=60), nullable=False),
    sa.Column('address', sa.String(length=250), nullable=True),
    sa.Column('ubigeo', sa.String(length=6), nullable=True),
    sa.Column('representative_name', sa.String(length=200), nullable=True),
    sa.Column('representative_dni', sa.String(length=8), nullable=True),
    sa.Column('representative_position', sa.String(length=120), nullable=True),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('document_id', sa.Uuid(), nullable=True),
    sa.Column('requested_by', sa.Uuid(), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("representative_dni IS NULL OR representative_dni ~ '^[0-9]{8}$'", name=op.f('ck_entity_profile_changes_dni_format')),
    sa.CheckConstraint("state IN ('pendiente', 'aprobada', 'rechazada')", name=op.f('ck_entity_profile_changes_state')),
    sa.CheckConstraint("ubigeo IS NULL OR ubigeo ~ '^[0-9]{6}$'", name=op.f('ck_entity_profile_changes_ubigeo_format')),
    sa.ForeignKeyConstraint(['document_id'], ['onboarding_documents.id'], name=op.f('fk_entity_profile_changes_document_id_onboarding_documents')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_profile_changes_entity_id_entities')),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_entity_profile_changes_requested_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_profile_changes'))
    )
    op.create_index(op.f('ix_entity_profile_changes_entity_id'), 'entity_profile_changes', ['entity_id'], unique=False)
    op.create_index('uq_entity_profile_changes_pending', 'entity_profile_changes', ['entity_id'], unique=True, postgresql_where=sa.text("state = 'pendiente'"))
    op.create_table('entity_profile_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('short_name', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=True),
    sa.Column('address', sa.String(length=250), nullable=True),
    sa.Column('ubigeo', sa.String(length=6), nullable=True),
    sa.Column('representative_name', sa.String(length=200), nullable=True),
    sa.Column('representative_dni', sa.String(length=8), nullable=True),
    sa.Column('representative_position', sa.String(length=120), nullable=True),
    sa.Column('document_id', sa.Uuid(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('approved_by', sa.Uuid(), nullable=True),
    sa.Column('change_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['onboarding_documents.id'], name=op.f('fk_entity_profile_versions_document_id_onboarding_documents')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_entity_profile_versions_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity_profile_versions')),
    sa.UniqueConstraint('entity_id', 'version', name=op.f('uq_entity_profile_versions_entity_id_version'))
    )
    op.create_index(op.f('ix_entity_profile_versions_entity_id'), 'entity_profile_versions', ['entity_id'], unique=False)
    _row_level_security()
    _definer_functions()


def downgrade() -> None:
    definer = get_settings().definer_role
    op.execute("DROP FUNCTION IF EXISTS " + ", ".join(FUNCTIONS))
    for name in ("memberships_manager_insert", "memberships_manager_update", "memberships_definer",
                 "entities_definer"):
        op.execute(f"DROP POLICY IF EXISTS {name} ON {name.split('_')[0]}")
    op.execute(f"REVOKE INSERT ON users FROM {definer}")
    op.execute(f"REVOKE ALL ON entities, memberships FROM {definer}")
    op.drop_index(op.f('ix_entity_profile_versions_entity_id'), table_name='entity_profile_versions')
    op.drop_table('entity_profile_versions')
    op.drop_index('uq_entity_profile_changes_pending', table_name='entity_profile_changes', postgresql_where=sa.text("state = 'pendiente'"))
    op.drop_index(op.f('ix_entity_profile_changes_entity_id'), table_name='entity_profile_changes')
    op.drop_table('entity_profile_changes')
    op.drop_index(op.f('ix_registration_events_registration_id'), table_name='registration_events')
    op.drop_table('registration_events')
    op.drop_index(op.f('ix_onboarding_documents_registration_id'), table_name='onboarding_documents')
    op.drop_index(op.f('ix_onboarding_documents_entity_id'), table_name='onboarding_documents')
    op.drop_table('onboarding_documents')
    op.drop_index('uq_registration_requests_open_ruc', table_name='registration_requests', postgresql_where=sa.text("state IN ('enviada', 'en_revision', 'observada')"))
    op.drop_index(op.f('ix_registration_requests_ruc'), table_name='registration_requests')
    op.drop_index(op.f('ix_registration_requests_entity_id'), table_name='registration_requests')
    op.drop_table('registration_requests')
    op.drop_index(op.f('ix_invitations_entity_id'), table_name='invitations')
    op.drop_table('invitations')

    op.execute("DROP FUNCTION IF EXISTS app_onboarding_token()")

TOKEN_REQUEST = "(SELECT r.id FROM registration_requests r WHERE r.access_token_hash = app_onboarding_token())"
MANAGER = "entity_id = app_entity_id() AND app_role() = 'gestor_entidad'"
# coordinador_centro only for an entity that administers a centre.
ROLE_ALLOWED = ("role IN ('gestor_entidad', 'finanzas', 'coordinador_centro') AND (role <> 'coordinador_centro' "
                "OR EXISTS (SELECT 1 FROM centres c WHERE c.administering_entity_id = app_entity_id()))")


def _row_level_security() -> None:
    definer = get_settings().definer_role
    op.execute("""
    CREATE FUNCTION app_onboarding_token() RETURNS text LANGUAGE sql STABLE AS
      $$ SELECT nullif(current_setting('app.onboarding_token', true), '') $$;
    """)
    for table in TABLES:
        enable_rls(table)
        managed_by_privileged(table)
        policy(table, f"{table}_definer", to=definer, using="true", check="true")

    # Requests: the applicant (by token), the SGP (reads all, moves the review states).
    policy("registration_requests", "registration_requests_applicant", command="SELECT",
           using="access_token_hash = app_onboarding_token()")
    policy("registration_requests", "registration_requests_new", command="INSERT",
           check="app_role() <> 'ninguno' AND access_token_hash = app_onboarding_token() "
                 "AND state = 'pendiente_verificacion_correo' AND entity_id IS NULL AND user_id IS NULL "
                 "AND email_confirmed_at IS NULL AND submitted_at IS NULL")
    policy("registration_requests", "registration_requests_resubmit", command="UPDATE",
           using="access_token_hash = app_onboarding_token() AND state = 'observada'",
           check="access_token_hash = app_onboarding_token() AND state IN ('observada', 'enviada') "
                 "AND entity_id IS NULL AND user_id IS NULL")
    policy("registration_requests", "registration_requests_sgp_read", command="SELECT", using="app_is_sgp()")
    policy("registration_requests", "registration_requests_sgp_review", command="UPDATE",
           using="app_is_sgp() AND state IN ('enviada', 'en_revision')",
           check="app_is_sgp() AND state IN ('en_revision', 'observada', 'rechazada') AND entity_id IS NULL")

    # History: append-only (no UPDATE or DELETE policy) for whoever may act on the request.
    may_act = f"app_is_sgp() OR registration_id IN {TOKEN_REQUEST}"
    policy("registration_events", "registration_events_read", command="SELECT", using=may_act)
    policy("registration_events", "registration_events_append", command="INSERT", check=may_act)

    # Documents: the applicant's own (added while the request can still change), the SGP's reading, and the
    # entity manager's (designations, supports of profile changes).
    policy("onboarding_documents", "onboarding_documents_applicant", command="SELECT",
           using=f"registration_id IN {TOKEN_REQUEST}")
    policy("onboarding_documents", "onboarding_documents_applicant_add", command="INSERT",
           check="entity_id IS NULL AND purpose = 'designacion' AND registration_id IN (SELECT r.id FROM "
                 "registration_requests r WHERE r.access_token_hash = app_onboarding_token() "
                 "AND r.state IN ('pendiente_verificacion_correo', 'observada'))")
    policy("onboarding_documents", "onboarding_documents_sgp", command="SELECT", using="app_is_sgp()")
    policy("onboarding_documents", "onboarding_documents_entity", command="SELECT", using=MANAGER)
    policy("onboarding_documents", "onboarding_documents_entity_add", command="INSERT",
           check=f"{MANAGER} AND registration_id IS NULL AND purpose IN ('traspaso', 'cambio_perfil')")

    # Invitations: the entity's manager runs them; the SGP reads.
    policy("invitations", "invitations_manager", using=MANAGER, check=f"{MANAGER} AND {ROLE_ALLOWED}")
    policy("invitations", "invitations_sgp", command="SELECT", using="app_is_sgp()")

    # The entity's manager changes roles and deactivates people of their own entity (never other roles).
    policy("memberships", "memberships_manager_insert", command="INSERT", check=f"{MANAGER} AND {ROLE_ALLOWED}")
    policy("memberships", "memberships_manager_update", command="UPDATE",
           using=f"{MANAGER} AND role IN ('gestor_entidad', 'finanzas', 'coordinador_centro')",
           check=f"{MANAGER} AND {ROLE_ALLOWED}")
    policy("memberships", "memberships_definer", to=definer, using="true", check="true")
    policy("entities", "entities_definer", to=definer, using="true", check="true")

    # Profile: every signed-in party may read an entity's legal data and its history (it is public data);
    # versions are written only by the approval functions.
    policy("entity_profile_versions", "entity_profile_versions_read", command="SELECT",
           using="app_is_authenticated()")
    policy("entity_profile_changes", "entity_profile_changes_manager", command="SELECT", using=MANAGER)
    policy("entity_profile_changes", "entity_profile_changes_request", command="INSERT",
           check=f"{MANAGER} AND state = 'pendiente' AND decided_by IS NULL AND version_id IS NULL")
    policy("entity_profile_changes", "entity_profile_changes_sgp_read", command="SELECT", using="app_is_sgp()")
    policy("entity_profile_changes", "entity_profile_changes_sgp_reject", command="UPDATE",
           using="app_is_sgp() AND state = 'pendiente'", check="app_is_sgp() AND state = 'rechazada'")


def _definer_functions() -> None:
    definer = get_settings().definer_role
    for table, privileges in (("registration_requests", "SELECT, UPDATE"), ("registration_events", "SELECT, INSERT"),
                              ("onboarding_documents", "SELECT, UPDATE"), ("invitations", "SELECT, UPDATE"),
                              ("entity_profile_versions", "SELECT, INSERT"),
                              ("entity_profile_changes", "SELECT, UPDATE"), ("entities", "SELECT, INSERT, UPDATE"),
                              ("users", "SELECT, INSERT, UPDATE"), ("memberships", "SELECT, INSERT, UPDATE")):
        op.execute(f"GRANT {privileges} ON {table} TO {definer}")
    op.execute("""
    -- The applicant opens the link of the confirmation e-mail. Only then is the RUC checked: the public form
    -- answers the same for every RUC, and this answer goes to someone who proved they read that mailbox.
    CREATE FUNCTION onboarding_confirm_email(p_token_hash text, p_max_age_hours integer) RETURNS text
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE r registration_requests; v_outcome text; v_reason text;
      BEGIN
        SELECT * INTO r FROM registration_requests WHERE access_token_hash = p_token_hash FOR UPDATE;
        IF NOT FOUND THEN RETURN 'invalido'; END IF;
        IF r.state <> 'pendiente_verificacion_correo' THEN RETURN 'ya_confirmada'; END IF;
        IF r.created_at < now() - make_interval(hours => p_max_age_hours) THEN RETURN 'vencida'; END IF;
        IF EXISTS (SELECT 1 FROM entities e WHERE e.ruc = r.ruc) THEN
          v_outcome := 'ruc_registrado';
          v_reason := 'El RUC ya está registrado en la Plataforma MAC.';
        ELSIF EXISTS (SELECT 1 FROM registration_requests o WHERE o.ruc = r.ruc AND o.id <> r.id
                      AND o.state IN ('enviada', 'en_revision', 'observada')) THEN
          v_outcome := 'ruc_en_tramite';
          v_reason := 'Ya hay otra solicitud en trámite para este RUC.';
        ELSE
          BEGIN
            UPDATE registration_requests SET state = 'enviada', email_confirmed_at = now(), submitted_at = now(),
              updated_at = now() WHERE id = r.id;
          EXCEPTION WHEN unique_violation THEN  -- a request for the same RUC was confirmed at the same moment
            v_outcome := 'ruc_en_tramite';
            v_reason := 'Ya hay otra solicitud en trámite para este RUC.';
          END;
          IF v_outcome IS NULL THEN
            INSERT INTO registration_events (id, registration_id, from_state, to_state, actor_role, actor_label)
              VALUES (gen_random_uuid(), r.id, r.state, 'enviada', 'solicitante', r.applicant_email);
            RETURN 'enviada';
          END IF;
        END IF;
        UPDATE registration_requests SET state = 'rechazada', email_confirmed_at = now(), decided_at = now(),
          updated_at = now(), password_hash = NULL WHERE id = r.id;
        INSERT INTO registration_events (id, registration_id, from_state, to_state, actor_role, actor_label, reason)
          VALUES (gen_random_uuid(), r.id, r.state, 'rechazada', 'sistema', 'Verificación automática', v_reason);
        RETURN v_outcome;
      END $$;

    -- Approval: the entity, its first manager (a new user, or the existing account of that e-mail) and the
    -- first version of its legal profile, in one step, only for a request under review, only by the SGP.
    CREATE FUNCTION onboarding_approve_registration(p_request uuid, p_reason text, p_actor_label text)
      RETURNS TABLE (status text, new_entity_id uuid, new_user_id uuid)
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE r registration_requests; v_entity uuid; v_user uuid; v_doc uuid; v_subject text;
      BEGIN
        IF app_role() IS DISTINCT FROM 'supervisor_sgp' THEN
          RAISE EXCEPTION 'Solo un supervisor de la SGP aprueba solicitudes de registro'
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT * INTO r FROM registration_requests WHERE id = p_request FOR UPDATE;
        IF NOT FOUND THEN RETURN QUERY SELECT 'inexistente'::text, NULL::uuid, NULL::uuid; RETURN; END IF;
        IF r.state <> 'en_revision' THEN RETURN QUERY SELECT 'estado'::text, NULL::uuid, NULL::uuid; RETURN; END IF;
        IF EXISTS (SELECT 1 FROM entities e WHERE e.ruc = r.ruc) THEN
          RETURN QUERY SELECT 'ruc_registrado'::text, NULL::uuid, NULL::uuid; RETURN;
        END IF;
        SELECT u.id INTO v_user FROM users u WHERE lower(u.email) = lower(r.applicant_email);
        IF v_user IS NULL THEN
          IF EXISTS (SELECT 1 FROM users u WHERE u.dni = r.applicant_dni) THEN
            RETURN QUERY SELECT 'dni_en_uso'::text, NULL::uuid, NULL::uuid; RETURN;
          END IF;
          v_subject := r.oidc_subject;
          IF v_subject IS NOT NULL AND EXISTS (SELECT 1 FROM users u WHERE u.oidc_subject = v_subject) THEN
            v_subject := NULL;
          END IF;
          INSERT INTO users (id, email, full_name, dni, password_hash, oidc_subject, is_active, failed_logins,
                             is_demo, created_at)
            VALUES (gen_random_uuid(), lower(r.applicant_email), r.applicant_name, r.applicant_dni,
                    r.password_hash, v_subject, true, 0, false, now())
            RETURNING id INTO v_user;
        END IF;
        INSERT INTO entities (id, ruc, name, short_name, kind, level, is_rector, is_active, is_demo, created_at)
          VALUES (gen_random_uuid(), r.ruc, r.entity_name, r.short_name, r.kind, r.level, false, true, false, now())
          RETURNING id INTO v_entity;
        INSERT INTO memberships (id, user_id, entity_id, role, is_active, created_at)
          VALUES (gen_random_uuid(), v_user, v_entity, 'gestor_entidad', true, now());
        UPDATE onboarding_documents SET entity_id = v_entity WHERE registration_id = r.id;
        SELECT d.id INTO v_doc FROM onboarding_documents d WHERE d.registration_id = r.id
          AND d.purpose = 'designacion' ORDER BY d.created_at DESC LIMIT 1;
        INSERT INTO entity_profile_versions (id, entity_id, version, name, short_name, kind, level, address, ubigeo,
            representative_name, representative_dni, representative_position, document_id, valid_from,
            approved_by, created_at)
          VALUES (gen_random_uuid(), v_entity, 1, r.entity_name, r.short_name, r.kind, r.level, r.address, r.ubigeo,
                  r.applicant_name, r.applicant_dni, r.applicant_position, v_doc, now(), app_user_id(), now());
        UPDATE registration_requests SET state = 'aprobada', entity_id = v_entity, user_id = v_user,
          decided_at = now(), updated_at = now(), password_hash = NULL WHERE id = r.id;
        INSERT INTO registration_events (id, registration_id, from_state, to_state, actor_role, actor_user_id,
                                         actor_label, reason)
          VALUES (gen_random_uuid(), r.id, r.state, 'aprobada', 'supervisor_sgp', app_user_id(),
                  coalesce(p_actor_label, 'Supervisor(a) SGP'), p_reason);
        RETURN QUERY SELECT 'aprobada'::text, v_entity, v_user;
      END $$;

    -- What the invitation page may say about a link, and nothing else.
    CREATE FUNCTION onboarding_invitation_lookup(p_token_hash text)
      RETURNS TABLE (status text, email text, role text, entity_name text, expires_at timestamptz,
                     has_account boolean)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
        SELECT CASE WHEN i.accepted_at IS NOT NULL THEN 'usada'
                    WHEN i.revoked_at IS NOT NULL OR NOT e.is_active THEN 'revocada'
                    WHEN i.expires_at <= now() THEN 'vencida'
                    ELSE 'vigente' END,
               i.email::text, i.role::text, e.name::text, i.expires_at,
               EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower(i.email))
        FROM invitations i JOIN entities e ON e.id = i.entity_id
        WHERE i.token_hash = p_token_hash $$;

    -- Accepting: once, before it expires, for the e-mail it was sent to. A person without an account gets one
    -- (with the password they chose); an existing account of that e-mail gets the new role.
    -- With ID GOB.PE (p_oidc_subject) no password is needed: the identity is linked to the account instead.
    CREATE FUNCTION onboarding_accept_invitation(p_token_hash text, p_full_name text, p_dni text,
                                                 p_password_hash text, p_oidc_subject text)
      RETURNS TABLE (status text, accepted_user_id uuid, accepted_entity_id uuid)
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE i invitations; v_user users; v_user_id uuid; v_entity_active boolean;
      BEGIN
        SELECT * INTO i FROM invitations WHERE token_hash = p_token_hash FOR UPDATE;
        IF NOT FOUND THEN RETURN QUERY SELECT 'invalida'::text, NULL::uuid, NULL::uuid; RETURN; END IF;
        SELECT e.is_active INTO v_entity_active FROM entities e WHERE e.id = i.entity_id;
        IF i.accepted_at IS NOT NULL THEN RETURN QUERY SELECT 'usada'::text, NULL::uuid, NULL::uuid; RETURN; END IF;
        IF i.revoked_at IS NOT NULL OR NOT v_entity_active THEN
          RETURN QUERY SELECT 'revocada'::text, NULL::uuid, NULL::uuid; RETURN;
        END IF;
        IF i.expires_at <= now() THEN RETURN QUERY SELECT 'vencida'::text, NULL::uuid, NULL::uuid; RETURN; END IF;
        SELECT * INTO v_user FROM users u WHERE lower(u.email) = lower(i.email);
        IF p_oidc_subject IS NOT NULL AND EXISTS (SELECT 1 FROM users u WHERE u.oidc_subject = p_oidc_subject
                                                   AND u.id IS DISTINCT FROM v_user.id) THEN
          RETURN QUERY SELECT 'identidad_en_uso'::text, NULL::uuid, NULL::uuid; RETURN;
        END IF;
        IF v_user.id IS NOT NULL THEN
          IF NOT v_user.is_active THEN
            RETURN QUERY SELECT 'cuenta_inactiva'::text, NULL::uuid, NULL::uuid; RETURN;
          END IF;
          IF p_oidc_subject IS NOT NULL AND v_user.oidc_subject IS NULL THEN
            UPDATE users SET oidc_subject = p_oidc_subject WHERE id = v_user.id;
          END IF;
          v_user_id := v_user.id;
        ELSE
          IF (p_password_hash IS NULL AND p_oidc_subject IS NULL) OR coalesce(p_full_name, '') = '' THEN
            RETURN QUERY SELECT 'datos_incompletos'::text, NULL::uuid, NULL::uuid; RETURN;
          END IF;
          IF p_dni IS NOT NULL AND EXISTS (SELECT 1 FROM users u WHERE u.dni = p_dni) THEN
            RETURN QUERY SELECT 'dni_en_uso'::text, NULL::uuid, NULL::uuid; RETURN;
          END IF;
          INSERT INTO users (id, email, full_name, dni, password_hash, oidc_subject, is_active, failed_logins,
                             is_demo, created_at)
            VALUES (gen_random_uuid(), lower(i.email), p_full_name, p_dni, p_password_hash, p_oidc_subject, true, 0,
                    false, now())
            RETURNING id INTO v_user_id;
        END IF;
        INSERT INTO memberships (id, user_id, entity_id, role, is_active, created_at)
          VALUES (gen_random_uuid(), v_user_id, i.entity_id, i.role, true, now())
          ON CONFLICT (user_id, entity_id, role) DO UPDATE SET is_active = true;
        UPDATE invitations SET accepted_at = now(), accepted_user_id = v_user_id WHERE id = i.id;
        RETURN QUERY SELECT 'aceptada'::text, v_user_id, i.entity_id;
      END $$;

    -- An approved change of legal data becomes the entity's next profile version (the first approval also
    -- keeps, as version 1, the data the entity had before, so nothing signed earlier loses its data).
    CREATE FUNCTION onboarding_apply_profile_change(p_change uuid, p_reason text)
      RETURNS TABLE (status text, new_version_id uuid)
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE c entity_profile_changes; e entities; prev entity_profile_versions; v_n integer; v_id uuid;
      BEGIN
        IF app_role() IS DISTINCT FROM 'supervisor_sgp' THEN
          RAISE EXCEPTION 'Solo un supervisor de la SGP aprueba cambios de datos de una entidad'
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT * INTO c FROM entity_profile_changes WHERE id = p_change FOR UPDATE;
        IF NOT FOUND THEN RETURN QUERY SELECT 'inexistente'::text, NULL::uuid; RETURN; END IF;
        IF c.state <> 'pendiente' THEN RETURN QUERY SELECT 'estado'::text, NULL::uuid; RETURN; END IF;
        SELECT * INTO e FROM entities WHERE id = c.entity_id FOR UPDATE;
        SELECT coalesce(max(version), 0) INTO v_n FROM entity_profile_versions WHERE entity_id = c.entity_id;
        IF v_n = 0 THEN
          INSERT INTO entity_profile_versions (id, entity_id, version, name, short_name, kind, level, valid_from,
                                               created_at)
            VALUES (gen_random_uuid(), e.id, 1, e.name, e.short_name, e.kind, e.level, e.created_at, now());
          v_n := 1;
        END IF;
        SELECT * INTO prev FROM entity_profile_versions WHERE entity_id = c.entity_id AND version = v_n;
        INSERT INTO entity_profile_versions (id, entity_id, version, name, short_name, kind, level, address, ubigeo,
            representative_name, representative_dni, representative_position, document_id, valid_from,
            approved_by, change_id, created_at)
          VALUES (gen_random_uuid(), e.id, v_n + 1, c.name, c.short_name, e.kind, e.level,
                  coalesce(c.address, prev.address), coalesce(c.ubigeo, prev.ubigeo),
                  coalesce(c.representative_name, prev.representative_name),
                  coalesce(c.representative_dni, prev.representative_dni),
                  coalesce(c.representative_position, prev.representative_position),
                  coalesce(c.document_id, prev.document_id), now(), app_user_id(), c.id, now())
          RETURNING id INTO v_id;
        UPDATE entities SET name = c.name, short_name = c.short_name WHERE id = e.id;
        UPDATE entity_profile_changes SET state = 'aprobada', decided_by = app_user_id(), decided_at = now(),
          decision_reason = p_reason, version_id = v_id WHERE id = c.id;
        RETURN QUERY SELECT 'aprobada'::text, v_id;
      END $$;
    """)
    for fn in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {fn} OWNER TO {definer}")
