"""The transactional outbox: background work is requested in the same transaction as the work it follows.

Request code never calls ``actor.send()``: a message sent before the transaction commits may run against
data that is then rolled back, and one sent after may be lost if the process dies in between. Instead
:func:`enqueue_in_transaction` builds the dramatiq message and stores it in the ``outbox`` table with the
caller's session. It becomes visible only when that transaction commits, and disappears with it on rollback.

The relay (:func:`relay_once`, looped by :func:`run_relay` in the worker process) claims committed rows with
``FOR UPDATE SKIP LOCKED`` (several relays never take the same row), enqueues each on the broker and marks it
sent in the same transaction. If the broker refuses a message the row records the attempt and the error and
waits (``available_at``, exponential back-off) instead of being lost.

Delivery is AT LEAST ONCE: a relay that dies after the broker accepted a message but before its transaction
commits sends the message again, and brokers themselves redeliver after a worker crash. Every actor must be
idempotent, typically by checking the state it is about to change in the database (see
:func:`app.worker.mail.deliver_email`). The message id is the outbox row id, so a duplicate is recognisable.

Waking up: :func:`enqueue_in_transaction` also issues ``pg_notify`` on :data:`RELAY_CHANNEL`; PostgreSQL
delivers notifications only on commit, so the relay, which LISTENs on that channel, wakes up exactly when
there is committed work. Polling every second remains the fallback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq import Message
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database, TenantContext, new_id
from app.worker.broker import DEFAULT_QUEUE, Job, route
from app.worker.models import OutboxMessage

log = logging.getLogger(__name__)

RELAY_CHANNEL = "mac_outbox"
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
MAX_ERROR_LENGTH = 2000
STOP_CHECK_SECONDS = 0.1

ActorRef = str | Job | dramatiq.Actor


# --- Building messages (pure) --------------------------------------------------------------------------


def actor_route(actor: ActorRef, queue_name: str | None = None) -> tuple[str, str]:
    """(actor name, queue name) for a job, a dramatiq actor or a bare actor name; an explicit queue wins."""
    if isinstance(actor, str):
        return actor, queue_name or DEFAULT_QUEUE
    if isinstance(actor, Job):
        return actor.name, queue_name or actor.queue_name
    if isinstance(actor, dramatiq.Actor):
        return actor.actor_name, queue_name or actor.queue_name
    raise TypeError(f"Se esperaba un trabajo, un actor o un nombre de actor, no {type(actor).__name__}")


def plain(value: Any) -> Any:
    """UUIDs as strings, the rest untouched: actors take record ids, and ids are often UUIDs."""
    return str(value) if isinstance(value, uuid.UUID) else value


def build_message(
    actor: ActorRef, args: tuple[Any, ...], kwargs: dict[str, Any], *, message_id: uuid.UUID,
    queue_name: str | None = None,
) -> Message:
    """The dramatiq message ``actor.message(*args, **kwargs)`` would build, with a chosen stable id."""
    actor_name, queue = actor_route(actor, queue_name)
    return Message(
        queue_name=queue,
        actor_name=actor_name,
        args=tuple(plain(a) for a in args),
        kwargs={k: plain(v) for k, v in kwargs.items()},
        options={},
        message_id=str(message_id),
    )


def message_to_json(message: Message) -> dict[str, Any]:
    """The message as stored (dramatiq's own encoding); fails here, in the request, if it is not JSON."""
    return json.loads(message.encode())


def message_from_json(data: dict[str, Any]) -> Message:
    return Message.decode(json.dumps(data).encode())


def backoff(attempts: int) -> timedelta:
    """How long a row waits after its ``attempts``-th failed enqueue: 2 s, 4 s, 8 s, ... capped at 5 min."""
    exponent = max(attempts - 1, 0)
    seconds = BACKOFF_MAX_SECONDS if exponent > 16 else min(BACKOFF_BASE_SECONDS * 2**exponent, BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds)


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


# --- Writing: in the caller's transaction -------------------------------------------------------------


async def enqueue_in_transaction(
    session: AsyncSession, actor: ActorRef, *args: Any, entity_id: uuid.UUID | None = None,
    queue_name: str | None = None, **kwargs: Any,
) -> Message:
    """Store a message for ``actor`` in the outbox, in ``session``'s transaction; never sends anything.

    ``actor`` is a :class:`~app.worker.broker.Job`, a dramatiq actor or an actor name. ``queue_name``
    defaults to the actor's queue (``"default"`` for a bare name). ``entity_id`` is the tenant the work
    belongs to (row-level security checks it). Arguments must be JSON values (UUIDs are turned into
    strings); pass record ids, never objects. Returns the message, whose id is the outbox row id.
    """
    message_id = new_id()
    message = build_message(actor, args, kwargs, message_id=message_id, queue_name=queue_name)
    # A Core INSERT without RETURNING: tenants may append to the outbox, but only the system may read it,
    # and PostgreSQL applies the read policy to RETURNING rows.
    await session.execute(
        insert(OutboxMessage).values(
            id=message_id,
            entity_id=entity_id,
            queue_name=message.queue_name,
            actor_name=message.actor_name,
            message=message_to_json(message),
            attempts=0,
        )
    )
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": RELAY_CHANNEL})
    return message


# --- Relaying: claim, enqueue, mark --------------------------------------------------------------------


def _claim_statement(limit: int):  # noqa: ANN202
    return (
        select(OutboxMessage.id, OutboxMessage.message, OutboxMessage.attempts)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.available_at <= func.now())
        .order_by(OutboxMessage.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def _mark_sent(session: AsyncSession, row_id: uuid.UUID) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(sent_at=func.now(), attempts=OutboxMessage.attempts + 1, last_error=None)
    )


async def _mark_failed(session: AsyncSession, row_id: uuid.UUID, attempts: int, exc: BaseException) -> None:
    """Record the failed attempt and make the row wait before the next one."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(attempts=attempts, last_error=describe_error(exc), available_at=func.now() + backoff(attempts))
    )


async def relay_once(db: Database, broker: dramatiq.Broker, limit: int = 100) -> int:
    """Move up to ``limit`` committed, due outbox rows to ``broker``, oldest first; returns how many were sent.

    One system transaction: rows are locked while being sent, so concurrent relays share the work. The
    first broker error ends the batch (the broker is probably down): that row records the attempt and backs
    off; the rest stay untouched for the next round. Database errors propagate, and the whole batch will be
    sent again (at least once).
    """
    sent = 0
    async with db.transaction(TenantContext.system()) as session:
        rows = (await session.execute(_claim_statement(limit))).all()
        for row_id, payload, attempts in rows:
            try:
                message = route(broker, message_from_json(payload))
                await asyncio.to_thread(broker.enqueue, message)
            except Exception as exc:  # any broker failure: keep the row, try later
                log.warning("No se pudo encolar el mensaje %s: %s", row_id, describe_error(exc))
                await _mark_failed(session, row_id, attempts + 1, exc)
                break
            await _mark_sent(session, row_id)
            sent += 1
    return sent


async def run_relay(
    db: Database, broker: dramatiq.Broker, stop_event: threading.Event | asyncio.Event, *,
    poll_interval: float = 1.0, limit: int = 100,
) -> None:
    """Relay until ``stop_event`` is set: on every commit that wrote to the outbox (LISTEN/NOTIFY), and at
    least every ``poll_interval`` seconds. Errors are logged and retried on the next round."""
    wake = asyncio.Event()
    async with _listening(db, wake):
        while not stop_event.is_set():
            wake.clear()
            try:
                sent = await relay_once(db, broker, limit)
            except Exception:
                log.exception("Error del relé de la bandeja de salida; se reintentará")
                sent = 0
            if sent >= limit:
                continue  # more may be waiting
            await _wait(wake, stop_event, poll_interval)


async def _wait(wake: asyncio.Event, stop_event: threading.Event | asyncio.Event, seconds: float) -> None:
    """Until a NOTIFY, the stop event or ``seconds``; the stop event is looked at every tenth of a second
    because a thread's event cannot be awaited."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not stop_event.is_set():
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return
        try:
            await asyncio.wait_for(wake.wait(), timeout=min(remaining, STOP_CHECK_SECONDS))
            return
        except TimeoutError:
            pass


@asynccontextmanager
async def _listening(db: Database, wake: asyncio.Event) -> AsyncIterator[None]:
    """LISTEN on the relay channel on a dedicated connection, best effort: without it the relay only polls."""

    def on_notify(*_args: Any) -> None:
        wake.set()

    conn = raw = None
    try:
        conn = await db.engine.connect()
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.add_listener(RELAY_CHANNEL, on_notify)
    except Exception:
        log.warning("Sin LISTEN para el relé; se consultará periódicamente", exc_info=True)
        raw = None
    try:
        yield
    finally:
        try:
            if raw is not None:
                await raw.remove_listener(RELAY_CHANNEL, on_notify)
            if conn is not None:
                await conn.close()
        except Exception:
            log.debug("No se pudo cerrar la conexión LISTEN del relé", exc_info=True)
