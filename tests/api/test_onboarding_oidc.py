"""Registration through ID GOB.PE (OpenID Connect): the verified identity pre-fills the form (DNI, name, e-mail,
and the RUC when the provider asserts it), the DNI cannot be changed, and the approved manager signs in with
ID GOB.PE. Runs against a real node-oidc-provider that knows both redirect URIs (sign-in and registration)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.tenants.models import User
from app.tenants.onboarding_routes import OIDC_CALLBACK_PATH
from tests.factories import valid_dni, valid_ruc
from tests.oidc_fixture import OidcTestProvider, running_provider
from tests.onboarding_support import confirm_email, designation_pdf, last_link, request_by_ruc

SGP_PASSWORD = "Supervisor-OIDC-2026"


@pytest.fixture(scope="module")
def registration_provider(settings):
    """node-oidc-provider registering both callbacks; the app's settings point at it for this module."""
    from app.auth import oidc

    client_id = "plataforma-mac-registro"
    base = settings.base_url.rstrip("/")
    callbacks = {"registro": base + OIDC_CALLBACK_PATH, "ingreso": base + oidc.CALLBACK_PATH}
    with running_provider(settings, client_id=client_id, redirect_uris=list(callbacks.values())) as (issuer, secret):
        yield {name: OidcTestProvider(issuer=issuer, client_id=client_id, client_secret=secret, callback_url=url)
               for name, url in callbacks.items()}


async def _verify(client, provider: OidcTestProvider, account: str):  # noqa: ANN001, ANN202
    start = await client.get("/registro/oidc")
    assert start.status_code in (302, 303), start.text
    callback = await provider.authorize(start.headers["location"], account)
    back = await client.get(callback.split("127.0.0.1:8000", 1)[1])
    assert back.status_code in (302, 303) and back.headers["location"] == "/registro", back.text
    return await client.get("/registro")


async def test_the_verified_identity_prefills_the_form_and_the_manager_signs_in_with_it(
        client, db, settings, tenants, registration_provider):
    dni, ruc = valid_dni(), valid_ruc()
    email = f"oidc.{uuid.uuid4().hex[:8]}@entidad.gob.pe"
    provider = registration_provider["registro"]
    account = await provider.add_account(doc=f"DNI:{dni}", ruc=ruc, name="Lucía Paredes", email=email)
    form = await _verify(client, provider, account)
    assert "Identidad verificada con ID GOB.PE" in form.text
    for value in (dni, ruc, "Lucía Paredes", email):
        assert f'value="{value}"' in form.text

    # The DNI is the provider's even if the browser sends another one; no password is needed.
    data = {"ruc": ruc, "entity_name": "Empresa Verificada S.A.C.", "short_name": "EVSAC", "kind": "privada",
            "level": "", "address": "Calle 1", "ubigeo": "150101", "applicant_dni": valid_dni(),
            "applicant_name": "Lucía Paredes", "applicant_position": "Gerente general", "applicant_email": email}
    sent = await client.http.post("/registro", data={"_csrf_token": await client.csrf(), **data},
                                  files={"documento": ("carta.pdf", designation_pdf(), "application/pdf")})
    assert sent.status_code == 200, sent.text
    request = await request_by_ruc(db, ruc)
    assert request.applicant_dni == dni and request.oidc_subject == account and request.password_hash is None

    await confirm_email(client, await last_link(db, settings, email, "/registro/solicitud/"))
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=hash_password(SGP_PASSWORD))
    await client.login(sgp.users["supervisor_sgp"].email, SGP_PASSWORD)
    await client.submit(f"/sgp/registros/{request.id}/revisar")
    await client.submit(f"/sgp/registros/{request.id}/aprobar")
    async with db.transaction(TenantContext.system()) as s:
        user = (await s.scalars(select(User).where(User.email == email))).one()
    assert (user.dni, user.oidc_subject, user.password_hash) == (dni, account, None)

    await client.post("/salir", headers={"x-csrftoken": await client.csrf()})
    response = await registration_provider["ingreso"].sign_in(client, account)
    assert response.status_code in (302, 303) and response.headers["location"] == "/"
    assert "Empresa Verificada S.A.C." in (await client.get("/")).text


async def test_a_callback_without_this_browsers_attempt_is_refused(client, registration_provider):
    page = await client.get(f"{OIDC_CALLBACK_PATH}?code=abc&state=otro")
    assert page.status_code == 400 and "no es válida o venció" in page.text


async def test_an_invitation_is_accepted_with_id_gob_pe_and_the_person_signs_in_with_it(
        client, db, settings, tenants, registration_provider):
    manager = await tenants.create(password_hash=hash_password(SGP_PASSWORD))
    email, dni = f"invitada.oidc.{uuid.uuid4().hex[:8]}@entidad.gob.pe", valid_dni()
    await client.login(manager.users["gestor_entidad"].email, SGP_PASSWORD)
    await client.submit("/entidad/invitaciones", {"email": email, "role": "finanzas"})
    link = await last_link(db, settings, email, "/invitacion/")
    await client.post("/salir", headers={"x-csrftoken": await client.csrf()})

    account = await registration_provider["registro"].add_account(doc=f"DNI:{dni}", name="Elena Vargas")
    page = await client.get(link)
    assert f'href="{link}/oidc"' in page.text
    start = await client.get(f"{link}/oidc")
    callback = await registration_provider["registro"].authorize(start.headers["location"], account)
    accepted = await client.get(callback.split("127.0.0.1:8000", 1)[1])
    assert accepted.status_code in (302, 303) and accepted.headers["location"] == "/ingresar", accepted.text
    async with db.transaction(TenantContext.system()) as s:
        user = (await s.scalars(select(User).where(User.email == email))).one()
    assert (user.full_name, user.dni, user.oidc_subject, user.password_hash) == ("Elena Vargas", dni, account, None)
    assert "ya fue usada" in (await client.get(link)).text

    response = await registration_provider["ingreso"].sign_in(client, account)
    assert response.status_code in (302, 303) and response.headers["location"] == "/"
    assert "Finanzas" in (await client.get("/")).text
