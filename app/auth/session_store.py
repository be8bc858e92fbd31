"""Server-side web sessions kept in PostgreSQL, so every web process shares them and a restart keeps them.

Keys are stored as their SHA-256: reading the table does not give anyone a usable session cookie.
The backend also rotates the session id on login (no session fixation).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Empty
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROTATE_FLAG = "_rotar"


def _key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _expiry(expires_in: int | timedelta | None) -> datetime | None:
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
    return datetime.now(UTC) + timedelta(seconds=seconds)


class PostgresSessionStore(Store):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        async with self.engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO web_sessions (key_hash, data, expires_at) VALUES (:k, :d, :e) "
                     "ON CONFLICT (key_hash) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at"),
                {"k": _key(key), "d": data, "e": _expiry(expires_in)},
            )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        async with self.engine.begin() as conn:
            row = (await conn.execute(
                text("SELECT data FROM web_sessions WHERE key_hash = :k AND (expires_at IS NULL OR expires_at > now())"),
                {"k": _key(key)},
            )).first()
            if row and renew_for:
                await conn.execute(text("UPDATE web_sessions SET expires_at = :e WHERE key_hash = :k"),
                                   {"k": _key(key), "e": _expiry(renew_for)})
        return bytes(row[0]) if row else None

    async def delete(self, key: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM web_sessions WHERE key_hash = :k"), {"k": _key(key)})

    async def delete_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM web_sessions"))

    async def delete_expired(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM web_sessions WHERE expires_at <= now()"))

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        async with self.engine.begin() as conn:
            expires = (await conn.execute(text("SELECT expires_at FROM web_sessions WHERE key_hash = :k"),
                                          {"k": _key(key)})).scalar()
        return int((expires - datetime.now(UTC)).total_seconds()) if expires else None


class RotatingSessionBackend(ServerSideSessionBackend):
    async def store_in_message(self, scope_session, message, connection) -> None:  # noqa: ANN001
        if isinstance(scope_session, dict) and not scope_session:
            # Nothing to keep: a visitor without a session gets no row and no cookie (Litestar would store the
            # empty dict for every anonymous request, /health included); an emptied session is forgotten.
            if connection.cookies.get(self.config.key) in (None, "", "null"):
                return
            scope_session = Empty
        if isinstance(scope_session, dict) and scope_session.pop(ROTATE_FLAG, False):
            old = connection.cookies.get(self.config.key)
            if old and old != "null":
                await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
            connection.scope["_mac_new_session_id"] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection) -> str:  # noqa: ANN001
        return connection.scope.get("_mac_new_session_id") or super().get_session_id(connection)


class SessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
