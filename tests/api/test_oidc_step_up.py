"""Signing in the platform after signing in with ID GOB.PE: the person confirms who they are at the provider
again (step-up, ``prompt=login`` + ``max_age=0``) instead of typing a password they may not have. The proof is
for that person only, lasts five minutes and serves one signature; a different person at the provider is refused
and the session stays as it was. Against the real provider (node-oidc-provider)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.adhesion import services
from app.adhesion.models import AdhesionEvent
from app.audit_models import AuditEntry
from app.auth.reauth import REAUTH_WINDOW_SECONDS, Reauthentication
from app.db import TenantContext
from app.errors import Forbidden
from app.tenants.models import User
from tests.adhesion_world import world  # noqa: F401
from tests.factories import valid_dni

OTHER_PERSON = "no es la que tiene la sesión abierta"
CONFIRM_FIRST = "Confirme su identidad con ID GOB.PE antes de firmar"


async def _oidc_manager(world, db, oidc_provider, client, *, acr: str = "nivel-3"):  # noqa: ANN001, ANN202, F811
    """The participant's manager, signed in with ID GOB.PE, and a draft adhesion of theirs."""
    user = world.participant.users["gestor_entidad"]
    dni = valid_dni()
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(User, user.id)).dni = dni
    account = await oidc_provider.add_account(doc=f"DNI:{dni}", acr=acr)
    assert (await oidc_provider.sign_in(client, account)).status_code in (302, 303)
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    return account, adhesion_id


async def _sign(client, adhesion_id):  # noqa: ANN001, ANN202
    return await client.submit(f"/adhesiones/{adhesion_id}/firmar", {"metodo": "oidc", "confirmo": "si"})


async def _state(world, adhesion_id) -> str:  # noqa: ANN001, F811
    return (await services.get_adhesion(world.gestor, adhesion_id)).adhesion.state


async def test_a_manager_signed_in_with_id_gob_pe_confirms_there_and_signs(client, world, db,  # noqa: F811
                                                                           oidc_provider):
    account, adhesion_id = await _oidc_manager(world, db, oidc_provider, client, acr="nivel-3")
    page = await client.get(f"/adhesiones/{adhesion_id}/firmar")
    assert "Confirmar con ID GOB.PE" in page.text

    # The request asks the provider to authenticate again, with PKCE, state and nonce as for the sign-in.
    start = await client.get("/ingresar/oidc/reautenticar", params={"siguiente": f"/adhesiones/{adhesion_id}/firmar"})
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    assert query["code_challenge_method"] == ["S256"] and query["state"] and query["nonce"]

    back = await oidc_provider.reauthenticate(client, account, siguiente=f"/adhesiones/{adhesion_id}/firmar")
    assert back.status_code in (302, 303) and back.headers["location"] == f"/adhesiones/{adhesion_id}/firmar"
    page = await client.get(f"/adhesiones/{adhesion_id}/firmar")
    assert "Su identidad fue confirmada con ID GOB.PE" in page.text and "nivel-3" in page.text

    signed = await _sign(client, adhesion_id)
    assert signed.status_code in (302, 303), signed.text
    assert await _state(world, adhesion_id) == "presentada"
    async with db.transaction(TenantContext.system()) as s:
        event = (await s.scalars(select(AdhesionEvent).where(AdhesionEvent.adhesion_id == adhesion_id,
                                                             AdhesionEvent.to_state == "presentada"))).one()
        audit_actions = (await s.scalars(select(AuditEntry.action).where(
            AuditEntry.record_id == str(world.participant.users["gestor_entidad"].id)))).all()
    assert (event.auth_method, event.acr) == ("oidc", "nivel-3")
    assert (event.details["autenticacion"], event.details["acr"]) == ("oidc", "nivel-3")
    assert "reautenticacion" in audit_actions


async def test_without_a_confirmation_the_signature_is_refused(client, world, db, oidc_provider):  # noqa: F811
    _account, adhesion_id = await _oidc_manager(world, db, oidc_provider, client)
    refused = await _sign(client, adhesion_id)
    assert refused.status_code == 403 and CONFIRM_FIRST in refused.text
    assert await _state(world, adhesion_id) == "borrador"


