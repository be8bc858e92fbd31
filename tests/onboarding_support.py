"""What the onboarding tests share: a valid registration form, a real PDF, and reading the demo mailbox."""

from __future__ import annotations

import asyncio
import io
import re
import time
import uuid
from email.message import EmailMessage

from reportlab.pdfgen import canvas
from sqlalchemy import select

from app.db import TenantContext
from app.tenants.onboarding_models import RegistrationRequest
from app.worker.broker import WorkerRuntime
from app.worker.mail import deliver_email, read_mailbox
from app.worker.models import OutgoingEmail
from tests.factories import valid_dni, valid_ruc
from tests.worker_fixtures import flush_outbox

PASSWORD = "Registro-MAC-2026"


def designation_pdf(text: str = "Resolución de designación N.º 001-2026") -> bytes:
    """A real (small) PDF, as a scanned designation letter would be."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    pdf.drawString(72, 750, text)
    pdf.save()
    return buffer.getvalue()


def registration_form(**overrides: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    form = {
        "ruc": valid_ruc(), "entity_name": f"Municipalidad Distrital de Prueba {tag}", "short_name": f"MDP{tag[:4]}",
        "kind": "publica", "level": "local", "address": "Jr. Lima 123", "ubigeo": "150101",
        "applicant_dni": valid_dni(), "applicant_name": "Rosa Quispe Mamani", "applicant_position": "Gerente municipal",
        "applicant_email": f"rosa.{tag}@muni-prueba.gob.pe", "contrasena": PASSWORD, "confirmacion": PASSWORD,
    }
    form.update(overrides)
    return form


async def submit_registration(client, form: dict[str, str] | None = None, *, document: bytes | None = None,  # noqa: ANN001, ANN201
                              filename: str = "designacion.pdf", content_type: str = "application/pdf"):
    form = form or registration_form()
    files = {"documento": (filename, designation_pdf() if document is None else document, content_type)}
    return await client.http.post("/registro", data={"_csrf_token": await client.csrf(), **form}, files=files)


async def mails_to(db, settings, address: str, *, until=None, timeout: float = 20.0) -> list[EmailMessage]:  # noqa: ANN001
    """Deliver what is pending (a real worker writes the files) and return the mails to ``address``; with
    ``until`` (a predicate on that list), keep delivering until it holds, as a person refreshing a mailbox."""
    deadline = time.monotonic() + timeout
    while True:
        await flush_outbox(db, settings)
        await deliver_stragglers(db, settings)
        mails = [m for m in read_mailbox(settings.data_dir) if str(m["To"]).lower() == address.lower()]
        if until is None or until(mails) or time.monotonic() > deadline:
            return mails
        await asyncio.sleep(0.2)


async def deliver_stragglers(db, settings) -> None:  # noqa: ANN001
    """Mails the relay handed to a test worker that stopped before taking them (each flush uses queues of its
    own) are delivered here by the same job code, which is idempotent (it locks the row and checks sent_at)."""
    async with db.transaction(TenantContext.system()) as s:
        pending = (await s.scalars(select(OutgoingEmail.id).where(OutgoingEmail.sent_at.is_(None)))).all()
    if not pending:
        return
    runtime = WorkerRuntime(settings)
    try:
        for email_id in pending:
            await asyncio.to_thread(deliver_email, runtime, email_id)
    finally:
        runtime.dispose()


def link_in(message: EmailMessage, path: str) -> str:
    """The path of the first link to ``path`` in a mail's body (e.g. '/registro/solicitud/')."""
    body = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"[A-Za-z0-9_\-]+)", body)
    assert found, f"no hay enlace {path} en el correo: {body}"
    return found.group(1)


async def last_link(db, settings, address: str, path: str, *, nth: int = 1) -> str:  # noqa: ANN001
    """The link to ``path`` in the newest mail carrying one, once at least ``nth`` such mails arrived."""
    def carrying(mails: list[EmailMessage]) -> list[EmailMessage]:
        return [m for m in mails if path in m.get_body().get_content()]

    mails = carrying(await mails_to(db, settings, address, until=lambda ms: len(carrying(ms)) >= nth))
    assert mails, f"no llegó ningún correo con {path} a {address}"
    return link_in(mails[-1], path)


async def request_by_ruc(db, ruc: str) -> RegistrationRequest:  # noqa: ANN001
    async with db.transaction(TenantContext.system()) as s:
        return (await s.scalars(select(RegistrationRequest).where(RegistrationRequest.ruc == ruc)
                                .order_by(RegistrationRequest.created_at.desc()))).first()


async def confirm_email(client, link: str):  # noqa: ANN001, ANN201
    """What the applicant does with the confirmation link: open it (which alone confirms nothing) and press
    «Confirmar mi correo» on the page it shows. Returns the page that answers the button."""
    page = await client.get(link)
    assert page.status_code == 200, page.text
    action = re.search(r'<form method="post" action="(/registro/solicitud/[A-Za-z0-9_\-]+/confirmar)"', page.text)
    assert action and "Confirmar mi correo" in page.text, page.text
    return await client.submit(action.group(1))
