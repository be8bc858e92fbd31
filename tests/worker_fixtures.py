"""Fixtures and helpers for background-work tests: real brokers, real dramatiq workers, no mocks.

Import the fixtures you use into a test module (``from tests.worker_fixtures import postgres_broker``).
Each test binds the jobs to its own broker on queues with a unique prefix, so tests (and parallel test runs
sharing one RabbitMQ) never consume each other's messages.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import dramatiq
import psycopg
import pytest
from dramatiq.middleware import Middleware
from sqlalchemy import func, select, text, update

from app.config import Settings, psycopg_url
from app.db import Database, TenantContext
from app.worker.broker import WorkerRuntime, build_broker, declare_actors
from app.worker.mail import read_mailbox
from app.worker.models import OutboxMessage, OutgoingEmail

# --- Observing a real broker ----------------------------------------------------------------------------


class DeliveryCounter(Middleware):
    """Counts how many times each message was processed by an actor (after_process_message)."""

    def __init__(self) -> None:
        self.processed: Counter[str] = Counter()

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001, ANN201
        self.processed[message.message_id] += 1


def delivery_counter(broker: dramatiq.Broker) -> DeliveryCounter:
    return next(m for m in broker.middleware if isinstance(m, DeliveryCounter))


class KillRelayConnectionOnce(Middleware):
    """Simulates the relay dying after the broker accepted a message but before it marked the row sent:
    once ``message_id`` has been enqueued, the relay's own database connection (idle in its claim
    transaction) is terminated from outside, so its transaction can never commit."""

    def __init__(self, owner_url: str, message_id: str) -> None:
        self.owner_url = owner_url
        self.message_id = message_id
        self.killed = 0

    def after_enqueue(self, broker, message, delay):  # noqa: ANN001, ANN201
        if message.message_id != self.message_id or self.killed:
            return
        with psycopg.connect(psycopg_url(self.owner_url), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state = 'idle in transaction' AND query ILIKE '%FROM outbox%SKIP LOCKED%'"
            ).fetchall()
        self.killed = len(rows)


# --- Fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture
def queue_prefix() -> str:
    return f"t{os.getpid()}_{uuid.uuid4().hex[:8]}_"


@pytest.fixture
def worker_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The session settings with a mailbox of the test's own and no SMTP."""
    return settings.model_copy(update={"data_dir": tmp_path, "smtp_url": None, "broker_url": None})


@pytest.fixture
def runtime(worker_settings: Settings) -> Iterator[WorkerRuntime]:
    r = WorkerRuntime(worker_settings)
    yield r
    r.dispose()


def make_test_broker(settings: Settings, runtime: WorkerRuntime, queue_prefix: str) -> dramatiq.Broker:
    """A real broker for ``settings`` with the jobs declared on prefixed queues and a delivery counter."""
    broker = build_broker(settings)
    broker.add_middleware(DeliveryCounter())
    declare_actors(broker, runtime, queue_prefix=queue_prefix)
    return broker


@pytest.fixture
def postgres_broker(worker_settings: Settings, runtime: WorkerRuntime, queue_prefix: str) -> Iterator[dramatiq.Broker]:
    broker = make_test_broker(worker_settings, runtime, queue_prefix)
    yield broker
    broker.close()


@pytest.fixture
async def quiet_outbox(db: Database):
    """Park unsent outbox rows left by other tests (they share the database) so that this test's relay sees
    only its own rows; put them back afterwards as they were."""
    async with db.transaction(TenantContext.system()) as s:
        parked = (await s.execute(
            select(OutboxMessage.id, OutboxMessage.available_at).where(OutboxMessage.sent_at.is_(None))
        )).all()
        if parked:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row_id for row_id, _ in parked]))
                .values(available_at=func.now() + text("interval '1 day'"))
            )
    yield
    async with db.transaction(TenantContext.system()) as s:
        for row_id, available_at in parked:
            await s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(available_at=available_at))


@contextmanager
def running_worker(broker: dramatiq.Broker, *, threads: int = 2) -> Iterator[dramatiq.Worker]:
    """A real dramatiq worker on ``broker`` for the duration of the block; stops quickly."""
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=10_000)


async def flush_outbox(db: Database, settings: Settings) -> int:
    """Deliver everything pending in the outbox now, through a real PostgreSQL broker and worker, with the
    mailbox in ``settings.data_dir``: for tests of features that send mail (``read_mailbox`` afterwards).
    Returns how many messages were relayed."""
    from app.worker.outbox import relay_once

    runtime = WorkerRuntime(settings)
    prefix = f"flush{os.getpid()}_{uuid.uuid4().hex[:8]}_"
    broker = make_test_broker(settings.model_copy(update={"broker_url": None}), runtime, prefix)
    relayed = 0
    try:
        with running_worker(broker) as worker:
            while sent := await relay_once(db, broker):
                relayed += sent
            # worker.join() only knows messages its consumers already fetched; wait until the broker's table
            # holds nothing due on these queues (acknowledged messages are deleted), then join.
            await wait_until(lambda: _pending_in_postgres_broker(settings, prefix) == 0, timeout=30.0,
                             what="the flushed messages to be consumed")
            await asyncio.to_thread(worker.join)
    finally:
        broker.close()
        runtime.dispose()
    return relayed


def _pending_in_postgres_broker(settings: Settings, queue_prefix: str) -> int:
    """Messages of these queues still waiting or in progress (delayed retries due later are not waited for)."""
    with psycopg.connect(psycopg_url(settings.runtime_url())) as conn:
        conn.execute("SELECT set_config('app.role', 'sistema', false)")
        return conn.execute(
            "SELECT count(*) FROM dramatiq.queue WHERE queue_name LIKE %s AND state IN ('queued', 'consumed')"
            " AND available_at <= now()", (queue_prefix + "%",)).fetchone()[0]


# --- Waiting and looking --------------------------------------------------------------------------------------


async def wait_until(predicate: Callable[[], object], *, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` (sync) without blocking the event loop; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def mails_for(data_dir: Path, email_id: uuid.UUID) -> list[EmailMessage]:
    """The deliveries of one mail in the local mailbox (matched by its Message-ID)."""
    return [m for m in read_mailbox(data_dir) if f"<{email_id}@" in (m["Message-ID"] or "")]


async def outbox_row(db: Database, message_id: str | uuid.UUID) -> OutboxMessage | None:
    async with db.transaction(TenantContext.system()) as s:
        return await s.get(OutboxMessage, uuid.UUID(str(message_id)))


async def outbox_row_for_email(db: Database, email_id: uuid.UUID) -> OutboxMessage:
    async with db.transaction(TenantContext.system()) as s:
        return (await s.scalars(
            select(OutboxMessage).where(OutboxMessage.message.contains({"args": [str(email_id)]}))
        )).one()


async def outgoing_email(db: Database, email_id: uuid.UUID) -> OutgoingEmail | None:
    async with db.transaction(TenantContext.system()) as s:
        return await s.get(OutgoingEmail, email_id)


async def in_postgres_queue(db: Database, message_id: str | uuid.UUID) -> list[str]:
    """The queue names under which the PostgreSQL broker holds ``message_id`` (empty once consumed)."""
    async with db.transaction(TenantContext.system()) as s:
        return list((await s.scalars(
            text("SELECT queue_name FROM dramatiq.queue WHERE message_id = :id"), {"id": uuid.UUID(str(message_id))}
        )).all())
