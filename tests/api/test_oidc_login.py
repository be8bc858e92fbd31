"""Signing in with ID GOB.PE: a real OpenID provider (node-oidc-provider) proves who the person is; the platform
decides what they may do. Every way the callback can be abused is refused, and every outcome is audited."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from app.audit_models import AuditEntry
from app.db import TenantContext
from app.tenants.models import Membership, User
from tests.factories import valid_dni

NO_ACCOUNT = "Su identidad fue verificada, pero no tiene una cuenta en la Plataforma MAC."


async def _give_dni(db, user_id) -> str:  # noqa: ANN001
    dni = valid_dni()
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(User, user_id)).dni = dni
    return dni


async def _audit_actions(db, **after) -> list[str]:  # noqa: ANN001, ANN003
    async with db.transaction(TenantContext.system()) as s:
        entries = (await s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(50))).all()
    return [e.action for e in entries if all((e.after or {}).get(k) == v for k, v in after.items())]


async def _is_signed_in(client) -> bool:  # noqa: ANN001
    return (await client.get("/")).status_code == 200


async def test_a_person_whose_dni_matches_signs_in_and_sees_the_authentication_level(client, tenants, db,
                                                                                    oidc_provider):
    t = await tenants.create(roles=("gestor_entidad",))
    user = t.users["gestor_entidad"]
    dni = await _give_dni(db, user.id)
    account = await oidc_provider.add_account(doc=f"DNI:{dni}", acr="nivel-3")

    response = await oidc_provider.sign_in(client, account)

    assert response.status_code in (302, 303) and response.headers["location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200
    assert t.entity.name in home.text and "Gestor(a) de entidad" in home.text
    assert "Nivel de autenticación: nivel-3" in home.text
    async with db.transaction(TenantContext.system()) as s:
        linked = await s.get(User, user.id)
    assert linked.oidc_subject == account  # linked once: next time by subject
    assert "ingreso" in await _audit_actions(db, metodo="oidc", acr="nivel-3")


async def test_a_plain_dni_in_doc_works_too_and_the_linked_subject_signs_in_again(client, tenants, db, oidc_provider):
    t = await tenants.create(roles=("finanzas",))
    dni = await _give_dni(db, t.users["finanzas"].id)
    account = await oidc_provider.add_account(doc=dni, acr="nivel-2")
    assert (await oidc_provider.sign_in(client, account)).headers["location"] == "/"
    await client.submit("/salir")
    assert not await _is_signed_in(client)
    # The DNI is gone from the account now: the subject linked the first time is enough.
    async with db.transaction(TenantContext.system()) as s:
        (await s.get(User, t.users["finanzas"].id)).dni = None
    assert (await oidc_provider.sign_in(client, account)).headers["location"] == "/"
    assert await _is_signed_in(client)


async def test_the_page_asked_for_before_signing_in_is_where_the_person_lands(client, tenants, db, oidc_provider):
    t = await tenants.create(roles=("gestor_entidad",))
    dni = await _give_dni(db, t.users["gestor_entidad"].id)
    account = await oidc_provider.add_account(doc=f"DNI:{dni}")
    response = await oidc_provider.sign_in(client, account, siguiente="/centros")
    assert response.headers["location"] == "/centros"
    assert (await client.get("/centros")).status_code == 200


async def test_the_ruc_claim_selects_the_membership_in_that_entity(client, tenants, db, oidc_provider):
    first = await tenants.create(roles=("gestor_entidad",))
    second = await tenants.create(roles=("finanzas",))
    user = first.users["gestor_entidad"]
    async with db.transaction(TenantContext.system()) as s:
        s.add(Membership(user_id=user.id, entity_id=second.entity.id, role="finanzas"))
    dni = await _give_dni(db, user.id)

    # Without a RUC the person has two memberships and must choose.
    plain = await oidc_provider.add_account(doc=f"DNI:{dni}")
    assert (await oidc_provider.sign_in(client, plain)).headers["location"] == "/cambiar-entidad"
    await client.submit("/salir")

    # Acting for the second entity (its RUC in the token): straight into that membership.
    acting = await oidc_provider.add_account(doc=f"DNI:{dni}", ruc=second.entity.ruc)
    async with db.transaction(TenantContext.system()) as s:  # the first sign-in linked the other subject
        (await s.get(User, user.id)).oidc_subject = None
    response = await oidc_provider.sign_in(client, acting)
    assert response.headers["location"] == "/"
    home = await client.get("/")
    assert second.entity.name in home.text and "Finanzas" in home.text
    assert first.entity.name not in home.text


async def test_an_unknown_person_gets_a_clear_message_and_no_session(client, oidc_provider, db):
    account = await oidc_provider.add_account(doc=f"DNI:{valid_dni()}")
    response = await oidc_provider.sign_in(client, account)
    assert response.status_code == 403
    assert NO_ACCOUNT in response.text and "Pida a su entidad una invitación." in response.text
    assert not await _is_signed_in(client)
    assert (await client.get("/centros")).headers["location"].startswith("/ingresar")
    assert "ingreso_sin_cuenta" in await _audit_actions(db, sujeto=account)


async def test_a_foreigners_card_is_not_matched_to_a_dni(client, tenants, db, oidc_provider):
    t = await tenants.create(roles=("gestor_entidad",))
    dni = await _give_dni(db, t.users["gestor_entidad"].id)
    account = await oidc_provider.add_account(doc=f"CE:{dni}")
    response = await oidc_provider.sign_in(client, account)
    assert response.status_code == 403 and NO_ACCOUNT in response.text


async def test_a_forged_state_is_refused(client, tenants, db, oidc_provider):
    t = await tenants.create(roles=("gestor_entidad",))
    dni = await _give_dni(db, t.users["gestor_entidad"].id)
    account = await oidc_provider.add_account(doc=f"DNI:{dni}")
    start = await client.get("/ingresar/oidc")
    callback = await oidc_provider.authorize(start.headers["location"], account)
    query = parse_qs(urlsplit(callback).query)
    forged = await client.get("/ingresar/oidc/retorno", params={"code": query["code"][0], "state": "inventado"})
    assert forged.status_code == 400
    assert "La solicitud de ingreso no es válida o ya venció." in forged.text
    assert not await _is_signed_in(client)
    assert "ingreso_fallido" in await _audit_actions(db, motivo="estado_invalido")


async def test_a_state_started_in_another_browser_is_refused(client, app, tenants, db, oidc_provider):
    """Login CSRF: an attacker's callback link (their code, their state) must not sign the victim in."""
    import httpx

    from tests.conftest import WebClient

    t = await tenants.create(roles=("gestor_entidad",))
    dni = await _give_dni(db, t.users["gestor_entidad"].id)
    account = await oidc_provider.add_account(doc=f"DNI:{dni}")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as other:
        attacker = WebClient(other)
        start = await attacker.get("/ingresar/oidc")
        callback = await oidc_provider.authorize(start.headers["location"], account)
    parts = urlsplit(callback)
    response = await client.get(f"{parts.path}?{parts.query}")  # the victim's browser follows the link
    assert response.status_code == 400
    assert not await _is_signed_in(client)


