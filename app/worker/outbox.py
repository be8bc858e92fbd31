"""The transactional outbox: background work is requested in the same transaction as the work it follows.

Request code never calls ``actor.send()``: a message sent before the transaction commits may run against
data that is then rolled back, and one sent after may be lost if the process dies in between. Instead
:func:`enqueue_in_transaction` builds the dramatiq message and stores it in the ``outbox`` table with the
caller's session. It becomes visible only when that transaction commits, and disappears with it on rollback.

The relay (:func:`relay_once`, looped by :func:`run_relay` in the worker process) claims committed rows with
``FOR UPDATE SKIP LOCKED`` (several relays never take the same row), enqueues each on the broker and marks it
sent in the same transaction. If the broker refuses a message the row records the refusal and the error and
waits (``available_at``, exponential back-off) instead of being lost.

Delivery is AT LEAST ONCE: a relay that dies after the broker accepted a message but before its transaction
commits sends the message again, and brokers themselves redeliver after a worker crash. Every actor must be
idempotent, typically by checking the state it is about to change in the database (see
:func:`app.worker.mail.deliver_email`). The message id is the outbox row id, so a duplicate is recognisable.

Giving up: every message gets at most ``OUTBOX_MAX_ATTEMPTS`` attempts (``settings.outbox_max_attempts``). An
enqueue the broker refuses is *not* one: the broker being down or unreachable is not the message's fault, so
the row counts the refusal (``refusals``), backs off (2 s, 4 s, ... up to 5 min) and is sent when the broker
is back, with all its attempts. A message the relay cannot even build (a corrupt payload) uses one attempt per
pass; each run of the job that raises is another (dramatiq's ``Retries`` runs it again with its back-off; the relay gives the message only the retries
left, and :class:`OutboxAttempts`, a middleware on the worker's broker, writes each failed run on the row). After
the last attempt the row is *failed* (``failed_at``, ``last_error``): the relay never claims it again, the
give-up is logged as an error and audited once, and only an operator brings it back
(``mac outbox fallidos`` / ``mac outbox reintentar``, :func:`list_failed` / :func:`retry_failed`). A message
that succeeds on a later attempt is simply sent.

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
import structlog
from dramatiq import Message
from dramatiq.middleware import Middleware
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app import audit, metrics
from app.db import Database, TenantContext, new_id
from app.worker.broker import DEFAULT_QUEUE, Job, WorkerRuntime, route
from app.worker.models import OutboxMessage

log = logging.getLogger(__name__)
events = structlog.get_logger("mac.outbox")

RELAY_CHANNEL = "mac_outbox"
DEFAULT_MAX_ATTEMPTS = 10  # the default of settings.outbox_max_attempts (see app.config for the give-up times)
# Carried in the message's options: which attempt its first run is (1, unless earlier relay passes could not
# build the message).
FIRST_RUN_OPTION = "outbox_attempt"
# Carried in the message's options: the id of the web request (or job) that queued it.
REQUEST_ID_OPTION = "request_id"
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
    queue_name: str | None = None, request_id: str | None = None,
) -> Message:
    """The dramatiq message ``actor.message(*args, **kwargs)`` would build, with a chosen stable id; the web
    request that queued it travels in its options (``request_id``), into the job's log lines and audit."""
    actor_name, queue = actor_route(actor, queue_name)
    return Message(
        queue_name=queue,
        actor_name=actor_name,
        args=tuple(plain(a) for a in args),
        kwargs={k: plain(v) for k, v in kwargs.items()},
        options={REQUEST_ID_OPTION: request_id} if request_id else {},
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


def retries_left(max_attempts: int, attempt: int, actor_max_retries: int | None = None) -> int:
    """How many times dramatiq may run the job again after its first run, which is attempt number ``attempt``
    of ``max_attempts``; a job that declares fewer ``max_retries`` keeps its own, lower, limit."""
    left = max(max_attempts - attempt, 0)
    return left if actor_max_retries is None else min(left, actor_max_retries)


def with_retry_budget(broker: dramatiq.Broker, message: Message, *, attempt: int, max_attempts: int) -> Message:
    """The message as the relay hands it to the broker: with the retries it has left and its attempt number."""
    actor = broker.actors.get(message.actor_name)
    declared = actor.options.get("max_retries") if actor is not None else None
    return message.copy(options={**message.options, FIRST_RUN_OPTION: attempt,
                                 "max_retries": retries_left(max_attempts, attempt, declared)})


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
    message = build_message(actor, args, kwargs, message_id=message_id, queue_name=queue_name,
                            request_id=structlog.contextvars.get_contextvars().get("request_id"))
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
    # Pending rows only, exactly the predicate of the partial index ix_outbox_pending: sent and failed rows are
    # never scanned.
    return (
        select(OutboxMessage.id, OutboxMessage.message, OutboxMessage.attempts, OutboxMessage.refusals)
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None),
               OutboxMessage.available_at <= func.now())
        .order_by(OutboxMessage.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def _mark_sent(session: AsyncSession, row_id: uuid.UUID) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(sent_at=func.now(), attempts=OutboxMessage.attempts + 1, refusals=0, last_error=None)
    )


