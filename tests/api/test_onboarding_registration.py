"""Public registration of an entity: every refusal, the e-mail confirmation, the SGP's review and approval."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.tenants.models import Entity, Membership, User
from app.tenants.onboarding_models import EntityProfileVersion, RegistrationEvent
from tests.onboarding_support import (
    PASSWORD,
    confirm_email,
    designation_pdf,
    last_link,
    mails_to,
    registration_form,
    request_by_ruc,
    submit_registration,
)

SGP_PASSWORD = "Supervisor-SGP-2026"


def visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_an_invalid_ruc_or_dni_is_refused_in_spanish_and_nothing_is_filed(client, db):
    form = registration_form(ruc="20131370646", applicant_dni="1234567")
    response = await submit_registration(client, form)
    assert response.status_code == 422
    text = visible_text(response.text)
    assert "El RUC debe tener 11 dígitos y un dígito verificador válido." in text
    assert "El DNI debe tener 8 dígitos" in text
    assert await request_by_ruc(db, "20131370646") is None


async def test_a_dni_with_a_wrong_cui_check_digit_is_refused(client):
    response = await submit_registration(client, registration_form(applicant_dni="123456789"))
    assert response.status_code == 422
    assert "El DNI debe tener 8 dígitos" in response.text


async def test_a_file_that_is_not_a_pdf_is_refused_even_when_it_claims_to_be_one(client, db):
    form = registration_form()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    response = await submit_registration(client, form, document=png, filename="designacion.pdf")
    assert response.status_code == 422
    assert "El documento debe ser un archivo PDF." in response.text
    # A PDF's bytes sent as another type are refused too.
    response = await submit_registration(client, form, document=designation_pdf(), filename="d.txt",
                                         content_type="text/plain")
    assert response.status_code == 422
    assert "El documento debe ser un archivo PDF." in response.text
    assert await request_by_ruc(db, form["ruc"]) is None


async def test_an_oversize_document_is_refused_with_the_limit_in_spanish(client, db):
    form = registration_form()
    big = b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024 + 10)
    response = await submit_registration(client, form, document=big)
    assert response.status_code == 422
    assert "el máximo permitido es 5 MB" in response.text
    assert await request_by_ruc(db, form["ruc"]) is None


async def test_a_missing_document_and_mismatched_passwords_are_refused(client):
    form = registration_form(confirmacion="Otra-clave-2026")
    response = await client.http.post("/registro", data={"_csrf_token": await client.csrf(), **form})
    assert response.status_code == 422
    assert "Adjunte el documento de designación" in response.text
    assert "Las contraseñas no coinciden." in response.text


async def test_the_form_answers_the_same_for_a_registered_ruc_and_a_new_one(client, tenants):
    existing = await tenants.create()
    fresh = await submit_registration(client, registration_form(applicant_email="misma@correo.gob.pe"))
    taken = await submit_registration(client, registration_form(ruc=existing.entity.ruc,
                                                                applicant_email="misma@correo.gob.pe"))
    assert fresh.status_code == taken.status_code == 200

    def without_ticket(html: str) -> str:
        return re.sub(r"ficha=[^\"]+", "ficha=", html)

    assert without_ticket(fresh.text) == without_ticket(taken.text)


async def test_a_registered_ruc_is_refused_after_confirming_with_whom_to_contact_and_no_account_details(
        client, db, settings, tenants):
    existing = await tenants.create()
    gestor_email = existing.users["gestor_entidad"].email
    form = registration_form(ruc=existing.entity.ruc)
    assert (await submit_registration(client, form)).status_code == 200
    link = await last_link(db, settings, form["applicant_email"], "/registro/solicitud/")
    page = await confirm_email(client, link)
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "su RUC ya está registrado en la Plataforma MAC" in text
    assert "comuníquese con el gestor o la gestora de su entidad" in text
    assert "mesa de ayuda de la Secretaría de Gestión Pública" in text
    assert gestor_email not in page.text and existing.users["gestor_entidad"].full_name not in page.text
    assert (await request_by_ruc(db, form["ruc"])).state == "rechazada"


async def test_a_second_request_for_a_ruc_in_process_is_refused_when_confirmed(client, db, settings):
    first = registration_form()
    second = registration_form(ruc=first["ruc"])
    await submit_registration(client, first)
    await submit_registration(client, second)
    assert "enviada" in (await confirm_email(client, await last_link(db, settings, first["applicant_email"],
                                                                     "/registro/solicitud/"))).text
    page = await confirm_email(client, await last_link(db, settings, second["applicant_email"],
                                                       "/registro/solicitud/"))
    assert "ya hay otra solicitud en trámite para este RUC" in page.text


async def test_an_unknown_link_gives_a_clear_page(client):
    page = await client.get("/registro/solicitud/" + "x" * 43)
    assert page.status_code == 404
    assert "El enlace no es válido" in page.text


async def _sgp(client, tenants):  # noqa: ANN001, ANN202
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=hash_password(SGP_PASSWORD))
    response = await client.login(sgp.users["supervisor_sgp"].email, SGP_PASSWORD)
    assert response.status_code in (302, 303)
    return sgp


async def test_from_registration_to_an_approved_entity_with_one_observation_round(client, db, settings, tenants,
                                                                                   app):
    import httpx

    form = registration_form()
    email = form["applicant_email"]
    received = await submit_registration(client, form)
    assert received.status_code == 200 and email in received.text
    assert (await request_by_ruc(db, form["ruc"])).state == "pendiente_verificacion_correo"

    # The applicant confirms the e-mail through the link they received.
    link = await last_link(db, settings, email, "/registro/solicitud/")
    page = await confirm_email(client, link)
    assert "Su correo fue confirmado" in page.text and "Enviada" in page.text
    request = await request_by_ruc(db, form["ruc"])
    assert request.state == "enviada" and request.email_confirmed_at is not None

    # The SGP sees it in its queue, with its document, starts the review and observes it.
    await _sgp(client, tenants)
    queue = await client.get("/sgp/registros")
    assert form["entity_name"] in queue.text
    detail = await client.get(f"/sgp/registros/{request.id}")
    doc_link = re.search(rf'/sgp/registros/{request.id}/documentos/[0-9a-f-]+', detail.text).group(0)
    pdf = await client.get(doc_link)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert (await client.submit(f"/sgp/registros/{request.id}/revisar")).status_code in (302, 303)
    refused = await client.submit(f"/sgp/registros/{request.id}/observar", {"motivo": ""})
    assert (await request_by_ruc(db, form["ruc"])).state == "en_revision", refused.text
    await client.submit(f"/sgp/registros/{request.id}/observar",
                        {"motivo": "La carta de designación no está firmada."})
    assert (await request_by_ruc(db, form["ruc"])).state == "observada"

    # The applicant (another browser, no session) reads the observation, corrects and resubmits.
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    from tests.conftest import WebClient

    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        applicant = WebClient(http)
        link = await last_link(db, settings, email, "/registro/solicitud/")
        follow = await applicant.get(link)
        assert "La carta de designación no está firmada." in follow.text
        corrected = {k: v for k, v in form.items() if k not in ("ruc", "applicant_email", "contrasena", "confirmacion")}
        corrected["applicant_position"] = "Alcaldesa"
        resent = await applicant.http.post(link, data={"_csrf_token": await applicant.csrf(), **corrected},
                                           files={"documento": ("firmada.pdf", designation_pdf("Firmada"),
                                                                "application/pdf")})
        assert resent.status_code == 200, resent.text
        assert "enviada nuevamente" in resent.text
    request = await request_by_ruc(db, form["ruc"])
    assert request.state == "enviada" and request.applicant_position == "Alcaldesa"

    # The SGP reviews again and approves: the entity, its manager and its first profile version exist.
    await client.submit(f"/sgp/registros/{request.id}/revisar")
    await client.submit(f"/sgp/registros/{request.id}/aprobar", {"motivo": "Conforme."})
    request = await request_by_ruc(db, form["ruc"])
    assert request.state == "aprobada" and request.entity_id is not None
    async with db.transaction(TenantContext.system()) as s:
        entity = await s.get(Entity, request.entity_id)
        user = (await s.scalars(select(User).where(User.email == email))).one()
        membership = (await s.scalars(select(Membership).where(Membership.user_id == user.id))).one()
        version = (await s.scalars(select(EntityProfileVersion)
                                   .where(EntityProfileVersion.entity_id == entity.id))).one()
        steps = [(e.from_state, e.to_state) for e in (await s.scalars(
            select(RegistrationEvent).where(RegistrationEvent.registration_id == request.id)
            .order_by(RegistrationEvent.occurred_at))).all()]
    assert entity.ruc == form["ruc"] and entity.kind == "publica" and entity.level == "local"
    assert (membership.role, membership.entity_id, membership.is_active) == ("gestor_entidad", entity.id, True)
    assert user.dni == form["applicant_dni"] and request.password_hash is None
    assert (version.version, version.representative_position, version.ubigeo) == (1, "Alcaldesa", "150101")
    assert version.document_id is not None
    assert steps == [(None, "pendiente_verificacion_correo"), ("pendiente_verificacion_correo", "enviada"),
                     ("enviada", "en_revision"), ("en_revision", "observada"), ("observada", "enviada"),
                     ("enviada", "en_revision"), ("en_revision", "aprobada")]
    subjects = [str(m["Subject"]) for m in await mails_to(
        db, settings, email, until=lambda ms: any("fue registrada" in str(m["Subject"]) for m in ms))]
    assert any("observaciones" in s for s in subjects) and any("fue registrada" in s for s in subjects), subjects

    # The new manager signs in with the password chosen on the form.
    await client.post("/salir", headers={"x-csrftoken": await client.csrf()})
    response = await client.login(email, PASSWORD)
    assert response.status_code in (302, 303) and response.headers["location"] == "/"
    assert (await client.get("/entidad/usuarios")).status_code == 200


async def test_approval_and_observation_are_refused_outside_their_state(client, db, settings, tenants):
    form = registration_form()
    await submit_registration(client, form)
    await confirm_email(client, await last_link(db, settings, form["applicant_email"], "/registro/solicitud/"))
    request = await request_by_ruc(db, form["ruc"])
    await _sgp(client, tenants)
    response = await client.submit(f"/sgp/registros/{request.id}/aprobar")
    assert response.status_code in (302, 303)
    page = await client.get(response.headers["location"])
    assert "no puede pasar a «Aprobada»" in page.text
    assert (await request_by_ruc(db, form["ruc"])).state == "enviada"


async def test_an_entity_manager_cannot_review_registrations(client, tenants):
    other = await tenants.create(password_hash=hash_password(SGP_PASSWORD))
    await client.login(other.users["gestor_entidad"].email, SGP_PASSWORD)
    assert (await client.get("/sgp/registros")).status_code == 403


async def test_registration_posts_are_rate_limited(settings):
    import httpx

    from app.main import create_app
    from tests.conftest import WebClient

    strict = create_app(settings.model_copy(update={"login_rate_limit_per_minute": 2}))
    transport = httpx.ASGITransport(app=strict, client=("127.0.0.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        c = WebClient(http)
        codes = [(await c.submit("/registro", {"ruc": "1"})).status_code for _ in range(4)]
    assert codes[:2] == [422, 422] and codes[-1] == 429


async def test_an_unconfirmed_link_expires_after_48_hours(client, db, settings):
    from datetime import timedelta

    from sqlalchemy import update

    from app.tenants.onboarding_models import RegistrationRequest

    form = registration_form()
    await submit_registration(client, form)
    link = await last_link(db, settings, form["applicant_email"], "/registro/solicitud/")
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(RegistrationRequest).where(RegistrationRequest.ruc == form["ruc"])
                        .values(created_at=RegistrationRequest.created_at - timedelta(hours=49)))
    page = await client.get(link)
    assert page.status_code == 404 and "venció sin que se confirmara el correo" in page.text
    assert (await request_by_ruc(db, form["ruc"])).state == "pendiente_verificacion_correo"


async def test_a_request_can_be_corrected_only_while_observed(client, db, settings):
    form = registration_form()
    await submit_registration(client, form)
    link = await last_link(db, settings, form["applicant_email"], "/registro/solicitud/")
    page = await confirm_email(client, link)
    assert "Corregir y enviar de nuevo" not in page.text
    corrected = {k: v for k, v in form.items() if k not in ("ruc", "applicant_email", "contrasena", "confirmacion")}
    response = await client.submit(link, corrected)
    assert response.status_code == 422
    assert "no puede pasar a «Enviada»" in response.text


async def test_a_decided_request_cannot_be_decided_again(client, db, settings, tenants):
    form = registration_form()
    await submit_registration(client, form)
    await confirm_email(client, await last_link(db, settings, form["applicant_email"], "/registro/solicitud/"))
    request = await request_by_ruc(db, form["ruc"])
    await _sgp(client, tenants)
    await client.submit(f"/sgp/registros/{request.id}/revisar")
    await client.submit(f"/sgp/registros/{request.id}/rechazar", {"motivo": "No es una entidad pública."})
    response = await client.submit(f"/sgp/registros/{request.id}/aprobar")
    page = await client.get(response.headers["location"])
    assert "«Rechazada» no puede pasar a «Aprobada»" in page.text
    assert (await request_by_ruc(db, form["ruc"])).state == "rechazada"


async def test_an_upload_beyond_the_request_limit_gets_a_spanish_page(client):
    huge = b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024)
    response = await submit_registration(client, document=huge)
    assert response.status_code == 413
    assert "supera el tamaño máximo permitido" in response.text


async def test_a_follow_up_link_reaches_only_its_own_documents(client, db, settings):
    from app.tenants.onboarding_models import OnboardingDocument

    mine, theirs = registration_form(), registration_form()
    await submit_registration(client, mine)
    await submit_registration(client, theirs, document=designation_pdf("Documento ajeno"))
    link = await last_link(db, settings, mine["applicant_email"], "/registro/solicitud/")
    other = await request_by_ruc(db, theirs["ruc"])
    async with db.transaction(TenantContext.system()) as s:
        their_document = (await s.scalars(select(OnboardingDocument.id)
                                          .where(OnboardingDocument.registration_id == other.id))).one()
    assert (await client.get(f"{link}/documentos/{their_document}")).status_code == 404
    page = await client.get(link)
    assert theirs["entity_name"] not in page.text


async def test_opening_the_confirmation_link_alone_confirms_nothing(client, db, settings):
    """A mail scanner that prefetches the link (GET, any number of times) neither confirms the e-mail nor sends
    the request to the SGP; the page asks for the «Confirmar mi correo» button, a POST with a CSRF token."""
    from app.worker.models import OutboxMessage

    form = registration_form()
    await submit_registration(client, form)
    link = await last_link(db, settings, form["applicant_email"], "/registro/solicitud/")
    for _ in range(2):
        page = await client.get(link)
        assert page.status_code == 200 and "Confirmar mi correo" in page.text
        assert f'action="{link}/confirmar"' in page.text
    request = await request_by_ruc(db, form["ruc"])
    assert request.state == "pendiente_verificacion_correo" and request.email_confirmed_at is None
    async with db.transaction(TenantContext.system()) as s:
        events = (await s.scalars(select(RegistrationEvent.to_state)
                                  .where(RegistrationEvent.registration_id == request.id))).all()
        notices = (await s.scalars(select(OutboxMessage.id).where(
            OutboxMessage.actor_name == "onboarding_notify_supervisors",
            OutboxMessage.message["args"][0].astext == str(request.id)))).all()
    assert events == ["pendiente_verificacion_correo"] and notices == []

    # A forged POST without the page's CSRF token confirms nothing either.
    forged = await client.http.post(f"{link}/confirmar", data={})
    assert forged.status_code == 403
    assert (await request_by_ruc(db, form["ruc"])).state == "pendiente_verificacion_correo"

    confirmed = await confirm_email(client, link)
    assert "Su correo fue confirmado" in confirmed.text and "Confirmar mi correo" not in confirmed.text
    assert (await request_by_ruc(db, form["ruc"])).state == "enviada"
    again = await client.get(link)
    assert "Confirmar mi correo" not in again.text and "Enviada" in again.text


async def test_an_expired_link_cannot_be_confirmed_by_post_either(client, db, settings):
    from datetime import timedelta

    from sqlalchemy import update

    from app.tenants.onboarding_models import RegistrationRequest

    form = registration_form()
    await submit_registration(client, form)
    link = await last_link(db, settings, form["applicant_email"], "/registro/solicitud/")
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(RegistrationRequest).where(RegistrationRequest.ruc == form["ruc"])
                        .values(created_at=RegistrationRequest.created_at - timedelta(hours=49)))
    page = await client.submit(f"{link}/confirmar")
    assert page.status_code == 404 and "venció sin que se confirmara el correo" in page.text
    assert (await request_by_ruc(db, form["ruc"])).state == "pendiente_verificacion_correo"
