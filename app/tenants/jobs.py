"""Onboarding background jobs (found by the worker through app.modules).

``notify_supervisors``: a registration request reached the SGP (the applicant confirmed the e-mail, or sent a
correction). The request code runs as an anonymous applicant and may not read the supervisors' addresses, so it
queues this job (through the outbox, in its own transaction); the job, as the system, mails every active SGP
supervisor once per (request, submission). Idempotent: the notice row (onboarding_notices) and the mails are
written in one transaction, and a second run of the same message finds the row and does nothing.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.db import ROLE_SUPERVISOR_SGP, Database, TenantContext
from app.tenants.models import Membership, User
from app.tenants.onboarding_models import RegistrationRequest, SupervisorNotice
from app.worker.broker import WorkerRuntime, job


async def active_supervisors(s: AsyncSession) -> list[tuple[str, str]]:
    """(e-mail, name) of every active user with an active SGP supervisor membership, each once."""
    rows = (await s.execute(
        select(User.email, User.full_name)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role == ROLE_SUPERVISOR_SGP, Membership.is_active.is_(True), User.is_active.is_(True))
        .distinct().order_by(User.email))).all()
    return [(email, name) for email, name in rows]


def notice_mail(request: RegistrationRequest, submission: int, name: str, base_url: str) -> tuple[str, str]:
    """(subject, body) of the mail telling a supervisor that a request arrived."""
    again = submission > 1
    subject = (f"Solicitud de registro {'corregida' if again else 'nueva'}: {request.entity_name} "
               f"(RUC {request.ruc})")[:250]
    body = (f"Estimado(a) {name}:\n\n"
            + (f"La entidad «{request.entity_name}» (RUC {request.ruc}) corrigió su solicitud de registro y la envió "
               f"de nuevo (envío N.º {submission}).\n\n" if again else
               f"Llegó una solicitud de registro de la entidad «{request.entity_name}» (RUC {request.ruc}), "
               "con el correo del solicitante ya confirmado.\n\n")
            + f"Solicitante: {request.applicant_name} ({request.applicant_position}) · {request.applicant_email}\n\n"
            f"Revísela aquí:\n{base_url}/sgp/registros/{request.id}\n"
            "\n--\nPlataforma MAC · Secretaría de Gestión Pública (PCM)\nEste es un mensaje automático.\n")
    return subject, body


async def send_supervisor_notice(db: Database, registration_id: uuid.UUID, submission: int, *,
                                 base_url: str | None = None) -> int:
    """Mail the supervisors about this submission unless that was already done; returns how many were mailed
    now (0 for a duplicate run)."""
    from app.worker.mail import queue_email

    async with db.transaction(TenantContext.system()) as s:
        request = await s.get(RegistrationRequest, registration_id)
        if request is None:
            return 0
        supervisors = await active_supervisors(s)
        # The claim: a concurrent run of the same message waits on this row and then inserts nothing.
        claimed = await s.scalar(
            insert(SupervisorNotice)
            .values(registration_id=registration_id, submission=submission, recipients=len(supervisors))
            .on_conflict_do_nothing(index_elements=["registration_id", "submission"])
            .returning(SupervisorNotice.submission))
        if claimed is None:
            return 0
        for email, name in supervisors:
            subject, body = notice_mail(request, submission, name, base_url or get_settings().base_url)
            await queue_email(s, to=email, subject=subject, body=body)
        return len(supervisors)


@job("onboarding_notify_supervisors", max_retries=10, min_backoff=5_000, max_backoff=3_600_000)
def notify_supervisors(runtime: WorkerRuntime, registration_id: str, submission: int) -> int:
    """Tell the SGP supervisors that a request reached them (its ``submission``-th time); safe to repeat."""
    return runtime.run_with_database(lambda db: send_supervisor_notice(db, uuid.UUID(registration_id), int(submission),
                                                          base_url=runtime.settings.base_url))
