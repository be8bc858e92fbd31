"""An entity's manager runs its people: invitations (single use, 72 hours, bound to the e-mail invited, the
token stored only as its SHA-256), roles, deactivation (memberships are kept, never deleted) and the hand-over
of the manager role with a new designation document.

Everything here runs in the manager's own tenant context: row-level security keeps each manager inside their
own entity even if a query here forgot to say so. Accepting an invitation happens without a session and goes
through the SECURITY DEFINER function ``onboarding_accept_invitation`` (migration 0002).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.passwords import check_new_password, hash_password
from app.config import get_settings
from app.db import ROLE_GESTOR, ROLE_LABELS, TenantContext, get_database
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.tenants.models import Entity, Membership, User
from app.tenants.onboarding import _document, _mail, _signature, administers_centre, ticket_for
from app.tenants.onboarding_models import INVITABLE_ROLES, Invitation, ProfileChangeRequest
from app.tenants.onboarding_schemas import (
    INVITATION_HOURS,
    CheckedDocument,
    InvitationAccept,
    InvitationCreate,
    roles_for,
    token_hash,
)


def _require_manager(ctx: TenantContext) -> None:
    if ctx.role != ROLE_GESTOR or ctx.entity_id is None:
        raise Forbidden("Solo el gestor o la gestora de la entidad administra sus usuarios.")


def invitation_state(inv: Invitation, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if inv.accepted_at is not None:
        return "usada"
    if inv.revoked_at is not None:
        return "revocada"
    if inv.expires_at <= now:
        return "vencida"
    return "vigente"


@dataclass
class Member:
    user: User
    roles: list[str]  # active roles in this entity
    inactive_roles: list[str]

    @property
    def is_active(self) -> bool:
        return bool(self.roles)


@dataclass
class People:
    entity: Entity
    members: list[Member]
    invitations: list[Invitation]
    assignable_roles: tuple[str, ...]


async def list_people(ctx: TenantContext) -> People:
    _require_manager(ctx)
    async with get_database().transaction(ctx) as s:
        entity = await s.get(Entity, ctx.entity_id)
        rows = (await s.execute(select(User, Membership).join(Membership, Membership.user_id == User.id)
                                .where(Membership.entity_id == ctx.entity_id, Membership.role.in_(INVITABLE_ROLES))
                                .order_by(User.full_name, Membership.role))).all()
        members: dict[uuid.UUID, Member] = {}
        for user, membership in rows:
            member = members.setdefault(user.id, Member(user=user, roles=[], inactive_roles=[]))
            (member.roles if membership.is_active else member.inactive_roles).append(membership.role)
        invitations = list((await s.scalars(select(Invitation).where(Invitation.entity_id == ctx.entity_id)
                                            .order_by(Invitation.created_at.desc()).limit(200))).all())
        roles = roles_for(await administers_centre(s, ctx.entity_id))
    ordered = sorted(members.values(), key=lambda m: (not m.is_active, m.user.full_name.lower()))
    return People(entity=entity, members=ordered, invitations=invitations, assignable_roles=roles)


def _new_token() -> tuple[str, str, datetime]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token), datetime.now(UTC) + timedelta(hours=INVITATION_HOURS)


async def _send_invitation(s: AsyncSession, inv: Invitation, token: str, entity: Entity, inviter: str) -> None:
    link = f"{get_settings().base_url}/invitacion/{token}"
    await _mail(s, to=inv.email, entity_id=inv.entity_id,
                subject=f"Invitación a la Plataforma MAC: {entity.short_name}",
                body=(f"Hola:\n\n{inviter} le invita a actuar por «{entity.name}» en la Plataforma MAC con el rol "
                      f"{ROLE_LABELS.get(inv.role, inv.role)}.\n\nPara aceptar, abra este enlace. Sirve una sola vez, "
                      f"solo para este correo ({inv.email}), y vence en {INVITATION_HOURS} horas:\n\n{link}\n\n"
                      "Si no esperaba esta invitación, ignore este mensaje." + _signature()))


async def _inviter_name(s: AsyncSession, ctx: TenantContext) -> str:
    return (await s.scalar(select(User.full_name).where(User.id == ctx.user_id))) or "El gestor de su entidad"


@dataclass(frozen=True)
class Sent:
    invitation_id: uuid.UUID
    email: str
    mailbox_ticket: str | None


async def invite(ctx: TenantContext, data: InvitationCreate) -> Sent:
    _require_manager(ctx)
    async with get_database().transaction(ctx) as s:
        if data.role not in roles_for(await administers_centre(s, ctx.entity_id)):
            raise ValidationFailed("El rol coordinador(a) de centro solo existe en entidades que administran un "
                                   "Centro MAC.", field="role")
        already = await s.scalar(select(Membership.id).join(User, User.id == Membership.user_id).where(
            Membership.entity_id == ctx.entity_id, Membership.role == data.role, Membership.is_active,
            func.lower(User.email) == data.email))
        if already:
            raise Conflict("Esa persona ya tiene ese rol en su entidad.", code="ya_es_miembro")
        open_ones = (await s.scalars(select(Invitation).where(
            Invitation.entity_id == ctx.entity_id, Invitation.role == data.role, Invitation.email == data.email))).all()
        if any(invitation_state(i) == "vigente" for i in open_ones):
            raise Conflict("Ya hay una invitación vigente para ese correo y rol: reenvíela o revóquela.",
                           code="invitacion_vigente")
        entity = await s.get(Entity, ctx.entity_id)
        token, digest, expires = _new_token()
        inv = Invitation(entity_id=ctx.entity_id, email=data.email, role=data.role, token_hash=digest,
                         expires_at=expires, invited_by=ctx.user_id, sends=1)
        s.add(inv)
        await s.flush()
        await _send_invitation(s, inv, token, entity, await _inviter_name(s, ctx))
        await audit.record(s, ctx, action="invitacion_enviada", record_type="invitacion", record_id=inv.id,
                           after={"correo": data.email, "rol": data.role})
    return Sent(inv.id, inv.email, ticket_for(inv.email, token))


async def _own_invitation(s: AsyncSession, ctx: TenantContext, invitation_id: uuid.UUID) -> Invitation:
    inv = (await s.scalars(select(Invitation).where(Invitation.id == invitation_id,
                                                    Invitation.entity_id == ctx.entity_id).with_for_update())
           ).one_or_none()
    if inv is None:
        raise NotFound("La invitación no existe.")
    return inv


async def resend_invitation(ctx: TenantContext, invitation_id: uuid.UUID) -> Sent:
    """A new link (the previous one stops working) and 72 more hours."""
    _require_manager(ctx)
    async with get_database().transaction(ctx) as s:
        inv = await _own_invitation(s, ctx, invitation_id)
        if inv.accepted_at is not None or inv.revoked_at is not None:
            raise Conflict("Esta invitación ya fue aceptada o revocada; envíe una nueva si hace falta.")
        token, digest, expires = _new_token()
        inv.token_hash, inv.expires_at, inv.sends = digest, expires, inv.sends + 1
        entity = await s.get(Entity, ctx.entity_id)
        await _send_invitation(s, inv, token, entity, await _inviter_name(s, ctx))
        await audit.record(s, ctx, action="invitacion_reenviada", record_type="invitacion", record_id=inv.id,
                           after={"envios": inv.sends})
    return Sent(inv.id, inv.email, ticket_for(inv.email, token))


async def revoke_invitation(ctx: TenantContext, invitation_id: uuid.UUID) -> None:
    _require_manager(ctx)
    async with get_database().transaction(ctx) as s:
        inv = await _own_invitation(s, ctx, invitation_id)
        if inv.accepted_at is not None:
            raise Conflict("La invitación ya fue aceptada: desactive a la persona si ya no debe actuar.")
        if inv.revoked_at is None:
            inv.revoked_at = datetime.now(UTC)
            await audit.record(s, ctx, action="invitacion_revocada", record_type="invitacion", record_id=inv.id)


# ---------------------------------------------------------------------------------------- accepting ---


@dataclass(frozen=True)
class InvitationLookup:
    status: str  # vigente, usada, vencida, revocada, invalida
    email: str | None = None
    role: str | None = None
    entity_name: str | None = None
    expires_at: datetime | None = None
    has_account: bool = False

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role or "", self.role or "")


async def lookup_invitation(token: str, *, ip: str | None = None) -> InvitationLookup:
    async with get_database().transaction(TenantContext.anonymous(ip)) as s:
        row = (await s.execute(text("SELECT * FROM onboarding_invitation_lookup(:h)"),
                               {"h": token_hash(token)})).first()
    if row is None:
        return InvitationLookup(status="invalida")
    return InvitationLookup(status=row.status, email=row.email, role=row.role, entity_name=row.entity_name,
                            expires_at=row.expires_at, has_account=row.has_account)


ACCEPT_REFUSALS = {
    "invalida": "El enlace de invitación no es válido.",
    "usada": "Esta invitación ya fue usada.",
    "vencida": "Esta invitación venció. Pida al gestor de su entidad que se la reenvíe.",
    "revocada": "Esta invitación fue revocada. Consulte con el gestor de su entidad.",
    "cuenta_inactiva": "La cuenta de este correo está desactivada. Consulte con la mesa de ayuda de la SGP.",
    "datos_incompletos": "Complete su nombre y una contraseña.",
    "dni_en_uso": "El DNI ingresado ya pertenece a otra cuenta. Consulte con la mesa de ayuda de la SGP.",
    "identidad_en_uso": "Su identidad de ID GOB.PE ya está vinculada a otra cuenta de la plataforma. Acepte la "
                        "invitación con una contraseña, o pida que la invitación se envíe al correo de esa cuenta.",
}


async def accept_invitation(token: str, data: InvitationAccept | None, password: str | None,
                            confirmation: str | None, *, oidc_subject: str | None = None,
                            ip: str | None = None) -> tuple[uuid.UUID, str]:
    """Accept once: a new account with the chosen password (or linked to the person's ID GOB.PE identity,
    ``oidc_subject``), or the new role on the existing account of that e-mail. Returns (user id, status)."""
    lookup = await lookup_invitation(token, ip=ip)
    password_hash = None
    if lookup.status == "vigente" and not lookup.has_account and oidc_subject is None:
        if data is None:
            raise ValidationFailed(ACCEPT_REFUSALS["datos_incompletos"])
        check_new_password(password or "", confirmation or "")
        password_hash = hash_password(password or "")
    ctx = TenantContext.anonymous(ip)
    async with get_database().transaction(ctx) as s:
        row = (await s.execute(text("SELECT * FROM onboarding_accept_invitation(:h, :n, :d, :p, :o)"), {
            "h": token_hash(token), "n": data.full_name if data else None, "d": data.dni if data else None,
            "p": password_hash, "o": oidc_subject})).one()
        if row.status == "aceptada":
            await audit.record(s, TenantContext(role="usuario", user_id=row.accepted_user_id, ip=ip),
                               action="invitacion_aceptada", record_type="invitacion",
                               entity_id=None, actor_label=lookup.email,
                               after={"entidad": str(row.accepted_entity_id), "rol": lookup.role,
                                      "metodo": "oidc" if oidc_subject else "contrasena"})
    if row.status != "aceptada":
        raise Conflict(ACCEPT_REFUSALS.get(row.status, ACCEPT_REFUSALS["invalida"]), code=f"invitacion_{row.status}")
    return row.accepted_user_id, row.status


# -------------------------------------------------------------------------------- people and roles ---


async def _member_memberships(s: AsyncSession, ctx: TenantContext, user_id: uuid.UUID) -> list[Membership]:
    rows = list((await s.scalars(select(Membership).where(Membership.entity_id == ctx.entity_id,
                                                          Membership.user_id == user_id,
                                                          Membership.role.in_(INVITABLE_ROLES))
                                 .with_for_update())).all())
    if not rows:
        raise NotFound("Esa persona no pertenece a su entidad.")
    return rows


async def _active_managers(s: AsyncSession, ctx: TenantContext) -> int:
    return len((await s.scalars(select(Membership.id).where(Membership.entity_id == ctx.entity_id,
                                                            Membership.role == ROLE_GESTOR,
                                                            Membership.is_active))).all())


async def _grant(s: AsyncSession, ctx: TenantContext, existing: list[Membership], user_id: uuid.UUID,
                 role: str) -> None:
    current = next((m for m in existing if m.role == role), None)
    if current is None:
        s.add(Membership(user_id=user_id, entity_id=ctx.entity_id, role=role, is_active=True))
    else:
        current.is_active = True


async def change_roles(ctx: TenantContext, user_id: uuid.UUID, roles: set[str]) -> None:
    """Give exactly these entity roles to a member (a role taken away is deactivated, never deleted)."""
    _require_manager(ctx)
    async with get_database().transaction(ctx) as s:
        existing = await _member_memberships(s, ctx, user_id)
        allowed = roles_for(await administers_centre(s, ctx.entity_id))
        unknown = roles - set(allowed)
        if unknown:
            raise ValidationFailed("Elija roles válidos para su entidad.", field="roles")
        if not roles:
            raise ValidationFailed("Elija al menos un rol, o desactive a la persona.", field="roles")
        if user_id == ctx.user_id and ROLE_GESTOR not in roles:
            raise Conflict("No puede quitarse a sí mismo el rol de gestor: use «Traspasar la gestión».")
        before = sorted(m.role for m in existing if m.is_active)
        for role in allowed:
            if role in roles:
                await _grant(s, ctx, existing, user_id, role)
            else:
                for m in existing:
                    if m.role == role:
                        m.is_active = False
        await s.flush()
        if await _active_managers(s, ctx) == 0:
            raise Conflict("La entidad debe conservar al menos un gestor o gestora activo.")
        await audit.record(s, ctx, action="roles_cambiados", record_type="usuario", record_id=user_id,
                           before={"roles": before}, after={"roles": sorted(roles)})


async def deactivate_person(ctx: TenantContext, user_id: uuid.UUID) -> None:
    """The person stops acting for this entity; their memberships and everything they did remain on record."""
    _require_manager(ctx)
    if user_id == ctx.user_id:
        raise Conflict("No puede desactivarse a sí mismo: traspase primero la gestión.")
    async with get_database().transaction(ctx) as s:
        existing = await _member_memberships(s, ctx, user_id)
        before = sorted(m.role for m in existing if m.is_active)
        for m in existing:
            m.is_active = False
        await s.flush()
        if await _active_managers(s, ctx) == 0:
            raise Conflict("La entidad debe conservar al menos un gestor o gestora activo.")
        await audit.record(s, ctx, action="usuario_desactivado", record_type="usuario", record_id=user_id,
                           before={"roles": before}, after={"roles": []})


async def hand_over(ctx: TenantContext, user_id: uuid.UUID, document: CheckedDocument, *,
                    position: str | None = None) -> uuid.UUID | None:
    """Hand the manager role to another member, with the document that designates them: they become gestor,
    the current manager stops being one, and the change of representative goes to the SGP for approval
    (returns that change request's id, or None if another change was already pending)."""
    _require_manager(ctx)
    if user_id == ctx.user_id:
        raise ValidationFailed("Elija a otra persona de su entidad.", field="usuario")
    async with get_database().transaction(ctx) as s:
        existing = await _member_memberships(s, ctx, user_id)
        if not any(m.is_active for m in existing):
            raise Conflict("Esa persona está desactivada: reactívela antes de traspasarle la gestión.")
        mine = (await s.scalars(select(Membership).where(Membership.entity_id == ctx.entity_id,
                                                         Membership.user_id == ctx.user_id,
                                                         Membership.role == ROLE_GESTOR).with_for_update())).one()
        target = await s.get(User, user_id)
        entity = await s.get(Entity, ctx.entity_id)
        doc = _document(document, purpose="traspaso", entity_id=ctx.entity_id, uploaded_by=ctx.user_id)
        s.add(doc)
        await _grant(s, ctx, existing, user_id, ROLE_GESTOR)
        mine.is_active = False
        await s.flush()
        change_id = None
        pending = await s.scalar(select(ProfileChangeRequest.id).where(
            ProfileChangeRequest.entity_id == ctx.entity_id, ProfileChangeRequest.state == "pendiente"))
        if pending is None:
            change = ProfileChangeRequest(
                entity_id=ctx.entity_id, state="pendiente", name=entity.name, short_name=entity.short_name,
                representative_name=target.full_name, representative_dni=target.dni,
                representative_position=position or "Gestor(a) de entidad",
                justification="Traspaso de la gestión de la entidad con nuevo documento de designación.",
                document_id=doc.id, requested_by=ctx.user_id)
            s.add(change)
            await s.flush()
            change_id = change.id
        await audit.record(s, ctx, action="gestion_traspasada", record_type="usuario", record_id=user_id,
                           after={"nuevo_gestor": str(user_id), "anterior": str(ctx.user_id),
                                  "documento": document.sha256, "cambio_perfil": str(change_id) if change_id else None})
        await _mail(s, to=target.email, entity_id=ctx.entity_id, subject="Ahora es gestor(a) de su entidad",
                    body=(f"Estimado(a) {target.full_name}:\n\nSe le traspasó la gestión de «{entity.name}» en la "
                          "Plataforma MAC. Al ingresar, elija su rol de gestor(a) de entidad.\n" + _signature()))
    return change_id


async def entity_document(ctx: TenantContext, document_id: uuid.UUID):  # noqa: ANN201
    from app.tenants.onboarding import _document_with_content

    _require_manager(ctx)
    async with get_database().transaction(ctx) as s:
        return await _document_with_content(s, document_id, entity_id=ctx.entity_id)