async def _mark_refused(session: AsyncSession, row_id: uuid.UUID, refusals: int, exc: BaseException) -> None:
    """The broker refused the enqueue: the row waits, its attempts untouched."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(refusals=refusals, last_error=describe_error(exc), available_at=func.now() + backoff(refusals))
    )


async def _mark_failed(session: AsyncSession, row_id: uuid.UUID, attempts: int, exc: BaseException) -> None:
    """Record the failed attempt (the message could not be built) and make the row wait before the next one."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id)
        .values(attempts=attempts, last_error=describe_error(exc), available_at=func.now() + backoff(attempts))
    )


async def _give_up(session: AsyncSession, row_id: uuid.UUID, attempts: int, exc: BaseException) -> None:
    """The message could not be built at its last attempt: the row is failed (see :func:`mark_given_up`)."""
    error = describe_error(exc)
    given_up = (await session.execute(_give_up_statement(row_id, attempts, error))).first()
    if given_up is not None:
        await audit.record(session, TenantContext.system(), **_give_up_audit(row_id, given_up, error))
        _log_give_up(row_id, given_up, error)


async def relay_once(db: Database, broker: dramatiq.Broker, limit: int = 100, *,
                     max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> int:
    """Move up to ``limit`` committed, due outbox rows to ``broker``, oldest first; returns how many were sent.

    One system transaction: rows are locked while being sent, so concurrent relays share the work. The
    first broker error ends the batch (the broker is probably down): that row counts the refusal and backs
    off; the rest stay untouched for the next round. A row whose message cannot be built uses an attempt (and
    is failed at its last of ``max_attempts``) without holding up the others.
    Database errors propagate, and the whole batch will be sent again (at least once).
    """
    sent = 0
    async with db.transaction(TenantContext.system()) as session:
        rows = (await session.execute(_claim_statement(limit))).all()
        for row_id, payload, attempts, refusals in rows:
            attempt = attempts + 1
            try:
                message = route(broker, message_from_json(payload))
                message = with_retry_budget(broker, message, attempt=attempt, max_attempts=max_attempts)
            except Exception as exc:  # the row itself is broken: one attempt used; the others go on
                log.error("El mensaje %s no se puede construir: %s", row_id, describe_error(exc))
                if attempt >= max_attempts:
                    await _give_up(session, row_id, attempt, exc)
                else:
                    await _mark_failed(session, row_id, attempt, exc)
                continue
            try:
                await asyncio.to_thread(broker.enqueue, message)
            except Exception as exc:  # the broker is down or refused: wait and try again, never give up for it
                log.warning("No se pudo encolar el mensaje %s: %s", row_id, describe_error(exc))
                metrics.BROKER_REFUSALS.inc()
                await _mark_refused(session, row_id, refusals + 1, exc)
                break
            await _mark_sent(session, row_id)
            metrics.OUTBOX_RELAYED.inc()
            sent += 1
    return sent


async def run_relay(
    db: Database, broker: dramatiq.Broker, stop_event: threading.Event | asyncio.Event, *,
    poll_interval: float = 1.0, limit: int = 100, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> None:
    """Relay until ``stop_event`` is set: on every commit that wrote to the outbox (LISTEN/NOTIFY), and at
    least every ``poll_interval`` seconds. Errors are logged and retried on the next round."""
    wake = asyncio.Event()
    async with _listening(db, wake):
        while not stop_event.is_set():
            wake.clear()
            try:
                sent = await relay_once(db, broker, limit, max_attempts=max_attempts)
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


# --- Failed runs of the job: recorded by a middleware of the worker's broker ---------------------------------


def _give_up_statement(row_id: uuid.UUID, attempts: int, error: str):  # noqa: ANN202
    """Fail the row unless it already is (a duplicate delivery gives up only once); returns what the audit needs."""
    return (
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.failed_at.is_(None))
        .values(failed_at=func.now(), attempts=func.greatest(OutboxMessage.attempts, attempts), last_error=error)
        .returning(OutboxMessage.actor_name, OutboxMessage.attempts, OutboxMessage.entity_id)
    )


def _give_up_audit(row_id: uuid.UUID, given_up: Any, error: str) -> dict[str, Any]:
    actor_name, attempts, entity_id = given_up
    return dict(action="outbox_fallido", record_type="outbox", record_id=row_id, actor_label="sistema",
                after={"trabajo": actor_name, "intentos": attempts, "ultimo_error": error,
                       "entidad": str(entity_id) if entity_id else None})


def _log_give_up(row_id: uuid.UUID, given_up: Any, error: str) -> None:
    actor_name, attempts, entity_id = given_up
    events.error("outbox_mensaje_fallido", mensaje=str(row_id), trabajo=actor_name, intentos=attempts,
                 entidad=str(entity_id) if entity_id else None, error=error)


def mark_given_up(session: Session, row_id: uuid.UUID, attempts: int, error: str) -> bool:
    """Fail the row after its last attempt, audit and log the give-up; False if it was already failed (or is
    not an outbox message: heartbeats and periodic jobs go straight to the broker)."""
    given_up = session.execute(_give_up_statement(row_id, attempts, error)).first()
    if given_up is None:
        return False
    audit.record_sync(session, TenantContext.system(), **_give_up_audit(row_id, given_up, error))
    _log_give_up(row_id, given_up, error)
    return True


class OutboxAttempts(Middleware):
    """Writes each failed run of an outbox message's job on its row, and fails the row when dramatiq gives up.

    Runs after dramatiq's ``Retries`` (it is placed before it, and "after" hooks run in reverse order), which has
    decided by then: either
    the message was enqueued again (one more attempt) or it was failed (``message.failed``: retries exhausted,
    or an exception the actor ``throws``). The attempt numbers come from the message itself (its first run's
    number, set by the relay, plus dramatiq's ``retries``), so writes arriving out of order cannot undercount.
    Messages that are not in the outbox touch no row.
    """

    def __init__(self, runtime: WorkerRuntime) -> None:
        self.runtime = runtime

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001, ANN201
        if exception is None:
            return
        try:
            row_id = uuid.UUID(message.message_id)
        except ValueError:
            return
        first = int(message.options.get(FIRST_RUN_OPTION, 1))
        runs = int(message.options.get("retries", 1))  # Retries counts this run already
        error = describe_error(exception)
        try:
            with self.runtime.transaction() as session:
                if message.failed:
                    mark_given_up(session, row_id, first + runs - 1, error)
                else:
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == row_id, OutboxMessage.failed_at.is_(None))
                        .values(attempts=func.greatest(OutboxMessage.attempts, first + runs), last_error=error)
                    )
        except Exception:  # noqa: BLE001 - the job's own retry must go on even if this bookkeeping fails
            log.exception("No se pudo registrar el intento fallido del mensaje %s", row_id)


