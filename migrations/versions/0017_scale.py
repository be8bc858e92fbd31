"""running at scale: a shared key-value store for the web processes, and the request id in the audit log

Revision ID: 0017
Revises: 0016

``shared_store`` backs Litestar stores that must be one for every web process (the per-address rate limit of
sign-in, reset, registration and token endpoints; app.stores.PostgresStore): a namespace, the key's SHA-256,
the value and when it expires. Like ``web_sessions`` it holds no tenant data (no RLS); the runtime role reads
and writes it through the usual grants.

``audit_log.request_id`` is the id of the web request whose work wrote the entry (also when a background job
it queued wrote it). ``audit_digest`` now covers it: ``concat_ws`` skips NULLs, so every entry written before
(NULL request id) keeps its hash and the existing chain stays valid.

``ix_sla_daily_*_centre_day``: the national ranking reads one month of every centre's rollups; the primary key
(centre, entity, service, day) made that a scan of the centre's whole history, so its cost grew with the years
kept (bench/bench_load.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIGEST = """
CREATE OR REPLACE FUNCTION audit_digest(a audit_log) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(concat_ws('|',
    a.seq::text, a.prev_hash,
    to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    coalesce(a.entity_id::text, ''), coalesce(a.actor_user_id::text, ''), a.actor_label, a.actor_role,
    coalesce(host(a.ip), ''), a.action, a.record_type, coalesce(a.record_id, ''),
    coalesce(a.before::text, ''), coalesce(a.after::text, '')%s), 'UTF8')), 'hex') $$
"""


def upgrade() -> None:
    op.create_table(
        "shared_store",
        sa.Column("namespace", sa.String(length=40), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("namespace", "key_hash", name=op.f("pk_shared_store")),
    )
    op.create_index(op.f("ix_shared_store_expires_at"), "shared_store", ["expires_at"], unique=False)
    op.add_column("audit_log", sa.Column("request_id", sa.String(length=64), nullable=True))
    op.execute(DIGEST % ", a.request_id")
    op.create_index("ix_sla_daily_service_centre_day", "sla_daily_service", ["centre_id", "day"], unique=False)
    op.create_index("ix_sla_daily_entity_centre_day", "sla_daily_entity", ["centre_id", "day"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sla_daily_entity_centre_day", table_name="sla_daily_entity")
    op.drop_index("ix_sla_daily_service_centre_day", table_name="sla_daily_service")
    op.execute(DIGEST % "")
    op.drop_column("audit_log", "request_id")
    op.drop_index(op.f("ix_shared_store_expires_at"), table_name="shared_store")
    op.drop_table("shared_store")
