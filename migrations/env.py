"""Alembic runs as the owner role. After every run the runtime role's grants are re-applied (idempotent)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from app.config import get_settings, psycopg_url
from app.models import metadata
from migrations.rls import apply_runtime_grants

config = context.config


def owner_url() -> str:
    url = config.attributes.get("owner_url") or os.environ.get("DATABASE_URL")
    if not url:
        from app.database_setup import ensure_owner_url

        url = ensure_owner_url(get_settings())
    return "postgresql+psycopg://" + psycopg_url(url).split("://", 1)[1]


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    # The broker's own schema is managed by dramatiq-postgres.
    return not (type_ == "table" and getattr(obj, "schema", None) == "dramatiq")


def run_migrations_online() -> None:
    engine = create_engine(owner_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, include_object=include_object,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        settings = get_settings()
        with connection.begin():
            apply_runtime_grants(connection, settings.runtime_role, settings.definer_role)
    engine.dispose()


run_migrations_online()
