"""Helpers that keep each table's row-level security to a line or two in a migration.

The vocabulary (SQL functions created by the first migration):
  app_role(), app_entity_id(), app_user_id()  -- the transaction's tenant context (set by app.db)
  app_is_authenticated()   -- a person or machine client is known (not 'anonimo', not unset)
  app_is_privileged()      -- the platform administrator or the system (worker, CLI)
  app_is_sgp()             -- an SGP supervisor: reads across all tenants
  app_administers_centre(centre_id) -- a centre coordinator of the centre's administering entity
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

# Tables the runtime role may only read and append to.
APPEND_ONLY = {"audit_log"}
# Tables the runtime role never touches directly (only through SECURITY DEFINER functions).
DEFINER_ONLY = {"audit_chain_head", "password_reset_tokens", "login_throttle"}


def enable_rls(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def policy(table: str, name: str, *, using: str | None = None, check: str | None = None,
           command: str = "ALL", to: str | None = None) -> None:
    sql = f"CREATE POLICY {name} ON {table} AS PERMISSIVE FOR {command}"
    if to:
        sql += f" TO {to}"
    if using:
        sql += f" USING ({using})"
    if check:
        sql += f" WITH CHECK ({check})"
    op.execute(sql)


def readable_by_all_authenticated(table: str) -> None:
    policy(table, f"{table}_read", command="SELECT", using="app_is_authenticated()")


def managed_by_privileged(table: str) -> None:
    policy(table, f"{table}_privileged", using="app_is_privileged()", check="app_is_privileged()")


def managed_by_centre_administrator(table: str, centre_column: str = "centre_id") -> None:
    cond = f"app_administers_centre({centre_column})"
    policy(table, f"{table}_centre_admin", using=cond, check=cond)


def apply_runtime_grants(connection, runtime_role: str, definer_role: str) -> None:  # noqa: ANN001
    """Grant the runtime role what it needs on every table of the public schema. Idempotent."""
    tables = [r[0] for r in connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
    )]
    for table in tables:
        connection.execute(text(f'REVOKE ALL ON TABLE "{table}" FROM "{runtime_role}"'))
        if table in DEFINER_ONLY:
            continue
        privileges = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        connection.execute(text(f'GRANT {privileges} ON TABLE "{table}" TO "{runtime_role}"'))
    # Readiness checks read the schema version.
    connection.execute(text(f'GRANT SELECT ON TABLE alembic_version TO "{runtime_role}"'))
    connection.execute(text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{runtime_role}"'))
    connection.execute(text(f'GRANT USAGE ON SCHEMA public TO "{runtime_role}", "{definer_role}"'))