async def test_a_stale_or_someone_elses_proof_is_refused_by_the_service(world):  # noqa: F811
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    me = world.gestor.actor.user_id
    stale = Reauthentication(user_id=me, method="oidc", acr="nivel-2", at=time.time() - REAUTH_WINDOW_SECONDS - 1)
    with pytest.raises(Forbidden, match="venció"):
        await services.sign_in_platform(world.gestor, adhesion_id, reauthentication=stale)
    not_mine = Reauthentication(user_id=uuid.uuid4(), method="oidc", acr="nivel-2", at=time.time())
    with pytest.raises(Forbidden, match="no le corresponde"):
        await services.sign_in_platform(world.gestor, adhesion_id, reauthentication=not_mine)
    assert await _state(world, adhesion_id) == "borrador"
    fresh = Reauthentication(user_id=me, method="oidc", acr="nivel-2", at=time.time() - 10)
    assert await services.sign_in_platform(world.gestor, adhesion_id, reauthentication=fresh) == "presentada"


async def test_another_person_at_the_provider_is_refused_and_the_session_is_unchanged(client, world, db,  # noqa: F811
                                                                                       oidc_provider):
    _account, adhesion_id = await _oidc_manager(world, db, oidc_provider, client)
    stranger = await oidc_provider.add_account(doc=f"DNI:{valid_dni()}", acr="nivel-1")
    before = await client.get("/")
    assert "Nivel de autenticación: nivel-3" in before.text

    refused = await oidc_provider.reauthenticate(client, stranger, siguiente=f"/adhesiones/{adhesion_id}/firmar")

    assert refused.status_code == 403 and OTHER_PERSON in refused.text
    after = await client.get("/")
    assert after.status_code == 200 and world.participant.entity.name in after.text
    assert "Nivel de autenticación: nivel-3" in after.text and "nivel-1" not in after.text
    page = await client.get(f"/adhesiones/{adhesion_id}/firmar")
    assert "Su identidad fue confirmada" not in page.text and "Confirmar con ID GOB.PE" in page.text
    assert (await _sign(client, adhesion_id)).status_code == 403
    assert await _state(world, adhesion_id) == "borrador"
    async with db.transaction(TenantContext.system()) as s:
        reasons = [(e.after or {}).get("motivo") for e in (await s.scalars(select(AuditEntry).where(
            AuditEntry.action == "reautenticacion_rechazada",
            AuditEntry.record_id == str(world.participant.users["gestor_entidad"].id)))).all()]
    assert reasons == ["otra_persona"]


async def test_one_confirmation_serves_a_single_signature(client, world, db, oidc_provider):  # noqa: F811
    account, adhesion_id = await _oidc_manager(world, db, oidc_provider, client)
    await oidc_provider.reauthenticate(client, account, siguiente=f"/adhesiones/{adhesion_id}/firmar")
    assert (await _sign(client, adhesion_id)).status_code in (302, 303)
    # The coordinator observes it; the manager corrects nothing and must sign again: the proof is gone.
    await services.transition(world.coordinador, adhesion_id, "evaluar")
    await services.transition(world.coordinador, adhesion_id, "observar", reason="Precise el área")
    again = await _sign(client, adhesion_id)
    assert again.status_code == 403 and CONFIRM_FIRST in again.text
    assert await _state(world, adhesion_id) == "observada"


async def test_a_person_who_signed_in_with_a_password_is_not_offered_the_step_up(client, world, oidc_provider):  # noqa: F811
    from tests.adhesion_world import PASSWORD

    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    await client.login(world.participant.users["gestor_entidad"].email, PASSWORD)
    page = await client.get(f"/adhesiones/{adhesion_id}/firmar")
    assert page.status_code == 200 and "Confirmar con ID GOB.PE" not in page.text
    assert (await client.get("/ingresar/oidc/reautenticar", params={"siguiente": "/"})).status_code == 403
