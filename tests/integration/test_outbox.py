"""The transactional outbox against real PostgreSQL and real brokers: nothing sent before commit, nothing
left after rollback, nothing lost when the relay or the broker fails, and duplicates absorbed by the actor."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, update

from app.db import TenantContext
from app.worker.broker import WorkerRuntime, build_broker
from app.worker.mail import deliver_email, queue_email
from app.worker.models import OutboxMessage, OutgoingEmail
from app.worker.outbox import enqueue_in_transaction, relay_once
from tests.net import free_port
from tests.worker_fixtures import (  # noqa: F401  (fixtures)
    KillRelayConnectionOnce,
    delivery_counter,
    flush_outbox,
    in_postgres_queue,
    mails_for,
    outbox_row,
    outbox_row_for_email,
    outgoing_email,
    postgres_broker,
    queue_prefix,
    quiet_outbox,
    running_worker,
    runtime,
    wait_until,
    worker_settings,
)

pytestmark = pytest.mark.usefixtures("quiet_outbox")


class Boom(Exception):
    pass


async def test_a_message_is_relayed_only_after_the_work_commits(db, tenants, postgres_broker, queue_prefix):
    tenant = await tenants.create()
    # A tenant's own request (not the system) queues the mail: it may append to the outbox, not read it.
    async with db.transaction(tenant.ctx("gestor_entidad")) as s:
        email_id = await queue_email(s, to="persona@prueba.gob.pe", subject="Adhesión registrada",
                                     body="Su adhesión fue registrada.", entity_id=tenant.entity.id)
        assert await relay_once(db, postgres_broker) == 0  # the work is not committed yet
    row = await outbox_row_for_email(db, email_id)
    assert row.sent_at is None and row.entity_id == tenant.entity.id
    assert await in_postgres_queue(db, row.id) == []

    assert await relay_once(db, postgres_broker) == 1

    row = await outbox_row(db, row.id)
    assert row.sent_at is not None and row.attempts == 1 and row.last_error is None
    # On the broker, routed to the queue the worker declared for send_email.
    assert await in_postgres_queue(db, row.id) == [f"{queue_prefix}mail"]
    assert await relay_once(db, postgres_broker) == 0  # sent once, not again


async def test_a_rolled_back_transaction_leaves_nothing_to_send(db, tenants, postgres_broker):
    tenant = await tenants.create()
    with pytest.raises(Boom):
        async with db.transaction(tenant.ctx("gestor_entidad")) as s:
            email_id = await queue_email(s, to="persona@prueba.gob.pe", subject="No debe salir", body="-",
                                         entity_id=tenant.entity.id)
            message = await enqueue_in_transaction(s, "recalcular_indicadores", str(tenant.entity.id),
                                                   entity_id=tenant.entity.id)
            raise Boom

    assert await outgoing_email(db, email_id) is None
    assert await outbox_row(db, message.message_id) is None
    async with db.transaction(TenantContext.system()) as s:
        assert (await s.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.message.contains({"args": [str(email_id)]})))) == 0
    assert await relay_once(db, postgres_broker) == 0


async def test_a_relay_dying_after_enqueue_resends_and_the_actor_works_once(
    db, owner_url, postgres_broker, worker_settings
):
    async with db.transaction(TenantContext.system()) as s:
        email_id = await queue_email(s, to="persona@prueba.gob.pe", subject="Restablecer contraseña",
                                     body="Use este enlace una sola vez.")
    row = await outbox_row_for_email(db, email_id)
    killer = KillRelayConnectionOnce(owner_url, str(row.id))
    postgres_broker.add_middleware(killer)

    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a dead connection
        await relay_once(db, postgres_broker)
    assert killer.killed == 1
    assert (await outbox_row(db, row.id)).sent_at is None  # the broker has it, the outbox does not know

    counter = delivery_counter(postgres_broker)
    mailbox = worker_settings.data_dir
    with running_worker(postgres_broker):
        await wait_until(lambda: counter.processed[str(row.id)] == 1, what="the first delivery")
        assert len(mails_for(mailbox, email_id)) == 1

        assert await relay_once(db, postgres_broker) == 1  # at least once: the same message again
        await wait_until(lambda: counter.processed[str(row.id)] == 2, what="the duplicate delivery")

    assert len(mails_for(mailbox, email_id)) == 1  # the idempotent actor sent it once
    email = await outgoing_email(db, email_id)
    assert email.sent_at is not None and email.attempts == 1
    assert (await outbox_row(db, row.id)).sent_at is not None


async def test_a_broker_down_keeps_the_row_with_its_error_and_it_is_delivered_later(
    db, worker_settings, postgres_broker
):
    dead_url = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F?connection_attempts=1&socket_timeout=1"
    dead_broker = build_broker(worker_settings.model_copy(update={"broker_url": dead_url}))
    async with db.transaction(TenantContext.system()) as s:
        first = await enqueue_in_transaction(s, "recalcular_indicadores", "a")
        second = await enqueue_in_transaction(s, "recalcular_indicadores", "b")
    try:
        assert await relay_once(db, dead_broker) == 0
    finally:
        dead_broker.close()

    failed = await outbox_row(db, first.message_id)
    assert failed.sent_at is None and failed.refusals == 1 and failed.attempts == 0 and failed.last_error
    untouched = await outbox_row(db, second.message_id)
    assert untouched.refusals == 0  # the batch stopped at the first broker error
    async with db.transaction(TenantContext.system()) as s:
        assert await s.scalar(select(OutboxMessage.available_at > func.now())
                              .where(OutboxMessage.id == failed.id))  # backing off

    # Back-off respected: the failed row waits, the untouched one goes as soon as a broker answers.
    assert await relay_once(db, postgres_broker) == 1
    assert (await outbox_row(db, first.message_id)).sent_at is None

    # Time passes: the row is due again and is delivered.
    async with db.transaction(TenantContext.system()) as s:
        await s.execute(update(OutboxMessage).where(OutboxMessage.id == failed.id).values(available_at=func.now()))
    assert await relay_once(db, postgres_broker) == 1
    delivered = await outbox_row(db, first.message_id)
    assert delivered.sent_at is not None and (delivered.attempts, delivered.refusals) == (1, 0)
    assert await in_postgres_queue(db, first.message_id) == ["default"]


async def test_concurrent_relays_never_send_the_same_row_twice(db, postgres_broker):
    async with db.transaction(TenantContext.system()) as s:
        messages = [await enqueue_in_transaction(s, "recalcular_indicadores", i) for i in range(6)]
    sent = await asyncio.gather(*(relay_once(db, postgres_broker, limit=6) for _ in range(3)))
    assert sum(sent) == 6
    for message in messages:
        assert (await outbox_row(db, message.message_id)).attempts == 1


async def test_a_tenant_can_queue_work_but_not_read_the_outbox(db, tenants):
    tenant = await tenants.create()
    async with db.transaction(tenant.ctx("gestor_entidad")) as s:
        await enqueue_in_transaction(s, "recalcular_indicadores", str(uuid.uuid4()), entity_id=tenant.entity.id)
        assert (await s.scalars(select(OutboxMessage))).all() == []
        assert (await s.scalars(select(OutgoingEmail))).all() == []


async def test_a_failed_delivery_is_recorded_and_the_retry_delivers_once(db, worker_settings):
    async with db.transaction(TenantContext.system()) as s:
        email_id = await queue_email(s, to="persona@prueba.gob.pe", subject="Aviso", body="Hola")
    smtp_down = WorkerRuntime(worker_settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{free_port()}"}))
    mailbox = WorkerRuntime(worker_settings)
    try:
        with pytest.raises(OSError):  # raised again so that dramatiq retries the message
            await asyncio.to_thread(deliver_email, smtp_down, email_id)
        email = await outgoing_email(db, email_id)
        assert email.sent_at is None and email.attempts == 1 and "Connection" in email.last_error

        assert await asyncio.to_thread(deliver_email, mailbox, email_id) is True
        assert await asyncio.to_thread(deliver_email, mailbox, email_id) is False  # a duplicate does nothing
    finally:
        smtp_down.dispose()
        mailbox.dispose()
    email = await outgoing_email(db, email_id)
    assert email.sent_at is not None and email.attempts == 2 and email.last_error is None
    assert len(mails_for(worker_settings.data_dir, email_id)) == 1


async def test_an_anonymous_request_can_queue_a_mail(db, worker_settings):
    """A password reset is asked for before anyone signs in: the anonymous context may still queue mail."""
    async with db.transaction(TenantContext.anonymous("203.0.113.7")) as s:
        email_id = await queue_email(s, to="olvido@prueba.gob.pe", subject="Restablecer su contraseña",
                                     body="Abra el enlace.")
    assert await flush_outbox(db, worker_settings) == 1
    [mail] = mails_for(worker_settings.data_dir, email_id)
    assert mail["To"] == "olvido@prueba.gob.pe"
