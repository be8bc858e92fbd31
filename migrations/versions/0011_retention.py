"""retention: the system may delete dead password-reset / set-password links

Revision ID: 0011
Revises: 0010

``password_reset_tokens`` is DEFINER_ONLY (migrations/rls.py): the runtime role cannot touch it. The daily
retention job (app.worker.retention) deletes the links that stopped working long ago through this one
SECURITY DEFINER function, owned by the definer role like the other token functions of 0001. It refuses
anyone but the system, and it can never delete a link that still works: the cut-off is capped at now(), so
only links that expired or were used before it go.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from app.config import get_settings

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = "retention_purge_reset_tokens(timestamptz, integer)"


def upgrade() -> None:
    definer = get_settings().definer_role
    op.execute(f"GRANT DELETE ON password_reset_tokens TO {definer}")
    op.execute("""
    -- One batch: at most p_limit links that expired or were used before p_before (never after now()).
    -- Returns how many were deleted; the caller loops until a batch comes back short.
    CREATE FUNCTION retention_purge_reset_tokens(p_before timestamptz, p_limit integer) RETURNS integer
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE v_before timestamptz := least(p_before, now()); v_deleted integer;
      BEGIN
        IF app_role() <> 'sistema' THEN
          RAISE EXCEPTION 'Solo el sistema aplica la política de retención' USING ERRCODE = 'insufficient_privilege';
        END IF;
        -- The batch is chosen once (a MATERIALIZED CTE): an IN (sub-query ... LIMIT) could be rescanned and
        -- delete more than p_limit rows.
        WITH batch AS MATERIALIZED (
          SELECT t.id FROM password_reset_tokens t
           WHERE t.expires_at < v_before OR t.used_at < v_before
           LIMIT greatest(least(p_limit, 50000), 0)
           FOR UPDATE SKIP LOCKED)
        DELETE FROM password_reset_tokens p USING batch b WHERE p.id = b.id;
        GET DIAGNOSTICS v_deleted = ROW_COUNT;
        RETURN v_deleted;
      END $$;
    """)
    op.execute(f"ALTER FUNCTION {FUNCTION} OWNER TO {definer}")


def downgrade() -> None:
    definer = get_settings().definer_role
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}")
    op.execute(f"REVOKE DELETE ON password_reset_tokens FROM {definer}")
