"""Litestar stores shared by every web process: PostgreSQL by default, the configured Redis with REDIS_URL.

Anything a request remembers for the next one (the per-address rate limit today) must not live in process
memory: behind a proxy with N web processes, N memories would allow N times the attempts. Sessions keep their
own table (app.auth.session_store); this module gives any other Litestar store a home.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from litestar.stores.base import NamespacedStore, Store
from sqlalchemy import DateTime, LargeBinary, String, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class SharedStoreEntry(Base):
    """One value of a shared Litestar store (no tenant data: counters and flags keyed by a hash)."""

    __tablename__ = "shared_store"

    namespace: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


def _key(key: str) -> str:
    # Keys may hold client addresses: stored as their SHA-256, like session ids.
    return hashlib.sha256(key.encode()).hexdigest()


def _expiry(expires_in: int | timedelta | None) -> datetime | None:
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
    return datetime.now(UTC) + timedelta(seconds=seconds)


class PostgresStore(NamespacedStore):
    """A Litestar store on the ``shared_store`` table, one namespace per use (``rate_limit``, ...)."""

    def __init__(self, engine: AsyncEngine, namespace: str = "litestar") -> None:
        self.namespace = namespace
        self.engine = engine

    def with_namespace(self, namespace: str) -> PostgresStore:
        return PostgresStore(self.engine, f"{self.namespace}_{namespace}"[:40])

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        async with self.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO shared_store (namespace, key_hash, data, expires_at) VALUES (:n, :k, :d, :e) "
                     "ON CONFLICT (namespace, key_hash) DO UPDATE SET data = excluded.data, "
                     "expires_at = excluded.expires_at"),
                {"n": self.namespace, "k": _key(key), "d": data, "e": _expiry(expires_in)},
            )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        async with self.engine.begin() as conn:
            if renew_for:
                row = (await conn.execute(
                    text("UPDATE shared_store SET expires_at = :e WHERE namespace = :n AND key_hash = :k "
                         "AND (expires_at IS NULL OR expires_at > now()) RETURNING data"),
                    {"n": self.namespace, "k": _key(key), "e": _expiry(renew_for)})).first()
            else:
                row = (await conn.execute(
                    text("SELECT data FROM shared_store WHERE namespace = :n AND key_hash = :k "
                         "AND (expires_at IS NULL OR expires_at > now())"),
                    {"n": self.namespace, "k": _key(key)})).first()
        return bytes(row[0]) if row else None

    async def delete(self, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM shared_store WHERE namespace = :n AND key_hash = :k"),
                               {"n": self.namespace, "k": _key(key)})

    async def delete_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM shared_store WHERE namespace = :n"), {"n": self.namespace})

    async def delete_expired(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM shared_store WHERE expires_at <= now()"))

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        async with self.engine.begin() as conn:
            expires = (await conn.execute(
                text("SELECT expires_at FROM shared_store WHERE namespace = :n AND key_hash = :k"),
                {"n": self.namespace, "k": _key(key)})).scalar()
        return int((expires - datetime.now(UTC)).total_seconds()) if expires else None


def shared_store(engine: AsyncEngine, namespace: str, redis_url: str | None) -> Store:
    """The store for ``namespace``: Redis when REDIS_URL is set (Litestar's RedisStore), else PostgreSQL."""
    if redis_url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=redis_url, namespace=f"mac_{namespace}")
    return PostgresStore(engine, namespace)
