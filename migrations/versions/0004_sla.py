"""sla: ANS events, limits, calendar, targets, daily rollups, alerts, incumplimientos and reports

Revision ID: 0004
Revises: 0003

Row-level security: every table is ENABLE + FORCE. Who may read: the entity the row is about, the
coordinators of the centre's administering entity, the SGP and the privileged roles (``sla_reads``). Who may
write events and rollups: the centre's coordinators, the platform's privileged roles, and machine clients of
the administering entity (or of the participant, for its own rows) (``sla_feeds``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import (
    enable_rls,
    managed_by_centre_administrator,
    managed_by_privileged,
    policy,
    readable_by_all_authenticated,
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_TABLES = ("sla_tickets", "sla_clock_ins", "sla_survey_answers", "sla_daily_service", "sla_daily_entity")
RULE_TABLES = ("sla_service_limits", "sla_module_assignments", "sla_ans", "sla_ans_targets")


def upgrade() -> None:
    op.create_table('sla_non_working_days',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_non_working_days')),
    sa.UniqueConstraint('day', name=op.f('uq_sla_non_working_days_day'))
    )
    op.create_table('sla_alerts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('indicator', sa.String(length=20), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Numeric(precision=12, scale=4), nullable=True),
    sa.Column('projected', sa.Numeric(precision=12, scale=4), nullable=True),
    sa.Column('target', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('comparison', sa.String(length=2), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("indicator IN ('espera', 'atencion', 'abandono', 'puntualidad', 'ocupabilidad', 'satisfaccion', 'interrupcion')", name=op.f('ck_sla_alerts_indicator')),
    sa.CheckConstraint("status IN ('no_cumple', 'en_riesgo')", name=op.f('ck_sla_alerts_status')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_alerts_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_alerts_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_alerts')),
    sa.UniqueConstraint('centre_id', 'entity_id', 'indicator', 'day', name=op.f('uq_sla_alerts_centre_id_entity_id_indicator_day'))
    )
    op.create_index(op.f('ix_sla_alerts_entity_id'), 'sla_alerts', ['entity_id'], unique=False)
    op.create_table('sla_ans',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('adhesion_id', sa.Uuid(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('tolerance_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('proposed_by', sa.Uuid(), nullable=True),
    sa.Column('accepted_by', sa.Uuid(), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('propuesto', 'aceptado', 'reemplazado', 'retirado')", name=op.f('ck_sla_ans_state')),
    sa.CheckConstraint('tolerance_minutes BETWEEN 0 AND 120', name=op.f('ck_sla_ans_tolerance')),
    sa.ForeignKeyConstraint(['accepted_by'], ['users.id'], name=op.f('fk_sla_ans_accepted_by_users')),
    sa.ForeignKeyConstraint(['adhesion_id'], ['adhesions.id'], name=op.f('fk_sla_ans_adhesion_id_adhesions')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_ans_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_ans_entity_id_entities')),
    sa.ForeignKeyConstraint(['proposed_by'], ['users.id'], name=op.f('fk_sla_ans_proposed_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_ans'))
    )
    op.create_index(op.f('ix_sla_ans_entity_id'), 'sla_ans', ['entity_id'], unique=False)
    op.create_index(op.f('ix_sla_ans_adhesion_id'), 'sla_ans', ['adhesion_id'], unique=False)
    op.create_index('ix_sla_ans_pair', 'sla_ans', ['centre_id', 'entity_id'], unique=False)
    op.create_table('sla_centre_closures',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_centre_closures_centre_id_centres'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_centre_closures')),
    sa.UniqueConstraint('centre_id', 'day', name=op.f('uq_sla_centre_closures_centre_id_day'))
    )
    op.create_table('sla_clock_ins',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('module_code', sa.String(length=20), nullable=False),
    sa.Column('advisor', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_clock_ins_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_clock_ins_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_clock_ins')),
    sa.UniqueConstraint('centre_id', 'module_code', 'advisor', 'at', name=op.f('uq_sla_clock_ins_centre_id_module_code_advisor_at'))
    )
    op.create_index('ix_sla_clock_ins_centre_at', 'sla_clock_ins', ['centre_id', 'at'], unique=False)
    op.create_index(op.f('ix_sla_clock_ins_entity_id'), 'sla_clock_ins', ['entity_id'], unique=False)
    op.create_table('sla_daily_entity',
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('module_days', sa.Integer(), nullable=False),
    sa.Column('module_days_occupied', sa.Integer(), nullable=False),
    sa.Column('module_days_checked', sa.Integer(), nullable=False),
    sa.Column('module_days_punctual', sa.Integer(), nullable=False),
    sa.Column('interruption_seconds', sa.BigInteger(), nullable=False),
    sa.Column('interruptions', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_daily_entity_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_daily_entity_entity_id_entities')),
    sa.PrimaryKeyConstraint('centre_id', 'entity_id', 'day', name=op.f('pk_sla_daily_entity'))
    )
    op.create_index(op.f('ix_sla_daily_entity_entity_id'), 'sla_daily_entity', ['entity_id'], unique=False)
    op.create_table('sla_daily_service',
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('service_code', sa.String(length=30), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('issued', sa.Integer(), nullable=False),
    sa.Column('abandoned', sa.Integer(), nullable=False),
    sa.Column('waits', sa.Integer(), nullable=False),
    sa.Column('waits_ok', sa.Integer(), nullable=False),
    sa.Column('handled', sa.Integer(), nullable=False),
    sa.Column('handled_ok', sa.Integer(), nullable=False),
    sa.Column('surveys', sa.Integer(), nullable=False),
    sa.Column('surveys_ok', sa.Integer(), nullable=False),
    sa.Column('excluded', sa.Integer(), nullable=False),
    sa.Column('wait_histogram', postgresql.ARRAY(sa.Integer()), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_daily_service_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_daily_service_entity_id_entities')),
    sa.PrimaryKeyConstraint('centre_id', 'entity_id', 'service_code', 'day', name=op.f('pk_sla_daily_service'))
    )
    op.create_index(op.f('ix_sla_daily_service_entity_id'), 'sla_daily_service', ['entity_id'], unique=False)
    op.create_table('sla_import_batches',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('stored', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('errors', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("source IN ('api', 'csv', 'archivo')", name=op.f('ck_sla_import_batches_source')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_import_batches_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_sla_import_batches_created_by_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_import_batches_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_import_batches'))
    )
    op.create_index('ix_sla_import_batches_centre', 'sla_import_batches', ['centre_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_sla_import_batches_entity_id'), 'sla_import_batches', ['entity_id'], unique=False)
    op.create_table('sla_incumplimientos',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('indicator', sa.String(length=20), nullable=True),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("indicator IS NULL OR indicator IN ('espera', 'atencion', 'abandono', 'puntualidad', 'ocupabilidad', 'satisfaccion', 'interrupcion')", name=op.f('ck_sla_incumplimientos_indicator')),
    sa.CheckConstraint("state IN ('abierto', 'descargo', 'observado', 'corregido', 'validado')", name=op.f('ck_sla_incumplimientos_state')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_incumplimientos_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_sla_incumplimientos_created_by_users')),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_incumplimientos_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_incumplimientos'))
    )
    op.create_index('ix_sla_incumplimientos_centre', 'sla_incumplimientos', ['centre_id', 'period'], unique=False)
    op.create_index(op.f('ix_sla_incumplimientos_entity_id'), 'sla_incumplimientos', ['entity_id'], unique=False)
    op.create_table('sla_interruptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cause', sa.String(length=300), nullable=False),
    sa.Column('attributable_to', sa.String(length=14), nullable=False),
    sa.Column('claim_state', sa.String(length=10), nullable=True),
    sa.Column('claim_text', sa.Text(), nullable=True),
    sa.Column('claim_evidence_name', sa.String(length=200), nullable=True),
    sa.Column('claim_evidence', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("attributable_to = 'administradora' OR entity_id IS NOT NULL", name=op.f('ck_sla_interruptions_entity_needed')),
    sa.CheckConstraint("attributable_to IN ('entidad', 'administradora')", name=op.f('ck_sla_interruptions_attributable_to')),
    sa.CheckConstraint("claim_state IS NULL OR claim_state IN ('pendiente', 'aceptado', 'rechazado')", name=op.f('ck_sla_interruptions_claim_state')),
    sa.CheckConstraint('ended_at > started_at', name=op.f('ck_sla_interruptions_ends_after_start')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_interruptions_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_interruptions_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_interruptions')),
    sa.UniqueConstraint('centre_id', 'external_id', name=op.f('uq_sla_interruptions_centre_id_external_id'))
    )
    op.create_index(op.f('ix_sla_interruptions_entity_id'), 'sla_interruptions', ['entity_id'], unique=False)
    op.create_table('sla_module_assignments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('module_code', sa.String(length=20), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_module_assignments_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_module_assignments_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_module_assignments')),
    sa.UniqueConstraint('centre_id', 'module_code', 'valid_from', name=op.f('uq_sla_module_assignments_centre_id_module_code_valid_from'))
    )
    op.create_index(op.f('ix_sla_module_assignments_entity_id'), 'sla_module_assignments', ['entity_id'], unique=False)
    op.create_table('sla_reports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=True),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('period', sa.Date(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('csv', sa.Text(), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_reports_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_reports_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_reports')),
    sa.UniqueConstraint('centre_id', 'period', 'scope', name=op.f('uq_sla_reports_centre_id_period_scope'))
    )
    op.create_index(op.f('ix_sla_reports_entity_id'), 'sla_reports', ['entity_id'], unique=False)
    op.create_table('sla_service_limits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('service_code', sa.String(length=30), nullable=False),
    sa.Column('max_wait_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('max_attention_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('counts', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('max_attention_minutes BETWEEN 0 AND 180', name=op.f('ck_sla_service_limits_max_attention')),
    sa.CheckConstraint('max_wait_minutes BETWEEN 0 AND 120', name=op.f('ck_sla_service_limits_max_wait')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_service_limits_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_service_limits_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_service_limits')),
    sa.UniqueConstraint('centre_id', 'entity_id', 'service_code', 'valid_from', name=op.f('uq_sla_service_limits_centre_id_entity_id_service_code_valid_from'))
    )
    op.create_index(op.f('ix_sla_service_limits_entity_id'), 'sla_service_limits', ['entity_id'], unique=False)
    op.create_table('sla_survey_answers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('survey_id', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('service_code', sa.String(length=30), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('score', sa.SmallInteger(), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_sla_survey_answers_score')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_survey_answers_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_survey_answers_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_survey_answers')),
    sa.UniqueConstraint('centre_id', 'survey_id', name=op.f('uq_sla_survey_answers_centre_id_survey_id'))
    )
    op.create_index('ix_sla_survey_answers_centre_at', 'sla_survey_answers', ['centre_id', 'at'], unique=False)
    op.create_index(op.f('ix_sla_survey_answers_entity_id'), 'sla_survey_answers', ['entity_id'], unique=False)
    op.create_table('sla_tickets',
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('ticket_id', sa.String(length=40), nullable=False),
    sa.Column('segment', sa.SmallInteger(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('service_code', sa.String(length=30), nullable=False),
    sa.Column('module_code', sa.String(length=20), nullable=True),
    sa.Column('advisor', sa.String(length=40), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("outcome IN ('attended', 'abandoned', 'transferred')", name=op.f('ck_sla_tickets_outcome')),
    sa.CheckConstraint('segment BETWEEN 1 AND 99', name=op.f('ck_sla_tickets_segment')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_tickets_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_tickets_entity_id_entities')),
    sa.PrimaryKeyConstraint('centre_id', 'ticket_id', 'segment', name=op.f('pk_sla_tickets'))
    )
    op.create_index('ix_sla_tickets_centre_issued', 'sla_tickets', ['centre_id', 'issued_at'], unique=False)
    op.create_index(op.f('ix_sla_tickets_entity_id'), 'sla_tickets', ['entity_id'], unique=False)
    op.create_table('sla_ans_targets',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('ans_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('indicator', sa.String(length=20), nullable=False),
    sa.Column('comparison', sa.String(length=2), nullable=False),
    sa.Column('target', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.Column('min_sample', sa.Integer(), nullable=False),
    sa.CheckConstraint("comparison IN ('>=', '<=', '>', '<')", name=op.f('ck_sla_ans_targets_comparison')),
    sa.CheckConstraint("indicator IN ('espera', 'atencion', 'abandono', 'puntualidad', 'ocupabilidad', 'satisfaccion', 'interrupcion')", name=op.f('ck_sla_ans_targets_indicator')),
    sa.CheckConstraint('min_sample >= 0', name=op.f('ck_sla_ans_targets_min_sample')),
    sa.ForeignKeyConstraint(['ans_id'], ['sla_ans.id'], name=op.f('fk_sla_ans_targets_ans_id_sla_ans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_ans_targets_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_ans_targets_entity_id_entities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_ans_targets')),
    sa.UniqueConstraint('ans_id', 'indicator', name=op.f('uq_sla_ans_targets_ans_id_indicator'))
    )
    op.create_index(op.f('ix_sla_ans_targets_entity_id'), 'sla_ans_targets', ['entity_id'], unique=False)
    op.create_table('sla_incumplimiento_steps',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('incumplimiento_id', sa.Uuid(), nullable=False),
    sa.Column('centre_id', sa.Uuid(), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('from_state', sa.String(length=10), nullable=True),
    sa.Column('to_state', sa.String(length=10), nullable=False),
    sa.Column('actor_user_id', sa.Uuid(), nullable=True),
    sa.Column('actor_role', sa.String(length=30), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('attachment_name', sa.String(length=200), nullable=True),
    sa.Column('attachment_type', sa.String(length=100), nullable=True),
    sa.Column('attachment', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_sla_incumplimiento_steps_actor_user_id_users')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_sla_incumplimiento_steps_centre_id_centres'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], name=op.f('fk_sla_incumplimiento_steps_entity_id_entities')),
    sa.ForeignKeyConstraint(['incumplimiento_id'], ['sla_incumplimientos.id'], name=op.f('fk_sla_incumplimiento_steps_incumplimiento_id_sla_incumplimientos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_incumplimiento_steps'))
    )
    op.create_index(op.f('ix_sla_incumplimiento_steps_entity_id'), 'sla_incumplimiento_steps', ['entity_id'], unique=False)
    op.create_index(op.f('ix_sla_incumplimiento_steps_incumplimiento_id'), 'sla_incumplimiento_steps', ['incumplimiento_id'], unique=False)

    _functions()
    _row_level_security()


def _functions() -> None:
    op.execute(r"""
    -- A text that is an ISO-8601 timestamp WITH a UTC offset, and a real calendar date and time (no 30 February),
    -- checked without raising and without a regular expression (the bulk ingest runs it on every row): the
    -- shape, with digits as 9, must be one of the accepted ones; then the fields must be in range.
    CREATE FUNCTION sla_is_timestamp(p text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE WHEN translate(p, '0123456789+ ', '9999999999-T') = ANY ('{9999-99-99T99:99Z,9999-99-99T99:99-99,9999-99-99T99:99-9999,9999-99-99T99:99-99:99,9999-99-99T99:99:99Z,9999-99-99T99:99:99-99,9999-99-99T99:99:99-9999,9999-99-99T99:99:99-99:99,9999-99-99T99:99:99.9Z,9999-99-99T99:99:99.9-99,9999-99-99T99:99:99.9-9999,9999-99-99T99:99:99.9-99:99,9999-99-99T99:99:99.99Z,9999-99-99T99:99:99.99-99,9999-99-99T99:99:99.99-9999,9999-99-99T99:99:99.99-99:99,9999-99-99T99:99:99.999Z,9999-99-99T99:99:99.999-99,9999-99-99T99:99:99.999-9999,9999-99-99T99:99:99.999-99:99,9999-99-99T99:99:99.9999Z,9999-99-99T99:99:99.9999-99,9999-99-99T99:99:99.9999-9999,9999-99-99T99:99:99.9999-99:99,9999-99-99T99:99:99.99999Z,9999-99-99T99:99:99.99999-99,9999-99-99T99:99:99.99999-9999,9999-99-99T99:99:99.99999-99:99,9999-99-99T99:99:99.999999Z,9999-99-99T99:99:99.999999-99,9999-99-99T99:99:99.999999-9999,9999-99-99T99:99:99.999999-99:99}'::text[])
             THEN substr(p, 6, 2)::int BETWEEN 1 AND 12
              AND substr(p, 9, 2)::int BETWEEN 1 AND CASE
                    WHEN substr(p, 6, 2)::int IN (4, 6, 9, 11) THEN 30
                    WHEN substr(p, 6, 2)::int = 2 THEN
                      CASE WHEN substr(p, 1, 4)::int % 4 = 0 AND (substr(p, 1, 4)::int % 100 <> 0
                                OR substr(p, 1, 4)::int % 400 = 0) THEN 29 ELSE 28 END
                    ELSE 31 END
              AND substr(p, 12, 2)::int < 24 AND substr(p, 15, 2)::int < 60
              AND (substr(p, 17, 1) <> ':' OR substr(p, 18, 2)::int < 60)
             ELSE false END $$;
    -- The entity the row is about, the centre's coordinators, the SGP and the privileged roles.
    CREATE FUNCTION sla_reads(p_centre uuid, p_entity uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
      SELECT app_is_privileged() OR app_is_sgp()
          OR (app_is_authenticated() AND p_entity = app_entity_id())
          OR app_administers_centre(p_centre) $$;
    -- Who may write a centre's events: its coordinators, the privileged roles and machine clients of the
    -- administering entity (any entity's rows) or of a participant (its own rows only).
    CREATE FUNCTION sla_feeds(p_centre uuid, p_entity uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
      SELECT app_is_privileged() OR app_administers_centre(p_centre)
          OR (app_role() = 'cliente_maquina' AND (p_entity = app_entity_id() OR EXISTS (
                SELECT 1 FROM centres c WHERE c.id = p_centre AND c.administering_entity_id = app_entity_id()))) $$;
    """)


def _row_level_security() -> None:
    tables = ("sla_non_working_days", "sla_centre_closures", *RULE_TABLES, *EVENT_TABLES, "sla_interruptions",
              "sla_import_batches", "sla_alerts", "sla_incumplimientos", "sla_incumplimiento_steps", "sla_reports")
    for table in tables:
        enable_rls(table)

    # Calendar data: public to signed-in users; días no laborables kept by the administrator, closures by the
    # centre's coordinators.
    readable_by_all_authenticated("sla_non_working_days")
    managed_by_privileged("sla_non_working_days")
    readable_by_all_authenticated("sla_centre_closures")
    managed_by_privileged("sla_centre_closures")
    managed_by_centre_administrator("sla_centre_closures")

    for table in RULE_TABLES:
        policy(table, f"{table}_read", command="SELECT", using="sla_reads(centre_id, entity_id)")
        managed_by_privileged(table)
        managed_by_centre_administrator(table)
    # The entity's manager accepts the ANS proposed to it (the service checks what changes).
    manager = "app_role() = 'gestor_entidad' AND entity_id = app_entity_id()"
    policy("sla_ans", "sla_ans_manager_accepts", command="UPDATE", using=manager, check=manager)

    for table in EVENT_TABLES:
        policy(table, f"{table}_read", command="SELECT",
               using="sla_reads(centre_id, entity_id) OR sla_feeds(centre_id, entity_id)")
        policy(table, f"{table}_write", using="sla_feeds(centre_id, entity_id)",
               check="sla_feeds(centre_id, entity_id)")

    # Interruptions: centre-wide ones (no entity) are readable by every signed-in user.
    policy("sla_interruptions", "sla_interruptions_read", command="SELECT",
           using="(entity_id IS NULL AND app_is_authenticated()) OR sla_reads(centre_id, entity_id) "
                 "OR sla_feeds(centre_id, entity_id)")
    policy("sla_interruptions", "sla_interruptions_write",
           using="sla_feeds(centre_id, coalesce(entity_id, '00000000-0000-0000-0000-000000000000'::uuid))",
           check="sla_feeds(centre_id, coalesce(entity_id, '00000000-0000-0000-0000-000000000000'::uuid))")
    policy("sla_interruptions", "sla_interruptions_claim", command="UPDATE", using=manager, check=manager)

    policy("sla_import_batches", "sla_import_batches_read", command="SELECT",
           using="sla_reads(centre_id, entity_id)")
    policy("sla_import_batches", "sla_import_batches_write",
           using="sla_feeds(centre_id, entity_id)", check="sla_feeds(centre_id, entity_id)")

    # Alerts: created by the system; the entity (and the coordinators) read and mark them read.
    policy("sla_alerts", "sla_alerts_read", command="SELECT", using="sla_reads(centre_id, entity_id)")
    managed_by_privileged("sla_alerts")
    reader = "sla_reads(centre_id, entity_id) AND app_is_authenticated()"
    policy("sla_alerts", "sla_alerts_mark_read", command="UPDATE", using=reader, check=reader)

    # Incumplimientos: recorded by the coordinators, answered by the entity's manager.
    for table in ("sla_incumplimientos", "sla_incumplimiento_steps"):
        policy(table, f"{table}_read", command="SELECT", using="sla_reads(centre_id, entity_id)")
        managed_by_privileged(table)
        managed_by_centre_administrator(table)
    policy("sla_incumplimientos", "sla_incumplimientos_manager", command="UPDATE", using=manager, check=manager)
    policy("sla_incumplimiento_steps", "sla_incumplimiento_steps_manager", command="INSERT", check=manager)

    # Reports: a centre-wide report is for the centre's coordinators, the SGP and the privileged roles; an
    # entity's report also for that entity.
    policy("sla_reports", "sla_reports_read", command="SELECT",
           using="sla_reads(centre_id, coalesce(entity_id, '00000000-0000-0000-0000-000000000000'::uuid))")
    managed_by_privileged("sla_reports")
    managed_by_centre_administrator("sla_reports")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS sla_reads(uuid, uuid), sla_feeds(uuid, uuid), sla_is_timestamp(text) CASCADE")
    op.drop_index(op.f('ix_sla_incumplimiento_steps_incumplimiento_id'), table_name='sla_incumplimiento_steps')
    op.drop_index(op.f('ix_sla_incumplimiento_steps_entity_id'), table_name='sla_incumplimiento_steps')
    op.drop_table('sla_incumplimiento_steps')
    op.drop_index(op.f('ix_sla_ans_targets_entity_id'), table_name='sla_ans_targets')
    op.drop_table('sla_ans_targets')
    op.drop_index(op.f('ix_sla_tickets_entity_id'), table_name='sla_tickets')
    op.drop_index('ix_sla_tickets_centre_issued', table_name='sla_tickets')
    op.drop_table('sla_tickets')
    op.drop_index(op.f('ix_sla_survey_answers_entity_id'), table_name='sla_survey_answers')
    op.drop_index('ix_sla_survey_answers_centre_at', table_name='sla_survey_answers')
    op.drop_table('sla_survey_answers')
    op.drop_index(op.f('ix_sla_service_limits_entity_id'), table_name='sla_service_limits')
    op.drop_table('sla_service_limits')
    op.drop_index(op.f('ix_sla_reports_entity_id'), table_name='sla_reports')
    op.drop_table('sla_reports')
    op.drop_index(op.f('ix_sla_module_assignments_entity_id'), table_name='sla_module_assignments')
    op.drop_table('sla_module_assignments')
    op.drop_index(op.f('ix_sla_interruptions_entity_id'), table_name='sla_interruptions')
    op.drop_table('sla_interruptions')
    op.drop_index(op.f('ix_sla_incumplimientos_entity_id'), table_name='sla_incumplimientos')
    op.drop_index('ix_sla_incumplimientos_centre', table_name='sla_incumplimientos')
    op.drop_table('sla_incumplimientos')
    op.drop_index(op.f('ix_sla_import_batches_entity_id'), table_name='sla_import_batches')
    op.drop_index('ix_sla_import_batches_centre', table_name='sla_import_batches')
    op.drop_table('sla_import_batches')
    op.drop_index(op.f('ix_sla_daily_service_entity_id'), table_name='sla_daily_service')
    op.drop_table('sla_daily_service')
    op.drop_index(op.f('ix_sla_daily_entity_entity_id'), table_name='sla_daily_entity')
    op.drop_table('sla_daily_entity')
    op.drop_index(op.f('ix_sla_clock_ins_entity_id'), table_name='sla_clock_ins')
    op.drop_index('ix_sla_clock_ins_centre_at', table_name='sla_clock_ins')
    op.drop_table('sla_clock_ins')
    op.drop_table('sla_centre_closures')
    op.drop_index('ix_sla_ans_pair', table_name='sla_ans')
    op.drop_index(op.f('ix_sla_ans_adhesion_id'), table_name='sla_ans')
    op.drop_index(op.f('ix_sla_ans_entity_id'), table_name='sla_ans')
    op.drop_table('sla_ans')
    op.drop_index(op.f('ix_sla_alerts_entity_id'), table_name='sla_alerts')
    op.drop_table('sla_alerts')
    op.drop_table('sla_non_working_days')
