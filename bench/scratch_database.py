"""A throw-away database for a benchmark: created on the server named by ``DATABASE_URL``, migrated, and
dropped afterwards, so a benchmark never touches real data and leaves nothing behind."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from app.config import get_settings, psycopg_url, with_database


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Yields the owner URL of ``<prefix>_<pid>``, migrated to head; the process's settings point at it."""
    server = os.environ.get("DATABASE_URL")
    if not server:
        sys.exit("Defina DATABASE_URL (servidor PostgreSQL con un rol que pueda crear bases de datos).")
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(psycopg_url(server), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    owner = with_database(server, name)
    os.environ["DATABASE_URL"] = owner
    os.environ.setdefault("SECRET_KEY", "clave-de-benchmark-" + "x" * 32)
    get_settings.cache_clear()
    try:
        from app.database_setup import migrate

        migrate(get_settings())
        yield owner
    finally:
        with psycopg.connect(psycopg_url(server), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
