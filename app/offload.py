"""CPU-heavy work off the event loop: a bounded pool with a time limit per job.

Parsing and rendering PDFs, signing and validating them, and reading spreadsheets take the CPU for a while;
on the event loop they would stall every other request, ``/health`` included. Web code runs them here:

    pdf = await offload.run(render_clause, data)
    signatures = await offload.run_async(signing.inspect, content, roots)

* The pool has ``OFFLOAD_WORKERS`` threads (default 2) and admits at most ``OFFLOAD_QUEUE`` jobs waiting
  (default 8); beyond that the request is answered at once with 503 and ``Retry-After`` instead of piling up.
* A job has ``OFFLOAD_TIMEOUT_SECONDS`` (default 30) to finish; past it the request gets 422 («demasiado
  complejo») while the pool keeps the slot until the job ends. Threads cannot be killed, so what bounds a
  job's length is its input: the request-size limits of app.edge, the row limits of the spreadsheet readers
  and the length limits of the free-text fields.

Threads rather than processes: the jobs release the event loop at every GIL switch (a few milliseconds), need
no pickling of pyHanko or reportlab objects, and see the same settings as the request (tests included).
The worker (dramatiq) runs its jobs in its own processes and does not use this pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from app.config import get_settings
from app.errors import DomainError, ValidationFailed

T = TypeVar("T")


class ServerBusy(DomainError):
    status_code = 503
    code = "servidor_ocupado"
    title = "Servidor ocupado"


class TooHeavy(ValidationFailed):
    code = "procesamiento_excedido"


class _Pool:
    def __init__(self, workers: int, queue: int, timeout: float) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="offload")
        self.capacity = workers + queue
        self.timeout = timeout
        self.in_flight = 0
        self.lock = threading.Lock()

    def admit(self) -> None:
        with self.lock:
            if self.in_flight >= self.capacity:
                raise ServerBusy("El servidor está procesando muchos documentos a la vez. Intente de nuevo en "
                                 "unos segundos.")
            self.in_flight += 1

    def release(self, _future: Any = None) -> None:
        with self.lock:
            self.in_flight -= 1


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            settings = get_settings()
            _pool = _Pool(settings.offload_workers, settings.offload_queue, settings.offload_timeout_seconds)
        return _pool


async def run(fn: Callable[..., T], /, *args: Any, timeout: float | None = None, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in the pool; the caller's event loop keeps serving other requests meanwhile."""
    p = pool()
    p.admit()
    future = p.executor.submit(fn, *args, **kwargs)
    future.add_done_callback(p.release)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout or p.timeout)
    except TimeoutError:
        raise TooHeavy("El documento es demasiado complejo para procesarlo en un tiempo razonable. Revise el "
                       "archivo o los datos e intente con uno más simple.") from None


async def run_async(fn: Callable[..., Awaitable[T]], /, *args: Any, timeout: float | None = None,
                    **kwargs: Any) -> T:
    """An ``async`` function that only computes (pyHanko's validation and signing): in the pool, on an event
    loop of its own in the job's thread."""
    return await run(lambda: asyncio.run(fn(*args, **kwargs)), timeout=timeout)
