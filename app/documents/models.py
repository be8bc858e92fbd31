"""The document registry: every document the platform issues, under a public verification code, with the
SHA-256 (and the bytes) of each stored revision. Shared by adhesions and statements."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TimestampMixin, new_id


class RegisteredDocument(TimestampMixin, Base):
    """A document under one verification code (printed with its QR on every page)."""

    __tablename__ = "registered_documents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # "clausula_adhesion", "estado_de_cuenta", ...
    title: Mapped[str] = mapped_column(String(250))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # What the public page says about the subject today (kept current by the owning domain).
    subject_state: Mapped[str] = mapped_column(String(40))
    subject_state_label: Mapped[str] = mapped_column(String(120))
    superseded_by: Mapped[str | None] = mapped_column(String(24))
    # The entity the document is about, and the other party (e.g. the administering entity).
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    counterpart_entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"))
    is_demo: Mapped[bool] = mapped_column(default=False)


class DocumentRevision(TimestampMixin, Base):
    """One stored revision: the original, then one per signature (each an incremental update of the last)."""

    __tablename__ = "document_revisions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    document_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registered_documents.id", ondelete="CASCADE"))
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 0 = original
    kind: Mapped[str] = mapped_column(String(30))  # original | sello_plataforma | firma_digital
    label: Mapped[str] = mapped_column(String(250))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    signer: Mapped[str | None] = mapped_column(String(250))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    level: Mapped[str | None] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    note: Mapped[str | None] = mapped_column(Text)
