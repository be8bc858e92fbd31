"""One handler for every error: RFC 9457 problem+json for the API, a readable Spanish page for people."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from app.web.page import Page
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from app.auth.csrf import CSRF_COOKIE, CSRF_HEADER
from app.errors import DomainError

log = structlog.get_logger()

PROBLEM_JSON = "application/problem+json"
STATUS_TITLES = {
    400: "Solicitud no válida",
    401: "Autenticación requerida",
    403: "Acceso denegado",
    404: "No encontrado",
    405: "Método no permitido",
    409: "Conflicto",
    413: "Envío demasiado grande",
    422: "Datos no válidos",
    429: "Demasiadas solicitudes",
    500: "Error interno",
}
STATUS_MESSAGES = {
    401: "Inicie sesión para continuar.",
    403: "No tiene permiso para ver esta página o realizar esta acción.",
    404: "La página o el recurso solicitado no existe.",
    405: "Esta operación no está permitida aquí.",
    413: "Lo enviado supera el tamaño máximo permitido. Si adjuntó un archivo, redúzcalo (los documentos PDF pueden "
         "pesar hasta 5 MB) y vuelva a intentarlo.",
    429: "Hizo demasiados intentos en poco tiempo. Espere un momento y vuelva a intentarlo.",
    500: "Ocurrió un error inesperado. El equipo técnico fue notificado; intente nuevamente más tarde.",
}
CSRF_FORM = "El formulario venció o no es válido. Recargue la página e intente de nuevo."
CSRF_API_MISSING = ("Falta el token CSRF en la cabecera X-CSRFToken: las escrituras de la API con sesión del "
                    "navegador lo requieren.")
CSRF_API_INVALID = (f"El token CSRF de la cabecera X-CSRFToken no coincide con la cookie {CSRF_COOKIE}: envíe el "
                    f"valor actual de esa cookie (o recargue la página) e intente de nuevo.")


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path.startswith("/oauth/"):
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def problem(request: Request, status: int, *, detail: str, code: str | None = None, title: str | None = None,
            errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": f"https://mac.gob.pe/problemas/{code or status}",
        "title": title or STATUS_TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if code:
        body["codigo"] = code
    if errors:
        body["errores"] = errors
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_page(request: Request, status: int, message: str, title: str | None = None) -> Response:
    return Page("error.html", context={"status": status, "title": title or STATUS_TITLES.get(status, "Error"),
                                           "message": message}, status_code=status, media_type=MediaType.HTML)


def csrf_detail(request: Request) -> str:
    if not request.url.path.startswith("/api/"):
        return CSRF_FORM
    return CSRF_API_INVALID if request.headers.get(CSRF_HEADER) else CSRF_API_MISSING


def handle_exception(request: Request, exc: Exception) -> Response:
    if isinstance(exc, DomainError):
        status, detail, code, title, errors = exc.status_code, exc.message, exc.code, exc.title, exc.errors
    elif isinstance(exc, ValidationException):
        status, code, title = 400, "validacion", STATUS_TITLES[422]
        errors = [{"campo": e.get("key"), "mensaje": e.get("message")} for e in (exc.extra or []) if isinstance(e, dict)]
        detail = "Los datos enviados no son válidos."
    elif isinstance(exc, HTTPException):
        status = exc.status_code
        code, title, errors = None, None, None
        # Litestar's own details are English status phrases; ours (raised in guards and routes) are Spanish.
        generic = exc.detail in (None, "", HTTPStatus(status).phrase)
        detail = STATUS_MESSAGES.get(status, exc.detail) if generic else exc.detail
        if "CSRF" in (exc.detail or ""):  # Litestar's CSRF middleware (app/auth/csrf.py)
            detail, code = csrf_detail(request), "csrf"
    else:
        log.exception("error_no_controlado", path=request.url.path, exc_info=exc)
        status, detail, code, title, errors = HTTP_500_INTERNAL_SERVER_ERROR, STATUS_MESSAGES[500], None, None, None
    if wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem(request, status, detail=detail, code=code, title=title, errors=errors, headers=headers)
    if status == 401:
        return Redirect(f"/ingresar?siguiente={request.url.path}")
    return error_page(request, status, detail, title)
