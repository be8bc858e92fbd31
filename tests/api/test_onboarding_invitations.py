"""An entity's manager runs its people: invitations (single use, 72 h, bound to the e-mail), roles, deactivation,
hand-over of the manager role; and nobody reaches into another entity."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.tenants.models import Entity, Membership, User
from app.tenants.onboarding_models import Invitation, OnboardingDocument, ProfileChangeRequest
from tests.onboarding_support import designation_pdf, last_link, mails_to

MANAGER_PASSWORD = "Gestor-Entidad-2026"
NEW_PASSWORD = "Finanzas-Nueva-2026"


async def _manager(client, tenants, **kwargs):  # noqa: ANN001, ANN003, ANN202
    tenant = await tenants.create(password_hash=hash_password(MANAGER_PASSWORD), **kwargs)
    response = await client.login(tenant.users["gestor_entidad"].email, MANAGER_PASSWORD)
    assert response.status_code in (302, 303)
    return tenant


def _email() -> str:
    return f"invitada.{uuid.uuid4().hex[:8]}@entidad.gob.pe"


async def _invitation(db, email: str) -> Invitation:  # noqa: ANN001
    async with db.transaction(TenantContext.system()) as s:
        return (await s.scalars(select(Invitation).where(Invitation.email == email)
                                .order_by(Invitation.created_at.desc()))).first()


async def _logout(client) -> None:  # noqa: ANN001
    await client.post("/salir", headers={"x-csrftoken": await client.csrf()})


async def test_an_invited_finance_officer_sets_a_password_and_signs_in(client, db, settings, tenants):
    tenant = await _manager(client, tenants)
    email = _email()
    response = await client.submit("/entidad/invitaciones", {"email": email.upper(), "role": "finanzas"})
    assert response.status_code in (302, 303)
    invitation = await _invitation(db, email)
    assert invitation.role == "finanzas" and invitation.entity_id == tenant.entity.id
    assert invitation.expires_at - datetime.now(UTC) > timedelta(hours=71)
    link = await last_link(db, settings, email, "/invitacion/")
    assert link.rsplit("/", 1)[1] not in (invitation.token_hash,)  # only the hash is stored

    await _logout(client)
    page = await client.get(link)
    assert page.status_code == 200 and tenant.entity.name in page.text and "Finanzas" in page.text
    weak = await client.submit(link, {"full_name": "Ana Torres", "contrasena": "corta", "confirmacion": "corta"})
    assert weak.status_code == 422 and "al menos 10 caracteres" in weak.text
    accepted = await client.submit(link, {"full_name": "Ana Torres", "dni": "", "contrasena": NEW_PASSWORD,
                                          "confirmacion": NEW_PASSWORD})
    assert accepted.status_code in (302, 303) and accepted.headers["location"] == "/ingresar"
    signed_in = await client.login(email, NEW_PASSWORD)
    assert signed_in.status_code in (302, 303) and signed_in.headers["location"] == "/"
    home = await client.get("/")
    assert "Finanzas" in home.text and "Ana Torres" in home.text


async def test_a_used_link_gives_a_clear_page_and_cannot_be_used_again(client, db, settings, tenants):
    await _manager(client, tenants)
    email = _email()
    await client.submit("/entidad/invitaciones", {"email": email, "role": "finanzas"})
    link = await last_link(db, settings, email, "/invitacion/")
    await _logout(client)
    await client.submit(link, {"full_name": "Ana", "contrasena": NEW_PASSWORD, "confirmacion": NEW_PASSWORD})
    again = await client.get(link)
    assert again.status_code == 200 and "Esta invitación ya fue usada." in again.text
    reuse = await client.submit(link, {"full_name": "Otra persona", "contrasena": "Otra-Clave-2026",
                                       "confirmacion": "Otra-Clave-2026"})
    assert reuse.status_code == 422 and "ya fue usada" in reuse.text
    assert (await client.login(email, "Otra-Clave-2026")).status_code == 401


async def test_an_expired_link_gives_a_clear_page(client, db, settings, tenants):
    await _manager(client, tenants)
    email = _email()
    await client.submit("/entidad/invitaciones", {"email": email, "role": "finanzas"})
    link = await last_link(db, settings, email, "/invitacion/")
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(Invitation).where(Invitation.email == email)
                        .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    await _logout(client)
    page = await client.get(link)
    assert page.status_code == 200 and "Esta invitación venció" in page.text
    refused = await client.submit(link, {"full_name": "Ana", "contrasena": NEW_PASSWORD,
                                         "confirmacion": NEW_PASSWORD})
    assert refused.status_code == 422 and "venció" in refused.text


async def test_a_revoked_link_and_the_old_link_of_a_resent_invitation_stop_working(client, db, settings, tenants):
    await _manager(client, tenants)
    email = _email()
    await client.submit("/entidad/invitaciones", {"email": email, "role": "finanzas"})
    first = await last_link(db, settings, email, "/invitacion/")
    invitation = await _invitation(db, email)
    await client.submit(f"/entidad/invitaciones/{invitation.id}/reenviar")
    second = await last_link(db, settings, email, "/invitacion/", nth=2)
    assert second != first
    assert "no es válido" in (await client.get(first)).text
    assert (await client.get(second)).status_code == 200
    await client.submit(f"/entidad/invitaciones/{invitation.id}/revocar")
    page = await client.get(second)
    assert "Esta invitación fue revocada." in page.text


async def test_an_unknown_invitation_link_gives_a_clear_page(client):
    page = await client.get("/invitacion/" + "y" * 43)
    assert page.status_code == 404 and "El enlace de invitación no es válido." in page.text


async def test_the_centre_coordinator_role_exists_only_in_an_entity_that_runs_a_centre(client, db, tenants):
    await _manager(client, tenants)
    email = _email()
    await client.submit("/entidad/invitaciones", {"email": email, "role": "coordinador_centro"})
    assert await _invitation(db, email) is None
    page = await client.get("/entidad/usuarios")
    assert "coordinador_centro" not in page.text

    await _logout(client)
    await _manager(client, tenants, with_centre=True)
    await client.submit("/entidad/invitaciones", {"email": email, "role": "coordinador_centro"})
    assert (await _invitation(db, email)).role == "coordinador_centro"


async def test_an_existing_account_accepts_without_a_new_password(client, db, settings, tenants):
    other = await tenants.create(password_hash=hash_password(NEW_PASSWORD))
    person = other.users["finanzas"]
    tenant = await _manager(client, tenants)
    await client.submit("/entidad/invitaciones", {"email": person.email, "role": "finanzas"})
    link = await last_link(db, settings, person.email, "/invitacion/")
    await _logout(client)
    page = await client.get(link)
    assert "Ya tiene una cuenta con este correo" in page.text
    assert (await client.submit(link, {})).status_code in (302, 303)
    async with db.transaction(TenantContext.system()) as s:
        entities = set((await s.scalars(select(Membership.entity_id).where(Membership.user_id == person.id))).all())
    assert entities == {other.entity.id, tenant.entity.id}


async def test_a_manager_cannot_touch_or_read_another_entitys_invitations_or_people(client, db, settings, tenants):
    victim = await _manager(client, tenants)
    victim_email = _email()
    await client.submit("/entidad/invitaciones", {"email": victim_email, "role": "finanzas"})
    victim_invitation = await _invitation(db, victim_email)
    await _logout(client)

    await _manager(client, tenants)
    for action in ("reenviar", "revocar"):
        await client.submit(f"/entidad/invitaciones/{victim_invitation.id}/{action}")
    after = await _invitation(db, victim_email)
    assert after.revoked_at is None and after.sends == 1 and after.token_hash == victim_invitation.token_hash
    finance = victim.users["finanzas"]
    await client.submit(f"/entidad/usuarios/{finance.id}/desactivar")
    await client.submit(f"/entidad/usuarios/{finance.id}/roles", {"roles": "gestor_entidad"})
    async with db.transaction(TenantContext.system()) as s:
        rows = (await s.scalars(select(Membership).where(Membership.user_id == finance.id))).all()
    assert [(m.entity_id, m.role, m.is_active) for m in rows] == [(victim.entity.id, "finanzas", True)]
    page = await client.get("/entidad/usuarios")
    assert victim_email not in page.text and finance.email not in page.text
    async with db.transaction(TenantContext.system()) as s:
        document = OnboardingDocument(entity_id=victim.entity.id, purpose="traspaso", filename="privado.pdf",
                                      content_type="application/pdf", size_bytes=9, sha256="b" * 64,
                                      content=b"%PDF-1.4\n")
        s.add(document)
    assert (await client.get(f"/entidad/documentos/{document.id}")).status_code == 404
    assert (await client.get("/entidad/perfil")).text.count(victim.entity.name) == 0


async def test_roles_change_and_a_deactivated_person_keeps_their_history(client, db, tenants):
    tenant = await _manager(client, tenants)
    finance = tenant.users["finanzas"]
    await client.submit(f"/entidad/usuarios/{finance.id}/roles", {"roles": ["finanzas", "gestor_entidad"]})
    async with db.transaction(TenantContext.system()) as s:
        roles = {m.role: m.is_active for m in (await s.scalars(
            select(Membership).where(Membership.user_id == finance.id))).all()}
    assert roles == {"finanzas": True, "gestor_entidad": True}
    await client.submit(f"/entidad/usuarios/{finance.id}/desactivar")
    async with db.transaction(TenantContext.system()) as s:
        rows = (await s.scalars(select(Membership).where(Membership.user_id == finance.id))).all()
        user = await s.get(User, finance.id)
    assert {m.role for m in rows} == {"finanzas", "gestor_entidad"} and not any(m.is_active for m in rows)
    assert user is not None  # the person and their trail remain
    # The last manager cannot remove themself.
    manager = tenant.users["gestor_entidad"]
    response = await client.submit(f"/entidad/usuarios/{manager.id}/roles", {"roles": "finanzas"})
    page = await client.get(response.headers["location"])
    assert "Traspasar la gestión" in page.text
    async with db.transaction(TenantContext.system()) as s:
        assert (await s.scalars(select(Membership.is_active).where(
            Membership.user_id == manager.id, Membership.role == "gestor_entidad"))).one()


async def test_the_manager_hands_over_with_a_designation_document(client, db, tenants):
    tenant = await _manager(client, tenants)
    finance = tenant.users["finanzas"]
    refused = await client.http.post("/entidad/traspaso", data={"_csrf_token": await client.csrf(),
                                                                "usuario": str(finance.id)},
                                     files={"documento": ("x.pdf", b"no es un pdf", "application/pdf")})
    assert refused.headers["location"] == "/entidad/traspaso"
    response = await client.http.post("/entidad/traspaso",
                                      data={"_csrf_token": await client.csrf(), "usuario": str(finance.id),
                                            "cargo": "Jefa de finanzas"},
                                      files={"documento": ("designa.pdf", designation_pdf(), "application/pdf")})
    assert response.status_code in (302, 303) and response.headers["location"] == "/ingresar"
    async with db.transaction(TenantContext.system()) as s:
        managers = {m.user_id: m.is_active for m in (await s.scalars(select(Membership).where(
            Membership.entity_id == tenant.entity.id, Membership.role == "gestor_entidad"))).all()}
        change = (await s.scalars(select(ProfileChangeRequest)
                                  .where(ProfileChangeRequest.entity_id == tenant.entity.id))).one()
    assert managers == {tenant.users["gestor_entidad"].id: False, finance.id: True}
    assert (change.state, change.representative_name, change.representative_position) == (
        "pendiente", finance.full_name, "Jefa de finanzas")
    assert change.document_id is not None
    # The former manager's session ended with the role.
    assert (await client.get("/entidad/usuarios")).status_code in (302, 303, 401)


async def test_profile_changes_are_approved_by_the_sgp_and_versioned(client, db, settings, tenants):
    from app.tenants.onboarding import profile_at
    from app.tenants.onboarding_models import EntityProfileVersion

    tenant = await _manager(client, tenants)
    old_name = tenant.entity.name
    before_change = datetime.now(UTC)
    response = await client.http.post("/entidad/perfil/cambios", data={
        "_csrf_token": await client.csrf(), "name": "Nueva Razón Social S.A.", "short_name": "NRS",
        "address": "Av. Nueva 456", "ubigeo": "150102", "representative_name": "Luis Soto",
        "representative_dni": "", "representative_position": "Gerente general",
        "justification": "Cambio de denominación inscrito en SUNARP."})
    assert response.status_code == 422 and "adjunte el documento" in response.text.lower()
    response = await client.http.post("/entidad/perfil/cambios", data={
        "_csrf_token": await client.csrf(), "name": "Nueva Razón Social S.A.", "short_name": "NRS",
        "address": "Av. Nueva 456", "ubigeo": "150102", "representative_name": "Luis Soto",
        "representative_position": "Gerente general", "justification": "Cambio de denominación inscrito en SUNARP."},
        files={"documento": ("sustento.pdf", designation_pdf(), "application/pdf")})
    assert response.status_code in (302, 303)
    async with db.transaction(TenantContext.system()) as s:
        change = (await s.scalars(select(ProfileChangeRequest)
                                  .where(ProfileChangeRequest.entity_id == tenant.entity.id))).one()

    await _logout(client)
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=hash_password(MANAGER_PASSWORD))
    await client.login(sgp.users["supervisor_sgp"].email, MANAGER_PASSWORD)
    queue = await client.get("/sgp/cambios-entidad")
    assert "Nueva Razón Social S.A." in queue.text
    assert (await client.get(f"/sgp/cambios-entidad/{change.id}/documento")).content.startswith(b"%PDF-")
    await client.submit(f"/sgp/cambios-entidad/{change.id}/aprobar", {"motivo": "Conforme"})
    async with db.transaction(TenantContext.system()) as s:
        versions = (await s.scalars(select(EntityProfileVersion).where(
            EntityProfileVersion.entity_id == tenant.entity.id).order_by(EntityProfileVersion.version))).all()
        then = await profile_at(s, tenant.entity.id, before_change)
        now = await profile_at(s, tenant.entity.id, datetime.now(UTC))
        decided = await s.get(ProfileChangeRequest, change.id)
    assert [(v.version, v.name) for v in versions] == [(1, old_name), (2, "Nueva Razón Social S.A.")]
    assert then.name == old_name and now.name == "Nueva Razón Social S.A."
    assert now.representative_name == "Luis Soto" and now.ubigeo == "150102"
    assert decided.state == "aprobada" and decided.version_id == now.id
    assert re.search("Aprobada", (await client.get("/sgp/cambios-entidad")).text)
    manager_email = tenant.users["gestor_entidad"].email
    mails = await mails_to(db, settings, manager_email, until=lambda ms: any("aprobó" in str(m["Subject"]) for m in ms))
    assert any("La SGP aprobó el cambio de datos" in str(m["Subject"]) for m in mails)


async def test_a_profile_change_is_rejected_only_with_a_reason_and_changes_nothing(client, db, tenants):
    tenant = await _manager(client, tenants)
    await client.http.post("/entidad/perfil/cambios", data={
        "_csrf_token": await client.csrf(), "name": "Otra Razón Social", "short_name": "ORS",
        "justification": "Prueba de rechazo."})
    async with db.transaction(TenantContext.system()) as s:
        change = (await s.scalars(select(ProfileChangeRequest)
                                  .where(ProfileChangeRequest.entity_id == tenant.entity.id))).one()
    again = await client.http.post("/entidad/perfil/cambios", data={
        "_csrf_token": await client.csrf(), "name": "Tercera", "short_name": "T", "justification": "Otra."})
    assert again.status_code == 422 and "pendiente" in again.text
    await _logout(client)
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=hash_password(MANAGER_PASSWORD))
    await client.login(sgp.users["supervisor_sgp"].email, MANAGER_PASSWORD)
    await client.submit(f"/sgp/cambios-entidad/{change.id}/rechazar", {"motivo": ""})
    async with db.transaction(TenantContext.system()) as s:
        assert (await s.get(ProfileChangeRequest, change.id)).state == "pendiente"
    await client.submit(f"/sgp/cambios-entidad/{change.id}/rechazar", {"motivo": "Sin partida registral."})
    async with db.transaction(TenantContext.system()) as s:
        decided = await s.get(ProfileChangeRequest, change.id)
        entity = await s.get(Entity, tenant.entity.id)
    assert (decided.state, decided.decision_reason) == ("rechazada", "Sin partida registral.")
    assert entity.name == tenant.entity.name
