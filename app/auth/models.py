"""Credentials that are not people: machine clients, reset tokens and server-side web sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, new_id

# Scopes a machine client can be granted.
CLIENT_SCOPES = {
    "atenciones:escribir": "Enviar registros de atención (sistema de colas)",
    "centros:leer": "Leer los datos del centro",
}


class OAuthClient(TimestampMixin, Base):
    """A machine client (e.g. a centre's queue system) using OAuth2 client credentials."""

    __tablename__ = "oauth_clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(String(120))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    centre_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("centres.id"))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class PasswordResetToken(TimestampMixin, Base):
    __tablename__ = "password_reset_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex: the token itself is never stored
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """Server-side session data, keyed by the SHA-256 of the cookie value so a leaked table opens nothing."""

    __tablename__ = "web_sessions"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


class LoginThrottle(Base):
    """Failed sign-ins per (account, client address), shared by every web process (app.auth.throttle).

    ``account_key`` is the SHA-256 of the lower-cased e-mail typed, whether or not such an account exists. Only
    SECURITY DEFINER functions (migration 0013) read and write it."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_last_failure_at", "last_failure_at"),)

    account_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    noticed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
