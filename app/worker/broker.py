"""The message broker, the jobs and how they are bound together.

Which broker
    ``settings.broker_url`` chooses it: ``amqp://`` (RabbitMQ) or ``redis://`` for production; unset, the
    PostgreSQL broker (``dramatiq-postgres``) on the application database, so the embedded run needs nothing
    else. The PostgreSQL broker connects as the *runtime* role (subject to RLS, owns nothing); its schema is
    created by ``app.database_setup.init_broker_schema`` during ``mac migrate``. Never the stub broker: tests
    use the real ones.

How jobs become actors (the deferred-declaration pattern)
    ``@dramatiq.actor`` binds an actor to whatever global broker exists *when the module is imported*, and
    if none exists dramatiq silently creates a RabbitMQ one. That makes import order matter and gives
    importing a module a side effect. Instead, a module marks its background functions with :func:`job`,
    which only records them in a registry (no broker, no connection). :func:`declare_actors` later binds
    every recorded job to a concrete broker with ``dramatiq.actor(fn, broker=...)``; :func:`configure_broker`
    does that once per process for the global broker. The same idea as Celery's ``shared_task`` or Flask's
    blueprints: declare now, bind when the application is assembled. It also lets tests bind the same jobs
    to several real brokers in one process, each on its own queues.

    Where jobs live: ``app/worker/`` for the worker's own (mail, heartbeat, retention) and ``app/<domain>/jobs.py``
    for a domain's, e.g.::

        from app.worker.broker import WorkerRuntime, job

        @job("generate_statement", queue_name="reports", max_retries=5)
        def generate_statement(runtime: WorkerRuntime, statement_id: str) -> None:
            with runtime.transaction() as session:  # the system's context; RLS still applies
                ...  # idempotent: look at the statement's state first

    and request code queues it with ``await enqueue_in_transaction(session, generate_statement, str(id))``.

    A job receives a :class:`WorkerRuntime` (settings and a synchronous unit of work as the runtime role)
    followed by the message's arguments, which are ids and plain values, never objects.

Delivery is at least once (see :mod:`app.worker.outbox`): every job must be idempotent.

The web process never needs a broker: request code writes messages to the outbox table, and only the worker
(``mac worker``, :func:`app.worker.runner.run_worker`) connects to the broker.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dramatiq
from dramatiq import Message
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database, TenantContext

T = TypeVar("T")

log = logging.getLogger(__name__)

# The worker's own job modules. A domain with background work puts its jobs in its own ``jobs.py``
# (``app/billing_reports/jobs.py``), found through the same plug-in point as routes (app.modules).
WORKER_JOB_MODULES: tuple[str, ...] = ("app.worker.mail", "app.worker.runner", "app.worker.retention",
                                        "app.audit_checkpoints")

DEFAULT_QUEUE = "default"


# --- Jobs: background functions recorded at import time, bound to a broker later -------------------------


@dataclass(frozen=True)
class Job:
    """A background function and how to route it; no broker involved until :func:`declare_actors`."""

    name: str
    fn: Callable[..., Any]
    queue_name: str = DEFAULT_QUEUE
    options: dict[str, Any] = field(default_factory=dict)
    # Periodic jobs: the worker sends them, without arguments, at most once per this many seconds across all
    # worker processes (see app.worker.schedule).
    every_seconds: float | None = None

    def __call__(self, runtime: WorkerRuntime, *args: Any, **kwargs: Any) -> Any:
        """Run the job inline (tests, CLI), exactly as an actor would."""
        return self.fn(runtime, *args, **kwargs)


_JOBS: dict[str, Job] = {}


def job(name: str, *, queue_name: str = DEFAULT_QUEUE, every_seconds: float | None = None,
        **options: Any) -> Callable[[Callable[..., Any]], Job]:
    """Record ``fn(runtime, *args, **kwargs)`` as the job ``name``; ``options`` are dramatiq actor options
    (``max_retries``, ``time_limit``, ...). ``every_seconds`` makes it periodic. Importing the module has no
    other effect."""

    def record(fn: Callable[..., Any]) -> Job:
        existing = _JOBS.get(name)
        if existing is not None and _qualified(existing.fn) != _qualified(fn):
            raise ValueError(f"El trabajo {name!r} ya está registrado por {_qualified(existing.fn)}")
        recorded = Job(name=name, fn=fn, queue_name=queue_name, options=dict(options), every_seconds=every_seconds)
        _JOBS[name] = recorded
        return recorded

    return record


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def registered_jobs() -> dict[str, Job]:
    """Every job of the application: imports the worker's job modules and each domain's ``jobs.py``, then
    reads the registry."""
    from app.modules import domain_modules

    for module in WORKER_JOB_MODULES:
        importlib.import_module(module)
    domain_modules("jobs")
    return dict(_JOBS)


# --- What a job gets: settings and a synchronous unit of work ---------------------------------------------


def sync_database_url(url: str) -> str:
    """SQLAlchemy URL for the synchronous psycopg driver from a libpq URL (unix-socket URLs included)."""
    _scheme, rest = url.split("://", 1)
    return "postgresql+psycopg://" + rest


class WorkerRuntime:
    """Settings plus a synchronous engine as the runtime role, shared by the worker threads of a process.

    Actors are synchronous and run in dramatiq's threads; a thread-safe synchronous pool is the robust
    choice there (an asyncio engine is bound to one event loop). Transactions go through a SQLAlchemy
    ``Session`` so the tenant context is applied by the same ``after_begin`` hook as in the web
    (``app.db``): the one place where the context is set.
    """

    def __init__(self, settings: Settings, *, pool_size: int = 5) -> None:
        self.settings = settings
        self._pool_size = pool_size
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:  # created on first use: building a runtime opens no connection
            if self._engine is None:
                self._engine = create_engine(
                    sync_database_url(self.settings.runtime_url()),
                    pool_size=self._pool_size,
                    max_overflow=10,
                    pool_pre_ping=True,
                )
            return self._engine

    @contextmanager
    def transaction(self, ctx: TenantContext | None = None) -> Iterator[Session]:
        """One unit of work, as the system unless told otherwise: commits on success, rolls back otherwise."""
        with Session(self.engine, info={"tenant": ctx or TenantContext.system()}, expire_on_commit=False) as s:
            with s.begin():
                yield s

    def run_with_database(self, work: Callable[[Database], Awaitable[T]], *, pool_size: int = 2) -> T:
        """Run ``work(db)`` for an actor that calls the web's async services: a short-lived event loop with an
        async database pool of its own (an async engine is bound to one loop), disposed when it ends."""
        async def main() -> T:
            db = Database(self.settings.runtime_url(), pool_size=pool_size)
            try:
                return await work(db)
            finally:
                await db.dispose()

        return asyncio.run(main())

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


# --- Brokers -----------------------------------------------------------------------------------------------


def broker_kind(broker_url: str | None) -> str:
    """``rabbitmq``, ``redis`` or ``postgres`` for a BROKER_URL; anything else is a configuration error."""
    url = (broker_url or "").strip()
    if not url:
        return "postgres"
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("amqp", "amqps"):
        return "rabbitmq"
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    if scheme in ("postgres", "postgresql"):
        return "postgres"
    raise ValueError(f"BROKER_URL no reconocido: use amqp://, redis:// o déjelo vacío (recibido {scheme or url!r})")


def build_broker(settings: Settings) -> dramatiq.Broker:
    """A new broker for the settings; opens no connection until it is used.

    RabbitMQ publishes with confirmations, so the outbox relay marks a message sent only once RabbitMQ has
    taken responsibility for it.
    """
    kind = broker_kind(settings.broker_url)
    if kind == "rabbitmq":
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=settings.broker_url, confirm_delivery=True)
    if kind == "redis":
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=settings.broker_url)
    from dramatiq_postgres import PostgresBroker

    url = settings.broker_url if settings.broker_url else settings.runtime_url()
    # Job state lives in our own tables, so the broker keeps no results.
    return PostgresBroker(url=url, results=False)


def declare_actors(
    broker: dramatiq.Broker, runtime: WorkerRuntime, *, queue_prefix: str = ""
) -> dict[str, dramatiq.Actor]:
    """Bind every job to ``broker`` as a dramatiq actor whose function receives ``runtime`` first.

    ``queue_prefix`` renames the queues (``mail`` -> ``<prefix>mail``) so that tests sharing a RabbitMQ
    server never consume each other's messages; the outbox relay routes by the declared actor, so stored
    messages follow. Idempotent per broker.

    The broker also gets :class:`app.worker.outbox.OutboxAttempts` (once), which writes failed runs of outbox
    messages on their rows and fails a row when its attempts are exhausted, and
    :class:`app.worker.observability.JobObservability` (once): the request id in the job's logs and audit
    entries, and the job metrics.
    """
    from dramatiq.middleware import Retries

    from app.worker.observability import JobObservability
    from app.worker.outbox import OutboxAttempts

    if not any(isinstance(m, JobObservability) for m in broker.middleware):
        broker.add_middleware(JobObservability(runtime))  # last: its "before" runs after the others'
    if not any(isinstance(m, OutboxAttempts) for m in broker.middleware):
        # Before Retries in the list: dramatiq calls "after" hooks in reverse order, so it sees Retries' decision.
        has_retries = any(isinstance(m, Retries) for m in broker.middleware)
        broker.add_middleware(OutboxAttempts(runtime), before=Retries if has_retries else None)
    actors: dict[str, dramatiq.Actor] = {}
    for name, recorded in registered_jobs().items():
        if name in broker.actors:
            actors[name] = broker.actors[name]
            continue
        actors[name] = dramatiq.actor(
            _bind(recorded, runtime),
            broker=broker,
            actor_name=name,
            queue_name=queue_prefix + recorded.queue_name,
            **recorded.options,
        )
    return actors


def _bind(recorded: Job, runtime: WorkerRuntime) -> Callable[..., Any]:
    @functools.wraps(recorded.fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return recorded.fn(runtime, *args, **kwargs)

    del run.__wrapped__  # dramatiq must see (*args, **kwargs), not the runtime parameter
    return run


def route(broker: dramatiq.Broker, message: Message) -> Message:
    """The message on the queue of the actor declared on this broker (if any): the worker's declaration is
    the source of truth for routing, the queue stored with the message only a default."""
    actor = broker.actors.get(message.actor_name)
    if actor is None or actor.queue_name == message.queue_name:
        return message
    return message.copy(queue_name=actor.queue_name)


# --- The process-wide broker ------------------------------------------------------------------------------


@dataclass
class _Configured:
    broker: dramatiq.Broker
    runtime: WorkerRuntime


_configured: _Configured | None = None
_configure_lock = threading.Lock()


def configure_broker(settings: Settings) -> dramatiq.Broker:
    """Build the broker, make it dramatiq's global broker and declare the actors on it, once per process.

    Later calls return the same broker (whatever settings they pass) until :func:`shutdown_broker`.
    """
    global _configured
    with _configure_lock:
        if _configured is None:
            broker = build_broker(settings)
            dramatiq.set_broker(broker)
            runtime = WorkerRuntime(settings)
            declare_actors(broker, runtime, queue_prefix=settings.queue_prefix)
            _configured = _Configured(broker, runtime)
            log.info("Broker %s configurado con %d actores", type(broker).__name__, len(broker.actors))
        return _configured.broker


def configured_runtime() -> WorkerRuntime:
    """The runtime the global actors were bound to (after :func:`configure_broker`)."""
    if _configured is None:
        raise RuntimeError("El broker no está configurado: llame a configure_broker(settings)")
    return _configured.runtime


def shutdown_broker() -> None:
    """Close the global broker and its runtime; a later :func:`configure_broker` starts afresh."""
    global _configured
    with _configure_lock:
        if _configured is None:
            return
        try:
            _configured.broker.close()
        finally:
            _configured.runtime.dispose()
            _configured = None


# --- Readiness -----------------------------------------------------------------------------------------------

BROKER_CHECK_TIMEOUT_SECONDS = 2


def check_broker(settings: Settings) -> tuple[str, str | None]:
    """(broker kind, None when it answers or why it does not), for /ready. Blocking: run it in a thread.

    A fresh short connection each time (the web process holds no broker connection): RabbitMQ's handshake,
    Redis' PING. The PostgreSQL broker lives in the application database, which /ready checks anyway, so its
    schema is looked at there.
    """
    kind = broker_kind(settings.broker_url)
    try:
        if kind == "rabbitmq":
            import pika

            parameters = pika.URLParameters(settings.broker_url)
            parameters.connection_attempts = 1
            parameters.socket_timeout = BROKER_CHECK_TIMEOUT_SECONDS
            parameters.blocked_connection_timeout = BROKER_CHECK_TIMEOUT_SECONDS
            pika.BlockingConnection(parameters).close()
        elif kind == "redis":
            import redis

            client = redis.Redis.from_url(settings.broker_url, socket_timeout=BROKER_CHECK_TIMEOUT_SECONDS,
                                          socket_connect_timeout=BROKER_CHECK_TIMEOUT_SECONDS)
            try:
                client.ping()
            finally:
                client.close()
    except Exception as exc:  # noqa: BLE001 - any reason it cannot be reached makes the process not ready
        return kind, type(exc).__name__
    return kind, None
