"""Structured logs (structlog): JSON in production, readable lines in a terminal."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(json_logs: bool = False, level: int = logging.INFO) -> None:
    # The same context (request id, job) on structlog's lines and on the standard library's (dramatiq, the
    # outbox relay, uvicorn): both go through one renderer with the bound context variables merged in.
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(processors=[*shared, structlog.processors.format_exc_info, renderer],
                        wrapper_class=structlog.make_filtering_bound_logger(level),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr), cache_logger_on_first_use=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    logging.basicConfig(level=level, handlers=[handler])


def log_request(**fields) -> None:  # noqa: ANN003
    structlog.get_logger("mac.http").info("solicitud", **fields)


class RequestLogMiddleware:
    """One structured line per request: id, method, path, status, duration, and who asked (role, entity)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        # Errors raised by the middleware below (CSRF, rate limit, edge guard) become their response here, inside
        # the logged call, so the logged status is the one the client received (Litestar would otherwise build
        # it outside, after this line was written with 500).
        from litestar.middleware._internal.exceptions import ExceptionHandlerMiddleware

        self.app = ExceptionHandlerMiddleware(app=app, debug=None)

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        import time
        import uuid

        request_id = uuid.uuid4().hex[:12]
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message) -> None:  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            from app import metrics
            from app.db import get_database

            metrics.observe_pool(get_database().engine.pool)
            actor = scope.get("state", {}).get("actor")
            if not scope["path"].startswith("/static/"):
                log_request(method=scope["method"], path=scope["path"], status=status,
                            ms=round((time.perf_counter() - started) * 1000, 1), role=getattr(actor, "role", None),
                            entity=str(actor.entity_id) if getattr(actor, "entity_id", None) else None)
            structlog.contextvars.clear_contextvars()
