"""Sign-in with a password, lock-out after repeated failures, and password reset by e-mail token."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app import audit
from app.auth.passwords import check_new_password, hash_password, token_hash, verify_password
from app.config import get_settings
from app.db import TenantContext, get_database
from app.errors import AuthenticationFailed

RESET_TOKEN_HOURS = 2


async def authenticate(email: str, password: str, *, ip: str | None) -> uuid.UUID:
    """The user's id when the password is right; a generic error otherwise (it never says which part failed).

    Failures are committed (counter, lock-out, audit) before the error is raised.
    """
    settings = get_settings()
    db = get_database()
    anon = TenantContext.anonymous(ip)
    failure: AuthenticationFailed | None = None
    async with db.transaction(anon) as s:
        row = (await s.execute(text("SELECT * FROM auth_login_candidate(:e)"), {"e": email.strip()})).first()
        now = datetime.now(UTC)
        if row is None:
            verify_password(None, password)  # same work either way
            await audit.record(s, anon, action="ingreso_fallido", record_type="usuario", actor_label=email[:200])
            failure = AuthenticationFailed("Correo o contraseña incorrectos.")
        elif row.locked_until and row.locked_until > now:
            await audit.record(s, anon, action="ingreso_bloqueado", record_type="usuario", record_id=row.id,
                               actor_label=email[:200])
            minutes = max(1, int((row.locked_until - now).total_seconds() // 60) + 1)
            failure = AuthenticationFailed(
                f"La cuenta está bloqueada temporalmente por intentos fallidos. Intente de nuevo en {minutes} minutos"
                " o restablezca su contraseña.", code="cuenta_bloqueada")
        elif not row.is_active or not verify_password(row.password_hash, password):
            locked = (await s.execute(text("SELECT auth_login_failed(:u, :m, :l)"),
                                      {"u": row.id, "m": settings.login_max_failures,
                                       "l": settings.login_lock_minutes})).scalar()
            await audit.record(s, anon, action="cuenta_bloqueada" if locked else "ingreso_fallido",
                               record_type="usuario", record_id=row.id, actor_label=email[:200])
            failure = AuthenticationFailed(
                f"Demasiados intentos fallidos: la cuenta quedó bloqueada {settings.login_lock_minutes} minutos."
                if locked else "Correo o contraseña incorrectos.",
                code="cuenta_bloqueada" if locked else None)
        else:
            await s.execute(text("SELECT auth_login_succeeded(:u)"), {"u": row.id})
            await audit.record(s, TenantContext(role="usuario", user_id=row.id, ip=ip), action="ingreso",
                               record_type="usuario", record_id=row.id, actor_label=email[:200])
    if failure is not None:
        raise failure
    return row.id


async def request_password_reset(email: str, *, ip: str | None) -> None:
    """Sends a one-time link if the account exists; answers the same either way (no account probing)."""
    from app.worker.mail import queue_email

    settings = get_settings()
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=RESET_TOKEN_HOURS)
    db = get_database()
    anon = TenantContext.anonymous(ip)
    async with db.transaction(anon) as s:
        row = (await s.execute(text("SELECT * FROM auth_create_reset_token(:e, :h, :x)"),
                               {"e": email.strip(), "h": token_hash(token), "x": expires})).first()
        if row is None:
            return
        link = f"{settings.base_url}/restablecer/{token}"
        await queue_email(
            s, to=row.email, subject="Restablecer su contraseña de la Plataforma MAC",
            body=(f"Estimado(a) {row.full_name}:\n\nPara definir una nueva contraseña, abra este enlace "
                  f"(vence en {RESET_TOKEN_HOURS} horas y sirve una sola vez):\n\n{link}\n\n"
                  "Si usted no lo solicitó, ignore este mensaje; su contraseña actual sigue vigente.\n"),
        )
        await audit.record(s, anon, action="restablecimiento_solicitado", record_type="usuario",
                           record_id=row.user_id, actor_label=email[:200])


async def reset_password(token: str, password: str, confirmation: str, *, ip: str | None) -> uuid.UUID:
    check_new_password(password, confirmation)
    db = get_database()
    anon = TenantContext.anonymous(ip)
    async with db.transaction(anon) as s:
        user_id = (await s.execute(text("SELECT auth_consume_reset_token(:h, :p)"),
                                   {"h": token_hash(token), "p": hash_password(password)})).scalar()
        if user_id is None:
            raise AuthenticationFailed("El enlace no es válido o ya venció. Solicite uno nuevo.", code="enlace_invalido")
        await audit.record(s, TenantContext(role="usuario", user_id=user_id, ip=ip), action="contrasena_restablecida",
                           record_type="usuario", record_id=user_id)
    return user_id
