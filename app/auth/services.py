"""Sign-in with a password (throttled per account and address), and password reset by e-mail token."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app import audit, offload
from app.auth import throttle
from app.auth.passwords import check_new_password, hash_password, token_hash, verify_password
from app.config import get_settings
from app.db import TenantContext, get_database
from app.errors import AuthenticationFailed
from app.localtime import format_moment

RESET_TOKEN_HOURS = 2


async def authenticate(email: str, password: str, *, ip: str | None) -> uuid.UUID:
    """The user's id when the password is right; a generic error otherwise (it never says which part failed).

    Failures are throttled per (account, address) with growing delays (app.auth.throttle), the same way and
    with the same work for accounts that exist and for those that do not; the throttle state is in PostgreSQL,
    shared by every web process. Failures are committed (throttle, audit, notice) before the error is raised.
    """
    db = get_database()
    anon = TenantContext.anonymous(ip)
    key, address = throttle.account_key(email), (ip or "desconocida")[:64]
    failure: AuthenticationFailed | None = None
    async with db.transaction(anon) as s:
        state = (await s.execute(text("SELECT * FROM auth_throttle_state(:k, :a)"), {"k": key, "a": address})).first()
        row = (await s.execute(text("SELECT * FROM auth_login_candidate(:e)"), {"e": email.strip()})).first()
        wait = throttle.seconds_to_wait(state.failures if state else 0, state.last_failure_at if state else None,
                                        datetime.now(UTC))
        # The hash is checked in every case (known, unknown, waiting): the same work, the same time.
        password_ok = await offload.run(verify_password, row.password_hash if row else None, password)
        if wait:
            await audit.record(s, anon, action="ingreso_demorado", record_type="usuario",
                               record_id=row.id if row else None, actor_label=email[:200])
            failure = AuthenticationFailed(
                f"Hubo varios intentos fallidos para este correo desde su conexión. Espere "
                f"{throttle.wait_in_words(wait)} antes de intentar de nuevo, o restablezca su contraseña.",
                code="ingreso_demorado")
        elif row is None or not row.is_active or not password_ok:
            failures = (await s.execute(text("SELECT auth_throttle_failed(:k, :a)"),
                                        {"k": key, "a": address})).scalar()
            await audit.record(s, anon, action="ingreso_fallido", record_type="usuario",
                               record_id=row.id if row else None, actor_label=email[:200])
            if row is not None and row.is_active and failures == throttle.NOTICE_AT:
                await _notify_failed_sign_ins(s, row.id, failures, address)
                await s.execute(text("SELECT auth_throttle_noticed(:k, :a)"), {"k": key, "a": address})
            failure = AuthenticationFailed("Correo o contraseña incorrectos.")
        else:
            await s.execute(text("SELECT auth_throttle_cleared(:k, :a)"), {"k": key, "a": address})
            await s.execute(text("SELECT auth_login_succeeded(:u)"), {"u": row.id})
            await audit.record(s, TenantContext(role="usuario", user_id=row.id, ip=ip), action="ingreso",
                               record_type="usuario", record_id=row.id, actor_label=email[:200])
    if failure is not None:
        raise failure
    return row.id


async def _notify_failed_sign_ins(s, user_id: uuid.UUID, failures: int, address: str) -> None:  # noqa: ANN001
    """Tell the owner (through the mail queue) that someone keeps failing to sign in to the account."""
    from app.worker.mail import queue_email

    account = (await s.execute(text("SELECT * FROM auth_notice_recipient(:u)"), {"u": user_id})).first()
    if account is None:
        return
    settings = get_settings()
    await queue_email(
        s, to=account.email, subject="Intentos fallidos de ingreso a su cuenta de la Plataforma MAC",
        body=(f"Estimado(a) {account.full_name}:\n\nHubo {failures} intentos fallidos de ingreso a su cuenta "
              f"desde la dirección {address} el {format_moment(datetime.now(UTC))} (hora de Lima). Los intentos "
              "siguientes desde esa dirección deben esperar cada vez más; usted puede seguir ingresando "
              "normalmente.\n\nSi fue usted, no necesita hacer nada. Si no fue usted, cambie su contraseña "
              f"({settings.base_url}/restablecer) y, si los intentos continúan, pida al administrador de la "
              "plataforma que desactive la cuenta temporalmente.\n"))


async def request_password_reset(email: str, *, ip: str | None) -> None:
    """Sends a one-time link if the account exists; answers the same either way (no account probing), after
    the same work: the token, the look-up, the mail's text and the audit entry happen for every address."""
    from app.worker.mail import queue_email

    settings = get_settings()
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=RESET_TOKEN_HOURS)
    db = get_database()
    anon = TenantContext.anonymous(ip)
    async with db.transaction(anon) as s:
        row = (await s.execute(text("SELECT * FROM auth_create_reset_token(:e, :h, :x)"),
                               {"e": email.strip(), "h": token_hash(token), "x": expires})).first()
        link = f"{settings.base_url}/restablecer/{token}"
        subject = "Restablecer su contraseña de la Plataforma MAC"
        body = (f"Estimado(a) {row.full_name if row else email}:\n\nPara definir una nueva contraseña, abra este "
                f"enlace (vence en {RESET_TOKEN_HOURS} horas y sirve una sola vez):\n\n{link}\n\n"
                "Si usted no lo solicitó, ignore este mensaje; su contraseña actual sigue vigente.\n")
        if row is not None:
            await queue_email(s, to=row.email, subject=subject, body=body)
        await audit.record(s, anon, action="restablecimiento_solicitado", record_type="usuario",
                           record_id=row.user_id if row else None, actor_label=email[:200])


async def reset_password(token: str, password: str, confirmation: str, *, ip: str | None) -> uuid.UUID:
    check_new_password(password, confirmation)
    db = get_database()
    anon = TenantContext.anonymous(ip)
    async with db.transaction(anon) as s:
        user_id = (await s.execute(text("SELECT auth_consume_reset_token(:h, :p)"),
                                   {"h": token_hash(token), "p": hash_password(password)})).scalar()
        if user_id is None:
            raise AuthenticationFailed("El enlace no es válido o ya venció. Solicite uno nuevo.", code="enlace_invalido")
        await s.execute(text("SELECT auth_throttle_forget_user(:u)"), {"u": user_id})
        await audit.record(s, TenantContext(role="usuario", user_id=user_id, ip=ip), action="contrasena_restablecida",
                           record_type="usuario", record_id=user_id)
    return user_id
