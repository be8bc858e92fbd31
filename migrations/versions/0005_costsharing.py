"""costsharing

Revision ID: 0005
Revises: 0004

Methodologies, monthly cost periods of a centre with their pool, participants and drivers, stored computations
and their lines, observations and adjustments. Row-level security: the centre's coordinator manages its periods;
the SGP reads all and manages methodologies; a participant (its manager or finance officer) reads, once the
period is published, the periods it takes part in, the centre's items and unallocated amounts, and only its
own driver values, lines, observations and adjustments. A closed period is immutable (triggers).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.config import get_settings
from migrations.rls import enable_rls, managed_by_centre_administrator, managed_by_privileged, policy

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("cost_methodologies", "cost_periods", "cost_items", "cost_participants", "cost_computations",
          "cost_allocation_lines", "cost_unallocated", "cost_observations", "cost_adjustments")
CENTRE_TABLES = TABLES[1:]
# Rows of these tables belong to a period and freeze with it.
FROZEN_WITH_PERIOD = ("cost_items", "cost_participants", "cost_computations", "cost_allocation_lines",
                      "cost_unallocated")


def upgrade() -> None:
    op.create_table('cost_methodologies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('criteria', sa.Text(), nullable=False),
    sa.Column('rules', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('vacancy_policy', sa.String(length=20), nullable=False),
    sa.Column('rounding', sa.String(length=30), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=True),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('approved_by_id', sa.Uuid(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('document_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("rounding = 'largest_remainder'", name=op.f('ck_cost_methodologies_rounding')),
    sa.CheckConstraint("state = 'borrador' OR (approved_at IS NOT NULL AND effective_from IS NOT NULL)", name=op.f('ck_cost_methodologies_approved_complete')),
    sa.CheckConstraint("state IN ('borrador', 'aprobada')", name=op.f('ck_cost_methodologies_state')),
    sa.CheckConstraint("vacancy_policy IN ('administering', 'redistribute')", name=op.f('ck_cost_methodologies_vacancy_policy')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_cost_methodologies_approved_by_id_users')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_cost_methodologies_author_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_methodologies')),
    sa.UniqueConstraint('version', name=op.f('uq_cost_methodologies_version'))
    )
    op.create_table('cost_periods',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('vacancy_area_m2', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('vacancy_modules', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('vacancy_advisors', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('observation_days', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('observations_until', sa.Date(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('methodology_version', sa.String(length=40), nullable=True),
    sa.Column('input_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('borrador', 'calculado', 'publicado', 'cerrado')", name=op.f('ck_cost_periods_state')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_cost_periods_ends_after_start')),
    sa.CheckConstraint('vacancy_area_m2 >= 0 AND vacancy_modules >= 0 AND vacancy_advisors >= 0', name=op.f('ck_cost_periods_vacancy_non_negative')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_cost_periods_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_periods')),
    sa.UniqueConstraint('centre_id', 'starts_on', name=op.f('uq_cost_periods_centre_id_starts_on'))
    )
    op.create_index(op.f('ix_cost_periods_centre_id'), 'cost_periods', ['centre_id'], unique=False)
    op.create_table('cost_computations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('methodology_id', sa.Uuid(), nullable=False),
    sa.Column('methodology_version', sa.String(length=40), nullable=False),
    sa.Column('inputs', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('input_hash', sa.String(length=64), nullable=False),
    sa.Column('result_hash', sa.String(length=64), nullable=False),
    sa.Column('item_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('computed_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_cost_computations_centre_id_centres')),
    sa.ForeignKeyConstraint(['computed_by_id'], ['users.id'], name=op.f('fk_cost_computations_computed_by_id_users')),
    sa.ForeignKeyConstraint(['methodology_id'], ['cost_methodologies.id'], name=op.f('fk_cost_computations_methodology_id_cost_methodologies')),
    sa.ForeignKeyConstraint(['period_id'], ['cost_periods.id'], name=op.f('fk_cost_computations_period_id_cost_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_computations'))
    )
    op.create_index(op.f('ix_cost_computations_centre_id'), 'cost_computations', ['centre_id'], unique=False)
    op.create_index(op.f('ix_cost_computations_period_id'), 'cost_computations', ['period_id'], unique=False)
    op.create_table('cost_items',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('document_ref', sa.String(length=120), nullable=False),
    sa.Column('is_estimate', sa.Boolean(), nullable=False),
    sa.Column('attachment_name', sa.String(length=200), nullable=True),
    sa.Column('attachment_type', sa.String(length=100), nullable=True),
    sa.Column('attachment', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("category IN ('alquiler', 'mantenimiento', 'limpieza', 'vigilancia', 'energia', 'agua', 'telecomunicaciones', 'sistema_colas', 'orientacion', 'otros')", name=op.f('ck_cost_items_category')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_cost_items_amount_non_negative')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_cost_items_centre_id_centres')),
    sa.ForeignKeyConstraint(['period_id'], ['cost_periods.id'], name=op.f('fk_cost_items_period_id_cost_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_items'))
    )
    op.create_index(op.f('ix_cost_items_centre_id'), 'cost_items', ['centre_id'], unique=False)
    op.create_index(op.f('ix_cost_items_period_id'), 'cost_items', ['period_id'], unique=False)
    op.create_table('cost_observations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('attachment_name', sa.String(length=200), nullable=True),
    sa.Column('attachment_type', sa.String(length=100), nullable=True),
    sa.Column('attachment', sa.LargeBinary(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_by_id', sa.Uuid(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('presentada', 'aceptada', 'rechazada')", name=op.f('ck_cost_observations_state')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_cost_observations_answered_by_id_users')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_cost_observations_author_id_users')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_cost_observations_centre_id_centres')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_cost_observations_entity_id_entities')),
    sa.ForeignKeyConstraint(['period_id'], ['cost_periods.id'], name=op.f('fk_cost_observations_period_id_cost_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_observations'))
    )
    op.create_index(op.f('ix_cost_observations_centre_id'), 'cost_observations', ['centre_id'], unique=False)
    op.create_index(op.f('ix_cost_observations_entity_id'), 'cost_observations', ['entity_id'], unique=False)
    op.create_index(op.f('ix_cost_observations_period_id'), 'cost_observations', ['period_id'], unique=False)
    op.create_table('cost_participants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('active_from', sa.Date(), nullable=False),
    sa.Column('active_to', sa.Date(), nullable=True),
    sa.Column('area_m2', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('modules', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('advisors', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('attentions', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('active_to IS NULL OR active_to >= active_from', name=op.f('ck_cost_participants_dates')),
    sa.CheckConstraint('area_m2 >= 0 AND modules >= 0 AND advisors >= 0 AND attentions >= 0', name=op.f('ck_cost_participants_drivers_non_negative')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_cost_participants_centre_id_centres')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_cost_participants_entity_id_entities')),
    sa.ForeignKeyConstraint(['period_id'], ['cost_periods.id'], name=op.f('fk_cost_participants_period_id_cost_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_participants')),
    sa.UniqueConstraint('period_id', 'entity_id', name=op.f('uq_cost_participants_period_id_entity_id'))
    )
    op.create_index(op.f('ix_cost_participants_centre_id'), 'cost_participants', ['centre_id'], unique=False)
    op.create_index(op.f('ix_cost_participants_entity_id'), 'cost_participants', ['entity_id'], unique=False)
    op.create_index(op.f('ix_cost_participants_period_id'), 'cost_participants', ['period_id'], unique=False)
    op.create_table('cost_adjustments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('corrects_period_id', sa.Uuid(), nullable=False),
    sa.Column('corrects_item_id', sa.Uuid(), nullable=True),
    sa.Column('observation_id', sa.Uuid(), nullable=True),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('real_reemplaza_estimado', 'observacion_aceptada')", name=op.f('ck_cost_adjustments_kind')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_cost_adjustments_centre_id_centres')),
    sa.ForeignKeyConstraint(['corrects_item_id'], ['cost_items.id'], name=op.f('fk_cost_adjustments_corrects_item_id_cost_items')),
    sa.ForeignKeyConstraint(['corrects_period_id'], ['cost_periods.id'], name=op.f('fk_cost_adjustments_corrects_period_id_cost_periods')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cost_adjustments_created_by_id_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_cost_adjustments_entity_id_entities')),
    sa.ForeignKeyConstraint(['observation_id'], ['cost_observations.id'], name=op.f('fk_cost_adjustments_observation_id_cost_observations')),
    sa.ForeignKeyConstraint(['period_id'], ['cost_periods.id'], name=op.f('fk_cost_adjustments_period_id_cost_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_adjustments'))
    )
    op.create_index(op.f('ix_cost_adjustments_centre_id'), 'cost_adjustments', ['centre_id'], unique=False)
    op.create_index(op.f('ix_cost_adjustments_period_id'), 'cost_adjustments', ['period_id'], unique=False)
    op.create_table('cost_unallocated',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('computation_id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('cost_item_id', sa.Uuid(), nullable=True),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_cost_unallocated_centre_id_centres')),
    sa.ForeignKeyConstraint(['computation_id'], ['cost_computations.id'], name=op.f('fk_cost_unallocated_computation_id_cost_computations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cost_item_id'], ['cost_items.id'], name=op.f('fk_cost_unallocated_cost_item_id_cost_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['period_id'], ['cost_periods.id'], name=op.f('fk_cost_unallocated_period_id_cost_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_unallocated'))
    )
    op.create_index(op.f('ix_cost_unallocated_centre_id'), 'cost_unallocated', ['centre_id'], unique=False)
    op.create_index(op.f('ix_cost_unallocated_computation_id'), 'cost_unallocated', ['computation_id'], unique=False)
    op.create_index(op.f('ix_cost_unallocated_period_id'), 'cost_unallocated', ['period_id'], unique=False)
    op.create_table('cost_allocation_lines',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('period_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('computation_id', sa.Uuid(), nullable=True),
    sa.Column('adjustment_id', sa.Uuid(), nullable=True),
    sa.Column('cost_item_id', sa.Uuid(), nullable=True),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('description', sa.String(length=300), nullable=False),
    sa.Column('item_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('share', sa.String(length=400), nullable=False),
    sa.Column('exact', sa.String(length=400), nullable=False),
    sa.Column('rounding', sa.Numeric(precision=20, scale=12), nullable=False),
    sa.Column('extra_cent', sa.Boolean(), nullable=False),
    sa.Column('derivation', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("kind IN ('reparto', 'ajuste')", name=op.f('ck_cost_allocation_lines_kind')),
    sa.ForeignKeyConstraint(['adjustment_id'], ['cost_adjustments.id'], name=op.f('fk_cost_allocation_lines_adjustment_id_cost_adjustments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_cost_allocation_lines_centre_id_centres')),
    sa.ForeignKeyConstraint(['computation_id'], ['cost_computations.id'], name=op.f('fk_cost_allocation_lines_computation_id_cost_computations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cost_item_id'], ['cost_items.id'], name=op.f('fk_cost_allocation_lines_cost_item_id_cost_items'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_cost_allocation_lines_entity_id_entities')),
    sa.ForeignKeyConstraint(['period_id'], ['cost_periods.id'], name=op.f('fk_cost_allocation_lines_period_id_cost_periods'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_allocation_lines'))
    )
    op.create_index(op.f('ix_cost_allocation_lines_adjustment_id'), 'cost_allocation_lines', ['adjustment_id'], unique=False)
    op.create_index(op.f('ix_cost_allocation_lines_centre_id'), 'cost_allocation_lines', ['centre_id'], unique=False)
    op.create_index(op.f('ix_cost_allocation_lines_computation_id'), 'cost_allocation_lines', ['computation_id'], unique=False)
    op.create_index(op.f('ix_cost_allocation_lines_entity_id'), 'cost_allocation_lines', ['entity_id'], unique=False)
    op.create_index('ix_cost_allocation_lines_period_entity', 'cost_allocation_lines', ['period_id', 'entity_id'], unique=False)
    _functions()
    _row_level_security()
    _immutability()


def _functions() -> None:
    definer = get_settings().definer_role
    op.execute(f"GRANT SELECT ON cost_periods, cost_participants TO {definer}")
    op.execute("""
    -- The person acts for an entity that takes part in this period, and the period is published or closed.
    CREATE FUNCTION cost_published_for_me(p_period uuid) RETURNS boolean
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
      $$ SELECT app_role() IN ('gestor_entidad', 'finanzas') AND EXISTS (
           SELECT 1 FROM cost_periods p JOIN cost_participants cp ON cp.period_id = p.id
           WHERE p.id = p_period AND p.state IN ('publicado', 'cerrado') AND cp.entity_id = app_entity_id()) $$;
    """)
    op.execute(f"ALTER FUNCTION cost_published_for_me(uuid) OWNER TO {definer}")


def _row_level_security() -> None:
    definer = get_settings().definer_role
    for table in TABLES:
        enable_rls(table)
        managed_by_privileged(table)
    policy("cost_methodologies", "cost_methodologies_read", command="SELECT", using="app_is_authenticated()")
    policy("cost_methodologies", "cost_methodologies_sgp", using="app_is_sgp()", check="app_is_sgp()")
    for table in CENTRE_TABLES:
        managed_by_centre_administrator(table)
        policy(table, f"{table}_sgp", command="SELECT", using="app_is_sgp()")
    for table in ("cost_periods", "cost_participants"):
        policy(table, f"{table}_definer", command="SELECT", to=definer, using="true")
    # What a participant reads once the period is published.
    policy("cost_periods", "cost_periods_participant", command="SELECT", using="cost_published_for_me(id)")
    for table in ("cost_items", "cost_unallocated"):  # the centre's pool and what was left undistributed
        policy(table, f"{table}_participant", command="SELECT", using="cost_published_for_me(period_id)")
    own = "entity_id = app_entity_id() AND cost_published_for_me(period_id)"
    for table in ("cost_participants", "cost_allocation_lines", "cost_observations"):  # its own rows only
        policy(table, f"{table}_participant", command="SELECT", using=own)
    policy("cost_observations", "cost_observations_file", command="INSERT", check=own)
    policy("cost_adjustments", "cost_adjustments_participant", command="SELECT",
           using="(entity_id IS NULL OR entity_id = app_entity_id()) AND cost_published_for_me(period_id)")


def _immutability() -> None:
    op.execute("""
    CREATE FUNCTION cost_period_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE v_period uuid;
      BEGIN
        v_period := CASE WHEN TG_OP = 'DELETE' THEN OLD.period_id ELSE NEW.period_id END;
        IF EXISTS (SELECT 1 FROM cost_periods WHERE id = v_period AND state = 'cerrado')
           OR (TG_OP = 'UPDATE' AND EXISTS (SELECT 1 FROM cost_periods WHERE id = OLD.period_id AND state = 'cerrado'))
        THEN
          RAISE EXCEPTION 'el periodo está cerrado: sus datos no se modifican (registre un ajuste en un periodo abierto)'
            USING ERRCODE = 'check_violation';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
      END $$;

    CREATE FUNCTION cost_closed_period_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.state = 'cerrado' THEN
          RAISE EXCEPTION 'el periodo está cerrado: no se modifica ni se elimina' USING ERRCODE = 'check_violation';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
      END $$;

    CREATE FUNCTION cost_approved_methodology_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.state = 'aprobada' THEN
          RAISE EXCEPTION 'una metodología aprobada no se modifica: cree una nueva versión'
            USING ERRCODE = 'check_violation';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
      END $$;

    CREATE TRIGGER cost_periods_immutable BEFORE UPDATE OR DELETE ON cost_periods
      FOR EACH ROW EXECUTE FUNCTION cost_closed_period_immutable();
    CREATE TRIGGER cost_methodologies_immutable BEFORE UPDATE OR DELETE ON cost_methodologies
      FOR EACH ROW EXECUTE FUNCTION cost_approved_methodology_immutable();
    """)
    for table in FROZEN_WITH_PERIOD:
        op.execute(f"CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION cost_period_frozen()")


def downgrade() -> None:
    for table in FROZEN_WITH_PERIOD:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}")
    op.drop_index('ix_cost_allocation_lines_period_entity', table_name='cost_allocation_lines')
    op.drop_index(op.f('ix_cost_allocation_lines_entity_id'), table_name='cost_allocation_lines')
    op.drop_index(op.f('ix_cost_allocation_lines_computation_id'), table_name='cost_allocation_lines')
    op.drop_index(op.f('ix_cost_allocation_lines_centre_id'), table_name='cost_allocation_lines')
    op.drop_index(op.f('ix_cost_allocation_lines_adjustment_id'), table_name='cost_allocation_lines')
    op.drop_table('cost_allocation_lines')
    op.drop_index(op.f('ix_cost_unallocated_period_id'), table_name='cost_unallocated')
    op.drop_index(op.f('ix_cost_unallocated_computation_id'), table_name='cost_unallocated')
    op.drop_index(op.f('ix_cost_unallocated_centre_id'), table_name='cost_unallocated')
    op.drop_table('cost_unallocated')
    op.drop_index(op.f('ix_cost_adjustments_period_id'), table_name='cost_adjustments')
    op.drop_index(op.f('ix_cost_adjustments_centre_id'), table_name='cost_adjustments')
    op.drop_table('cost_adjustments')
    op.drop_index(op.f('ix_cost_participants_period_id'), table_name='cost_participants')
    op.drop_index(op.f('ix_cost_participants_entity_id'), table_name='cost_participants')
    op.drop_index(op.f('ix_cost_participants_centre_id'), table_name='cost_participants')
    op.drop_table('cost_participants')
    op.drop_index(op.f('ix_cost_observations_period_id'), table_name='cost_observations')
    op.drop_index(op.f('ix_cost_observations_entity_id'), table_name='cost_observations')
    op.drop_index(op.f('ix_cost_observations_centre_id'), table_name='cost_observations')
    op.drop_table('cost_observations')
    op.drop_index(op.f('ix_cost_items_period_id'), table_name='cost_items')
    op.drop_index(op.f('ix_cost_items_centre_id'), table_name='cost_items')
    op.drop_table('cost_items')
    op.drop_index(op.f('ix_cost_computations_period_id'), table_name='cost_computations')
    op.drop_index(op.f('ix_cost_computations_centre_id'), table_name='cost_computations')
    op.drop_table('cost_computations')
    op.drop_index(op.f('ix_cost_periods_centre_id'), table_name='cost_periods')
    op.drop_table('cost_periods')
    op.drop_table('cost_methodologies')
    op.execute("DROP FUNCTION IF EXISTS cost_period_frozen, cost_closed_period_immutable, "
               "cost_approved_methodology_immutable, cost_published_for_me(uuid)")
