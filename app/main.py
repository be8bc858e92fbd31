"""create_app(): the Litestar application. Each domain contributes its controllers through `routes`."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from app.auth.actor import ActorMiddleware
from app.auth.csrf import csrf_middleware
from app.auth.session_store import PostgresSessionStore, SessionConfig
from app.config import Settings, get_settings
from app.db import get_database
from app.edge import UPLOAD_BODY_LIMIT, EdgeGuardMiddleware
from app.logging import RequestLogMiddleware, configure_logging
from app.modules import domain_modules
from app.stores import shared_store
from app.web.metrics_route import metrics_controller, prometheus_config
from app.web.page import configure_jinja
from app.web.openapi import TimeOfDaySchema, document_problems
from app.web.responses import handle_exception
from app.web.security_headers import add_security_headers

WEB_DIR = Path(__file__).parent / "web"
# Throttled paths: sign-in, reset, token, registration and public verification (guessing, flooding, CPU).
THROTTLED_PREFIXES = ("/ingresar", "/restablecer", "/oauth/token", "/registro", "/invitacion", "/verificar")


def route_handlers() -> list:
    from app.web.audit_anchor_routes import AuditAnchorController
    from app.web.home import HomeController

    handlers: list = [HomeController, AuditAnchorController]
    # Each domain lists its controllers in `controllers` of its routes modules.
    for suffix in ("routes", "oidc_routes", "token_routes", "onboarding_routes", "api_routes", "sources.routes"):
        for module in domain_modules(suffix):
            handlers.extend(module.controllers)
    return handlers


async def _is_throttled(request: Request) -> bool:
    return request.method == "POST" and request.url.path.startswith(THROTTLED_PREFIXES)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings.log_json)
    database = get_database(settings)
    session_config = SessionConfig(key="mac_sesion", max_age=8 * 3600, httponly=True, secure=settings.cookies_secure,
                                   samesite="lax", renew_on_access=True, store="sessions")
    template_config = TemplateConfig(directory=WEB_DIR / "templates", engine=JinjaTemplateEngine,
                                     engine_callback=lambda engine: configure_jinja(engine.engine))
    # Litestar's CSRF check on every unsafe request, /api/ included (people use it with their session cookie);
    # only bearer-token requests and /oauth/token skip it (app/auth/csrf.py).
    csrf = csrf_middleware(settings)
    rate_limit = RateLimitConfig(rate_limit=("minute", settings.login_rate_limit_per_minute), check_throttle_handler=_is_throttled, store="rate_limit")

    # Optional: /metrics exists only with METRICS_TOKEN.
    operations = [c for c in (metrics_controller(settings),) if c is not None]

    async def close_database() -> None:
        await database.dispose()

    app = Litestar(
        route_handlers=[*route_handlers(), *operations,
                        create_static_files_router(path="/static", directories=[WEB_DIR / "static"],
                                                   include_in_schema=False)],
        middleware=[RequestLogMiddleware, prometheus_config().middleware, EdgeGuardMiddleware,
                    session_config.middleware, ActorMiddleware(), rate_limit.middleware, csrf],
        stores={"sessions": PostgresSessionStore(database.engine),
                "rate_limit": shared_store(database.engine, "rate_limit", settings.redis_url)},
        template_config=template_config,
        plugins=[FlashPlugin(config=FlashConfig(template_config=template_config)), HTMXPlugin(), TimeOfDaySchema()],
        exception_handlers={Exception: handle_exception},
        openapi_config=OpenAPIConfig(title="Plataforma MAC", version="1.0.0", path="/schema",
                                     description="API de la Plataforma MAC (Mejor Atención al Ciudadano). Los "
                                                 "sistemas se autentican con `Authorization: Bearer` (token de "
                                                 "/oauth/token); las escrituras con la sesión del navegador envían "
                                                 "además la cabecera X-CSRFToken con el valor de la cookie mac_csrf.",
                                     render_plugins=[ScalarRenderPlugin()],
                                     components=Components(security_schemes={
                                         "BearerToken": SecurityScheme(
                                             type="http", scheme="bearer", bearer_format="JWT",
                                             description="Token de /oauth/token (credenciales de cliente)")})),
        on_shutdown=[close_database],
        before_send=[add_security_headers],
        request_max_body_size=UPLOAD_BODY_LIMIT,
        debug=False,
    )
    document_problems(app)
    return app
