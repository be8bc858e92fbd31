"""Password reset by e-mail: a one-time, expiring link; the answer never reveals whether an account exists."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.auth import throttle
from app.auth.passwords import hash_password
from app.db import TenantContext
from app.worker.models import OutboxMessage, OutgoingEmail

OLD = "Clave-anterior-2026"
NEW = "Clave-nueva-2026!"


async def _reset_link(db, email: str) -> str:
    async with db.transaction(TenantContext.system()) as s:
        mail = (await s.scalars(select(OutgoingEmail).where(OutgoingEmail.to_address == email)
                                .order_by(OutgoingEmail.created_at.desc()))).first()
    assert mail is not None, "no reset e-mail was queued"
    return re.search(r"http://\S+/restablecer/(\S+)", mail.body_text).group(1)


async def test_a_person_resets_a_forgotten_password_through_the_emailed_link(client, tenants, db):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(OLD))
    email = t.users["finanzas"].email
    page = await client.submit("/restablecer", {"correo": email})
    assert "Si el correo corresponde a una cuenta activa" in page.text
    token = await _reset_link(db, email)
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(OutboxMessage.id).where(OutboxMessage.actor_name.like("%send_email%")).limit(1))

    done = await client.submit(f"/restablecer/{token}", {"contrasena": NEW, "confirmacion": NEW})
    assert done.headers["location"] == "/ingresar"
    assert (await client.login(email, OLD)).status_code == 401
    assert (await client.login(email, NEW)).status_code in (302, 303)


async def test_a_reset_link_works_only_once(client, tenants, db):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(OLD))
    await client.submit("/restablecer", {"correo": t.users["finanzas"].email})
    token = await _reset_link(db, t.users["finanzas"].email)
    await client.submit(f"/restablecer/{token}", {"contrasena": NEW, "confirmacion": NEW})
    again = await client.submit(f"/restablecer/{token}", {"contrasena": "Otra-clave-99", "confirmacion": "Otra-clave-99"})
    assert again.status_code == 400
    assert "no es válido o ya venció" in again.text


async def test_weak_or_mismatched_passwords_are_refused_and_the_link_stays_usable(client, tenants, db):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(OLD))
    await client.submit("/restablecer", {"correo": t.users["finanzas"].email})
    token = await _reset_link(db, t.users["finanzas"].email)
    short = await client.submit(f"/restablecer/{token}", {"contrasena": "corta1", "confirmacion": "corta1"})
    assert "al menos 10 caracteres" in short.text
    mismatch = await client.submit(f"/restablecer/{token}", {"contrasena": NEW, "confirmacion": NEW + "x"})
    assert "no coinciden" in mismatch.text
    ok = await client.submit(f"/restablecer/{token}", {"contrasena": NEW, "confirmacion": NEW})
    assert ok.headers["location"] == "/ingresar"


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, db):
    page = await client.submit("/restablecer", {"correo": "no-existe@ejemplo.pe"})
    assert "Si el correo corresponde a una cuenta activa" in page.text
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(OutgoingEmail.id).where(OutgoingEmail.to_address == "no-existe@ejemplo.pe")) is None


async def test_a_reset_ends_the_delays_of_a_throttled_account(client, tenants, db):
    t = await tenants.create(roles=("finanzas",), password_hash=hash_password(OLD))
    email = t.users["finanzas"].email
    for _ in range(throttle.FREE_FAILURES + 3):
        await client.login(email, "intento-fallido-1")
    await client.submit("/restablecer", {"correo": email})
    token = await _reset_link(db, email)
    await client.submit(f"/restablecer/{token}", {"contrasena": NEW, "confirmacion": NEW})
    assert (await client.login(email, NEW)).status_code in (302, 303)
