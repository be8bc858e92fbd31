"""Outbox dead letters, against real PostgreSQL, the real PostgreSQL broker and a real dramatiq worker: a message
gets at most OUTBOX_MAX_ATTEMPTS attempts, then it is failed (never retried by itself again, audited once, listed
by `mac outbox fallidos`) until an operator puts it back with `mac outbox reintentar`."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import dramatiq
import pytest
from sqlalchemy import delete, func, insert, select, true, update

from app.audit_models import AuditEntry
from app.cli import main as mac
from app.config import Settings
from app.db import TenantContext
from app.worker.broker import build_broker
from app.worker.models import OutboxMessage
from app.worker.outbox import enqueue_in_transaction, mark_given_up, relay_once, retries_left
from app.worker.retention import apply_retention
from tests.net import free_port
from tests.worker_fixtures import (  # noqa: F401  (fixtures)
    outbox_row,
    postgres_broker,
    queue_prefix,
    quiet_outbox,
    running_worker,
    runtime,
    worker_settings,
)

pytestmark = pytest.mark.usefixtures("quiet_outbox", "forget_failed_rows")

SYSTEM = TenantContext.system()


class SunatNoResponde(Exception):
    pass


# --- Helpers --------------------------------------------------------------------------------------------------


@pytest.fixture
async def forget_failed_rows(db):
    """Failed rows outlive a test (the worker commits); delete the ones this test left, so that no other test's
    `reintentar --todos` or relay meets them."""
    async with db.transaction(SYSTEM) as s:
        before = set((await s.scalars(select(OutboxMessage.id).where(OutboxMessage.failed_at.is_not(None)))).all())
    yield
    async with db.transaction(SYSTEM) as s:
        await s.execute(delete(OutboxMessage).where(OutboxMessage.failed_at.is_not(None),
                                                    OutboxMessage.id.not_in(before) if before else true()))


def flaky_job(broker: dramatiq.Broker, queue_prefix: str, *, failures: int | None) -> tuple[str, Counter]:
    """A job on ``broker`` that raises on its first ``failures`` runs (every run when None; set ``runs["arreglado"]``
    to fix the cause), with a back-off of milliseconds. Returns its name and a counter of its runs and successes."""
    runs: Counter = Counter()
    name = f"consultar_ruc_{uuid.uuid4().hex[:8]}"

    def consultar_ruc(ruc: str) -> None:
        runs["corridas"] += 1
        still_broken = not runs["arreglado"] and (failures is None or runs["corridas"] <= failures)
        if still_broken:
            raise SunatNoResponde(f"SUNAT no responde para {ruc}")
        runs["exitos"] += 1

    dramatiq.actor(consultar_ruc, broker=broker, actor_name=name, queue_name=f"{queue_prefix}default",
                   min_backoff=10, max_backoff=40)
    return name, runs


async def queue(db, actor_name: str) -> uuid.UUID:  # noqa: ANN001
    async with db.transaction(SYSTEM) as s:
        message = await enqueue_in_transaction(s, actor_name, "20131312955")
    return uuid.UUID(message.message_id)


async def until(check, *, timeout: float = 20.0, what: str) -> None:  # noqa: ANN001
    """Poll ``check`` (sync, or returning an awaitable) until true; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await _value(check()):
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def _value(result):  # noqa: ANN001, ANN202
    return await result if inspect.isawaitable(result) else result


async def audit_entries(db, action: str, row_id: uuid.UUID) -> list[AuditEntry]:  # noqa: ANN001
    async with db.transaction(SYSTEM) as s:
        return list((await s.scalars(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.record_id == str(row_id)))).all())


async def failed(db, row_id: uuid.UUID) -> bool:  # noqa: ANN001
    return (await outbox_row(db, row_id)).failed_at is not None


# --- The attempts a job gets (pure) -----------------------------------------------------------------------------


def test_the_relay_gives_the_job_only_the_attempts_left():
    assert retries_left(10, 1) == 9  # first run now: nine more
    assert retries_left(10, 4) == 6  # three relay passes could not build the message before
    assert retries_left(10, 10) == 0
    assert retries_left(3, 1, actor_max_retries=0) == 0  # a job that declares fewer keeps its own limit
    assert retries_left(3, 1, actor_max_retries=7) == 2


# --- A job that keeps failing -----------------------------------------------------------------------------------


