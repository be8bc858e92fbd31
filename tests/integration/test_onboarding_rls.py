"""Row-level security of the onboarding tables: what an anonymous visitor, a manager and the SGP can reach when
the application's own checks are bypassed (queries straight to the database as the runtime role)."""

from __future__ import annotations

import secrets
import uuid

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError

from app.db import TenantContext
from app.tenants.models import Entity, Membership
from app.tenants.onboarding_models import Invitation, OnboardingDocument, RegistrationRequest
from app.tenants.onboarding_schemas import token_hash
from tests.factories import valid_dni, valid_ruc

ROW_LEVEL = (ProgrammingError, DBAPIError)


def _request(digest: str, **overrides) -> dict:  # noqa: ANN003
    row = dict(id=uuid.uuid4(), state="pendiente_verificacion_correo", ruc=valid_ruc(), entity_name="Entidad X",
               short_name="EX", kind="publica", level="nacional", address="Av. 1", ubigeo="150101",
               applicant_dni=valid_dni(), applicant_name="Ana", applicant_position="Jefa",
               applicant_email=f"ana.{uuid.uuid4().hex[:6]}@x.gob.pe", token_salt="s", access_token_hash=digest)
    row.update(overrides)
    return row


async def _file_request(db, **overrides) -> tuple[str, uuid.UUID]:  # noqa: ANN001, ANN003
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    async with db.transaction(TenantContext.anonymous("127.0.0.1")) as s:
        await s.execute(text("SELECT set_config('app.onboarding_token', :h, true)"), {"h": digest})
        row = _request(digest, **overrides)
        await s.execute(insert(RegistrationRequest).values(**row))
    return digest, row["id"]


async def test_an_anonymous_visitor_sees_only_the_request_of_the_token_it_holds(db):
    mine, my_id = await _file_request(db)
    await _file_request(db)
    async with db.transaction(TenantContext.anonymous()) as s:
        assert (await s.scalars(select(RegistrationRequest.id))).all() == []
        await s.execute(text("SELECT set_config('app.onboarding_token', :h, true)"), {"h": mine})
        assert (await s.scalars(select(RegistrationRequest.id))).all() == [my_id]


async def test_an_anonymous_visitor_cannot_file_a_request_already_submitted_or_attached_to_an_entity(db, tenants):
    other = await tenants.create()
    for overrides in ({"state": "enviada"}, {"state": "aprobada"}, {"entity_id": other.entity.id}):
        with pytest.raises(ROW_LEVEL):
            await _file_request(db, **overrides)


async def test_an_anonymous_visitor_cannot_move_a_pending_request_forward_by_hand(db):
    digest, request_id = await _file_request(db)
    async with db.transaction(TenantContext.anonymous()) as s:
        await s.execute(text("SELECT set_config('app.onboarding_token', :h, true)"), {"h": digest})
        result = await s.execute(update(RegistrationRequest).where(RegistrationRequest.id == request_id)
                                 .values(state="enviada"))
        assert result.rowcount == 0  # only the confirmation function moves it, after checking the RUC


async def test_the_confirmation_function_refuses_a_registered_ruc(db, tenants):
    existing = await tenants.create()
    digest, request_id = await _file_request(db, ruc=existing.entity.ruc)
    async with db.transaction(TenantContext.anonymous()) as s:
        outcome = (await s.execute(text("SELECT onboarding_confirm_email(:h, 48)"), {"h": digest})).scalar()
    assert outcome == "ruc_registrado"
    async with db.transaction(TenantContext.system()) as s:
        assert (await s.get(RegistrationRequest, request_id)).state == "rechazada"


