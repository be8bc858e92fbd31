"""What a job run leaves for the operator: its log lines carry the request that queued it, and it is counted.

:class:`JobObservability` is a dramatiq middleware on the worker's broker. Before a run it binds the message's
``request_id`` (set by :func:`app.worker.outbox.enqueue_in_transaction` from the web request), the job's name
and the message id to structlog's context variables, so every log line of the run, and every audit entry it
writes (app.audit), names the request; after the run it counts the outcome and the duration
(app.metrics) and logs one line. dramatiq calls both hooks in the worker thread that runs the job, and
context variables are per thread, so concurrent jobs never mix their context.
"""

from __future__ import annotations

import logging
import threading

import structlog
from dramatiq.middleware import Middleware

from app import metrics
from app.worker.outbox import REQUEST_ID_OPTION

# Standard logging: app.logging renders these lines with the bound context (request id, job) merged in.
log = logging.getLogger("mac.worker")


class JobObservability(Middleware):
    def __init__(self, runtime=None) -> None:  # noqa: ANN001 - app.worker.broker.WorkerRuntime
        self.runtime = runtime
        self._local = threading.local()

    def before_process_message(self, broker, message) -> None:  # noqa: ANN001
        structlog.contextvars.clear_contextvars()
        context = {"job": message.actor_name, "message_id": message.message_id}
        request_id = message.options.get(REQUEST_ID_OPTION)
        if request_id:
            context["request_id"] = request_id
        structlog.contextvars.bind_contextvars(**context)
        self._local.timer = metrics.JobTimer(message.actor_name)

    def after_process_message(self, broker, message, *, result=None, exception=None) -> None:  # noqa: ANN001
        self._finish(message, "ok" if exception is None else "error", exception)

    def after_skip_message(self, broker, message) -> None:  # noqa: ANN001
        self._finish(message, "skipped", None)

    def _finish(self, message, outcome: str, exception: BaseException | None) -> None:  # noqa: ANN001
        timer = getattr(self._local, "timer", None) or metrics.JobTimer(message.actor_name)
        self._local.timer = None
        timer.done(outcome)
        if self.runtime is not None and self.runtime._engine is not None:
            metrics.observe_pool(self.runtime._engine.pool)
        if message.actor_name != "heartbeat":
            log.info("Trabajo %s terminado: %s%s", message.actor_name, outcome,
                     f" ({type(exception).__name__}: {exception})" if exception else "")
        structlog.contextvars.clear_contextvars()