async def test_a_job_that_always_fails_is_failed_after_exactly_the_maximum_attempts_and_audited_once(
    db, postgres_broker, queue_prefix
):
    name, runs = flaky_job(postgres_broker, queue_prefix, failures=None)
    row_id = await queue(db, name)

    assert await relay_once(db, postgres_broker, max_attempts=3) == 1
    with running_worker(postgres_broker):
        await until(lambda: failed(db, row_id), what="the message to be failed")
        await asyncio.sleep(0.5)  # longer than any back-off of the job: a fourth run would have happened
        assert runs["corridas"] == 3 and runs["exitos"] == 0
        assert await relay_once(db, postgres_broker, max_attempts=3) == 0  # the relay does not take it again
        await asyncio.sleep(0.2)
    assert runs["corridas"] == 3

    row = await outbox_row(db, row_id)
    assert row.attempts == 3
    assert row.last_error == "SunatNoResponde: SUNAT no responde para 20131312955"
    [entry] = await audit_entries(db, "outbox_fallido", row_id)
    assert entry.actor_label == "sistema" and entry.record_type == "outbox"
    assert entry.after["trabajo"] == name and entry.after["intentos"] == 3
    assert "SUNAT no responde" in entry.after["ultimo_error"]


async def test_a_job_that_succeeds_on_its_last_attempt_is_never_failed(db, postgres_broker, queue_prefix):
    name, runs = flaky_job(postgres_broker, queue_prefix, failures=2)
    row_id = await queue(db, name)

    assert await relay_once(db, postgres_broker, max_attempts=3) == 1
    with running_worker(postgres_broker):
        await until(lambda: runs["exitos"] == 1, what="the third run to succeed")
        await asyncio.sleep(0.3)

    assert runs["corridas"] == 3
    row = await outbox_row(db, row_id)
    assert row.failed_at is None and row.sent_at is not None and row.attempts == 3
    assert await audit_entries(db, "outbox_fallido", row_id) == []


# --- A broker that keeps refusing the message ----------------------------------------------------------------------


async def test_a_broker_outage_leaves_the_message_pending_and_it_keeps_all_its_attempts(
    db, worker_settings: Settings, postgres_broker
):
    """A broker that is down is not the message's fault: refusals back off but never fail the message."""
    dead_url = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F?connection_attempts=1&socket_timeout=1"
    dead_broker = build_broker(worker_settings.model_copy(update={"broker_url": dead_url}))
    row_id = await queue(db, "recalcular_indicadores")
    waits = []
    try:
        for refusal in range(1, 6):  # more refusals than the 3 attempts allowed
            async with db.transaction(SYSTEM) as s:  # the back-off has passed
                await s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(available_at=func.now()))
            before = datetime.now(UTC)
            assert await relay_once(db, dead_broker, max_attempts=3) == 0
            row = await outbox_row(db, row_id)
            assert (row.refusals, row.attempts, row.sent_at, row.failed_at) == (refusal, 0, None, None)
            waits.append(row.available_at - before)
    finally:
        dead_broker.close()
    assert row.last_error and waits == sorted(waits) and waits[-1] > waits[0]  # it backs off more each time
    assert await audit_entries(db, "outbox_fallido", row_id) == []

    async with db.transaction(SYSTEM) as s:
        await s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(available_at=func.now()))
    assert await relay_once(db, postgres_broker, max_attempts=3) == 1  # the broker is back: sent at once
    row = await outbox_row(db, row_id)
    assert (row.refusals, row.attempts, row.failed_at, row.last_error) == (0, 1, None, None)
    assert row.sent_at is not None


async def test_a_message_that_cannot_be_built_is_failed_at_its_last_attempt_without_holding_up_the_others(
    db, postgres_broker
):
    broken = await queue(db, "recalcular_indicadores")
    async with db.transaction(SYSTEM) as s:  # a corrupt payload: dramatiq cannot decode it
        await s.execute(update(OutboxMessage).where(OutboxMessage.id == broken)
                        .values(message={"corrupto": True}, created_at=func.now() - timedelta(minutes=1)))
    healthy = await queue(db, "recalcular_indicadores")
    for attempt in (1, 2):
        async with db.transaction(SYSTEM) as s:
            await s.execute(update(OutboxMessage).where(OutboxMessage.id == broken).values(available_at=func.now()))
        assert await relay_once(db, postgres_broker, max_attempts=2) == (1 if attempt == 1 else 0)
        row = await outbox_row(db, broken)
        assert row.attempts == attempt and (row.failed_at is not None) == (attempt == 2)
    assert (await outbox_row(db, healthy)).sent_at is not None  # went out on the first pass, behind the broken one
    assert len(await audit_entries(db, "outbox_fallido", broken)) == 1


# --- The operator: mac outbox fallidos / reintentar ------------------------------------------------------------------


