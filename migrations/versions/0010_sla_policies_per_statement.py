"""sla: row-level security of the event and rollup tables decided once per statement, not once per row

Revision ID: 0010
Revises: 0009

The policies of 0004 call ``sla_reads(centre, entity)`` and ``sla_feeds(centre, entity)`` on every row. Both
hold a sub-query (does the caller's entity administer this centre?), so PostgreSQL cannot inline them and
runs that sub-query once per row: inserting 50,000 attention records as a centre coordinator spent 2.4 s of
3 s in the policy alone. The same rules are written here so that everything that depends only on the caller
is an uncorrelated sub-select (an InitPlan, evaluated once per statement) and each row costs two
comparisons: its centre against the caller's array of centres, its entity against the caller's entity.

Who may read and write is unchanged (the authorisation matrix and the isolation tests check it):
  read  = privileged or SGP, or the row's own entity, or a coordinator of the centre's administering entity,
          or anyone who may write it;
  write = privileged, or a coordinator or machine client of the centre's administering entity, or a machine
          client of the row's own entity.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from migrations.rls import policy

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_TABLES = ("sla_tickets", "sla_clock_ins", "sla_survey_answers", "sla_daily_service", "sla_daily_entity")
NO_ENTITY = "'00000000-0000-0000-0000-000000000000'::uuid"


def reads(centre: str, entity: str) -> str:
    return (f"(SELECT app_is_privileged() OR app_is_sgp()) "
            f"OR ({entity} = (SELECT app_entity_id()) AND (SELECT app_is_authenticated())) "
            f"OR {centre} = ANY ((SELECT app_administered_centres())::uuid[])")


def feeds(centre: str, entity: str) -> str:
    return (f"(SELECT app_is_privileged()) "
            f"OR {centre} = ANY ((SELECT sla_fed_centres())::uuid[]) "
            f"OR ({entity} = (SELECT app_entity_id()) AND (SELECT app_role()) = 'cliente_maquina')")


def upgrade() -> None:
    op.execute("""
    -- The centres whose administering entity is the caller's, when the caller is one of its coordinators.
    CREATE FUNCTION app_administered_centres() RETURNS uuid[] LANGUAGE sql STABLE AS $$
      SELECT coalesce(array_agg(c.id), '{}') FROM centres c
      WHERE app_role() = 'coordinador_centro' AND c.administering_entity_id = app_entity_id() $$;
    -- The centres whose events the caller may write for any entity: its coordinators and machine clients.
    CREATE FUNCTION sla_fed_centres() RETURNS uuid[] LANGUAGE sql STABLE AS $$
      SELECT coalesce(array_agg(c.id), '{}') FROM centres c
      WHERE app_role() IN ('coordinador_centro', 'cliente_maquina')
        AND c.administering_entity_id = app_entity_id() $$;
    """)
    for table in EVENT_TABLES:
        op.execute(f"DROP POLICY {table}_read ON {table}")
        op.execute(f"DROP POLICY {table}_write ON {table}")
        policy(table, f"{table}_read", command="SELECT",
               using=f"{reads('centre_id', 'entity_id')} OR {feeds('centre_id', 'entity_id')}")
        policy(table, f"{table}_write", using=feeds("centre_id", "entity_id"),
               check=feeds("centre_id", "entity_id"))
    entity = f"coalesce(entity_id, {NO_ENTITY})"
    op.execute("DROP POLICY sla_interruptions_read ON sla_interruptions")
    op.execute("DROP POLICY sla_interruptions_write ON sla_interruptions")
    policy("sla_interruptions", "sla_interruptions_read", command="SELECT",
           using=f"(entity_id IS NULL AND (SELECT app_is_authenticated())) OR {reads('centre_id', entity)} "
                 f"OR {feeds('centre_id', entity)}")
    policy("sla_interruptions", "sla_interruptions_write", using=feeds("centre_id", entity),
           check=feeds("centre_id", entity))


def downgrade() -> None:
    for table in EVENT_TABLES:
        op.execute(f"DROP POLICY {table}_read ON {table}")
        op.execute(f"DROP POLICY {table}_write ON {table}")
        policy(table, f"{table}_read", command="SELECT",
               using="sla_reads(centre_id, entity_id) OR sla_feeds(centre_id, entity_id)")
        policy(table, f"{table}_write", using="sla_feeds(centre_id, entity_id)",
               check="sla_feeds(centre_id, entity_id)")
    entity = f"coalesce(entity_id, {NO_ENTITY})"
    op.execute("DROP POLICY sla_interruptions_read ON sla_interruptions")
    op.execute("DROP POLICY sla_interruptions_write ON sla_interruptions")
    policy("sla_interruptions", "sla_interruptions_read", command="SELECT",
           using="(entity_id IS NULL AND app_is_authenticated()) OR sla_reads(centre_id, entity_id) "
                 "OR sla_feeds(centre_id, entity_id)")
    policy("sla_interruptions", "sla_interruptions_write", using=f"sla_feeds(centre_id, {entity})",
           check=f"sla_feeds(centre_id, {entity})")
    op.execute("DROP FUNCTION sla_fed_centres(), app_administered_centres()")
