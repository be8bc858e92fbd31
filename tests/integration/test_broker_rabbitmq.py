"""End to end through RabbitMQ (the production broker): a mail queued in a transaction is relayed with
publisher confirms, consumed by a real dramatiq worker and delivered exactly once.

Needs RabbitMQ at RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672): skipped when it is unreachable,
except under CI, where a missing RabbitMQ is a failure.
"""

from __future__ import annotations

import asyncio
import os

import pika
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from app.worker.mail import queue_email
from app.worker.outbox import relay_once
from tests.worker_fixtures import (  # noqa: F401  (fixtures)
    delivery_counter,
    make_test_broker,
    mails_for,
    outbox_row_for_email,
    outgoing_email,
    queue_prefix,
    quiet_outbox,
    running_worker,
    runtime,
    wait_until,
    worker_settings,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.usefixtures("quiet_outbox")]

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")


def _url_with_short_timeouts(url: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}connection_attempts=1&socket_timeout=2"


@pytest.fixture(scope="module")
def rabbitmq_url() -> str:
    try:
        pika.BlockingConnection(pika.URLParameters(_url_with_short_timeouts(RABBITMQ_URL))).close()
    except Exception as exc:  # any reason it cannot be reached
        reason = f"RabbitMQ no disponible en {RABBITMQ_URL}: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return RABBITMQ_URL


@pytest.fixture
def rabbitmq_broker(rabbitmq_url, worker_settings, runtime, queue_prefix):
    broker = make_test_broker(worker_settings.model_copy(update={"broker_url": rabbitmq_url}), runtime, queue_prefix)
    assert isinstance(broker, RabbitmqBroker) and broker.confirm_delivery
    yield broker
    queues = set(broker.get_declared_queues())
    broker.close()
    _delete_queues(rabbitmq_url, queues)


def _delete_queues(url: str, queues: set[str]) -> None:
    """Queues are durable on the server: remove this test's own (and their delay and dead-letter queues)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for name in queues:
            for queue in (name, f"{name}.DQ", f"{name}.XQ"):
                channel.queue_delete(queue=queue)
    finally:
        connection.close()


async def test_a_mail_queued_in_a_transaction_is_delivered_once_through_rabbitmq(
    db, tenants, rabbitmq_broker, worker_settings, queue_prefix
):
    tenant = await tenants.create()
    async with db.transaction(tenant.ctx("gestor_entidad")) as s:
        email_id = await queue_email(s, to="finanzas@prueba.gob.pe", subject="Estado de cuenta disponible",
                                     body="Su estado de cuenta de octubre está disponible.",
                                     entity_id=tenant.entity.id)
    row = await outbox_row_for_email(db, email_id)
    counter = delivery_counter(rabbitmq_broker)
    assert f"{queue_prefix}mail" in rabbitmq_broker.get_declared_queues()

    with running_worker(rabbitmq_broker) as worker:
        assert await relay_once(db, rabbitmq_broker) == 1
        await wait_until(lambda: mails_for(worker_settings.data_dir, email_id), what="the mail through RabbitMQ")
        assert await relay_once(db, rabbitmq_broker) == 0
        await asyncio.to_thread(worker.join)

    [mail] = mails_for(worker_settings.data_dir, email_id)
    assert mail["Subject"] == "Estado de cuenta disponible"
    assert counter.processed[str(row.id)] == 1
    email = await outgoing_email(db, email_id)
    assert email.sent_at is not None and email.attempts == 1
