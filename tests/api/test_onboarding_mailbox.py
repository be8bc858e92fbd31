"""The demo mailbox (/buzon): only without SMTP, only one's own mail or the mail of one's own request."""

from __future__ import annotations

import re

from app.auth.passwords import hash_password
from tests.onboarding_support import mails_to, registration_form, submit_registration

PASSWORD = "Buzon-Demo-2026"


def _ticket(html: str) -> str:
    found = re.search(r'/buzon\?ficha=([^"&]+)', html)
    assert found, "la página no ofrece el buzón de demostración"
    return found.group(1)


async def test_the_applicant_reads_the_confirmation_mail_through_the_ticket_of_their_request(client, db, settings):
    form = registration_form()
    page = await submit_registration(client, form)
    ticket = _ticket(page.text)
    await mails_to(db, settings, form["applicant_email"], until=bool)
    mailbox = await client.get(f"/buzon?ficha={ticket}")
    assert mailbox.status_code == 200
    assert "Confirme su correo" in mailbox.text
    assert re.search(r'<a href="http://[^"]+/registro/solicitud/[A-Za-z0-9_-]+">', mailbox.text)


async def test_a_ticket_never_opens_other_mail_sent_to_the_same_address(client, db, settings, tenants):
    """Typing someone else's address in the form gives a ticket for that request's mails only: a password
    reset (or anything else) sent to that address stays out of sight."""
    victim = await tenants.create(password_hash=hash_password(PASSWORD))
    address = victim.users["gestor_entidad"].email
    await client.submit("/restablecer", {"correo": address})
    page = await submit_registration(client, registration_form(applicant_email=address))
    await mails_to(db, settings, address, until=lambda ms: len(ms) >= 2)
    mailbox = await client.get(f"/buzon?ficha={_ticket(page.text)}")
    assert "Confirme su correo" in mailbox.text
    assert "Restablecer su contraseña" not in mailbox.text and "/restablecer/" not in mailbox.text


async def test_a_forged_or_altered_ticket_is_refused(client):
    page = await client.get("/buzon?ficha=eyJhIjoieEB4LnBlIn0.firma-falsa")
    assert page.status_code == 404 and "no es válido" in page.text


async def test_without_a_ticket_the_mailbox_asks_to_sign_in_and_then_shows_only_ones_own_mail(client, db, settings,
                                                                                                tenants):
    response = await client.get("/buzon")
    assert response.status_code in (302, 303) and response.headers["location"].startswith("/ingresar")
    me = await tenants.create(password_hash=hash_password(PASSWORD))
    other = registration_form()
    await submit_registration(client, other)
    await client.login(me.users["gestor_entidad"].email, PASSWORD)
    await client.submit("/entidad/invitaciones", {"email": "colega.buzon@entidad.gob.pe", "role": "finanzas"})
    await client.submit("/restablecer", {"correo": me.users["gestor_entidad"].email})
    await mails_to(db, settings, me.users["gestor_entidad"].email, until=bool)
    mailbox = await client.get("/buzon")
    assert mailbox.status_code == 200
    assert "Restablecer su contraseña" in mailbox.text
    assert other["applicant_email"] not in mailbox.text and "colega.buzon@entidad.gob.pe" not in mailbox.text


async def test_the_mailbox_does_not_exist_when_smtp_is_configured(client, settings, monkeypatch):
    from app.config import get_settings

    monkeypatch.setattr(get_settings(), "smtp_url", "smtp://correo.ejemplo.pe:587")
    assert (await client.get("/buzon")).status_code == 404
    page = await submit_registration(client)
    assert page.status_code == 200 and "/buzon" not in page.text