# --- Operators: the failed messages and retrying them (`mac outbox ...`) --------------------------------------


async def list_failed(db: Database) -> list[OutboxMessage]:
    """Every failed message, the most recently failed first."""
    async with db.transaction(TenantContext.system()) as session:
        return list((await session.scalars(
            select(OutboxMessage).where(OutboxMessage.failed_at.is_not(None))
            .order_by(OutboxMessage.failed_at.desc(), OutboxMessage.id)
        )).all())


async def retry_failed(db: Database, ids: list[uuid.UUID] | None = None, *,
                       actor_label: str = "operador") -> list[uuid.UUID]:
    """Put failed messages back to pending with their attempts reset (``ids``, or every failed one when None),
    due now; one audit entry per message. Returns the ids put back (an id that is not failed is ignored)."""
    async with db.transaction(TenantContext.system()) as session:
        condition = OutboxMessage.failed_at.is_not(None)
        if ids is not None:
            condition = condition & OutboxMessage.id.in_(ids)
        rows = (await session.execute(
            update(OutboxMessage).where(condition)
            .values(failed_at=None, sent_at=None, attempts=0, available_at=func.now())
            .returning(OutboxMessage.id, OutboxMessage.actor_name, OutboxMessage.last_error)
        )).all()
        for row_id, actor_name, last_error in rows:
            await audit.record(session, TenantContext.system(), action="outbox_reintentado", record_type="outbox",
                               record_id=row_id, actor_label=actor_label,
                               before={"estado": "fallido", "ultimo_error": last_error},
                               after={"estado": "pendiente", "trabajo": actor_name, "intentos": 0})
        if rows:
            await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": RELAY_CHANNEL})
    return [row_id for row_id, _, _ in rows]
