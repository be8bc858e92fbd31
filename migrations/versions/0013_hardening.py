"""hardening: the sign-in throttle shared by every web process, in place of the per-account hard lock

Revision ID: 0013
Revises: 0012

``login_throttle`` counts failed sign-ins per (account, client address): the account is the SHA-256 of the
lower-cased e-mail typed, known or not, so the throttle behaves the same for accounts that exist and for those
that do not, and stores no typed address in clear. After a few failures each further attempt from that address
has to wait longer (app.auth.throttle); nobody can lock another person out from elsewhere, and a success clears
the pair. Only SECURITY DEFINER functions touch the table (the runtime role has no grant on it); its rows are
forgotten a day after their last failure.

The old hard lock (``users.locked_until`` after ``failed_logins`` failures) is retired: both are cleared here and
no longer written; an administrator locks an account out by deactivating it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings
from migrations.rls import enable_rls, managed_by_privileged, policy

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = ("auth_throttle_state(text, text)", "auth_throttle_failed(text, text)",
             "auth_throttle_noticed(text, text)", "auth_throttle_cleared(text, text)", "auth_notice_recipient(uuid)",
             "auth_throttle_forget_user(uuid)")


def upgrade() -> None:
    definer = get_settings().definer_role
    op.create_table(
        "login_throttle",
        sa.Column("account_key", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noticed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account_key", "address", name=op.f("pk_login_throttle")),
    )
    op.create_index("ix_login_throttle_last_failure_at", "login_throttle", ["last_failure_at"])
    enable_rls("login_throttle")
    managed_by_privileged("login_throttle")
    policy("login_throttle", "login_throttle_definer", to=definer, using="true", check="true")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO {definer}")
    op.execute("""
    CREATE FUNCTION auth_throttle_state(p_account text, p_address text)
      RETURNS TABLE (failures int, last_failure_at timestamptz, noticed_at timestamptz)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
      $$ SELECT t.failures, t.last_failure_at, t.noticed_at FROM login_throttle t
         WHERE t.account_key = p_account AND t.address = p_address
           AND t.last_failure_at > now() - interval '1 day' $$;

    -- One more failure for the pair (a day without failures starts the count again); returns the count.
    CREATE FUNCTION auth_throttle_failed(p_account text, p_address text) RETURNS int
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE v_failures int;
      BEGIN
        INSERT INTO login_throttle AS t (account_key, address, failures, first_failure_at, last_failure_at)
          VALUES (p_account, p_address, 1, now(), now())
          ON CONFLICT (account_key, address) DO UPDATE SET
            failures = CASE WHEN t.last_failure_at > now() - interval '1 day' THEN t.failures + 1 ELSE 1 END,
            first_failure_at = CASE WHEN t.last_failure_at > now() - interval '1 day' THEN t.first_failure_at
                                    ELSE now() END,
            noticed_at = CASE WHEN t.last_failure_at > now() - interval '1 day' THEN t.noticed_at END,
            last_failure_at = now()
          RETURNING t.failures INTO v_failures;
        -- Forget a few stale pairs on the way (bounded work per call).
        DELETE FROM login_throttle WHERE ctid IN (
          SELECT ctid FROM login_throttle WHERE last_failure_at < now() - interval '1 day' LIMIT 20);
        RETURN v_failures;
      END $$;

    -- The owner was told (once per run of failures); a success forgets the pair.
    CREATE FUNCTION auth_throttle_noticed(p_account text, p_address text) RETURNS void
      LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS
      $$ UPDATE login_throttle SET noticed_at = now() WHERE account_key = p_account AND address = p_address $$;

    -- A password reset proves the mailbox: the account's delays end everywhere.
    CREATE FUNCTION auth_throttle_forget_user(p_user uuid) RETURNS void
      LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS
      $$ DELETE FROM login_throttle WHERE account_key IN (
           SELECT encode(sha256(convert_to(lower(u.email), 'UTF8')), 'hex') FROM users u WHERE u.id = p_user) $$;

    -- Where to send the notice of failed sign-ins (the request runs as an anonymous visitor).
    CREATE FUNCTION auth_notice_recipient(p_user uuid) RETURNS TABLE (email text, full_name text)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
      $$ SELECT u.email::text, u.full_name::text FROM users u WHERE u.id = p_user AND u.is_active $$;

    CREATE FUNCTION auth_throttle_cleared(p_account text, p_address text) RETURNS void
      LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS
      $$ DELETE FROM login_throttle WHERE account_key = p_account AND address = p_address $$;
    """)
    for fn in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {fn} OWNER TO {definer}")
    op.execute("UPDATE users SET locked_until = NULL, failed_logins = 0 WHERE locked_until IS NOT NULL "
               "OR failed_logins <> 0")


def downgrade() -> None:
    for fn in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    op.drop_index("ix_login_throttle_last_failure_at", table_name="login_throttle")
    op.drop_table("login_throttle")
