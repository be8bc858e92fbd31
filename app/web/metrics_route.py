"""GET /metrics: the Prometheus text exposition, only with METRICS_TOKEN (absent without one: 404)."""

from __future__ import annotations

import hmac

from litestar import Controller, Request, get
from litestar.plugins.prometheus import PrometheusConfig
from litestar.response import Response

from app import metrics
from app.config import Settings
from app.db import get_database


def prometheus_config() -> PrometheusConfig:
    """Requests by route template (not the raw path: one series per route, not per id), method and status."""
    return PrometheusConfig(app_name="mac", prefix=metrics.PREFIX, group_path=True,
                            buckets=list(metrics.REQUEST_BUCKETS), exclude=["/static", "/metrics"])


def metrics_controller(settings: Settings) -> type[Controller] | None:
    token = settings.metrics_token
    if not token:
        return None

    def has_token(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else ""
        return hmac.compare_digest(given.encode(), token.encode())

    class MetricsController(Controller):
        path = "/metrics"
        include_in_schema = False

        @get("/")
        async def scrape(self, request: Request) -> Response:
            # Answered here, not by a guard: a scraper gets a plain 401, never the sign-in page.
            if not has_token(request):
                return Response("Se requiere el token de métricas (Authorization: Bearer).\n",
                                media_type="text/plain", status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="metricas"'})
            db = get_database()
            metrics.observe_pool(db.engine.pool)
            figures = await metrics.database_figures(db)
            body, content_type = metrics.exposition(figures)
            return Response(body, media_type=content_type)

    return MetricsController
