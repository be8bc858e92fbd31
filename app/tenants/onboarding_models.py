"""Onboarding tables: registration requests, their documents and history, invitations, and the entity's
legal profile, versioned.

Who may read and write each table is decided by PostgreSQL (migration 0002): an applicant without an account
reaches only the request whose access token hash the transaction carries (``app.onboarding_token``); the SGP
reads every request and decides; an entity's manager handles its own invitations and people. The writes that
cross tenants (approval creates an entity, a user and a membership; accepting an invitation creates a user)
go through SECURITY DEFINER functions that check the caller's role and the record's state themselves.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.db import Base, TimestampMixin, new_id

# States of a registration request (the transitions live in app.tenants.onboarding_schemas).
REGISTRATION_STATES = ("pendiente_verificacion_correo", "enviada", "en_revision", "observada", "aprobada",
                       "rechazada")
# A RUC may have at most one request in these states at a time.
OPEN_STATES = ("enviada", "en_revision", "observada")
DOCUMENT_PURPOSES = ("designacion", "traspaso", "cambio_perfil")
CHANGE_STATES = ("pendiente", "aprobada", "rechazada")
INVITABLE_ROLES = ("gestor_entidad", "finanzas", "coordinador_centro")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class RegistrationRequest(TimestampMixin, Base):
    """A person's request to register an entity as a tenant, from the public page to the SGP's decision."""

    __tablename__ = "registration_requests"
    __table_args__ = (
        CheckConstraint(f"state IN {_in(REGISTRATION_STATES)}", name="state"),
        CheckConstraint("kind IN ('publica', 'privada')", name="kind"),
        CheckConstraint("level IS NULL OR level IN ('nacional', 'regional', 'local')", name="level"),
        CheckConstraint("ruc ~ '^(10|15|16|17|20)[0-9]{9}$'", name="ruc_format"),
        CheckConstraint("applicant_dni ~ '^[0-9]{8}$'", name="dni_format"),
        CheckConstraint("ubigeo ~ '^[0-9]{6}$'", name="ubigeo_format"),
        Index("uq_registration_requests_open_ruc", "ruc", unique=True,
              postgresql_where=text(f"state IN {_in(OPEN_STATES)}")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    state: Mapped[str] = mapped_column(String(30), default="pendiente_verificacion_correo")
    ruc: Mapped[str] = mapped_column(String(11), index=True)
    entity_name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    level: Mapped[str | None] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(250))
    ubigeo: Mapped[str] = mapped_column(String(6))
    applicant_dni: Mapped[str] = mapped_column(String(8))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_position: Mapped[str] = mapped_column(String(120))
    applicant_email: Mapped[str] = mapped_column(String(254))
    # Set by the applicant on the form (argon2); becomes the new user's password on approval.
    password_hash: Mapped[str | None] = mapped_column(Text)
    # The OpenID Connect subject when the applicant came through ID GOB.PE.
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    # The applicant's link: token = HMAC(secret, id + salt); only its SHA-256 is stored.
    token_salt: Mapped[str] = mapped_column(String(64))
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Filled on approval: the tenant and the manager it created.
    entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class RegistrationEvent(Base):
    """One step in a request's life: who moved it, from which state to which, and why."""

    __tablename__ = "registration_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    registration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registration_requests.id", ondelete="CASCADE"),
                                                       index=True)
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str] = mapped_column(String(30))
    actor_role: Mapped[str] = mapped_column(String(30))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_label: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OnboardingDocument(TimestampMixin, Base):
    """A PDF: a designation (resolución or carta) or the support of a profile change; bytes kept here."""

    __tablename__ = "onboarding_documents"
    __table_args__ = (
        CheckConstraint(f"purpose IN {_in(DOCUMENT_PURPOSES)}", name="purpose"),
        CheckConstraint("registration_id IS NOT NULL OR entity_id IS NOT NULL", name="owner"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_format"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    registration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("registration_requests.id", ondelete="CASCADE"), index=True)
    entity_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entities.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(60))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class Invitation(TimestampMixin, Base):
    """An invitation to act for an entity with a role: single use, bound to an e-mail, expiring."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint(f"role IN {_in(INVITABLE_ROLES)}", name="role"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(30))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the link's token
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    sends: Mapped[int] = mapped_column(Integer, default=1)


class EntityProfileVersion(TimestampMixin, Base):
    """The entity's legal data as approved at one moment. Never updated: a change adds a version, so a
    document signed under version N keeps showing version N's name and representative."""

    __tablename__ = "entity_profile_versions"
    __table_args__ = (UniqueConstraint("entity_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    level: Mapped[str | None] = mapped_column(String(10))
    address: Mapped[str | None] = mapped_column(String(250))
    ubigeo: Mapped[str | None] = mapped_column(String(6))
    representative_name: Mapped[str | None] = mapped_column(String(200))
    representative_dni: Mapped[str | None] = mapped_column(String(8))
    representative_position: Mapped[str | None] = mapped_column(String(120))
    document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("onboarding_documents.id"))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    approved_by: Mapped[uuid.UUID | None] = mapped_column()
    change_id: Mapped[uuid.UUID | None] = mapped_column()


class ProfileChangeRequest(TimestampMixin, Base):
    """A manager's request to change the entity's legal data; the SGP approves (a new version) or rejects."""

    __tablename__ = "entity_profile_changes"
    __table_args__ = (
        CheckConstraint(f"state IN {_in(CHANGE_STATES)}", name="state"),
        CheckConstraint("representative_dni IS NULL OR representative_dni ~ '^[0-9]{8}$'", name="dni_format"),
        CheckConstraint("ubigeo IS NULL OR ubigeo ~ '^[0-9]{6}$'", name="ubigeo_format"),
        Index("uq_entity_profile_changes_pending", "entity_id", unique=True,
              postgresql_where=text("state = 'pendiente'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entity_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entities.id"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="pendiente")
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60))
    address: Mapped[str | None] = mapped_column(String(250))
    ubigeo: Mapped[str | None] = mapped_column(String(6))
    representative_name: Mapped[str | None] = mapped_column(String(200))
    representative_dni: Mapped[str | None] = mapped_column(String(8))
    representative_position: Mapped[str | None] = mapped_column(String(120))
    justification: Mapped[str] = mapped_column(Text)
    document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("onboarding_documents.id"))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[uuid.UUID | None] = mapped_column()
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version_id: Mapped[uuid.UUID | None] = mapped_column()


class SupervisorNotice(Base):
    """That the SGP supervisors were told of one submission of a request (the first on confirmation, one more
    after each correction): the worker job writes it in the transaction that queues the mails, so a job run
    twice (at-least-once delivery) mails nobody twice. Only the system reads or writes it (migration 0009)."""

    __tablename__ = "onboarding_notices"

    registration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registration_requests.id", ondelete="CASCADE"),
                                                       primary_key=True)
    submission: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipients: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