async def test_only_an_sgp_supervisor_can_run_the_approval_and_not_by_writing_entities(db, tenants):
    sgp = await tenants.create(roles=("supervisor_sgp",))
    manager = await tenants.create()
    digest, request_id = await _file_request(db)
    async with db.transaction(TenantContext.anonymous()) as s:
        await s.execute(text("SELECT onboarding_confirm_email(:h, 48)"), {"h": digest})
    async with db.transaction(sgp.ctx("supervisor_sgp")) as s:
        await s.execute(update(RegistrationRequest).where(RegistrationRequest.id == request_id)
                        .values(state="en_revision"))
    for ctx in (manager.ctx("gestor_entidad"), TenantContext.anonymous()):
        with pytest.raises(DBAPIError, match="Solo un supervisor de la SGP"):
            async with db.transaction(ctx) as s:
                await s.execute(text("SELECT * FROM onboarding_approve_registration(:r, NULL, NULL)"),
                                {"r": request_id})
    with pytest.raises(ROW_LEVEL):
        async with db.transaction(sgp.ctx("supervisor_sgp")) as s:
            await s.execute(insert(Entity).values(id=uuid.uuid4(), ruc=valid_ruc(), name="Intrusa", short_name="I",
                                                  kind="publica", is_rector=False, is_active=True, is_demo=False))
    with pytest.raises(ROW_LEVEL):  # the SGP cannot mark a request approved without the function
        async with db.transaction(sgp.ctx("supervisor_sgp")) as s:
            await s.execute(update(RegistrationRequest).where(RegistrationRequest.id == request_id)
                            .values(state="aprobada"))


async def test_a_manager_gives_only_entity_roles_in_their_own_entity(db, tenants):
    ours = await tenants.create()
    theirs = await tenants.create()
    ctx = ours.ctx("gestor_entidad")
    person = ours.users["finanzas"].id
    for values in ({"entity_id": ours.entity.id, "role": "supervisor_sgp"},
                   {"entity_id": ours.entity.id, "role": "administrador_plataforma"},
                   {"entity_id": ours.entity.id, "role": "coordinador_centro"},  # no centre administered
                   {"entity_id": theirs.entity.id, "role": "finanzas"}):
        with pytest.raises(ROW_LEVEL):
            async with db.transaction(ctx) as s:
                await s.execute(insert(Membership).values(id=uuid.uuid4(), user_id=person, is_active=True, **values))
    async with db.transaction(ctx) as s:
        result = await s.execute(update(Membership).where(Membership.entity_id == theirs.entity.id)
                                 .values(is_active=False))
        assert result.rowcount == 0


async def test_a_finance_officer_cannot_invite_nor_read_invitations(db, tenants):
    ours = await tenants.create()
    with pytest.raises(ROW_LEVEL):
        async with db.transaction(ours.ctx("finanzas")) as s:
            await s.execute(insert(Invitation).values(
                id=uuid.uuid4(), entity_id=ours.entity.id, email="x@x.gob.pe", role="gestor_entidad",
                token_hash="0" * 64, expires_at=text("now() + interval '1 day'"), sends=1))


async def test_a_manager_cannot_invite_into_another_entity_or_read_its_documents(db, tenants):
    ours = await tenants.create()
    theirs = await tenants.create()
    with pytest.raises(ROW_LEVEL):
        async with db.transaction(ours.ctx("gestor_entidad")) as s:
            await s.execute(insert(Invitation).values(
                id=uuid.uuid4(), entity_id=theirs.entity.id, email="x@x.gob.pe", role="finanzas",
                token_hash=uuid.uuid4().hex * 2, expires_at=text("now() + interval '1 day'"), sends=1))
    async with db.transaction(theirs.ctx("gestor_entidad")) as s:
        await s.execute(insert(OnboardingDocument).values(
            id=uuid.uuid4(), entity_id=theirs.entity.id, purpose="traspaso", filename="a.pdf",
            content_type="application/pdf", size_bytes=5, sha256="a" * 64, content=b"%PDF-"))
    async with db.transaction(ours.ctx("gestor_entidad")) as s:
        assert (await s.scalars(select(OnboardingDocument.id).where(
            OnboardingDocument.entity_id == theirs.entity.id))).all() == []
