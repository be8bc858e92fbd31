"""``mac worker``: the dramatiq worker, the outbox relay and a heartbeat, in one process.

:func:`run_worker` configures the broker, starts a dramatiq ``Worker`` in this process (its consumer and
worker threads), runs the outbox relay in a thread of its own (with its own event loop and async engine), and
every ``heartbeat_every`` seconds sends the ``heartbeat`` job through the broker. The job writes
``DATA_DIR/worker/heartbeat``; :func:`read_heartbeat` tells a health check when the whole loop (broker,
consumer, actor) last worked. SIGINT or SIGTERM stops everything cleanly and the function returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dramatiq

from app.config import Settings
from app.db import Database
from app.worker.broker import WorkerRuntime, configure_broker, configured_runtime, job, shutdown_broker
from app.worker.outbox import run_relay

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 30.0
# How often the worker looks for periodic jobs that are due (app.worker.schedule).
SCHEDULE_TICK_SECONDS = 15.0
SHUTDOWN_TIMEOUT_MS = 60_000  # work in progress gets this long to finish
WORKER_POLL_MS = 250  # how often idle worker threads look for the stop signal


# --- Heartbeat ------------------------------------------------------------------------------------------------


@job("heartbeat", max_retries=0, time_limit=30_000)
def heartbeat(runtime: WorkerRuntime, sent_at_ms: int) -> None:
    """Record that a message went through the broker and an actor ran (idempotent: last write wins)."""
    write_heartbeat(runtime.settings.data_dir, sent_at_ms=sent_at_ms, processed_at=datetime.now(UTC))


def heartbeat_path(data_dir: Path) -> Path:
    return Path(data_dir) / "worker" / "heartbeat"


def write_heartbeat(data_dir: Path, *, sent_at_ms: int, processed_at: datetime) -> None:
    path = heartbeat_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"sent_at_ms": sent_at_ms, "processed_at": processed_at.isoformat()}))
    tmp.replace(path)


def read_heartbeat(data_dir: Path) -> datetime | None:
    """When the worker last processed a heartbeat (UTC), or None if it never did."""
    try:
        return datetime.fromisoformat(json.loads(heartbeat_path(data_dir).read_text())["processed_at"])
    except (FileNotFoundError, KeyError, ValueError):
        return None


def send_heartbeat(broker: dramatiq.Broker) -> None:
    """Directly on the broker: a heartbeat follows no database work, so it needs no outbox."""
    try:
        broker.actors["heartbeat"].send(int(time.time() * 1000))
    except Exception:
        log.warning("No se pudo enviar el latido del worker", exc_info=True)


# --- The process -------------------------------------------------------------------------------------------


def run_worker(
    settings: Settings, *, threads: int = 4, stop_event: threading.Event | None = None,
    heartbeat_every: float = HEARTBEAT_EVERY_SECONDS,
) -> None:
    """Run the worker until SIGINT/SIGTERM (or ``stop_event``), then stop cleanly and return.

    ``threads`` is the number of dramatiq worker threads. Signal handlers are installed only when called from
    the main thread (and restored on return); from another thread, set ``stop_event`` to stop.
    """
    stop = stop_event or threading.Event()
    restore_signals = _install_signal_handlers(stop)
    broker = configure_broker(settings)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=WORKER_POLL_MS)
    relay = threading.Thread(target=_relay_thread, args=(settings, broker, stop), name="mac-outbox-relay",
                             daemon=True)
    started = False
    try:
        worker.start()
        started = True
        relay.start()
        log.info("Worker iniciado: broker %s, %d hilos, colas %s", type(broker).__name__, threads,
                 sorted(broker.get_declared_queues()))
        tick = min(heartbeat_every, SCHEDULE_TICK_SECONDS)
        last_heartbeat = float("-inf")
        while True:
            if time.monotonic() - last_heartbeat >= heartbeat_every:
                send_heartbeat(broker)
                last_heartbeat = time.monotonic()
            _send_periodic(broker)
            if stop.wait(tick):
                break
    finally:
        stop.set()  # the relay stops within a tenth of a second, while the worker drains
        log.info("Deteniendo el worker...")
        if started:
            worker.stop(timeout=SHUTDOWN_TIMEOUT_MS)
        if relay.is_alive():
            relay.join(timeout=10)
        shutdown_broker()
        restore_signals()
        log.info("Worker detenido")


def _send_periodic(broker: dramatiq.Broker) -> None:
    from app.worker.schedule import send_due

    try:
        sent = send_due(broker, configured_runtime())
    except Exception:  # noqa: BLE001 — a database hiccup must not stop the worker
        log.warning("No se pudieron revisar los trabajos periódicos", exc_info=True)
        return
    if sent:
        log.info("Trabajos periódicos enviados: %s", ", ".join(sent))


def _relay_thread(settings: Settings, broker: dramatiq.Broker, stop: threading.Event) -> None:
    asyncio.run(_relay_main(settings, broker, stop))


async def _relay_main(settings: Settings, broker: dramatiq.Broker, stop: threading.Event) -> None:
    db = Database(settings.runtime_url(), pool_size=2)
    try:
        await run_relay(db, broker, stop, max_attempts=settings.outbox_max_attempts)
    finally:
        await db.dispose()


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """SIGINT and SIGTERM set ``stop``; returns a function restoring the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, _frame: object) -> None:
        log.info("Señal %s recibida; deteniendo el worker", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
