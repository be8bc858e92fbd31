"""CSRF protection for everything a browser's cookies could be made to do, pages and API alike.

The check is Litestar's own double-submit token (:class:`~litestar.middleware.csrf.CSRFMiddleware`): a safe
request gets the signed ``mac_csrf`` cookie; an unsafe one must echo it in the ``X-CSRFToken`` header (or, for
forms, in ``_csrf_token``). The ``/api/v1`` routes accept people signed in with the session cookie too, so they
are not exempt by path. The one exemption is by credential: a request with ``Authorization: Bearer`` is judged
by its token alone (see :func:`app.auth.actor.bearer_token`; the session is never consulted for it), carries
no ambient credential a forged request could ride on, and so needs no CSRF token. ``/oauth/token`` is exempt
as well: machines authenticate there with their client credentials.
"""

from __future__ import annotations

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.types import Receive, Scope, Send

from app.auth.actor import bearer_token
from app.config import Settings

CSRF_COOKIE = "mac_csrf"
CSRF_HEADER = "x-csrftoken"
# Anchored: the token endpoint only (Litestar searches the path with the pattern anywhere).
EXEMPT_PATHS = ["^/oauth/token$"]


class BearerExemptCSRFMiddleware(CSRFMiddleware):
    """Litestar's CSRF middleware, skipped only for requests authenticated by a bearer token."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and bearer_token(ASGIConnection(scope)) is not None:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    config = CSRFConfig(secret=settings.resolved_secret_key(), cookie_name=CSRF_COOKIE,
                        cookie_secure=settings.cookies_secure, cookie_samesite="lax", header_name=CSRF_HEADER,
                        exclude=EXEMPT_PATHS)
    return DefineMiddleware(BearerExemptCSRFMiddleware, config=config)
