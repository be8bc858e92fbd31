"""SGP supervisors hear of every registration request that reaches them: once per submission (on confirmation,
and again after each correction), even when the worker runs the notice job more than once."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, update

from app.auth.passwords import hash_password
from app.db import TenantContext
from app.tenants.jobs import notify_supervisors
from app.tenants.models import Membership
from app.tenants.onboarding_models import SupervisorNotice
from app.worker.broker import WorkerRuntime
from app.worker.models import OutgoingEmail
from tests.onboarding_support import (
    confirm_email,
    designation_pdf,
    last_link,
    mails_to,
    registration_form,
    request_by_ruc,
    submit_registration,
)

SGP_PASSWORD = "Supervisor-Aviso-2026"


def _notices(mails, ruc: str):  # noqa: ANN001, ANN202
    return [m for m in mails if "Solicitud de registro" in str(m["Subject"]) and ruc in str(m["Subject"])]


async def _run_job_again(settings, registration_id, submission: int) -> int:  # noqa: ANN001
    runtime = WorkerRuntime(settings)
    try:
        return await asyncio.to_thread(notify_supervisors, runtime, str(registration_id), submission)
    finally:
        runtime.dispose()


async def _stored_mails(db, address: str, ruc: str) -> int:  # noqa: ANN001
    async with db.transaction(TenantContext.system()) as s:
        return await s.scalar(select(func.count()).select_from(OutgoingEmail).where(
            OutgoingEmail.to_address == address, OutgoingEmail.subject.contains(ruc)))


async def test_supervisors_are_told_once_of_a_confirmed_request_even_if_the_job_runs_twice(client, db, settings,
                                                                                           tenants):
    sgp = await tenants.create(roles=("supervisor_sgp",))
    former = await tenants.create(roles=("supervisor_sgp",))
    manager = await tenants.create(roles=("gestor_entidad",))
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(Membership).where(Membership.entity_id == former.entity.id).values(is_active=False))
    supervisor = sgp.users["supervisor_sgp"].email

    form = registration_form()
    await submit_registration(client, form)
    await confirm_email(client, await last_link(db, settings, form["applicant_email"], "/registro/solicitud/"))
    request = await request_by_ruc(db, form["ruc"])

    notices = _notices(await mails_to(db, settings, supervisor, until=lambda ms: _notices(ms, form["ruc"])),
                       form["ruc"])
    assert [str(m["Subject"]) for m in notices] == [
        f"Solicitud de registro nueva: {form['entity_name']} (RUC {form['ruc']})"]
    body = notices[0].get_body().get_content()
    assert f"/sgp/registros/{request.id}" in body and form["applicant_email"] in body

    # At-least-once delivery: the same message again mails nobody a second time.
    assert await _run_job_again(settings, request.id, 1) == 0
    await mails_to(db, settings, supervisor)
    assert len(_notices(await mails_to(db, settings, supervisor), form["ruc"])) == 1
    assert await _stored_mails(db, supervisor, form["ruc"]) == 1

    # Only active SGP supervisors are told: not a deactivated one, not an entity's manager.
    assert await _stored_mails(db, former.users["supervisor_sgp"].email, form["ruc"]) == 0
    assert await _stored_mails(db, manager.users["gestor_entidad"].email, form["ruc"]) == 0
    async with db.transaction(TenantContext.system()) as s:
        submissions = (await s.scalars(select(SupervisorNotice.submission)
                                       .where(SupervisorNotice.registration_id == request.id))).all()
    assert submissions == [1]


async def test_a_corrected_request_is_announced_again(client, db, settings, tenants):
    sgp = await tenants.create(roles=("supervisor_sgp",), password_hash=hash_password(SGP_PASSWORD))
    supervisor = sgp.users["supervisor_sgp"].email
    form = registration_form()
    await submit_registration(client, form)
    link = await last_link(db, settings, form["applicant_email"], "/registro/solicitud/")
    await confirm_email(client, link)
    request = await request_by_ruc(db, form["ruc"])

    await client.login(supervisor, SGP_PASSWORD)
    await client.submit(f"/sgp/registros/{request.id}/revisar")
    await client.submit(f"/sgp/registros/{request.id}/observar", {"motivo": "Falta la firma."})
    corrected = {k: v for k, v in form.items() if k not in ("ruc", "applicant_email", "contrasena", "confirmacion")}
    resent = await client.http.post(link, data={"_csrf_token": await client.csrf(), **corrected},
                                    files={"documento": ("firmada.pdf", designation_pdf("Firmada"), "application/pdf")})
    assert resent.status_code == 200, resent.text

    notices = _notices(await mails_to(db, settings, supervisor,
                                      until=lambda ms: len(_notices(ms, form["ruc"])) >= 2), form["ruc"])
    assert [str(m["Subject"]).split(":")[0] for m in notices] == ["Solicitud de registro nueva",
                                                                  "Solicitud de registro corregida"]
    assert "envío N.º 2" in notices[1].get_body().get_content()
    assert await _run_job_again(settings, request.id, 2) == 0
    assert await _stored_mails(db, supervisor, form["ruc"]) == 2


async def test_the_sgp_itself_cannot_read_the_notices(client, db, settings, tenants):
    """onboarding_notices is the worker's bookkeeping: only the system reads or writes it."""
    sgp = await tenants.create(roles=("supervisor_sgp",))
    form = registration_form()
    await submit_registration(client, form)
    await confirm_email(client, await last_link(db, settings, form["applicant_email"], "/registro/solicitud/"))
    request = await request_by_ruc(db, form["ruc"])
    await mails_to(db, settings, sgp.users["supervisor_sgp"].email,
                   until=lambda ms: _notices(ms, form["ruc"]))
    ctx = sgp.ctx("supervisor_sgp")
    async with db.transaction(ctx) as s:
        assert (await s.scalars(select(SupervisorNotice).where(SupervisorNotice.registration_id == request.id))
                ).all() == []
    async with db.transaction(TenantContext.system()) as s:
        assert len((await s.scalars(select(SupervisorNotice)
                                    .where(SupervisorNotice.registration_id == request.id))).all()) == 1