async def test_a_callback_cannot_be_replayed(client, tenants, db, oidc_provider):
    t = await tenants.create(roles=("gestor_entidad",))
    dni = await _give_dni(db, t.users["gestor_entidad"].id)
    account = await oidc_provider.add_account(doc=f"DNI:{dni}")
    start = await client.get("/ingresar/oidc")
    callback = urlsplit(await oidc_provider.authorize(start.headers["location"], account))
    first = await client.get(f"{callback.path}?{callback.query}")
    assert first.headers["location"] == "/"
    await client.submit("/salir")
    again = await client.get(f"{callback.path}?{callback.query}")
    assert again.status_code == 400
    assert not await _is_signed_in(client)


async def test_a_code_cannot_be_redeemed_under_another_attempts_state(client, tenants, db, oidc_provider):
    """PKCE binds the code to the attempt that asked for it: swapping states makes the provider refuse it."""
    t = await tenants.create(roles=("gestor_entidad",))
    dni = await _give_dni(db, t.users["gestor_entidad"].id)
    account = await oidc_provider.add_account(doc=f"DNI:{dni}")
    first = await client.get("/ingresar/oidc")
    second = await client.get("/ingresar/oidc")
    first_state = parse_qs(urlsplit(first.headers["location"]).query)["state"][0]
    callback = parse_qs(urlsplit(await oidc_provider.authorize(second.headers["location"], account)).query)
    swapped = await client.get("/ingresar/oidc/retorno", params={"code": callback["code"][0], "state": first_state})
    assert swapped.status_code == 400
    assert "no aceptó la autorización" in swapped.text
    assert not await _is_signed_in(client)
    assert "ingreso_fallido" in await _audit_actions(db, motivo="codigo_rechazado")


async def test_the_authorization_request_uses_pkce_s256_state_and_nonce(client, oidc_provider, settings):
    start = await client.get("/ingresar/oidc")
    assert start.status_code in (302, 303)
    url = urlsplit(start.headers["location"])
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}" == oidc_provider.issuer
    assert params["response_type"] == "code" and params["client_id"] == oidc_provider.client_id
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert params["redirect_uri"] == oidc_provider.callback_url
    assert set(params["scope"].split()) == set(settings.oidc_scopes.split())


async def test_a_person_who_cancels_at_the_provider_is_told_so(client, oidc_provider, db):
    response = await oidc_provider.sign_in(client, None, cancel=True)
    assert response.status_code == 400
    assert "Se canceló el ingreso con ID GOB.PE." in response.text
    assert not await _is_signed_in(client)
    assert "ingreso_fallido" in await _audit_actions(db, motivo="access_denied")


async def test_without_configuration_the_oidc_entry_is_not_offered(client, settings, monkeypatch):
    monkeypatch.setattr(settings, "oidc_issuer", None)
    response = await client.get("/ingresar/oidc")
    assert response.status_code == 404
    assert "no está habilitado" in response.text
    assert "/ingresar/oidc" not in (await client.get("/ingresar")).text


async def test_keys_rotated_at_the_provider_are_fetched_again(client, tenants, db, oidc_provider):
    """A cached JWKS that no longer holds the provider's key (it rotated) is refreshed once, not trusted blindly
    and not treated as an attack."""
    from joserfc.jwk import KeySet, RSAKey

    from app.auth import oidc

    t = await tenants.create(roles=("gestor_entidad",))
    dni = await _give_dni(db, t.users["gestor_entidad"].id)
    account = await oidc_provider.add_account(doc=f"DNI:{dni}")
    metadata = await oidc.provider_metadata()
    old_key = RSAKey.generate_key(2048, parameters={"kid": "clave-retirada"}, private=True)
    await oidc.provider_jwks(metadata["jwks_uri"])
    expires, _ = oidc._cache[f"jwks:{metadata['jwks_uri']}"]
    oidc._cache[f"jwks:{metadata['jwks_uri']}"] = (expires, KeySet([old_key]).as_dict(private=False))
    response = await oidc_provider.sign_in(client, account)
    assert response.headers["location"] == "/"
    assert "clave-retirada" not in str(oidc._cache[f"jwks:{metadata['jwks_uri']}"][1])