async def test_mac_outbox_reintentar_brings_a_failed_message_back_and_it_is_delivered_once_fixed(
    db, postgres_broker, queue_prefix, capsys
):
    name, runs = flaky_job(postgres_broker, queue_prefix, failures=None)
    row_id = await queue(db, name)
    assert await relay_once(db, postgres_broker, max_attempts=2) == 1
    with running_worker(postgres_broker):
        await until(lambda: failed(db, row_id), what="the message to be failed")
    assert runs["corridas"] == 2

    assert await asyncio.to_thread(mac, ["outbox", "fallidos"]) == 0
    listed = capsys.readouterr().out
    assert f"- {row_id}  trabajo {name}" in listed and "intentos: 2" in listed
    assert "último error: SunatNoResponde: SUNAT no responde para 20131312955" in listed

    runs["arreglado"] = 1  # the cause is fixed
    assert await asyncio.to_thread(mac, ["outbox", "reintentar", str(row_id)]) == 0
    assert f"Reintentando {row_id}" in capsys.readouterr().out
    row = await outbox_row(db, row_id)
    assert row.failed_at is None and row.sent_at is None and row.attempts == 0
    [entry] = await audit_entries(db, "outbox_reintentado", row_id)
    assert entry.before["estado"] == "fallido" and entry.after["estado"] == "pendiente"

    assert await relay_once(db, postgres_broker, max_attempts=2) == 1
    with running_worker(postgres_broker):
        await until(lambda: runs["exitos"] == 1, what="the retried message to be delivered")
        await asyncio.sleep(0.2)
    assert runs["corridas"] == 3 and runs["exitos"] == 1
    row = await outbox_row(db, row_id)
    assert row.failed_at is None and row.sent_at is not None and row.attempts == 1
    assert len(await audit_entries(db, "outbox_fallido", row_id)) == 1  # only the first give-up


async def _failed_row(db, *, days_ago: float = 0) -> uuid.UUID:  # noqa: ANN001
    row_id = uuid.uuid4()
    moment = datetime.now(UTC) - timedelta(days=days_ago)
    async with db.transaction(SYSTEM) as s:
        await s.execute(insert(OutboxMessage).values(
            id=row_id, queue_name="default", actor_name="generar_estado_cuenta", message={"prueba": True},
            attempts=10, last_error="TimeoutError: sin respuesta", created_at=moment - timedelta(hours=3),
            available_at=moment - timedelta(hours=3), sent_at=moment - timedelta(hours=3), failed_at=moment))
    return row_id


async def test_mac_outbox_reintentar_todos_and_wrong_ids(db, capsys):
    first, second = await _failed_row(db), await _failed_row(db)
    stranger = uuid.uuid4()

    assert await asyncio.to_thread(mac, ["outbox", "reintentar"]) == 2  # neither ids nor --todos
    assert await asyncio.to_thread(mac, ["outbox", "reintentar", "no-es-un-id"]) == 2
    assert await asyncio.to_thread(mac, ["outbox", "reintentar", str(stranger)]) == 1
    assert "no es un mensaje fallido" in capsys.readouterr().err

    assert await asyncio.to_thread(mac, ["outbox", "reintentar", "--todos"]) == 0
    out = capsys.readouterr().out
    assert f"Reintentando {first}" in out and f"Reintentando {second}" in out
    for row_id in (first, second):
        row = await outbox_row(db, row_id)
        assert row.failed_at is None and row.sent_at is None and row.attempts == 0
    async with db.transaction(SYSTEM) as s:  # not this test's to deliver
        await s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_([first, second])))


# --- Retention -------------------------------------------------------------------------------------------------------


async def test_retention_keeps_failed_messages_however_old(db):
    old_failed = await _failed_row(db, days_ago=90)
    await apply_retention(db, days=30)
    assert await outbox_row(db, old_failed) is not None


async def test_a_duplicate_of_the_last_attempt_gives_up_only_once(db, runtime):  # noqa: F811
    """Delivery is at least once: the last failed run may be seen twice; the row is failed and audited once."""
    row_id = await _failed_row(db)
    async with db.transaction(SYSTEM) as s:
        await s.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(failed_at=None))

    def give_up() -> bool:
        with runtime.transaction() as session:
            return mark_given_up(session, row_id, 10, "TimeoutError: sin respuesta")

    assert await asyncio.to_thread(give_up) is True
    assert await asyncio.to_thread(give_up) is False
    assert len(await audit_entries(db, "outbox_fallido", row_id)) == 1
    assert await failed(db, row_id)
