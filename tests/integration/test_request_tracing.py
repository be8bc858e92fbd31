"""A request's id follows the work it queues: the outbox message carries it, the job's log lines and the audit
entries it writes name it, so an operator can follow one click from the web log to the worker's."""

from __future__ import annotations

import logging
from datetime import date, time

import pytest
import structlog
from sqlalchemy import select

from app.audit_models import AuditEntry
from app.db import TenantContext
from app.tenants import services as admin_services
from app.tenants.schemas import OpeningHoursSet
from app.worker.models import OutboxMessage
from app.worker.outbox import REQUEST_ID_OPTION
from tests.worker_fixtures import flush_outbox, quiet_outbox, worker_settings  # noqa: F401

pytestmark = pytest.mark.usefixtures("quiet_outbox")


class ContextOfLines(logging.Handler):
    """Each log line with the context app.logging merges into it (structlog's context variables)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[str, dict]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), dict(structlog.contextvars.get_contextvars())))


OPENING_HOURS_CHANGED_LINE = f"Trabajo {admin_services.OPENING_HOURS_CHANGED} terminado: ok"


@pytest.fixture
def bound_request_id():
    """What RequestLogMiddleware does for every web request."""
    structlog.contextvars.bind_contextvars(request_id="a1b2c3d4e5f6")
    yield "a1b2c3d4e5f6"
    structlog.contextvars.clear_contextvars()


async def test_a_job_queued_by_a_request_logs_and_audits_under_the_request_id(db, tenants, worker_settings,
                                                                              bound_request_id, caplog):
    tenant = await tenants.create(roles=("administrador_plataforma",), with_centre=True)
    admin = tenant.ctx("administrador_plataforma")
    await admin_services.set_opening_hours(admin, tenant.centre.id, OpeningHoursSet(
        weekdays=[0, 1, 2, 3, 4], opens_at=time(8, 0), closes_at=time(16, 45), valid_from=date(2025, 3, 3)))
    async with db.transaction(TenantContext.system()) as s:
        [message] = (await s.scalars(select(OutboxMessage.message).where(
            OutboxMessage.actor_name == admin_services.OPENING_HOURS_CHANGED,
            OutboxMessage.message["args"][0].astext == str(tenant.centre.id)))).all()
    assert message["options"][REQUEST_ID_OPTION] == bound_request_id

    structlog.contextvars.clear_contextvars()  # the worker runs elsewhere: only the message carries the id
    lines = ContextOfLines()
    caplog.set_level(logging.INFO, logger="mac.worker")
    logging.getLogger("mac.worker").addHandler(lines)
    try:
        assert await flush_outbox(db, worker_settings) == 1
    finally:
        logging.getLogger("mac.worker").removeHandler(lines)
    [finished] = [c for message, c in lines.seen if OPENING_HOURS_CHANGED_LINE in message]
    assert finished["request_id"] == bound_request_id and finished["job"] == admin_services.OPENING_HOURS_CHANGED

    async with db.transaction(TenantContext.system()) as s:
        entries = (await s.execute(select(AuditEntry.action, AuditEntry.request_id).where(
            AuditEntry.record_id == str(tenant.centre.id)).order_by(AuditEntry.seq))).all()
    rebuilt = [rid for action, rid in entries if action == "ans_indicadores_recalculados"]
    assert rebuilt == [bound_request_id]


async def test_work_outside_a_request_queues_messages_without_a_request_id(db, tenants):
    tenant = await tenants.create(roles=("administrador_plataforma",), with_centre=True)
    await admin_services.set_opening_hours(tenant.ctx("administrador_plataforma"), tenant.centre.id, OpeningHoursSet(
        weekdays=[5], opens_at=time(8, 0), closes_at=time(13, 0), valid_from=date(2025, 3, 8)))
    async with db.transaction(TenantContext.system()) as s:
        [message] = (await s.scalars(select(OutboxMessage.message).where(
            OutboxMessage.actor_name == admin_services.OPENING_HOURS_CHANGED,
            OutboxMessage.message["args"][0].astext == str(tenant.centre.id)))).all()
    assert REQUEST_ID_OPTION not in message["options"]


async def test_the_request_id_answered_to_the_browser_is_the_one_in_the_audit_entry(client, tenants, db):
    from app.auth.passwords import hash_password

    password = "Clave-segura-2026"
    tenant = await tenants.create(roles=("gestor_entidad",), password_hash=hash_password(password))
    response = await client.login(tenant.users["gestor_entidad"].email, password)
    request_id = response.headers["x-request-id"]
    async with db.transaction(TenantContext.system()) as s:
        ids = (await s.scalars(select(AuditEntry.request_id).where(
            AuditEntry.actor_user_id == tenant.users["gestor_entidad"].id))).all()
    assert request_id in ids
